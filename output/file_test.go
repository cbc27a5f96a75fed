package output

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileAppearsWhole: a File's rows appear at its path only on Commit, with nothing left
// beside it; an existing path is refused and kept; Abort leaves nothing at all.
func TestFileAppearsWhole(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "rows.parquet")
	rows := householdMonths()
	write := func(f *File) {
		w, err := NewWriter[HouseholdMonth](f.Dir(), f.Name(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := CreateFile(final)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err == nil || !strings.Contains(err.Error(), "never written") {
		t.Errorf("commit before the file was written: %v", err)
	}
	write(f)
	if _, err := os.Stat(final); !os.IsNotExist(err) {
		t.Fatalf("the file is at its path before Commit: %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll[HouseholdMonth](final)
	if err != nil {
		t.Fatal(err)
	}
	equalRows(t, got, rows)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("beside the file: %v", entries)
	}
	if _, err := CreateFile(final); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("an existing file: %v", err)
	}

	other := filepath.Join(dir, "other.parquet")
	if f, err = CreateFile(other); err != nil {
		t.Fatal(err)
	}
	write(f)
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after Abort: %v", entries)
	}
	if err := f.Commit(); err == nil {
		t.Error("commit after Abort succeeded")
	}
}
