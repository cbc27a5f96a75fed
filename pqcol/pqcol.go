// Package pqcol reads chosen columns of a Parquet file page by page into typed views, without
// building rows: the fast way to scan a few columns of many rows (the ledger's keys and
// states, the receipts and members inputs).
//
// Invariants:
//   - A Batch is a window of consecutive rows in which every chosen column's values come from
//     one decoded page, so its views point into parquet-go's page buffers without copying
//     (dictionary columns keep their indexes and share the chunk's dictionary). Views are valid
//     only during the callback that receives the Batch.
//   - Batches cover the file's rows in order, each exactly once; Batch.First is the 0-based
//     row number of the batch's first row.
//   - Only plain top-level columns are read (no repetition); an optional column's nulls are
//     reported by the views, never turned into values silently.
package pqcol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/parquet-go/parquet-go"
)

// Reader reads chosen columns of one Parquet file.
type Reader struct {
	path  string
	file  *os.File
	pf    *parquet.File
	names []string
	leaf  []int          // leaf column index of each chosen column
	kind  []parquet.Kind // physical type of each chosen column
}

// Open opens path to read the named columns (see Select).
func Open(path string, columns ...string) (*Reader, error) {
	f, pf, err := openFile(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{path: path, file: f, pf: pf}
	if err := r.Select(columns...); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// NumRows is the row count of the Parquet file at path, from its footer alone (the page
// index, which Open reads, takes seconds on a file of tens of millions of rows).
func NumRows(path string) (int64, error) {
	f, pf, err := openFile(path, parquet.SkipPageIndex(true))
	if err != nil {
		return 0, err
	}
	f.Close()
	return pf.NumRows(), nil
}

// openFile opens path and reads its footer, checking that its row counts agree. The caller
// closes the *os.File.
func openFile(path string, opts ...parquet.FileOption) (f *os.File, pf *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil { // parquet-go panics on some malformed footers
			if f != nil {
				f.Close()
			}
			f, pf, err = nil, nil, &DamagedError{Path: path, Cause: fmt.Sprint(p)}
		}
	}()
	if f, err = os.Open(path); err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, *parquet.File, error) {
		f.Close()
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if cause := notParquet(f, st.Size()); cause != "" {
		return fail(&DamagedError{Path: path, Cause: cause})
	}
	pf, err = parquet.OpenFile(f, st.Size(), append([]parquet.FileOption{parquet.SkipBloomFilters(true)}, opts...)...)
	if err != nil {
		return fail(&DamagedError{Path: path, Cause: "its footer cannot be read: " + err.Error()})
	}
	if err := rowsAgree(pf); err != nil {
		return fail(&DamagedError{Path: path, Cause: err.Error()})
	}
	return f, pf, nil
}

// DamagedError is a file that cannot be opened as Parquet: cut short, damaged, or not
// Parquet at all.
type DamagedError struct {
	Path  string
	Cause string // what is wrong, in a few words
}

func (e *DamagedError) Error() string {
	return e.Path + ": not a readable Parquet file (cut short or damaged): " + e.Cause
}

// parquetMagic begins and ends every Parquet file.
const parquetMagic = "PAR1"

// notParquet says what is wrong with a file that does not begin and end as a Parquet file
// does, in words for its owner ("" when it does): parquet-go's "invalid magic footer" means
// nothing to them, and a file cut short, the usual case, ends anywhere.
func notParquet(f *os.File, size int64) string {
	if size < 2*int64(len(parquetMagic))+4 {
		return fmt.Sprintf("%d bytes, too short for a Parquet file", size)
	}
	var head, tail [len(parquetMagic)]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return err.Error()
	}
	if _, err := f.ReadAt(tail[:], size-int64(len(tail))); err != nil {
		return err.Error()
	}
	switch {
	case string(head[:]) != parquetMagic:
		return "it does not begin as a Parquet file does"
	case string(tail[:]) != parquetMagic:
		return "it ends without a Parquet footer, as a file cut short does"
	}
	return ""
}

