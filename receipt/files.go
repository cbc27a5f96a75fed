package receipt

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Input formats, chosen by file extension (case-insensitive).
const (
	extCSV     = ".csv"
	extParquet = ".parquet"
)

// ExpandPaths turns the command line's inputs into the list of files to read. Each path is a
// file (kept whatever its extension: the reader then says what is wrong with it) or a
// directory, which yields its regular files ending .csv or .parquet, sorted by name and not
// recursing. The result is de-duplicated (the same file named twice is read once, which
// would otherwise show up downstream as a flood of DUPLICATE_RECEIPT), keeping the first
// occurrence in paths order. A path that does not exist is an error naming it.
func ExpandPaths(paths []string) ([]string, error) {
	e, err := Expand(paths)
	return e.Files, err
}

// Expansion is what the command line's paths yield: the files to read, and what their
// directories hold that is not read, so that a run can say what it passed over.
type Expansion struct {
	Files   []string
	Skipped []Skipped
	kinds   string // the files a directory yields, for messages: ".csv or .parquet"
}

// Skipped is an entry of a directory that was not read: a file of another kind, or a
// directory (directories are not read recursively).
type Skipped struct {
	Path  string // the entry, joined to its directory
	IsDir bool
}

func (s Skipped) String() string {
	if s.IsDir {
		return s.Path + string(filepath.Separator)
	}
	return s.Path
}

// Expand is ExpandPaths, telling what the directories held besides.
func Expand(paths []string) (Expansion, error) {
	return expandPaths(paths, ".csv or .parquet", func(name string) bool { return formatOf(name) != "" })
}

// Describe says what each of paths held, for a run that found nothing to read in them:
// "receipts/ holds no .csv or .parquet files, only directories: 2025-10/".
func (e Expansion) Describe(paths []string) string {
	var parts []string
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			parts = append(parts, fmt.Sprintf("%s: %v", p, err))
		case !st.IsDir():
			parts = append(parts, p+" is a file")
		default:
			parts = append(parts, e.describeDir(p))
		}
	}
	return strings.Join(parts, "; ")
}

func (e Expansion) describeDir(dir string) string {
	var dirs, others []string
	for _, s := range e.Skipped {
		if filepath.Dir(s.Path) != filepath.Clean(dir) {
			continue
		}
		if s.IsDir {
			dirs = append(dirs, filepath.Base(s.Path)+"/")
		} else {
			others = append(others, filepath.Base(s.Path))
		}
	}
	switch {
	case len(dirs) == 0 && len(others) == 0:
		return fmt.Sprintf("%s is empty", dir)
	case len(others) == 0:
		return fmt.Sprintf("%s holds no %s files, only directories: %s (directories are not read recursively)", dir, e.kinds, listSome(dirs))
	default:
		return fmt.Sprintf("%s holds no %s files: %s", dir, e.kinds, listSome(append(others, dirs...)))
	}
}

// listSome lists up to five names and how many more there are.
func listSome(names []string) string {
	const most = 5
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}

// expandPaths is Expand with the test for the files a directory yields, named by kinds.
func expandPaths(paths []string, kinds string, wanted func(name string) bool) (Expansion, error) {
	e := Expansion{kinds: kinds}
	seen := make(map[string]bool)
	add := func(p string) {
		// The key is the file itself: "d/./a.csv", "/abs/d/a.csv" and a symlink to it are
		// all the same file.
		key := p
		if real, err := filepath.EvalSymlinks(p); err == nil {
			key = real
		}
		if abs, err := filepath.Abs(key); err == nil {
			key = abs
		}
		if !seen[key] {
			seen[key] = true
			e.Files = append(e.Files, p)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return e, fmt.Errorf("input %s: %w", p, err)
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		// os.ReadDir sorts by file name, which is the order promised.
		ents, err := os.ReadDir(p)
		if err != nil {
			return e, fmt.Errorf("input %s: %w", p, err)
		}
		for _, ent := range ents {
			full := filepath.Join(p, ent.Name())
			// Follow symlinks: a directory of links to the month's files is a normal setup.
			mode := ent.Type()
			if mode&os.ModeSymlink != 0 {
				if st, err := os.Stat(full); err == nil {
					mode = st.Mode().Type()
				}
			}
			switch {
			case mode.IsDir():
				e.Skipped = append(e.Skipped, Skipped{Path: full, IsDir: true})
			case !wanted(ent.Name()) || !mode.IsRegular():
				e.Skipped = append(e.Skipped, Skipped{Path: full})
			default:
				add(full)
			}
		}
	}
	return e, nil
}

// formatOf returns extCSV or extParquet for a file name, or "" for anything else.
func formatOf(name string) string {
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case extCSV, extParquet:
		return ext
	}
	return ""
}

// FileError is a file that cannot be read as a whole (it cannot be opened, lacks a required
// column, has broken quoting, is corrupt Parquet, or — for the members and history masters —
// holds a bad row). Like encoding/csv's ParseError it says where: Line is the 1-based CSV
// line, or for Parquet the 1-based row number; 0 when the problem has no position.
type FileError struct {
	File string
	Line int64
	Err  error
}

func (e *FileError) Error() string {
	// An error that names the file already (package pqcol's do) does not name it twice.
	msg := strings.TrimPrefix(e.Err.Error(), e.File+": ")
	if e.Line > 0 {
		return Position(e.File, e.Line) + ": " + msg
	}
	return e.File + ": " + msg
}

func (e *FileError) Unwrap() error { return e.Err }

// Position formats a place in an input file the way Reject.Source and FileError do:
// "FILE:LINE" for CSV, "FILE:row N" for Parquet (whose rows have no lines).
func Position(file string, n int64) string {
	if formatOf(file) == extParquet {
		return file + ":row " + strconv.FormatInt(n, 10)
	}
	return file + ":" + strconv.FormatInt(n, 10)
}
