package output

// Invariants of a Parquet file written here (this file keeps them):
//
//  1. Bounded memory. Rows passed to Write (or a Columns batch to WriteColumns) are encoded
//     into the current row group's column buffers before Write returns, but for fewer than
//     pageCheckRows rows copied to wait for the next (invariant 3), and the slice is not
//     retained. Encoded (zstd) pages of
//     the current row group are held until the row group is flushed, so memory is bounded
//     by one row group's compressed size, plus one page buffer per column, plus the
//     footer metadata (a few hundred bytes per row group and column).
//  2. Bounded row groups. No row group holds more than Options.MaxRowsPerRowGroup rows:
//     parquet-go splits a Write at the limit and flushes the full group
//     (parquet.MaxRowsPerRowGroup), whatever the batch sizes the caller uses.
//  3. Deterministic bytes. The file is a function of the row sequence and the Options only:
//     both engines encode on the calling goroutine, zstd output depends only on its input
//     and level, the key/value metadata is empty, and created_by is fixed per binary
//     (createdBy below) instead of carrying anything about time or host. Batch boundaries
//     of Write calls do not change the bytes. The column engine (columns.go), which writes
//     the flat row types, cuts pages by values alone. parquet-go decides to close a page
//     after each run of rows it is handed (at most pageCheckRows at a time), so Write hands
//     it only runs that end on the same rows whatever the batches (see Write).
//  4. A file counts as written only after Close returned nil: the footer is written and
//     the file fsynced. Any error is sticky and marks the file failed in its Dir, which
//     then refuses to Commit.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"

	"github.com/kougaku/batch/pqcol"
)

// DefaultMaxRowsPerRowGroup bounds row groups when Options leaves it zero. A million
// receipt rows compress to some tens of MB, the unit readers fetch and decode at once.
const DefaultMaxRowsPerRowGroup = 1_000_000

// dictMaxBytes bounds each column chunk's dictionary. Past it the chunk falls back to PLAIN
// for the rest of the row group; 1 MiB is the dictionary page size parquet-mr and Arrow
// use, so every reader handles it comfortably.
const dictMaxBytes = 1 << 20

// noBounds are the columns written without min/max bounds in the page index and the chunk
// statistics: ids in no useful order, whose bounds no reader prunes by and which cost a
// comparison of every value written (a tenth of the writers' time).
var noBounds = map[string]bool{"receipt_id": true, "household_id": true, "person_id": true,
	"institution_id": true, "prescriber_id": true, "source": true, "detail": true}

// formatVersion names the layout of the files (columns, encodings). Change it with them.
const formatVersion = "3"

// Options tunes a Writer. The zero value is the production setting.
type Options struct {
	// MaxRowsPerRowGroup caps the rows of a row group; 0 means DefaultMaxRowsPerRowGroup.
	MaxRowsPerRowGroup int64
	// PageBufferSize is the size of the in-memory buffer a column's page is built in
	// before it is encoded and compressed; 0 means parquet-go's default (256 KiB).
	PageBufferSize int
}

// Writer writes rows of type T to one Parquet file of a Dir, zstd-compressed: with the column
// engine when T is flat (required strings, integers and bools: every monthly file), else with
// parquet-go's row writer. A Writer is not safe for concurrent use.
type Writer[T any] struct {
	name string
	dir  *Dir
	st   *fileState
	// One of the two engines: parquet-go's row writer, or the column engine (columns.go) for
	// the flat row types it takes, which are the monthly files.
	pw *parquet.GenericWriter[T]
	cf *columnFile
	// groupRows is MaxRowsPerRowGroup; handed counts the rows given to pw, and pending
	// holds the rows after them, fewer than a run to the next check point (invariant 3).
	groupRows int64
	handed    int64
	pending   []T
	closed    bool
	err       error // first failure, sticky (invariant 4)
}