// rowsAgree checks that the footer's row count is the sum of its row groups': a reader that
// sizes anything from the one must find every row in the others.
func rowsAgree(pf *parquet.File) error {
	var sum int64
	for _, g := range pf.RowGroups() {
		sum += g.NumRows()
	}
	if sum != pf.NumRows() {
		return fmt.Errorf("the footer says %d rows, its row groups hold %d", pf.NumRows(), sum)
	}
	return nil
}

// Select chooses the columns Scan reads, in the order of the views. Every name must be a
// plain top-level column of the file.
func (r *Reader) Select(columns ...string) error {
	r.names, r.leaf, r.kind = columns, nil, nil
	for _, name := range columns {
		leaf, ok := r.pf.Schema().Lookup(name)
		if !ok {
			return fmt.Errorf("%s: no column %s", r.path, name)
		}
		if len(leaf.Path) != 1 || leaf.Node.Repeated() || !leaf.Node.Leaf() {
			return fmt.Errorf("%s: column %s is not a plain column", r.path, name)
		}
		r.leaf = append(r.leaf, leaf.ColumnIndex)
		r.kind = append(r.kind, leaf.Node.Type().Kind())
	}
	return nil
}

// Type is the type of the named column (physical and logical), if the file has it.
func (r *Reader) Type(name string) (parquet.Type, bool) {
	leaf, ok := r.pf.Schema().Lookup(name)
	if !ok {
		return nil, false
	}
	return leaf.Node.Type(), true
}

// Kind is the physical type of the i-th chosen column.
func (r *Reader) Kind(i int) parquet.Kind { return r.kind[i] }

// NumRows is the number of rows of the file.
func (r *Reader) NumRows() int64 { return r.pf.NumRows() }

// Close closes the file.
func (r *Reader) Close() error { return r.file.Close() }

// Batch is a window of rows of the chosen columns.
type Batch struct {
	First int64 // row number in the file of the batch's first row, from 0
	Len   int
	cols  []cursor
	start []int  // per column, the window's start in its page
	group uint64 // see Group
}

// Group tells the scan of a row group the batch comes from, unique in the process: batches
// of one Group read every dictionary column from the same dictionary (a column chunk has one).
func (b *Batch) Group() uint64 { return b.group }

// Bytes is the view of a BYTE_ARRAY column.

func (b *Batch) Bytes(c int) Bytes { return b.cols[c].bytes.slice(b.start[c], b.Len) }

// Int64s is the view of an INT64 or INT32 column (widened).
func (b *Batch) Int64s(c int) Ints {
	x := &b.cols[c]
	s := b.start[c]
	out := Ints{v: x.ints[s : s+b.Len]}
	if x.null != nil {
		out.null = x.null[s : s+b.Len]
	}
	return out
}

// Float64s is the view of a DOUBLE column.
func (b *Batch) Float64s(c int) Floats {
	x := &b.cols[c]
	s := b.start[c]
	out := Floats{v: x.floats[s : s+b.Len]}
	if x.null != nil {
		out.null = x.null[s : s+b.Len]
	}
	return out
}

// Floats holds the values of a DOUBLE column over a batch.
type Floats struct {
	v    []float64
	null []bool
}

// At is row i's value (0 when null).
func (v Floats) At(i int) float64 { return v.v[i] }

// Null reports whether row i is null.
func (v Floats) Null(i int) bool { return v.null != nil && v.null[i] }

// Bools is the view of a BOOLEAN column.
func (b *Batch) Bools(c int) Bools {
	x := &b.cols[c]
	s := b.start[c]
	out := Bools{v: x.bools[s : s+b.Len]}
	if x.null != nil {
		out.null = x.null[s : s+b.Len]
	}
	return out
}

// Bytes holds the values of a byte-array column over a batch.
type Bytes struct {
	data []byte
	offs []uint32 // value k is data[offs[k]:offs[k+1]]
	idx  []int32  // row i is value idx[i] (-1: null); nil: row i is value i
	dict bool     // the values are the column chunk's dictionary
}

// At is row i's value (nil when null). The slice is valid during the callback only.
func (v Bytes) At(i int) []byte {
	k := i
	if v.idx != nil {
		if k = int(v.idx[i]); k < 0 {
			return nil
		}
	}
	return v.data[v.offs[k]:v.offs[k+1]]
}

