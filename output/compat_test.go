package output

import (
	"reflect"
	"testing"

	arrowpq "github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/parquet-go/parquet-go/format"

	"github.com/kougaku/batch/receipt"
)

// TestArrowReadsColumnFiles reads files of the column engine with another implementation,
// Arrow's Parquet reader, value by value: the outputs are read by other programs (DuckDB,
// pyarrow), and a file that only this program's reader takes would not do.
func TestArrowReadsColumnFiles(t *testing.T) {
	opt := Options{MaxRowsPerRowGroup: 1_500, PageBufferSize: 8 << 10}
	arrowAgrees(t, ReceiptBenefitFile, opt, randomRows[ReceiptBenefit](4_000, 11))
	arrowAgrees(t, HouseholdMonthFile, opt, randomRows[HouseholdMonth](4_000, 12))
	arrowAgrees(t, RejectsFile, opt, randomRows[receipt.Reject](4_000, 13))
	// Insurer numbers all distinct: the dictionary falls back to PLAIN mid chunk.
	md := arrowAgrees(t, "receipt_benefit_fallback.parquet", Options{}, receiptBenefits(150_000, 0, true))
	var plain bool
	for _, s := range md.RowGroups[0].Columns[1].MetaData.EncodingStats {
		plain = plain || (s.PageType == format.DataPageV2 && s.Encoding == format.Plain)
	}
	if !plain {
		t.Error("insurer_no did not fall back to PLAIN pages")
	}
}

// arrowAgrees writes rows with opt, reads them back with this package's reader and with
// Arrow's, value by value, and returns the file's metadata.
func arrowAgrees[T any](t *testing.T, name string, opt Options, rows []T) *format.FileMetaData {
	t.Helper()
	p, md := writeReadBack(t, name, opt, rows, 1_000)
	r, err := file.OpenParquetFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var base int
	for g := 0; g < r.NumRowGroups(); g++ {
		rg := r.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			cr, err := rg.Column(c)
			if err != nil {
				t.Fatal(err)
			}
			values, err := readArrowColumn(cr)
			if err != nil {
				t.Fatalf("%s: row group %d, column %d: %v", name, g, c, err)
			}
			if int64(len(values)) != rg.NumRows() {
				t.Fatalf("%s: row group %d, column %d: %d values of %d", name, g, c, len(values), rg.NumRows())
			}
			for i, v := range values {
				want := reflect.ValueOf(rows[base+i]).Field(c).Interface()
				if b, ok := want.(bool); ok {
					want = b
				} else if n, ok := want.(int); ok {
					want = int64(n)
				}
				if v != want {
					t.Fatalf("%s: row %d, column %d: arrow read %v, wrote %v", name, base+i, c, v, want)
				}
			}
		}
		base += int(rg.NumRows())
	}
	if base != len(rows) {
		t.Fatalf("%s: arrow read %d rows of %d", name, base, len(rows))
	}
	return md
}

// readArrowColumn reads one column chunk whole, as strings, int64s, int32s or bools.
func readArrowColumn(cr file.ColumnChunkReader) ([]any, error) {
	switch x := cr.(type) {
	case *file.ByteArrayColumnChunkReader:
		return drainArrow(x, x.ReadBatch, func(v arrowpq.ByteArray) any { return string(v) })
	case *file.Int64ColumnChunkReader:
		return drainArrow(x, x.ReadBatch, func(v int64) any { return v })
	case *file.Int32ColumnChunkReader:
		return drainArrow(x, x.ReadBatch, func(v int32) any { return v })
	case *file.BooleanColumnChunkReader:
		return drainArrow(x, x.ReadBatch, func(v bool) any { return v })
	default:
		panic("readArrowColumn: " + reflect.TypeOf(cr).String())
	}
}

// drainArrow reads batches of a typed column chunk reader until it has no more values.
func drainArrow[V any](cr file.ColumnChunkReader, read func(int64, []V, []int16, []int16) (int64, int, error), as func(V) any) ([]any, error) {
	var out []any
	buf := make([]V, 1024)
	for cr.HasNext() {
		_, n, err := read(int64(len(buf)), buf, nil, nil)
		if err != nil {
			return nil, err
		}
		for _, v := range buf[:n] {
			out = append(out, as(v))
		}
	}
	return out, nil
}
