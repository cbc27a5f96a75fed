package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// The test binary doubles as the command: with BATCH_AS_MAIN set it runs main, so tests can
// start it as a process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("BATCH_AS_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BATCH_AS_MAIN=1")
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"run without flags", []string{"run"}, 2, "needs --month"},
		{"bad month", []string{"run", "--month", "2025-13", "--members", "m.csv", "--out", filepath.Join(dir, "o")}, 2, "YYYY-MM"},
		{"no receipts", []string{"run", "--month", "2025-10", "--members", filepath.Join(dir, "m.csv"), "--out", filepath.Join(dir, "o")}, 2, "run needs receipts"},
		{"missing members file", []string{"run", "--month", "2025-10", "--members", filepath.Join(dir, "nope.csv"), "--receipts", dir, "--out", filepath.Join(dir, "o")}, 1, "nope.csv"},
		{"month without enacted table", []string{"run", "--month", "2026-08", "--members", filepath.Join(dir, "nope.csv"), "--receipts", dir, "--out", filepath.Join(dir, "o")}, 1, "no enacted rule table covers service month 2026-08"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := command(c.args...)
			cmd.Stderr = &stderr
			if got := exitCode(t, cmd.Run()); got != c.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", got, c.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.msg) {
				t.Errorf("stderr does not say %q:\n%s", c.msg, stderr.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "o")); !os.IsNotExist(err) {
				t.Errorf("a failed run left its output directory")
			}
		})
	}
}

// TestKillMidway kills runs at several points and finds no output directory that looks
// complete; then a run to the same place succeeds.
func TestKillMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a month of about half a million receipts")
	}
	dir := t.TempDir()
	month := rules.MonthOf(2025, 10)
	if _, err := synth.Generate(context.Background(), synth.Config{Households: 200000, Month: month, Seed: 3, Out: filepath.Join(dir, "in")}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"run", "--month", "2025-10", "--members", filepath.Join(dir, "in", synth.MembersFile),
		"--receipts", filepath.Join(dir, "in", synth.ReceiptsDir, "2025-10"), "--history", filepath.Join(dir, "in", synth.HistoryFile),
		"--out", out, "--memory", "64000000"} // small budget: the run spills to disk
	full := time.Now()
	var stdout bytes.Buffer
	cmd := command(args...)
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("reference run: %v", err)
	}
	took := time.Since(full)
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	for _, frac := range []float64{0.1, 0.3, 0.5, 0.7, 0.9} {
		cmd := command(args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(frac * float64(took)))
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if _, statErr := os.Stat(out); err != nil && !os.IsNotExist(statErr) {
			t.Fatalf("killed at %.0f%%: %s exists", frac*100, out)
		}
		if err == nil { // finished before the kill: the directory must then be complete
			if _, statErr := os.Stat(filepath.Join(out, "manifest.json")); statErr != nil {
				t.Fatalf("a finished run has no manifest")
			}
			os.RemoveAll(out)
		}
	}
	cmd = command(args...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("run after the kills: %v", err)
	}
	for _, f := range []string{"household_month.parquet", "receipt_benefit.parquet", "person_month.parquet", "rejects.parquet", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("after the kills, the run lacks %s", f)
		}
	}
	// The last run removed what the killed ones left: temporary run directories, spills.
	if left, err := os.ReadDir(dir); err != nil || len(left) != 2 || left[0].Name() != "in" || left[1].Name() != "out" {
		t.Errorf("after the last run, %s holds %v (%v), want in and out", dir, left, err)
	}
}