// NewWriter creates name in d's temporary directory. T must be a struct with parquet tags.
func NewWriter[T any](d *Dir, name string, opt Options) (*Writer[T], error) {
	if t := reflect.TypeFor[T](); t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("output: %s: row type %v is not a struct", name, t)
	}
	maxRows := opt.MaxRowsPerRowGroup
	if maxRows == 0 {
		maxRows = DefaultMaxRowsPerRowGroup
	}
	if maxRows < 0 || opt.PageBufferSize < 0 {
		return nil, fmt.Errorf("output: %s: negative option %+v", name, opt)
	}
	codec := &zstd.Codec{Level: zstd.SpeedFastest} // the fastest level: outputs are written once and read a few times
	options := []parquet.WriterOption{
		&parquet.WriterConfig{CreatedBy: createdBy()},
		parquet.Compression(codec),
		parquet.MaxRowsPerRowGroup(maxRows),
		parquet.DictionaryMaxBytes(dictMaxBytes),
	}
	if opt.PageBufferSize > 0 {
		options = append(options, parquet.PageBufferSize(opt.PageBufferSize))
	}
	for _, f := range parquet.SchemaOf(new(T)).Fields() {
		// Min/max go in the page index only, not in every page header as well: readers that
		// prune pages use the index, and computing them twice cost the writers a tenth.
		options = append(options, parquet.SkipPageStatistics(f.Name()))
		if noBounds[f.Name()] {
			options = append(options, parquet.SkipPageBounds(f.Name()))
		}
	}
	// NewGenericWriter panics on an invalid configuration; find out first.
	if _, err := parquet.NewWriterConfig(options...); err != nil {
		return nil, fmt.Errorf("output: %s: %w", name, err)
	}
	cols, flat := columnsOf(reflect.TypeFor[T]())
	flat = flat && columnEngine
	var template *format.FileMetaData
	if flat {
		var err error
		if template, err = templateOf[T](options); err != nil {
			return nil, fmt.Errorf("output: %s: %w", name, err)
		}
	}
	f, st, err := d.create(name)
	if err != nil {
		return nil, err
	}
	w := &Writer[T]{name: name, dir: d, st: st, groupRows: maxRows}
	if !flat {
		w.pw = parquet.NewGenericWriter[T](f, options...)
		return w, nil
	}
	if w.cf, err = newColumnFile(f, cols, template, codec, opt.PageBufferSize, maxRows); err != nil {
		return nil, d.finish(st, fmt.Errorf("output: %s: %w", name, err))
	}
	return w, nil
}

// columnEngine lets tests and benchmarks write flat row types with parquet-go instead, to
// compare the two engines.
var columnEngine = true

// pageCheckRows is the longest run of rows parquet-go's GenericWriter writes before it
// checks whether a column's page is full (maxRowsPerWrite in its writer.go). A page ends
// after the run in which it filled, so where runs end decides the page boundaries.
const pageCheckRows = 64

