package output

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File is one Parquet file that appears at its final path whole or not at all, written like
// a run directory's files: into a hidden temporary directory beside final (a Dir, so the same
// Writer, the same fsync on Close and the same refusal of a failed file), then renamed into
// place and the parent fsynced. A process that dies first leaves only the hidden
// ".<base>.partial-*" directory, as a run does.
type File struct {
	dir   *Dir
	final string
}

// CreateFile prepares final, which must not exist (an existing file is never replaced); its
// parent must exist. Write it with NewWriter(f.Dir(), f.Name(), …), then Commit; defer Abort.
func CreateFile(final string) (*File, error) {
	final = filepath.Clean(final)
	if err := checkNoFile(final); err != nil {
		return nil, err
	}
	d, err := Create(final)
	if err != nil {
		return nil, err
	}
	return &File{dir: d, final: final}, nil
}

func checkNoFile(final string) error {
	if _, err := os.Lstat(final); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			return fmt.Errorf("output: %s already exists", final)
		}
		return fmt.Errorf("output: %w", err)
	}
	return nil
}

// Dir is the temporary directory the file is written in.
func (f *File) Dir() *Dir { return f.dir }

// Name is the file's name inside Dir.
func (f *File) Name() string { return filepath.Base(f.final) }

// Commit renames the finished file to final and fsyncs the parent. It refuses while the file
// is open or after its writer failed (Dir invariant 3), and when final has appeared meanwhile.
func (f *File) Commit() error {
	d := f.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	if done, err := d.committableLocked("file"); done || err != nil {
		return err
	}
	if st := d.files[f.Name()]; st == nil || !st.done {
		return fmt.Errorf("output: commit of %s, which was never written", f.final)
	}
	if err := checkNoFile(f.final); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(d.temp, f.Name()), f.final); err != nil {
		return fmt.Errorf("output: commit: %w", err)
	}
	d.state = dirCommitted
	err := os.Remove(d.temp) // empty now
	if serr := syncPath(filepath.Dir(f.final)); serr != nil {
		return fmt.Errorf("output: commit: %s is in place but may not survive a crash: %w", f.final, serr)
	}
	if err != nil {
		return fmt.Errorf("output: commit: %s is in place, but its temporary directory stays: %w", f.final, err)
	}
	return nil
}

// Abort removes the temporary directory; a no-op after Commit.
func (f *File) Abort() error { return f.dir.Abort() }
