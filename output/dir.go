// Package output writes a run's Parquet files and manifest into a directory that appears
// whole or not at all.
package output

// Invariants of a run directory (this file keeps them):
//
//  1. Nothing is written under the final path. Every file is created in a temporary
//     directory that is a hidden sibling of final ("<parent>/.<base>.partial-<random>"),
//     so it lives on the same file system and one rename(2) can publish it.
//  2. final appears only through that rename, and only after every file in the temporary
//     directory and the directory itself have been fsynced. A reader, or the machine after
//     a power cut, sees either no final directory or a final directory whose files are
//     complete. The parent directory is fsynced after the rename so that the rename itself
//     survives a power cut.
//  3. Commit refuses while a file is still open, or when any writer of the directory failed:
//     a committed directory never holds a file whose writer did not finish cleanly.
//  4. Abort removes the temporary directory and nothing else. It never touches final, so it
//     is safe to defer right after Create, and a no-op after Commit or a second Abort.
//  5. A process that dies before Commit leaves at most a hidden ".<base>.partial-*"
//     sibling, never a final directory. The Dir holds a flock on the temporary directory
//     until Commit or Abort (see work.go), so Create, in the next run writing the same final
//     path, tells such leftovers from a live run's and removes them.
//
// The Dir is safe for concurrent use (files of one run may be written by different
// goroutines); each Writer is used by one goroutine.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Dir is a run directory being written. Create it, write files with NewWriter and
// WriteJSON, then Commit; defer Abort to clean up on every error path.
type Dir struct {
	final string   // the path that Commit makes appear
	temp  string   // where everything is written until then
	lock  *os.File // temp, flocked until Commit or Abort: the run is alive
	swept []string // leftovers of dead runs that Create removed

	mu    sync.Mutex
	state dirState
	files map[string]*fileState // by name inside temp
}

type dirState int

const (
	dirOpen dirState = iota
	dirCommitted
	dirAborted
)

// fileState is the Dir's view of one file it handed out. f is non-nil while the file is
// open so that Abort can release the descriptor of a writer that is never closed.
type fileState struct {
	f    *os.File
	done bool  // closed cleanly: data flushed and fsynced
	err  error // first failure; the file is then unusable and Commit refuses
}

// Create prepares a run directory whose contents will appear at final on Commit.
// final must not exist, or must be an empty directory (Commit then replaces it); the check
// is repeated at Commit, where it is the one that counts. Its parent is created if missing.
// Create removes what dead runs left beside final: their temporary run directories, and the
// ".<base>.spill-*" directories that spills were kept in before they moved to a work root.
func Create(final string) (*Dir, error) {
	if final == "" {
		return nil, errors.New("output: empty run directory path")
	}
	final = filepath.Clean(final)
	if err := checkFinal(final); err != nil {
		return nil, err
	}
	parent, base := filepath.Split(final)
	if parent == "" {
		parent = "."
	}
	if base == "" || base == "." || base == ".." || base == string(filepath.Separator) {
		return nil, fmt.Errorf("output: %s cannot be a run directory", final)
	}
	if err := makeParent(parent); err != nil {
		return nil, fmt.Errorf("output: creating the parent of %s: %w", final, err)
	}
	partial := "." + base + ".partial-"
	swept := sweepDead(parent, partial, "."+base+".spill-")
	// Not os.MkdirTemp: it creates mode 0700, and the final directory should get the usual
	// mode (0777 minus umask) like any directory the batch operator creates.
	temp, lock, err := mkdirLocked(parent, partial, 0o777)
	if err != nil {
		return nil, fmt.Errorf("output: creating temporary run directory beside %s: %w", final, err)
	}
	return &Dir{final: final, temp: temp, lock: lock, swept: swept, files: make(map[string]*fileState)}, nil
}

