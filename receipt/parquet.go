package receipt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/kougaku/batch/pqcol"
)

// Parquet inputs are read column by column (package pqcol): the values of a page go straight
// from parquet-go's decoded buffers into the checks and the Arrow builders, never through
// rows or Go structs. Reading rows (GenericReader, or ReadRows of parquet.Values) cost
// several times more: reflection, a string or a Value per field.

// parquetKinds is the physical type each contract column may have; integer columns may be
// INT32 as well. Anything else would be garbled on the way to Go values, so it is refused up
// front.
var parquetKinds = map[string][]parquet.Kind{
	"cost":   {parquet.Int64, parquet.Int32},
	"copay":  {parquet.Int64, parquet.Int32},
	"paid":   {parquet.Int64, parquet.Int32},
	"cancel": {parquet.Boolean},
	// Every other column is a string.
}

// openColumns opens a Parquet table for its contract columns: the required ones must be
// there, and every contract column it has must be a plain column of a usable type. pos[c]
// is column c's index among the reader's views, -1 when the file lacks it.
func openColumns(file string, columns, required []string) (*pqcol.Reader, []int, error) {
	r, err := pqcol.Open(file)
	if err != nil {
		return nil, nil, &FileError{File: file, Err: err}
	}
	fail := func(err error) (*pqcol.Reader, []int, error) {
		r.Close()
		return nil, nil, &FileError{File: file, Err: err}
	}
	var missing []string
	for _, name := range required {
		if _, ok := r.Type(name); !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fail(fmt.Errorf("missing required column(s) %s in the parquet schema", strings.Join(missing, ", ")))
	}
	pos := make([]int, len(columns))
	var chosen []string
	for c, name := range columns {
		pos[c] = -1
		typ, ok := r.Type(name)
		if !ok {
			continue
		}
		kind := typ.Kind()
		kinds, ok := parquetKinds[name]
		if !ok {
			kinds = []parquet.Kind{parquet.ByteArray}
		}
		if !containsKind(kinds, kind) {
			return fail(fmt.Errorf("column %s: parquet type %s, want %s", name, kind, kinds[0]))
		}
		if !plainAnnotation(typ) {
			return fail(fmt.Errorf("column %s: logical type %v cannot be read as a plain %s", name, typ, kinds[0]))
		}
		pos[c] = len(chosen)
		chosen = append(chosen, name)
	}
	if err := r.Select(chosen...); err != nil {
		return fail(err)
	}
	return r, pos, nil
}