// Null reports whether row i is null.
func (v Bytes) Null(i int) bool { return v.idx != nil && v.idx[i] < 0 }

// Contiguous gives the batch's values as one run of bytes, row i being
// data[offs[i]:offs[i+1]] (offs[0] need not be 0), for a column read without nulls or a
// dictionary; otherwise ok is false and At must be used. Valid during the callback only.
func (v Bytes) Contiguous() (data []byte, offs []uint32, ok bool) {
	if v.idx != nil {
		return nil, nil, false
	}
	return v.data, v.offs, true
}

// Dictionary gives the batch's values of a dictionary-encoded column: row i is dictionary
// value idx[i], data[offs[k]:offs[k+1]] for value k, or null when idx[i] is negative. ok is
// false for a column read without a dictionary (see Contiguous). Valid during the callback
// only.
func (v Bytes) Dictionary() (data []byte, offs []uint32, idx []int32, ok bool) {
	if v.idx == nil || !v.dict {
		return nil, nil, nil, false
	}
	return v.data, v.offs, v.idx, true
}

func (v Bytes) slice(start, n int) Bytes {
	if v.idx != nil {
		v.idx = v.idx[start : start+n]
	} else {
		v.offs = v.offs[start : start+n+1]
	}
	return v
}

// Ints holds the values of an integer column over a batch.
type Ints struct {
	v    []int64
	null []bool
}

// At is row i's value (0 when null).
func (v Ints) At(i int) int64 { return v.v[i] }

// Null reports whether row i is null.
func (v Ints) Null(i int) bool { return v.null != nil && v.null[i] }

// Values is the batch's values, 0 for a null. Valid during the callback only.
func (v Ints) Values() []int64 { return v.v }

// AnyNull reports whether any row of the batch is null.
func (v Ints) AnyNull() bool { return slices.Contains(v.null, true) }

// Bools holds the values of a boolean column over a batch.
type Bools struct {
	v    []bool
	null []bool
}

// At is row i's value (false when null).
func (v Bools) At(i int) bool { return v.v[i] }

// Null reports whether row i is null.
func (v Bools) Null(i int) bool { return v.null != nil && v.null[i] }

// Values is the batch's values, false for a null. Valid during the callback only.
func (v Bools) Values() []bool { return v.v }

// cursor is one column's current page, decoded into a view.
type cursor struct {
	kind   parquet.Kind
	pages  parquet.Pages
	page   parquet.Page
	n      int // rows of the current page
	pos    int // next row of the current page
	bytes  Bytes
	ints   []int64
	floats []float64
	bools  []bool
	null   []bool
	// scratch buffers reused from page to page
	idxBuf  []int32
	intBuf  []int64
	boolBuf []bool
	nullBuf []bool
	// pageRow is the row (of the row group) the current page starts at; index, when the file
	// has one, is the column chunk's page index, which seek jumps by.
	pageRow int64
	index   parquet.OffsetIndex
}

// usePageIndex lets tests take the way of files without a page index.
var usePageIndex = true

// maxBatch caps a batch, so that the callbacks' work stays in cache.
const maxBatch = 8192

// Scan calls fn with the batches of the file's rows in order. It stops at fn's first error,
// or when ctx is done (checked between batches).
//
// A damaged file gives an error, never a panic: parquet-go panics on some malformed pages,
// and those panics are turned into errors here (fn's own panics are not caught).
func (r *Reader) Scan(ctx context.Context, fn func(*Batch) error) error {
	return r.ScanRanges(ctx, [][2]int64{{0, r.NumRows()}}, fn)
}