// makeParent creates dir and its missing ancestors, and fsyncs the directory that gained
// each of them so that they survive a power cut with the run Commit renames into dir.
func makeParent(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	for _, d := range missing {
		if err := syncPath(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// Swept lists the leftovers of dead runs that Create removed.
func (d *Dir) Swept() []string { return d.swept }

// checkFinal returns an error unless final is absent or an empty directory.
func checkFinal(final string) error {
	fi, err := os.Lstat(final)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("output: run directory %s already exists and is not a directory", final)
	}
	empty, err := isEmptyDir(final)
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if !empty {
		return fmt.Errorf("output: run directory %s already exists and is not empty", final)
	}
	return nil
}

func isEmptyDir(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// Final is the path that Commit makes appear.
func (d *Dir) Final() string { return d.final }

// TempPath is the directory everything is written to before Commit. Files a caller puts
// there by other means are published (and fsynced) by Commit like the Dir's own.
func (d *Dir) TempPath() string { return d.temp }

// create opens a new file name inside the temporary directory and registers it.
func (d *Dir) create(name string) (*writebackFile, *fileState, error) {
	if err := validName(name); err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != dirOpen {
		return nil, nil, fmt.Errorf("output: %s: run directory already %s", name, d.state)
	}
	if _, dup := d.files[name]; dup {
		return nil, nil, fmt.Errorf("output: %s written twice in one run", name)
	}
	// O_EXCL: a file that is already there was not written by this Dir; refusing keeps
	// invariant 3 honest.
	f, err := os.OpenFile(filepath.Join(d.temp, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, nil, fmt.Errorf("output: %w", err)
	}
	st := &fileState{f: f}
	d.files[name] = st
	return &writebackFile{File: f}, st, nil
}

// finish records the end of a file: fsync and close on success, close on failure.
// It returns the first error the file saw.
//
// The fsync runs without the Dir's lock, so that the files of a run that end together are
// fsynced together; the file stays in st.f meanwhile, neither done nor failed, so Commit
// refuses it and Abort may still close it (the fsync then fails, on a run being deleted).
func (d *Dir) finish(st *fileState, failure error) error {
	d.mu.Lock()
	if st.done || st.err != nil {
		d.mu.Unlock()
		return st.err
	}
	f := st.f
	d.mu.Unlock()
	if failure == nil && f != nil {
		// fsync before close: close does not report write-back errors on every system,
		// fsync does.
		failure = f.Sync()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if st.f == nil { // released by Abort
		st.err = errors.New("output: run directory aborted")
		return st.err
	}
	st.f = nil
	if err := f.Close(); failure == nil {
		failure = err
	}
	if failure != nil {
		st.err = fmt.Errorf("output: %s: %w", filepath.Base(f.Name()), failure)
		return st.err
	}
	st.done = true
	return nil
}

func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || filepath.Base(name) != name {
		return fmt.Errorf("output: %q is not a plain file name", name)
	}
	return nil
}

// WriteJSON writes v as indented JSON with a trailing newline to name, and fsyncs it.
// It is meant for manifest.json.
func (d *Dir) WriteJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("output: %s: %w", name, err)
	}
	b = append(b, '\n')
	f, st, err := d.create(name)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return d.finish(st, err)
}

// committableLocked tells, with d.mu held, whether d (a what) may be committed: done when it
// already was, an error when it was aborted or a file of it is open or failed (invariant 3).
func (d *Dir) committableLocked(what string) (done bool, err error) {
	switch d.state {
	case dirCommitted:
		return true, nil
	case dirAborted:
		return false, fmt.Errorf("output: commit of an aborted %s", what)
	}
	return false, d.checkFilesLocked()
}

// Commit publishes the run: it fsyncs every file and directory under the temporary
// directory, renames it to final (first removing final if it is an empty directory), and
// fsyncs the parent. After an error before the rename the Dir is still open and Abort
// cleans up; after the rename the run is committed even if the parent fsync failed, and
// that error is returned.
func (d *Dir) Commit() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if done, err := d.committableLocked("run directory"); done || err != nil {
		return err
	}
	if err := syncTree(d.temp); err != nil {
		return fmt.Errorf("output: commit: %w", err)
	}
	if err := checkFinal(d.final); err != nil {
		return err
	}
	// os.Rename refuses to replace a directory, even an empty one, so an empty final is
	// removed first. os.Remove fails on a directory that has meanwhile gained entries,
	// which is the answer we want.
	if err := os.Remove(d.final); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output: commit: %w", err)
	}
	if err := os.Rename(d.temp, d.final); err != nil {
		return fmt.Errorf("output: commit: %w", err)
	}
	d.state = dirCommitted
	d.unlock()
	if err := syncPath(filepath.Dir(d.final)); err != nil {
		return fmt.Errorf("output: commit: %s is in place but may not survive a crash: %w", d.final, err)
	}
	return nil
}

// checkFilesLocked enforces invariant 3.
func (d *Dir) checkFilesLocked() error {
	var open, failed []string
	for name, st := range d.files {
		switch {
		case st.err != nil:
			failed = append(failed, name)
		case !st.done:
			open = append(open, name)
		}
	}
	slices.Sort(open)
	slices.Sort(failed)
	var errs []error
	if len(open) > 0 {
		errs = append(errs, fmt.Errorf("output: commit with files still open: %s", strings.Join(open, ", ")))
	}
	if len(failed) > 0 {
		errs = append(errs, fmt.Errorf("output: commit with failed files: %s", strings.Join(failed, ", ")))
	}
	return errors.Join(errs...)
}

// Abort removes the temporary directory and everything in it. It is a no-op after Commit
// and after a previous Abort, so `defer d.Abort()` is always right.
func (d *Dir) Abort() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != dirOpen {
		return nil
	}
	d.state = dirAborted
	for _, st := range d.files {
		if st.f != nil {
			st.f.Close() // the file is being deleted; its close error says nothing useful
			st.f = nil
		}
	}
	err := os.RemoveAll(d.temp)
	d.unlock() // after the removal: until then no other run may take temp for a dead run's
	if err != nil {
		return fmt.Errorf("output: abort: %w", err)
	}
	return nil
}

// unlock releases the lock on the temporary directory: the run no longer needs it.
func (d *Dir) unlock() {
	if d.lock != nil {
		d.lock.Close()
		d.lock = nil
	}
}

func (s dirState) String() string {
	switch s {
	case dirCommitted:
		return "committed"
	case dirAborted:
		return "aborted"
	}
	return "open"
}

// syncTree fsyncs every regular file and directory under root, root last, so that the
// directory entries it records point at data already on disk.
func syncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			dirs = append(dirs, path)
		case e.Type().IsRegular():
			return syncPath(path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// WalkDir visits parents before children; sync children first.
	for _, dir := range slices.Backward(dirs) {
		if err := syncPath(dir); err != nil {
			return err
		}
	}
	return nil
}

// syncPath fsyncs a file or directory. Read-only is enough: fsync flushes the inode's
// dirty pages whoever wrote them, and directories cannot be opened for writing.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