func containsKind(ks []parquet.Kind, k parquet.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// scanColumns runs r.Scan, telling fn's errors (returned as they are) from the file's
// (a *FileError near the row where the read stopped).
func scanColumns(ctx context.Context, file string, r *pqcol.Reader, fn func(b *pqcol.Batch) error) error {
	return scanColumnRanges(ctx, file, r, nil, fn)
}

// scanColumnRanges is scanColumns over the given row ranges (nil: every row).
func scanColumnRanges(ctx context.Context, file string, r *pqcol.Reader, ranges [][2]int64, fn func(b *pqcol.Batch) error) error {
	if ranges == nil {
		ranges = [][2]int64{{0, r.NumRows()}}
	}
	var own error
	var at int64
	err := r.ScanRanges(ctx, ranges, func(b *pqcol.Batch) error {
		at = b.First + int64(b.Len)
		own = fn(b)
		return own
	})
	switch {
	case err == nil, err == own, errors.Is(err, ctx.Err()):
		return err
	}
	return &FileError{File: file, Line: at + 1, Err: err} // err names the file: FileError does not repeat it
}

// readTableParquet reads a master table and gives fn each row's trimmed values in columns
// order ("" for an absent column or a null), as readTableCSV does; line is the row number.
// With transient the values alias the decoded page (valid during fn only), else repeating
// values are interned and the rest allocated. ranges, when not nil, limits the read to those
// rows.
func readTableParquet(ctx context.Context, file string, columns, required []string, transient bool, ranges [][2]int64, fn func(v []string, line int64) error) error {
	r, pos, err := openColumns(file, columns, required)
	if err != nil {
		return err
	}
	defer r.Close()
	v := make([]string, len(columns))
	views := make([]pqcol.Bytes, len(columns))
	interns := make([]pqcol.Interner, len(columns))
	value := func(c int, b []byte) string {
		if !transient {
			return interns[c].String(trimSpace(b))
		}
		if b = trimSpace(b); len(b) > 0 {
			return unsafe.String(&b[0], len(b))
		}
		return ""
	}
	// A dictionary column's values are made once per row group, each dictionary value
	// trimmed (and interned) once, and its rows take them by index. (Valid as long as the row
	// group's dictionary, which outlives every batch of the group.)
	dicts := make([]struct {
		group uint64
		vals  []string
		idx   []int32 // the batch's indexes; nil for a column read without a dictionary
	}, len(columns))
	return scanColumnRanges(ctx, file, r, ranges, func(b *pqcol.Batch) error {
		for c, p := range pos {
			if p < 0 {
				continue
			}
			views[c] = b.Bytes(p)
			d := &dicts[c]
			data, offs, idx, ok := views[c].Dictionary()
			d.idx = nil
			if !ok {
				continue
			}
			if d.group != b.Group() {
				d.vals = d.vals[:0]
				for k := 1; k < len(offs); k++ {
					d.vals = append(d.vals, value(c, data[offs[k-1]:offs[k]]))
				}
				d.group = b.Group()
			}
			d.idx = idx
		}
		for i := range b.Len {
			for c, p := range pos {
				v[c] = ""
				switch {
				case p < 0:
				case dicts[c].idx != nil:
					if k := dicts[c].idx[i]; k >= 0 { // a null reads as ""
						v[c] = dicts[c].vals[k]
					}
				default:
					v[c] = value(c, views[c].At(i))
				}
			}
			if err := fn(v, b.First+int64(i)+1); err != nil {
				return err
			}
		}
		return nil
	})
}

// readReceiptsParquet reads the Parquet receipts of s.file into s. Columns are matched by
// name, so their order does not matter, and absent optional columns read as empty. A null
// in cost, copay or paid (an optional column in the file) is a BAD_RECORD, as an empty CSV
// field would be; a null string is empty.
func readReceiptsParquet(s *receiptSink) error {
	r, pos, err := openColumns(s.file, receiptColumns, receiptRequired)
	if err != nil {
		return err
	}
	defer r.Close()
	p := &parquetBatch{hasCancel: pos[ColCancel] >= 0}
	for _, c := range stringCols {
		p.present[c] = c < len(pos) && pos[c] >= 0
	}
	return scanColumns(s.ctx, s.file, r, func(b *pqcol.Batch) error {
		for _, c := range stringCols {
			if p.present[c] {
				p.strs[c] = b.Bytes(pos[c])
			}
		}
		p.first, p.n, p.group = b.First, b.Len, b.Group()
		p.cost, p.copay, p.paid = b.Int64s(pos[ColCost]), b.Int64s(pos[ColCopay]), b.Int64s(pos[ColPaid])
		if p.hasCancel {
			p.cancel = b.Bools(pos[ColCancel])
		}
		if p.bulkable() {
			return s.addBulk(p)
		}
		return s.rowsOf(p)
	})
}

// rowsOf takes a batch's rows one at a time: checked, trimmed, accepted or rejected.
func (s *receiptSink) rowsOf(p *parquetBatch) error {
	var t textRow
	ints := [...]pqcol.Ints{ColCost: p.cost, ColCopay: p.copay, ColPaid: p.paid}
	for i := range p.n {
		if err := s.row(); err != nil {
			return err
		}
		for _, c := range stringCols {
			t[c] = nil
			if p.present[c] {
				t[c] = trimSpace(p.strs[c].At(i))
			}
		}
		var null string
		for _, c := range []int{ColCost, ColCopay, ColPaid} {
			if ints[c].Null(i) && null == "" {
				null = receiptColumns[c] + ": null"
			}
		}
		paid := p.paid.At(i)
		detail := checkText(&t)
		if detail == "" {
			detail = null
		}
		line := p.first + int64(i) + 1
		var err error
		if detail != "" {
			err = s.bad(&t, line, paid, !p.paid.Null(i), detail)
		} else {
			err = s.accept(&t, p.cost.At(i), p.copay.At(i), paid, p.hasCancel && p.cancel.At(i), line)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// plainAnnotation reports whether a column's logical type leaves its values as they are: a
// string for a byte array, a signed integer for an integer. A DECIMAL(…,2) amount would be
// read a hundred times too large, an unsigned one could change sign when widened.
func plainAnnotation(t parquet.Type) bool {
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.StringType, *format.EnumType:
			return t.Kind() == parquet.ByteArray
		case *format.IntType:
			return v.IsSigned && t.Kind() != parquet.ByteArray
		default:
			return false
		}
	}
	if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.UTF8, deprecated.Enum:
			return t.Kind() == parquet.ByteArray
		case deprecated.Int8, deprecated.Int16, deprecated.Int32, deprecated.Int64:
			return t.Kind() != parquet.ByteArray
		default:
			return false
		}
	}
	return true
}
