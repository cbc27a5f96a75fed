package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/rules"
)

// killRunEnv, set to a directory holding a generated month, makes this test binary a run that
// spills into work/out and SIGKILLs itself when the compute stage starts: the spill is
// written, the output directory half made.
const killRunEnv = "PIPELINE_TEST_KILL_RUN"

// killAtStage is a log handler that SIGKILLs the process when the run logs the stage.
type killAtStage string

func (h killAtStage) Enabled(context.Context, slog.Level) bool { return true }
func (h killAtStage) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h killAtStage) WithGroup(string) slog.Handler            { return h }
func (h killAtStage) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "stage" && a.Value.String() == string(h) {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is delivered asynchronously
		}
		return true
	})
	return nil
}

// spillingConfig runs the month in dir into dir/work/out on a budget that spills.
func spillingConfig(dir string) Config {
	cfg := synthConfig(dir, rules.MonthOf(2025, 10), filepath.Join(dir, "work", "out"))
	cfg.Workers, cfg.MemoryBudget = 2, 4<<20
	return cfg
}

// makeDir makes path with one file in it, and when locked holds an flock on it for the rest
// of the test, as a live run does.
func makeDir(t *testing.T, path string, locked bool) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !locked {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestIssue17_10_LeftoversOfDeadRunsRemoved: a run killed with SIGKILL mid-way leaves its
// temporary run directory and its spill; beside them lie a live run's (locked by the test), a
// dead run's that no one locks, a spill of the old layout (".out.spill-*"), another output's
// temporary directory and a symlink with a leftover's name. The next run to the same --out
// removes the dead runs' directories of its own output and nothing else.
func TestIssue17_10_LeftoversOfDeadRunsRemoved(t *testing.T) {
	if dir := os.Getenv(killRunEnv); dir != "" {
		cfg := spillingConfig(dir)
		cfg.Log = slog.New(killAtStage("compute"))
		_, err := Run(context.Background(), cfg)
		t.Fatalf("the run was not killed: %v", err)
	}
	dir, _ := synthMonth(t, 4000)
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIssue17_10_LeftoversOfDeadRunsRemoved$", "-test.count=1")
	cmd.Env = append(os.Environ(), killRunEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("child ended with %v, output:\n%s", err, out)
	}
	killed := names(t, work)
	if len(killed) != 2 { // its temporary run directory and its spill
		t.Fatalf("the killed run left %v", killed)
	}

	workRoot := filepath.Join(work, output.WorkRootName)
	makeDir(t, filepath.Join(work, ".out.partial-live"), true)
	makeDir(t, filepath.Join(workRoot, "batch-spill-1-live"), true)
	makeDir(t, filepath.Join(work, ".out.partial-stale"), false)
	makeDir(t, filepath.Join(workRoot, "batch-spill-99999-stale"), false)
	makeDir(t, filepath.Join(work, ".out.spill-0123456789ab"), false)
	makeDir(t, filepath.Join(work, ".other.partial-0123"), false)
	makeDir(t, filepath.Join(dir, "target"), false)
	if err := os.Symlink(filepath.Join(dir, "target"), filepath.Join(work, ".out.partial-link")); err != nil {
		t.Fatal(err)
	}

	sum, err := Run(context.Background(), spillingConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Spilled {
		t.Fatal("the run did not spill")
	}
	if got, want := names(t, work), []string{output.WorkRootName, ".other.partial-0123", ".out.partial-link", ".out.partial-live", "out"}; !slices.Equal(got, want) {
		t.Errorf("beside the output: %v, want %v", got, want)
	}
	if got, want := names(t, workRoot), []string{"batch-spill-1-live"}; !slices.Equal(got, want) {
		t.Errorf("in %s: %v, want %v", output.WorkRootName, got, want)
	}
	for _, live := range []string{filepath.Join(work, ".out.partial-live"), filepath.Join(workRoot, "batch-spill-1-live"), filepath.Join(dir, "target")} {
		if _, err := os.Stat(filepath.Join(live, "data")); err != nil {
			t.Errorf("a live run's file is gone: %v", err)
		}
	}
}
