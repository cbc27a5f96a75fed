package output

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// entries lists the names in dir, sorted.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func exists(t testing.TB, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// writeRun writes every output file of a small run and its manifest into d.
func writeRun(t testing.TB, d *Dir) {
	t.Helper()
	writeRows(t, d, HouseholdMonthFile, Options{}, householdMonths(), 10)
	writeRows(t, d, ReceiptBenefitFile, Options{MaxRowsPerRowGroup: 10}, receiptBenefits(25, 0, false), 10)
	writeRows(t, d, PersonMonthFile, Options{}, personMonths(), 10)
	writeRows(t, d, RejectsFile, Options{}, rejects(), 10)
	writeRows(t, d, AnnualOutpatientFile, Options{}, annualOutpatients(), 10)
	writeRows(t, d, AdjustmentsFile, Options{}, adjustments(), 10)
	if err := d.WriteJSON(ManifestFile, testManifest()); err != nil {
		t.Fatal(err)
	}
}

var runFiles = []string{
	AdjustmentsFile, AnnualOutpatientFile, HouseholdMonthFile, ManifestFile,
	PersonMonthFile, ReceiptBenefitFile, RejectsFile,
} // sorted

func TestCommit(t *testing.T) {
	for _, preexisting := range []bool{false, true} {
		name := "final absent"
		if preexisting {
			name = "final is an empty directory"
		}
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			final := filepath.Join(parent, "2025-10")
			if preexisting {
				if err := os.Mkdir(final, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			d, err := Create(final)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Abort()
			temp := d.TempPath()
			if filepath.Dir(temp) != parent || !strings.HasPrefix(filepath.Base(temp), ".2025-10.partial-") {
				t.Errorf("temporary directory %s is not a hidden sibling of %s", temp, final)
			}
			writeRun(t, d)

			// Before Commit: everything is in temp, nothing at final.
			if !slices.Equal(entries(t, temp), runFiles) {
				t.Errorf("temporary directory holds %v, want %v", entries(t, temp), runFiles)
			}
			if preexisting {
				if got := entries(t, final); len(got) != 0 {
					t.Errorf("final gained entries before Commit: %v", got)
				}
			} else if exists(t, final) {
				t.Error("final exists before Commit")
			}

			if err := d.Commit(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(entries(t, final), runFiles) {
				t.Errorf("final holds %v, want %v", entries(t, final), runFiles)
			}
			if got := entries(t, parent); !slices.Equal(got, []string{"2025-10"}) {
				t.Errorf("parent holds %v after Commit, want only the run directory", got)
			}
			got, err := ReadAll[ReceiptBenefit](filepath.Join(final, ReceiptBenefitFile))
			if err != nil {
				t.Fatal(err)
			}
			equalRows(t, got, receiptBenefits(25, 0, false))

			// Commit twice is harmless, Abort after Commit leaves the run alone.
			if err := d.Commit(); err != nil {
				t.Errorf("second Commit: %v", err)
			}
			if err := d.Abort(); err != nil {
				t.Errorf("Abort after Commit: %v", err)
			}
			if !slices.Equal(entries(t, final), runFiles) {
				t.Errorf("Abort after Commit changed final: %v", entries(t, final))
			}
		})
	}
}

func TestAbort(t *testing.T) {
	parent := t.TempDir()
	final := filepath.Join(parent, "run")
	d, err := Create(final)
	if err != nil {
		t.Fatal(err)
	}
	writeRun(t, d)
	// A writer left open must not keep Abort from cleaning up.
	w, err := NewWriter[Adjustment](d, "open.parquet", Options{MaxRowsPerRowGroup: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(adjustments()); err != nil {
		t.Fatal(err)
	}
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, parent); len(got) != 0 {
		t.Errorf("parent holds %v after Abort, want nothing", got)
	}
	if err := d.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close of a writer of an aborted run succeeded")
	}
	if err := d.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if exists(t, final) {
		t.Error("final exists after Abort")
	}
}

func TestCreateRefuses(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, final string)
		wantErr string
	}{
		{"non-empty directory", func(t *testing.T, final string) {
			must(t, os.Mkdir(final, 0o755))
			must(t, os.WriteFile(filepath.Join(final, "household_month.parquet"), []byte("old run"), 0o644))
		}, "already exists and is not empty"},
		{"directory holding only a hidden file", func(t *testing.T, final string) {
			must(t, os.Mkdir(final, 0o755))
			must(t, os.WriteFile(filepath.Join(final, ".keep"), nil, 0o644))
		}, "already exists and is not empty"},
		{"regular file", func(t *testing.T, final string) {
			must(t, os.WriteFile(final, []byte("x"), 0o644))
		}, "already exists and is not a directory"},
		{"parent is a file", func(t *testing.T, final string) {
			must(t, os.Remove(filepath.Dir(final)))
			must(t, os.WriteFile(filepath.Dir(final), nil, 0o644))
		}, "not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "parent")
			must(t, os.Mkdir(parent, 0o755))
			final := filepath.Join(parent, "run")
			c.setup(t, final)
			before := []string{}
			if fi, err := os.Stat(parent); err == nil && fi.IsDir() {
				before = entries(t, parent)
			}
			d, err := Create(final)
			if err == nil {
				d.Abort()
				t.Fatal("Create succeeded")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %q, want it to say %q", err, c.wantErr)
			}
			after := []string{}
			if fi, err := os.Stat(parent); err == nil && fi.IsDir() {
				after = entries(t, parent)
			}
			if !slices.Equal(before, after) {
				t.Errorf("failed Create changed the parent: %v → %v", before, after)
			}
		})
	}
}

