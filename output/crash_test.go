//go:build unix

package output

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The crash test re-runs this test binary as a child process that writes a run and dies
// at a chosen point; the parent then looks at what the child left behind.
const (
	crashModeEnv  = "OUTPUT_TEST_CRASH_MODE"
	crashFinalEnv = "OUTPUT_TEST_CRASH_FINAL"
)

// crashChild is the child's side. It never returns for the crashing modes.
func crashChild(t *testing.T, mode, final string) {
	d, err := Create(final)
	if err != nil {
		t.Fatal(err)
	}
	kill := func() {
		// SIGKILL: no deferred calls, no atexit, no flushing; the closest thing to a
		// power cut a test can arrange for the process (the page cache survives it).
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered asynchronously
	}
	if mode == "kill-mid-write" {
		writeRows(t, d, HouseholdMonthFile, Options{}, householdMonths(), 10)
		w, err := NewWriter[ReceiptBenefit](d, ReceiptBenefitFile, Options{MaxRowsPerRowGroup: 10})
		if err != nil {
			t.Fatal(err)
		}
		// 25 rows: two full row groups reach the file, the footer never does.
		if err := w.Write(receiptBenefits(25, 0, false)); err != nil {
			t.Fatal(err)
		}
		kill()
	}
	writeRun(t, d)
	switch mode {
	case "kill-before-commit":
		kill()
	case "exit-before-commit":
		os.Exit(3) // like log.Fatal in a caller: deferred Abort does not run either
	case "commit":
		if err := d.Commit(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown crash mode %q", mode)
	}
}

func TestCrashBeforeCommit(t *testing.T) {
	if mode := os.Getenv(crashModeEnv); mode != "" {
		crashChild(t, mode, os.Getenv(crashFinalEnv))
		return
	}
	cases := []struct {
		mode      string
		exit      func(err error) bool // how the child must end
		wantFinal bool
		leftover  []string // files in the abandoned temporary directory
	}{
		{"kill-mid-write", killed, false, []string{HouseholdMonthFile, ReceiptBenefitFile}},
		{"kill-before-commit", killed, false, runFiles},
		{"exit-before-commit", exitCode(3), false, runFiles},
		// The control: the same child, allowed to commit, does produce the run.
		{"commit", exitCode(0), true, nil},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			parent := t.TempDir()
			final := filepath.Join(parent, "run")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashBeforeCommit$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashModeEnv+"="+c.mode, crashFinalEnv+"="+final)
			out, err := cmd.CombinedOutput()
			if !c.exit(err) {
				t.Fatalf("child ended with %v, output:\n%s", err, out)
			}
			if got := exists(t, final); got != c.wantFinal {
				t.Fatalf("final exists = %v after %s, want %v", got, c.mode, c.wantFinal)
			}
			if c.wantFinal {
				if got := entries(t, parent); !slices.Equal(got, []string{"run"}) {
					t.Errorf("parent holds %v, want only the run", got)
				}
				if got := entries(t, final); !slices.Equal(got, runFiles) {
					t.Errorf("run holds %v, want %v", got, runFiles)
				}
				return
			}
			// The only trace of the crashed run is its hidden temporary directory, and it
			// holds what the child wrote: proof that the child died late, not early.
			left := entries(t, parent)
			if len(left) != 1 || !strings.HasPrefix(left[0], ".run.partial-") {
				t.Fatalf("parent holds %v, want one .run.partial-* directory", left)
			}
			if got := entries(t, filepath.Join(parent, left[0])); !slices.Equal(got, c.leftover) {
				t.Errorf("partial directory holds %v, want %v", got, c.leftover)
			}
			if c.mode == "kill-mid-write" {
				if _, err := ReadAll[ReceiptBenefit](filepath.Join(parent, left[0], ReceiptBenefitFile)); err == nil {
					t.Error("the file being written when the child died reads as complete Parquet")
				}
			}
			// The next run writing the same place takes the dead child's lock and removes
			// what it left.
			d, err := Create(final)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Abort()
			if got := d.Swept(); !slices.Equal(got, []string{filepath.Join(parent, left[0])}) {
				t.Errorf("Create swept %v, want %s", got, left[0])
			}
			if got := entries(t, parent); !slices.Equal(got, []string{filepath.Base(d.TempPath())}) {
				t.Errorf("after the next Create the parent holds %v, want only its temporary directory", got)
			}
		})
	}
}

func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func exitCode(code int) func(error) bool {
	return func(err error) bool {
		if code == 0 {
			return err == nil
		}
		var ee *exec.ExitError
		return errors.As(err, &ee) && ee.ExitCode() == code
	}
}
