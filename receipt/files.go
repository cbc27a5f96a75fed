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
	return expandPaths(paths, func(name string) bool { return formatOf(name) != "" })
}

// expandPaths is ExpandPaths with the test for the files a directory yields.
func expandPaths(paths []string, wanted func(name string) bool) ([]string, error) {
	var out []string
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
			out = append(out, p)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", p, err)
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		// os.ReadDir sorts by file name, which is the order promised.
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", p, err)
		}
		for _, e := range ents {
			if !wanted(e.Name()) {
				continue
			}
			full := filepath.Join(p, e.Name())
			// Follow symlinks: a directory of links to the month's files is a normal setup.
			// Anything that is not (or does not lead to) a regular file is skipped.
			if e.Type()&os.ModeSymlink != 0 {
				if st, err := os.Stat(full); err != nil || !st.Mode().IsRegular() {
					continue
				}
			} else if !e.Type().IsRegular() {
				continue
			}
			add(full)
		}
	}
	return out, nil
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