// Write appends rows. It may write a row group to the file; rows is not retained.
//
// Rows reach parquet-go in runs that end on check points, rows that are multiples of
// pageCheckRows into their row group or the end of the group: parquet-go then looks at
// its pages after the same rows whatever the batch sizes, and the pages, hence the
// bytes, are the same (invariant 3). Rows short of the next check point wait in pending
// (fewer than pageCheckRows, copied) until more rows or Close complete them.
func (w *Writer[T]) Write(rows []T) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("output: %s: write after close", w.name)
	}
	if w.cf != nil {
		return w.handColumns(rows)
	}
	for len(rows) > 0 {
		inGroup := w.handed % w.groupRows
		room := w.groupRows - inGroup
		next := min(pageCheckRows-inGroup%pageCheckRows, room) // rows to the next check point
		if len(w.pending) > 0 || len(rows) < int(next) {
			n := min(int(next)-len(w.pending), len(rows))
			w.pending = append(w.pending, rows[:n]...)
			rows = rows[n:]
			if len(w.pending) == int(next) {
				if err := w.hand(w.pending); err != nil {
					return err
				}
				clear(w.pending) // drop the references to the caller's strings
				w.pending = w.pending[:0]
			}
			continue
		}
		n := int(room)
		if int64(len(rows)) < room {
			n = int(next) + (len(rows)-int(next))/pageCheckRows*pageCheckRows
		}
		if err := w.hand(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// hand gives rows to parquet-go and counts them; a failure is sticky.
func (w *Writer[T]) hand(rows []T) error {
	n, err := w.pw.Write(rows)
	w.handed += int64(n)
	if err == nil && n != len(rows) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.closed = true
		w.err = w.dir.finish(w.st, err)
	}
	return w.err
}

// handColumns gives rows to the column engine, which cuts pages by values alone
// (columns.go, invariant 1) and so needs no check points; a failure is sticky.
func (w *Writer[T]) handColumns(rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	if err := w.cf.write(unsafe.Pointer(unsafe.SliceData(rows)), len(rows), unsafe.Sizeof(rows[0])); err != nil {
		w.closed = true
		w.err = w.dir.finish(w.st, err)
		return w.err
	}
	w.handed += int64(len(rows))
	return nil
}

// Close flushes the last row group, writes the footer, fsyncs and closes the file.
// Calling it again returns the first result.
func (w *Writer[T]) Close() error {
	if w.closed {
		return w.err
	}
	if w.cf != nil {
		w.closed = true
		w.err = w.dir.finish(w.st, w.cf.close())
		return w.err
	}
	if len(w.pending) > 0 {
		if err := w.hand(w.pending); err != nil {
			return err
		}
		w.pending = nil
	}
	w.closed = true
	w.err = w.dir.finish(w.st, w.pw.Close())
	return w.err
}

// Rows is the number of rows written so far.
func (w *Writer[T]) Rows() int64 { return w.handed + int64(len(w.pending)) }

// Name is the file's name inside the run directory.
func (w *Writer[T]) Name() string { return w.name }

// createdBy is the file's created_by: parquet-go's default would do, but pinning it here
// makes invariant 3 a property of this package rather than of parquet-go's defaults,
// and names the program that wrote the file.
var createdBy = sync.OnceValue(func() string {
	lib := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/parquet-go/parquet-go" {
				lib = m.Version
				if m.Replace != nil {
					lib = m.Replace.Version // "" for a directory replacement
				}
				break
			}
		}
	}
	return "github.com/kougaku/batch/output version " + formatVersion + " (build parquet-go " + lib + ")"
})

// openParquet opens path and reads its footer. The caller closes the *os.File.
func openParquet(path string) (*os.File, *parquet.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		var pf *parquet.File
		pf, err = parquet.OpenFile(f, fi.Size())
		if err == nil {
			return f, pf, nil
		}
	}
	f.Close()
	return nil, nil, fmt.Errorf("%s: %w", path, err)
}

// ReadAll reads every row of the Parquet file at path as T. Every column of T must be in
// the file with the same physical type (a missing column would otherwise read as zero
// values), and the rows read must match the footer's count.
func ReadAll[T any](path string) ([]T, error) {
	rows := []T{}
	err := Each(path, func(batch []T) error {
		rows = append(rows, batch...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// sameColumns checks that every leaf column of want is in have with the same kind.
func sameColumns(want, have *parquet.Schema) error {
	var errs []error
	for _, path := range want.Columns() {
		w, _ := want.Lookup(path...)
		h, ok := have.Lookup(path...)
		name := strings.Join(path, ".")
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("column %s missing", name))
		case w.Node.Type().Kind() != h.Node.Type().Kind():
			errs = append(errs, fmt.Errorf("column %s is %v, want %v", name, h.Node.Type().Kind(), w.Node.Type().Kind()))
		}
	}
	return errors.Join(errs...)
}

// RowGroups returns the number of rows in each row group of the Parquet file at path.
func RowGroups(path string) ([]int64, error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	groups := pf.RowGroups()
	n := make([]int64, len(groups))
	for i, g := range groups {
		n[i] = g.NumRows()
	}
	return n, nil
}

// Digest returns the size and hex SHA-256 of the file at path, reading it once in a
// stream.
func Digest(path string) (size int64, sha256hex string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	// A buffer of 1 MiB: io.Copy's 32 KiB took 8,500 reads of the 10M month's inputs.
	size, err = io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 1<<20))
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", path, err)
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// Each streams the rows of the Parquet file at path as T, a batch at a time (fn must not keep
// the slice), with the same checks as ReadAll; T may name a subset of the file's columns,
// and only those are decoded (column by column, by package pqcol).
func Each[T any](path string, fn func(rows []T) error) error {
	f, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	err = sameColumns(parquet.SchemaOf(new(T)), pf.Schema())
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return pqcol.Rows(context.Background(), path, fn)
}
