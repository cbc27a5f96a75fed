package output

// Scratch directories of runs, and what killed runs leave of them.
//
// A run keeps two kinds of scratch: its temporary run directory (".<base>.partial-*" beside
// the final one, see dir.go) and, when the month is too large for its memory budget, its spill
// (a work directory "batch-spill-<pid>-<random>" under a work root: --spill-dir, or
// ".batch-work" beside the output). A run holds an exclusive flock(2) on each of its scratch
// directories for as long as it lives. The kernel drops the lock when the process ends,
// however it ends (kill -9 included), so a scratch directory whose lock can be taken belongs
// to no live run: the next run that looks removes it. The lock is on the directory itself,
// so no lock file ends up among a run's outputs; and it does not depend on pids, which are
// reused and differ between pid namespaces sharing a disk. The pid in a work directory's
// name is for the operator only.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// WorkRootName is the directory beside a run's output that holds its spill unless the run is
// given a spill directory: one place a scheduler may clean while no run is going.
const WorkRootName = ".batch-work"

// workPrefix starts the name of every run's work directory.
const workPrefix = "batch-spill-"

// WorkRoot is where the run writing out keeps its work directory: spillDir when given, else
// WorkRootName beside out.
func WorkRoot(out, spillDir string) string {
	if spillDir != "" {
		return spillDir
	}
	return filepath.Join(filepath.Dir(filepath.Clean(out)), WorkRootName)
}

// WorkDir is one run's work directory, locked for as long as the run lives.
type WorkDir struct {
	path     string
	root     string
	ownsRoot bool // root is WorkRootName, made for the runs: removed when it empties
	lock     *os.File
}

// CreateWorkDir makes this run's work directory under root (creating root if needed).
// ownsRoot says that root is the runs' own WorkRootName, not a directory the operator named:
// Remove then takes root away too when no other run's directory is left in it.
func CreateWorkDir(root string, ownsRoot bool) (*WorkDir, error) {
	// 0700: a spill holds receipts and members, and root may be a scratch area others share.
	prefix := workPrefix + strconv.Itoa(os.Getpid()) + "-"
	for range 3 {
		if err := os.MkdirAll(root, 0o777); err != nil {
			return nil, fmt.Errorf("output: work directory: %w", err)
		}
		path, lock, err := mkdirLocked(root, prefix, 0o700)
		if errors.Is(err, fs.ErrNotExist) {
			continue // root was removed by a run that saw it empty: make it again
		}
		if err != nil {
			return nil, fmt.Errorf("output: work directory: %w", err)
		}
		return &WorkDir{path: path, root: root, ownsRoot: ownsRoot, lock: lock}, nil
	}
	return nil, fmt.Errorf("output: work directory: %s keeps disappearing", root)
}

// Path is the work directory.
func (w *WorkDir) Path() string { return w.path }

// Remove deletes the work directory and everything in it, then releases its lock. A second
// call does nothing.
func (w *WorkDir) Remove() error {
	if w.lock == nil {
		return nil
	}
	err := os.RemoveAll(w.path)
	w.lock.Close() // after the removal: until then no other run may take the directory for dead
	w.lock = nil
	if w.ownsRoot {
		os.Remove(w.root) // fails, as it should, while another run's directory is in it
	}
	if err != nil {
		return fmt.Errorf("output: removing work directory: %w", err)
	}
	return nil
}

// SweepWork removes from root the work directories of runs that are gone and returns their
// paths. A root that does not exist holds none.
func SweepWork(root string) []string {
	return sweepDead(root, workPrefix)
}

// sweepDead removes the directories in parent whose names start with one of prefixes and
// whose lock no process holds, and returns their paths. What cannot be removed stays for a
// later run: a leftover never fails the run that finds it.
func sweepDead(parent string, prefixes ...string) []string {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		// IsDir is false for a symlink: a link is never followed to remove what it points to.
		if !e.IsDir() || !hasPrefix(e.Name(), prefixes) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		lock, err := lockDir(path)
		if err != nil {
			continue // a live run's, or gone meanwhile
		}
		// The directory locked must still be the one at path: a temporary run directory that
		// its run has just committed is renamed away and its lock released.
		if sameDir(lock, path) && os.RemoveAll(path) == nil {
			removed = append(removed, path)
		}
		lock.Close()
	}
	return removed
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// mkdirLocked creates a new directory parent/<prefix><random> and returns it with its lock
// taken. A sweeping run may take the lock of the new directory between the mkdir and the lock
// taken here, and remove it: the directory is then found locked or gone, and another name is
// tried. An error wrapping fs.ErrNotExist means parent does not exist.
func mkdirLocked(parent, prefix string, perm fs.FileMode) (string, *os.File, error) {
	for range 10 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, err
		}
		path := filepath.Join(parent, prefix+hex.EncodeToString(b[:]))
		if err := os.Mkdir(path, perm); errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return "", nil, err
		}
		lock, err := lockDir(path)
		if err == nil {
			if sameDir(lock, path) {
				return path, lock, nil
			}
			lock.Close()
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, fs.ErrNotExist) {
			return "", nil, err
		}
	}
	return "", nil, fmt.Errorf("could not create a directory %s* in %s", prefix, parent)
}

// lockDir opens the directory path and takes an exclusive flock on it without waiting.
func lockDir(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sameDir reports whether the open directory f is still the one at path.
func sameDir(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