// ScanRanges is Scan over the rows of the given ranges only ([start, end) row numbers,
// increasing and not overlapping). Each column jumps to the page holding a range's first row
// (through the file's page index when it has one), so pages holding no wanted row are not
// decoded: a few ranges of a large file cost a few pages per column.
func (r *Reader) ScanRanges(ctx context.Context, ranges [][2]int64, fn func(*Batch) error) (err error) {
	inFn := false
	defer func() {
		if p := recover(); p != nil {
			if inFn {
				panic(p)
			}
			err = fmt.Errorf("%s: damaged file: %v", r.path, p)
		}
	}()
	call := func(b *Batch) error {
		inFn = true
		err := fn(b)
		inFn = false // left true when fn panics, so that its panic goes on up
		return err
	}
	for i, rg := range ranges {
		if rg[0] < 0 || rg[1] < rg[0] || rg[1] > r.NumRows() || (i > 0 && rg[0] < ranges[i-1][1]) {
			return fmt.Errorf("%s: row ranges must increase within the file's %d rows (range %d is %v)", r.path, r.NumRows(), i, rg)
		}
	}
	var groupStart int64
	for _, rg := range r.pf.RowGroups() {
		groupEnd := groupStart + rg.NumRows()
		var local [][2]int64 // the ranges' parts in this group, in group row numbers
		for len(ranges) > 0 && ranges[0][0] < groupEnd {
			lo, hi := max(ranges[0][0], groupStart), min(ranges[0][1], groupEnd)
			if lo < hi {
				local = append(local, [2]int64{lo - groupStart, hi - groupStart})
			}
			if ranges[0][1] > groupEnd {
				break // the range goes on into the next group
			}
			ranges = ranges[1:]
		}
		if len(local) > 0 {
			if err := r.scanGroup(ctx, rg, groupStart, local, call); err != nil {
				return err
			}
		}
		groupStart = groupEnd
	}
	return nil
}

// groupScans numbers the row groups' scans, process-wide (Batch.Group).
var groupScans atomic.Uint64

// scanGroup reads the ranges (in group row numbers) of one row group.
func (r *Reader) scanGroup(ctx context.Context, rg parquet.RowGroup, groupStart int64, ranges [][2]int64, fn func(*Batch) error) error {
	chunks := rg.ColumnChunks()
	b := &Batch{cols: make([]cursor, len(r.leaf)), start: make([]int, len(r.leaf)), group: groupScans.Add(1)}
	for i, leaf := range r.leaf {
		b.cols[i].kind = r.kind[i]
		b.cols[i].pages = chunks[leaf].Pages()
		if idx, err := chunks[leaf].OffsetIndex(); usePageIndex && err == nil && idx != nil && idx.NumPages() > 0 {
			b.cols[i].index = idx
		}
	}
	defer func() {
		for i := range b.cols {
			b.cols[i].release()
			b.cols[i].pages.Close()
		}
	}()
	var at int64 // the group row the cursors are at
	for _, rng := range ranges {
		if rng[0] != at {
			for i := range b.cols {
				if err := b.cols[i].seek(rng[0]); err != nil {
					return r.pageError(i, groupStart+rng[0], err)
				}
			}
			at = rng[0]
		}
		for at < rng[1] {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := int(min(rng[1]-at, maxBatch))
			for i := range b.cols {
				c := &b.cols[i]
				for c.pos == c.n {
					if err := c.next(); err != nil {
						return r.pageError(i, groupStart+at, err)
					}
				}
				n = min(n, c.n-c.pos)
				b.start[i] = c.pos
			}
			b.First, b.Len = groupStart+at, n
			if err := fn(b); err != nil {
				return err
			}
			for i := range b.cols {
				b.cols[i].pos += n
			}
			at += int64(n)
		}
	}
	return nil
}

// seek moves the column to row (of its row group). It asks parquet-go for the whole page that
// holds the row, found in the page index, and starts within it: a page parquet-go slices for
// a seek mid-page hides the bit offset of its booleans. Without a page index it reads pages
// forward from the current one (or from the group's start).
func (c *cursor) seek(row int64) error {
	if c.page != nil && row >= c.pageRow && row < c.pageRow+int64(c.n) {
		c.pos = int(row - c.pageRow) // the page already decoded holds it
		return nil
	}
	start := int64(-1) // -1: read on from the current page
	switch {
	case c.index != nil:
		k := sort.Search(c.index.NumPages(), func(i int) bool { return c.index.FirstRowIndex(i) > row }) - 1
		if k < 0 {
			return fmt.Errorf("no page holds row %d", row)
		}
		start = c.index.FirstRowIndex(k)
	case c.page == nil || row < c.pageRow:
		start = 0
	}
	if start >= 0 {
		c.release()
		if err := c.pages.SeekToRow(start); err != nil {
			return err
		}
		c.pageRow, c.n, c.pos = start, 0, 0
	}
	for {
		if err := c.next(); err != nil {
			return err
		}
		if c.index != nil && start >= 0 && !c.indexAgrees() {
			return fmt.Errorf("the page index says the page at row %d holds other rows than it does", c.pageRow)
		}
		if row < c.pageRow+int64(c.n) {
			c.pos = int(row - c.pageRow)
			return nil
		}
	}
}

