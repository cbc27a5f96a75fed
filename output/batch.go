package output

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// Columns holds rows of a flat row type T column by column, for Writer.WriteColumns: the
// producer appends rows as it makes them, and the writer takes each column's values at once
// instead of reading every field back from rows in memory. On the 10M month the receipt rows
// alone were two gigabytes written by the household pass and read again by the writer.
//
// A dictionary column (",dict") keeps its values as the caller's strings, which must stay
// valid and unchanged until WriteColumns returns: they are meant to be the few interned
// values such a column repeats. Every other column's values are copied as they are appended.
type Columns[T any] struct {
	cols []colBuf
	n    int
	err  error
	// the columns by what Append does with them, so that it loops without a switch
	dictStrs, plainStrs, int64s, int32s, bools []int
}

// colBuf is one column's values.
type colBuf struct {
	name string
	off  uintptr // the field's offset in a row
	kind colKind
	dict bool
	// overflow is set when a direct append took data past 4 GiB (offsets are 32-bit)
	overflow bool
	strs     []string // a dictionary column's values
	data     []byte   // another string column's values back to back,
	offs     []uint32 // value i being data[offs[i]:offs[i+1]]
	ints     []int64  // integers, and bools as 0 and 1
	perRow   int      // bytes a row the last rows' data took (Reserve)
}

// NewColumns returns an empty batch for T, which must be a row type of the column engine (a
// flat struct of strings, integers and bools).
func NewColumns[T any]() (*Columns[T], error) {
	cols, ok := columnsOf(reflect.TypeFor[T]())
	if !ok {
		return nil, fmt.Errorf("output: %v is not a flat row type", reflect.TypeFor[T]())
	}
	b := &Columns[T]{cols: make([]colBuf, len(cols))}
	for i, c := range cols {
		b.cols[i] = colBuf{name: c.name, off: c.off, kind: c.kind, dict: c.dict}
		switch {
		case c.kind == kindString && c.dict:
			b.dictStrs = append(b.dictStrs, i)
		case c.kind == kindString:
			b.plainStrs = append(b.plainStrs, i)
		case c.kind == kindInt64:
			b.int64s = append(b.int64s, i)
		case c.kind == kindInt32:
			b.int32s = append(b.int32s, i)
		default:
			b.bools = append(b.bools, i)
		}
	}
	b.Reset()
	return b, nil
}

// Reset empties the batch and keeps its memory.
func (b *Columns[T]) Reset() {
	for i := range b.cols {
		c := &b.cols[i]
		if b.n > 0 && len(c.data) > 0 {
			c.perRow = len(c.data)/b.n + 1
		}
		clear(c.strs) // drop the references to the caller's strings
		c.strs, c.data, c.offs, c.ints = c.strs[:0], c.data[:0], append(c.offs[:0], 0), c.ints[:0]
		c.overflow = false
	}
	b.n, b.err = 0, nil
}

// Reserve gives the empty batch's columns room for n rows, so that appends do not grow them
// row by row: the strings of a plain column as many bytes a row as its last rows took.
func (b *Columns[T]) Reserve(n int) {
	for i := range b.cols {
		c := &b.cols[i]
		switch {
		case c.kind == kindString && c.dict:
			c.strs = room(c.strs, n)
		case c.kind == kindString:
			c.offs = append(room(c.offs, n+1), 0)
			c.data = room(c.data, n*c.perRow)
		default:
			c.ints = room(c.ints, n)
		}
	}
}

// room returns s emptied with room for n elements, in a new array a quarter larger than n when
// s lacks it (rather than copying the old contents over, as slices.Grow(s[:0], n) would).
func room[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:0]
	}
	return make([]T, 0, n+n/4)
}

// Len is the number of rows in the batch.
func (b *Columns[T]) Len() int { return b.n }

// Append adds row r.
func (b *Columns[T]) Append(r *T) {
	base := unsafe.Pointer(r)
	for _, i := range b.plainStrs {
		c := &b.cols[i]
		s := *(*string)(unsafe.Add(base, c.off))
		c.data = append(c.data, s...)
		c.offs = append(c.offs, uint32(len(c.data)))
		if len(c.data) > math.MaxUint32 {
			b.err = fmt.Errorf("output: more than 4 GiB of strings in one batch")
		}
	}
	for _, i := range b.dictStrs {
		c := &b.cols[i]
		c.strs = append(c.strs, *(*string)(unsafe.Add(base, c.off)))
	}
	for _, i := range b.int64s {
		c := &b.cols[i]
		c.ints = append(c.ints, *(*int64)(unsafe.Add(base, c.off)))
	}
	for _, i := range b.int32s {
		c := &b.cols[i]
		c.ints = append(c.ints, int64(*(*int32)(unsafe.Add(base, c.off))))
	}
	for _, i := range b.bools {
		c := &b.cols[i]
		var v int64
		if *(*bool)(unsafe.Add(base, c.off)) {
			v = 1
		}
		c.ints = append(c.ints, v)
	}
	b.n++
}

