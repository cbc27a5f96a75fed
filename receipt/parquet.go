package receipt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// parquetChunkRows is how many rows one Read or ReadRows call decodes: enough to amortize
// the call, few enough that the row buffer stays small.
const parquetChunkRows = 4096

// parquetKinds is the physical type each contract column may have; integer columns may be
// INT32 as well. Anything else would be silently zeroed or garbled on the way to Go values,
// so it is refused up front.
var parquetKinds = map[string][]parquet.Kind{
	"cost":   {parquet.Int64, parquet.Int32},
	"copay":  {parquet.Int64, parquet.Int32},
	"paid":   {parquet.Int64, parquet.Int32},
	"cancel": {parquet.Boolean},
	// Every other column is a string.
}

// openParquet opens a Parquet file whose rows are to be read as the Go type of want, after
// checking its schema: the required columns must be there (parquet-go's conversion to a Go
// type would fill a missing paid with zeros without a word) and the contract's columns
// must have usable types. The caller closes the returned *os.File.
func openParquet(file string, want *parquet.Schema, required []string) (*os.File, *parquet.File, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, &FileError{File: file, Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, &FileError{File: file, Err: err}
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, &FileError{File: file, Err: fmt.Errorf("parquet: %w", err)}
	}
	if err := checkParquetSchema(pf.Schema(), want, required); err != nil {
		f.Close()
		return nil, nil, &FileError{File: file, Err: err}
	}
	return f, pf, nil
}

// readParquet streams the rows of a Parquet file as T in chunks; first is the 1-based row
// number of rows[0].
func readParquet[T any](ctx context.Context, file string, required []string, fn func(rows []T, first int64) error) error {
	var zero T
	want := parquet.SchemaOf(zero)
	f, pf, err := openParquet(file, want, required)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := newReader(func() *parquet.GenericReader[T] { return parquet.NewGenericReader[T](pf, want) })
	if err != nil {
		return &FileError{File: file, Err: fmt.Errorf("parquet: %w", err)}
	}
	defer r.Close()
	rows := make([]T, parquetChunkRows)
	next := int64(1)
	for {
		// Checked once a chunk: a chunk takes well under a millisecond to read.
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(rows)
		if n > 0 {
			if err := fn(rows[:n], next); err != nil {
				return err
			}
			next += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &FileError{File: file, Line: next, Err: fmt.Errorf("parquet: %w", err)}
		}
	}
}

// newReader calls a parquet-go reader constructor, which reports the problems it finds
// with the file (a schema that cannot be converted, say) by panicking.
func newReader[R any](newR func() R) (r R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return newR(), nil
}

// checkParquetSchema checks that the file has the required columns and that every contract
// column it has is a plain top-level column of a usable type.
func checkParquetSchema(got, want *parquet.Schema, required []string) error {
	var missing []string
	for _, name := range required {
		if _, ok := got.Lookup(name); !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required column(s) %s in the parquet schema", strings.Join(missing, ", "))
	}
	for _, f := range want.Fields() {
		name := f.Name()
		leaf, ok := got.Lookup(name)
		if !ok {
			continue
		}
		if len(leaf.Path) != 1 || leaf.Node.Repeated() || !leaf.Node.Leaf() {
			return fmt.Errorf("column %s: not a plain column", name)
		}
		kind := leaf.Node.Type().Kind()
		kinds, ok := parquetKinds[name]
		if !ok {
			kinds = []parquet.Kind{parquet.ByteArray}
		}
		if !containsKind(kinds, kind) {
			return fmt.Errorf("column %s: parquet type %s, want %s", name, kind, kinds[0])
		}
	}
	// Anything parquet-go cannot convert (odd logical types) is found now, not mid-file.
	if _, err := parquet.Convert(want, got); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}

func containsKind(ks []parquet.Kind, k parquet.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// readReceiptsParquet reads the Parquet receipts of s.file into s.
//
// It reads the file's own rows of parquet.Values rather than Row structs: GenericReader[Row]
// spends more than half its time reconstructing structs by reflection and allocating a
// string per field, and its conversion to Row's schema turns a null paid into 0 without a
// word. The values' byte arrays go straight into the Arrow buffers; columns are matched by
// name, so their order does not matter and absent optional columns read as empty.
func readReceiptsParquet(s *receiptSink) error {
	f, pf, err := openParquet(s.file, parquet.SchemaOf(Row{}), receiptRequired)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := newReader(func() *parquet.Reader { return parquet.NewReader(pf) })
	if err != nil {
		return &FileError{File: s.file, Err: fmt.Errorf("parquet: %w", err)}
	}
	defer r.Close()
	// colOf maps the file's leaf columns to the Col* constants (-1: not a contract column).
	cols := pf.Schema().Columns()
	colOf := make([]int, len(cols))
	for i, path := range cols {
		colOf[i] = -1
		for c, name := range receiptColumns {
			if len(path) == 1 && path[0] == name {
				colOf[i] = c
			}
		}
	}
	rows := make([]parquet.Row, parquetChunkRows)
	next := int64(1)
	var t textRow
	for {
		n, err := r.ReadRows(rows)
		for i := range rows[:n] {
			if err := s.row(); err != nil {
				return err
			}
			if err := s.parquetRow(&t, rows[i], colOf, next); err != nil {
				return err
			}
			next++
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &FileError{File: s.file, Line: next, Err: fmt.Errorf("parquet: %w", err)}
		}
	}
}

// parquetRow checks and passes on one row of Parquet values. A null in cost, copay or paid
// (an optional column in the file) is a BAD_RECORD, as an empty CSV field would be; a null
// string is empty.
func (s *receiptSink) parquetRow(t *textRow, row parquet.Row, colOf []int, line int64) error {
	var ints [numReceiptCols]int64
	var cancel bool
	var null string
	for i := range t {
		t[i] = nil
	}
	for _, v := range row {
		c := -1
		if i := v.Column(); i >= 0 && i < len(colOf) {
			c = colOf[i]
		}
		switch {
		case c < 0:
		case isStringCol[c]:
			t[c] = trimSpace(v.ByteArray())
		case c == ColCancel:
			cancel = !v.IsNull() && v.Boolean()
		case v.IsNull():
			if null == "" {
				null = receiptColumns[c] + ": null"
			}
		case v.Kind() == parquet.Int32:
			ints[c] = int64(v.Int32())
		default:
			ints[c] = v.Int64()
		}
	}
	paid := ints[ColPaid]
	detail := checkText(t)
	if detail == "" {
		detail = null
	}
	if detail != "" {
		return s.bad(t, line, paid, !strings.HasPrefix(null, "paid:"), detail)
	}
	return s.accept(t, ints[ColCost], ints[ColCopay], paid, cancel, line)
}