// indexAgrees checks the page just read against the page index: the next page must begin
// where this one ends, or the columns would come out of line.
func (c *cursor) indexAgrees() bool {
	k := sort.Search(c.index.NumPages(), func(i int) bool { return c.index.FirstRowIndex(i) > c.pageRow }) - 1
	if k < 0 || c.index.FirstRowIndex(k) != c.pageRow {
		return false
	}
	if k+1 < c.index.NumPages() {
		return c.index.FirstRowIndex(k+1) == c.pageRow+int64(c.n)
	}
	return true
}

func (r *Reader) pageError(col int, row int64, err error) error {
	if errors.Is(err, io.EOF) {
		err = errors.New("column ends before its row group")
	}
	return fmt.Errorf("%s: column %s near row %d: %w", r.path, r.names[col], row+1, err)
}

func (c *cursor) release() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
}

// next reads and decodes the column's next page.
func (c *cursor) next() error {
	c.release()
	c.pageRow += int64(c.n)
	c.n, c.pos = 0, 0
	p, err := c.pages.ReadPage()
	if err != nil {
		return err
	}
	c.page, c.n = p, int(p.NumValues())
	if c.n < 0 {
		return fmt.Errorf("page of %d values", c.n)
	}
	if len(p.RepetitionLevels()) > 0 {
		return errors.New("repeated values")
	}
	levels := p.DefinitionLevels()
	nulls := len(levels) > 0 && p.NumNulls() > 0
	c.null = nil
	if nulls {
		c.nullBuf = grow(c.nullBuf, c.n)
		for i, l := range levels {
			c.nullBuf[i] = l == 0
		}
		c.null = c.nullBuf
	}
	data := p.Data()
	dict := p.Dictionary()
	switch c.kind {
	case parquet.ByteArray:
		return c.decodeBytes(data.ByteArray, dict, nulls)
	case parquet.Int64, parquet.Int32:
		return c.decodeInts(p, dict, nulls)
	case parquet.Boolean:
		return c.decodeBools(p, dict, nulls)
	case parquet.Double:
		return c.decodeFloats(p, dict, nulls)
	}
	return fmt.Errorf("unsupported type %s", c.kind)
}

func (c *cursor) decodeBytes(plain func() ([]byte, []uint32), dict parquet.Dictionary, nulls bool) error {
	c.bytes.dict = dict != nil
	if dict != nil {
		d := dict.Page().Data()
		c.bytes.data, c.bytes.offs = d.ByteArray()
		page := c.page.Data()
		idx := page.Int32()
		// parquet-go does not check dictionary indexes against the dictionary: a damaged
		// page would make At index out of range in the caller's hands.
		size := int32(len(c.bytes.offs) - 1)
		for _, k := range idx {
			if k < 0 || k >= size {
				return fmt.Errorf("dictionary index %d out of a dictionary of %d values", k, size)
			}
		}
		if !nulls {
			if len(idx) < c.n {
				return errors.New("short page")
			}
			c.bytes.idx = idx
			return nil
		}
		var err error
		c.bytes.idx, err = c.spread(idx)
		return err
	}
	c.bytes.data, c.bytes.offs = plain()
	if err := checkOffsets(c.bytes.data, c.bytes.offs); err != nil {
		return err
	}
	values := len(c.bytes.offs) - 1
	if !nulls {
		if values < c.n {
			return errors.New("short page")
		}
		c.bytes.idx = nil
		return nil
	}
	c.idxBuf = grow(c.idxBuf, c.n)
	k := int32(0)
	for i := range c.n {
		if c.null[i] {
			c.idxBuf[i] = -1
			continue
		}
		if int(k) >= values {
			return errors.New("short page")
		}
		c.idxBuf[i] = k
		k++
	}
	c.bytes.idx = c.idxBuf
	return nil
}