// TestCommitRechecksFinal: final gaining files between Create and Commit (another run,
// an operator) makes Commit fail without touching them, and Abort still cleans up.
func TestCommitRechecksFinal(t *testing.T) {
	parent := t.TempDir()
	final := filepath.Join(parent, "run")
	d, err := Create(final)
	if err != nil {
		t.Fatal(err)
	}
	writeRun(t, d)
	must(t, os.Mkdir(final, 0o755))
	must(t, os.WriteFile(filepath.Join(final, "theirs"), []byte("x"), 0o644))
	if err := d.Commit(); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Commit over a non-empty final: %v", err)
	}
	if got := entries(t, final); !slices.Equal(got, []string{"theirs"}) {
		t.Errorf("final holds %v, want the other writer's file only", got)
	}
	must(t, d.Abort())
	if got := entries(t, parent); !slices.Equal(got, []string{"run"}) {
		t.Errorf("parent holds %v after Abort", got)
	}
}

// TestCommitPublishesForeignFiles: a file written straight into TempPath is published too.
func TestCommitPublishesForeignFiles(t *testing.T) {
	final := filepath.Join(t.TempDir(), "run")
	d, err := Create(final)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.MkdirAll(filepath.Join(d.TempPath(), "logs"), 0o755))
	must(t, os.WriteFile(filepath.Join(d.TempPath(), "logs", "warn.txt"), []byte("w\n"), 0o644))
	must(t, d.Commit())
	b, err := os.ReadFile(filepath.Join(final, "logs", "warn.txt"))
	if err != nil || string(b) != "w\n" {
		t.Errorf("foreign file after Commit: %q, %v", b, err)
	}
}

func TestWriteJSONExclusive(t *testing.T) {
	d := newDir(t)
	must(t, d.WriteJSON(ManifestFile, map[string]int{"a": 1}))
	if err := d.WriteJSON(ManifestFile, map[string]int{"a": 2}); err == nil {
		t.Error("second WriteJSON of one name succeeded")
	}
	if err := d.WriteJSON("bad.json", func() {}); err == nil {
		t.Error("WriteJSON of a func succeeded")
	}
	if exists(t, filepath.Join(d.TempPath(), "bad.json")) {
		t.Error("a failed WriteJSON left a file behind")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentWriters: files of one run written from several goroutines (run with
// -race).
func TestConcurrentWriters(t *testing.T) {
	final := filepath.Join(t.TempDir(), "run")
	d, err := Create(final)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Abort()
	const files = 4
	errs := make(chan error, files)
	for i := range files {
		go func() {
			w, err := NewWriter[ReceiptBenefit](d, "part-"+string(rune('0'+i))+".parquet", Options{MaxRowsPerRowGroup: 500})
			if err == nil {
				err = w.Write(receiptBenefits(2000, i*2000, false))
			}
			if err == nil {
				err = w.Close()
			}
			errs <- err
		}()
	}
	for range files {
		must(t, <-errs)
	}
	must(t, d.Commit())
	for i := range files {
		got, err := ReadAll[ReceiptBenefit](filepath.Join(final, "part-"+string(rune('0'+i))+".parquet"))
		if err != nil {
			t.Fatal(err)
		}
		equalRows(t, got, receiptBenefits(2000, i*2000, false))
	}
}

// TestIssue17_15_OutParentCreated: Create makes the missing ancestors of the run directory
// (`batch run --out a/b` with no a), absolute or relative, and Commit puts the run there; a
// parent that is a file is an error that leaves nothing behind.
func TestIssue17_15_OutParentCreated(t *testing.T) {
	base := t.TempDir()
	t.Chdir(base)
	for _, final := range []string{filepath.Join(base, "a", "b"), filepath.Join("x", "y", "z", "run")} {
		d, err := Create(final)
		if err != nil {
			t.Fatalf("%s: %v", final, err)
		}
		writeRun(t, d)
		if err := d.Commit(); err != nil {
			t.Fatalf("%s: %v", final, err)
		}
		if got := entries(t, final); !slices.Equal(got, runFiles) {
			t.Errorf("%s holds %v, want %v", final, got, runFiles)
		}
		if got := entries(t, filepath.Dir(final)); !slices.Equal(got, []string{filepath.Base(final)}) {
			t.Errorf("%s holds %v, want only the run", filepath.Dir(final), got)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "file"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(filepath.Join(base, "file", "run")); err == nil {
		t.Error("Create under a file: no error")
	}
	if got := entries(t, base); !slices.Equal(got, []string{"a", "file", "x"}) {
		t.Errorf("base holds %v", got)
	}
}