// Direct appends are the other way to fill a batch: a producer that holds a row's values in
// variables appends them column by column through the handles below (StringColumn,
// IntColumn, BoolColumn) and ends the row (EndRow), with no T built and copied and no loop
// over the columns; on the 10M month Append and the rows it was given were a fifth of the
// household pass. Each column must take exactly one value per row: WriteColumns refuses a
// batch whose columns disagree. Handles stay valid across Reset.

// StringColumn is a string column of a batch, for direct appends.
type StringColumn struct{ c *colBuf }

// Append adds v as the column's value of the row being made. Of a dictionary column the
// string itself is kept (see Columns), of another its bytes are copied.
func (s StringColumn) Append(v string) {
	c := s.c
	if c.dict {
		c.strs = append(c.strs, v)
		return
	}
	c.data = append(c.data, v...)
	c.offs = append(c.offs, uint32(len(c.data)))
	if len(c.data) > math.MaxUint32 {
		c.overflow = true
	}
}

// At is the column's value of row i, for a reader of the batch (valid while the batch is
// neither reset nor appended to).
func (s StringColumn) At(i int) string {
	c := s.c
	if c.dict {
		return c.strs[i]
	}
	b := c.data[c.offs[i]:c.offs[i+1]]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// IntColumn is an integer column (int64 or int32) of a batch, for direct appends.
type IntColumn struct{ c *colBuf }

// Append adds v as the column's value of the row being made. An int32 column takes v as the
// row's int32 field would hold it.
func (s IntColumn) Append(v int64) {
	if s.c.kind == kindInt32 {
		v = int64(int32(v))
	}
	s.c.ints = append(s.c.ints, v)
}

// At is the column's value of row i.
func (s IntColumn) At(i int) int64 { return s.c.ints[i] }

// BoolColumn is a bool column of a batch, for direct appends.
type BoolColumn struct{ c *colBuf }

// Append adds v as the column's value of the row being made.
func (s BoolColumn) Append(v bool) {
	var x int64
	if v {
		x = 1
	}
	s.c.ints = append(s.c.ints, x)
}

// StringColumn returns the handle of the string column name.
func (b *Columns[T]) StringColumn(name string) (StringColumn, error) {
	c, err := b.column(name, kindString)
	return StringColumn{c}, err
}

// IntColumn returns the handle of the integer column name.
func (b *Columns[T]) IntColumn(name string) (IntColumn, error) {
	c, err := b.column(name, kindInt64, kindInt32)
	return IntColumn{c}, err
}

// BoolColumn returns the handle of the bool column name.
func (b *Columns[T]) BoolColumn(name string) (BoolColumn, error) {
	c, err := b.column(name, kindBool)
	return BoolColumn{c}, err
}

func (b *Columns[T]) column(name string, kinds ...colKind) (*colBuf, error) {
	for i := range b.cols {
		if c := &b.cols[i]; c.name == name {
			for _, k := range kinds {
				if c.kind == k {
					return c, nil
				}
			}
			return nil, fmt.Errorf("output: column %s of %v is not of the type asked for", name, reflect.TypeFor[T]())
		}
	}
	return nil, fmt.Errorf("output: %v has no column %s", reflect.TypeFor[T](), name)
}

// EndRow ends a row made by direct appends.
func (b *Columns[T]) EndRow() { b.n++ }

// check reports a batch whose columns do not all hold its n rows, or whose strings
// overflowed.
func (b *Columns[T]) check() error {
	if b.err != nil {
		return b.err
	}
	for i := range b.cols {
		c := &b.cols[i]
		n := len(c.ints)
		switch {
		case c.overflow:
			return fmt.Errorf("output: more than 4 GiB of strings in one batch")
		case c.kind == kindString && c.dict:
			n = len(c.strs)
		case c.kind == kindString:
			n = len(c.offs) - 1
		}
		if n != b.n {
			return fmt.Errorf("output: column %s holds %d values for %d rows", c.name, n, b.n)
		}
	}
	return nil
}

// Row returns row i as a T again.
func (b *Columns[T]) Row(i int) T {
	var r T
	base := unsafe.Pointer(&r)
	for k := range b.cols {
		c := &b.cols[k]
		p := unsafe.Add(base, c.off)
		switch c.kind {
		case kindString:
			if c.dict {
				*(*string)(p) = c.strs[i]
			} else {
				*(*string)(p) = string(c.data[c.offs[i]:c.offs[i+1]])
			}
		case kindInt64:
			*(*int64)(p) = c.ints[i]
		case kindInt32:
			*(*int32)(p) = int32(c.ints[i])
		case kindBool:
			*(*bool)(p) = c.ints[i] != 0
		}
	}
	return r
}

// WriteColumns appends the batch's rows, as Write would the same rows (the file's bytes are
// the same whichever way its rows came). The batch is not retained.
func (w *Writer[T]) WriteColumns(b *Columns[T]) error {
	if w.err != nil {
		return w.err
	}
	if err := b.check(); err != nil {
		return err
	}
	if w.cf == nil { // parquet-go's engine (tests and benchmarks): rows again
		rows := make([]T, b.n)
		for i := range rows {
			rows[i] = b.Row(i)
		}
		return w.Write(rows)
	}
	if w.closed {
		return fmt.Errorf("output: %s: write after close", w.name)
	}
	if b.n == 0 {
		return nil
	}
	if err := w.cf.writeColumns(b.cols, b.n); err != nil {
		w.closed = true
		w.err = w.dir.finish(w.st, err)
		return w.err
	}
	w.handed += int64(b.n)
	return nil
}

// writeColumns appends n rows held column by column in bufs (in the order of f.cols): each
// column's values of a row group at once, cut into pages where write would cut them.
func (f *columnFile) writeColumns(bufs []colBuf, n int) error {
	return f.appendRows(n, n, func(i int, c *column, from, to int) error {
		return f.appendValues(c, &bufs[i], from, to)
	})
}

// appendValues appends values [from, to) of b to column c, flushing a page after the value
// that fills it, as appendColumn does.
func (f *columnFile) appendValues(c *column, b *colBuf, from, to int) error {
	switch {
	case c.kind == kindString && b.dict:
		// A value at the address of the one before (the month on every row, a household's
		// insurer on each of its rows) takes its index without a look-up. (lastP is nil once
		// the dictionary has fallen back: every value is then appended as it is.)
		var lastP *byte
		var lastN int
		var lastK int32
		for _, s := range b.strs[from:to] {
			if p := unsafe.StringData(s); p != nil && p == lastP && len(s) == lastN {
				c.idx = append(c.idx, lastK)
				c.size += 4
			} else {
				if err := f.appendString(c, s); err != nil {
					return err
				}
				lastP = nil
				if !c.fallback {
					lastP, lastN, lastK = p, len(s), c.idx[len(c.idx)-1]
				}
			}
			if err := f.flushIfFull(c); err != nil {
				return err
			}
		}
	case c.kind == kindString:
		for i := from; i < to; {
			// The values up to the one that fills the page, in one copy.
			j, size := i, c.size
			for j < to && size < f.pageBytes {
				size += 4 + int(b.offs[j+1]-b.offs[j])
				j++
			}
			c.appendRun(b, i, j)
			c.size = size
			if err := f.flushIfFull(c); err != nil {
				return err
			}
			i = j
		}
	case c.kind == kindBool:
		for _, v := range b.ints[from:to] {
			c.appendBool(v)
			if err := f.flushIfFull(c); err != nil {
				return err
			}
		}
	default:
		size := 8
		if c.kind == kindInt32 {
			size = 4
		}
		for _, v := range b.ints[from:to] {
			c.appendInt(v, size)
			if err := f.flushIfFull(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendRun appends string values [i, j) of b to c's page (not its size).
func (c *column) appendRun(b *colBuf, i, j int) {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	shift := uint32(len(c.data)) - b.offs[i] // modulo 2^32: the sums below are the true offsets
	c.data = append(c.data, b.data[b.offs[i]:b.offs[j]]...)
	for _, o := range b.offs[i+1 : j+1] {
		c.offs = append(c.offs, o+shift)
	}
	if c.bounds {
		for k := i; k < j; k++ {
			if v := b.data[b.offs[k]:b.offs[k+1]]; len(v) > 0 {
				c.observeString(unsafe.String(&v[0], len(v)))
			} else {
				c.observeString("")
			}
		}
	}
}