// checkOffsets checks that a page's value offsets rise within its data.
func checkOffsets(data []byte, offs []uint32) error {
	if len(offs) == 0 {
		return errors.New("short page")
	}
	for i := 1; i < len(offs); i++ {
		if offs[i] < offs[i-1] {
			return errors.New("value offsets out of order")
		}
	}
	if int(offs[len(offs)-1]) > len(data) {
		return errors.New("value offsets past the page's data")
	}
	return nil
}

// spread lays the non-null dictionary indexes out over the rows, -1 on nulls.
func (c *cursor) spread(idx []int32) ([]int32, error) {
	c.idxBuf = grow(c.idxBuf, c.n)
	k := 0
	for i := range c.n {
		switch {
		case c.null[i]:
			c.idxBuf[i] = -1
		case k >= len(idx):
			return nil, errors.New("short page")
		default:
			c.idxBuf[i] = idx[k]
			k++
		}
	}
	return c.idxBuf, nil
}

// decodeInts reads an INT64 or INT32 (widened) page.
func (c *cursor) decodeInts(p parquet.Page, dict parquet.Dictionary, nulls bool) error {
	src := p.Data()
	if dict != nil {
		src = dict.Page().Data()
	}
	var plain []int64
	if c.kind == parquet.Int64 {
		plain = src.Int64()
	} else {
		v32 := src.Int32()
		c.intBuf = grow(c.intBuf, len(v32))
		for i, v := range v32 {
			c.intBuf[i] = int64(v)
		}
		plain = c.intBuf[:len(v32)]
	}
	var err error
	c.ints, err = spreadValues(c, p, plain, dict != nil, nulls)
	return err
}

// decodeFloats reads a DOUBLE page (the extracts' shares).
func (c *cursor) decodeFloats(p parquet.Page, dict parquet.Dictionary, nulls bool) error {
	src := p.Data()
	if dict != nil {
		src = dict.Page().Data()
	}
	var err error
	c.floats, err = spreadValues(c, p, src.Double(), dict != nil, nulls)
	return err
}

// spreadValues lays a page's values out over its rows: plain holds the page's non-null values,
// or the dictionary's when the page is dictionary-encoded; a null row gets the zero value.
// Without a dictionary or nulls, plain serves as it is.
func spreadValues[T any](c *cursor, p parquet.Page, plain []T, dict, nulls bool) ([]T, error) {
	if !dict && !nulls {
		if len(plain) < c.n {
			return nil, errors.New("short page")
		}
		return plain, nil
	}
	out := make([]T, c.n) // dictionaries and nulls of numbers are rare: no reuse
	var idx []int32
	if dict {
		d := p.Data()
		idx = d.Int32()
	}
	k := 0
	for i := range c.n {
		if nulls && c.null[i] {
			continue
		}
		j := k
		if idx != nil {
			if k >= len(idx) {
				return nil, errors.New("short page")
			}
			j = int(idx[k])
		}
		if j < 0 || j >= len(plain) {
			return nil, errors.New("short page")
		}
		out[i] = plain[j]
		k++
	}
	return out, nil
}

// decodeBools unpacks the page's bits. Pages come whole from the file (seek never asks
// parquet-go for a page sliced mid-way, whose bits would start at an offset Data hides).
func (c *cursor) decodeBools(p parquet.Page, dict parquet.Dictionary, nulls bool) error {
	if dict != nil {
		return errors.New("dictionary-encoded booleans")
	}
	d := p.Data()
	bits := d.Boolean()
	c.boolBuf = grow(c.boolBuf, c.n)
	k := 0
	for i := range c.n {
		if nulls && c.null[i] {
			c.boolBuf[i] = false
			continue
		}
		if k/8 >= len(bits) {
			return errors.New("short page")
		}
		c.boolBuf[i] = bits[k/8]&(1<<(k%8)) != 0
		k++
	}
	c.bools = c.boolBuf
	return nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
