package output

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/kougaku/batch/receipt"
)

// randomRows fills n rows of a flat row type field by field: strings from a small set (so
// dictionaries repeat), a unique one now and then, empty and non-ASCII ones; integers small,
// large and extreme; bools either way.
func randomRows[T any](n int, seed uint64) []T {
	rng := rand.New(rand.NewPCG(seed, 7))
	words := []string{"", "01130012", "2025-10", "med", "外来", "H000123", "a", "U", "TEI2", "x-very-long-value-with-more-bytes"}
	ints := []int64{0, 1, -1, 21_000, 57_600, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32}
	rows := make([]T, n)
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for f := 0; f < v.NumField(); f++ {
			fv := v.Field(f)
			switch fv.Kind() {
			case reflect.String:
				if rng.IntN(4) == 0 {
					fv.SetString("id-" + strconv.Itoa(i) + "-" + strconv.Itoa(f))
				} else {
					fv.SetString(words[rng.IntN(len(words))])
				}
			case reflect.Int, reflect.Int64, reflect.Int32:
				x := ints[rng.IntN(len(ints))]
				if rng.IntN(2) == 0 {
					x = rng.Int64N(2_000_000) - 1_000_000
				}
				if fv.Kind() == reflect.Int32 {
					x = int64(int32(x))
				}
				fv.SetInt(x)
			case reflect.Bool:
				fv.SetBool(rng.IntN(2) == 0)
			default:
				panic("randomRows: " + fv.Kind().String())
			}
		}
	}
	return rows
}

// enginesAgree writes rows with both engines (small pages and row groups, so that there are
// many of each) and checks that each file reads back as the rows, through this package's
// reader and through parquet-go's, from the start and from rows in the middle (which parquet-go
// finds through the offset index), and that both files have the same schema.
func enginesAgree[T any](t *testing.T, name string, rows []T) {
	t.Helper()
	if _, ok := columnsOf(reflect.TypeFor[T]()); !ok {
		t.Fatalf("%s: not a type of the column engine", name)
	}
	opt := Options{MaxRowsPerRowGroup: 1_500, PageBufferSize: 2 << 10}
	var schemas []string
	for _, columns := range []bool{true, false} {
		columnEngine = columns
		p, md := writeReadBack(t, name, opt, rows, 333)
		columnEngine = true
		schemas = append(schemas, fmt.Sprintf("%+v", md.Schema))
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, from := range []int64{0, 1, 1_499, 1_500, int64(len(rows)) - 3} {
			r := parquet.NewGenericReader[T](f)
			if err := r.SeekToRow(from); err != nil {
				t.Fatal(err)
			}
			buf := make([]T, 700)
			n, err := r.Read(buf)
			if err != nil && err != io.EOF {
				t.Fatalf("column engine %v: parquet-go reading from row %d: %v", columns, from, err)
			}
			equalRows(t, buf[:n], rows[from:min(from+int64(n), int64(len(rows)))])
			if n == 0 {
				t.Fatalf("column engine %v: parquet-go read nothing from row %d", columns, from)
			}
			r.Close()
		}
		f.Close()
	}
	if schemas[0] != schemas[1] {
		t.Errorf("schemas differ:\ncolumns    %s\nparquet-go %s", schemas[0], schemas[1])
	}
}

// TestEnginesAgree: every flat row type the batch writes comes back the same from the column
// engine as from parquet-go's writer, and with the same schema.
func TestEnginesAgree(t *testing.T) {
	const n = 5_000
	enginesAgree(t, ReceiptBenefitFile, randomRows[ReceiptBenefit](n, 1))
	enginesAgree(t, HouseholdMonthFile, randomRows[HouseholdMonth](n, 2))
	enginesAgree(t, PersonMonthFile, randomRows[PersonMonth](n, 3))
	enginesAgree(t, AnnualOutpatientFile, randomRows[AnnualOutpatient](n, 4))
	enginesAgree(t, AdjustmentsFile, randomRows[Adjustment](n, 5))
	enginesAgree(t, RejectsFile, randomRows[receipt.Reject](n, 6))
	enginesAgree(t, "members.parquet", randomRows[receipt.MemberRow](n, 7))
	// Every kind and option the engine takes, beyond those of the row types above.
	type every struct {
		S   string `parquet:"s"`
		SD  string `parquet:"sd,dict"`
		I   int    `parquet:"i"`
		ID  int    `parquet:"id,delta"`
		I64 int64  `parquet:"i64,delta"`
		I32 int32  `parquet:"i32"`
		I3D int32  `parquet:"i3d,delta"`
		B   bool   `parquet:"b"`
	}
	enginesAgree(t, "every.parquet", randomRows[every](n, 8))
}

// TestColumnEngineTakesFlatTypes: the monthly files' types go to the column engine; a type
// with a field it does not write goes to parquet-go.
func TestColumnEngineTakesFlatTypes(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[ReceiptBenefit](), reflect.TypeFor[HouseholdMonth](),
		reflect.TypeFor[PersonMonth](), reflect.TypeFor[receipt.Reject](), reflect.TypeFor[receipt.MemberRow]()} {
		if _, ok := columnsOf(typ); !ok {
			t.Errorf("%v: not taken by the column engine", typ)
		}
	}
	type optional struct {
		A string  `parquet:"a"`
		B *int64  `parquet:"b,optional"`
		C float64 `parquet:"c"`
	}
	if _, ok := columnsOf(reflect.TypeFor[optional]()); ok {
		t.Error("a type with optional and float fields taken by the column engine")
	}
}

// TestColumnFileBadOutput: a write error reaches the caller (from Write once the buffered
// bytes go out, else from Close) and sticks.
func TestColumnFileBadOutput(t *testing.T) {
	for _, rows := range []int{1_000, 200_000} {
		d := newDir(t)
		w, err := NewWriter[ReceiptBenefit](d, ReceiptBenefitFile, Options{MaxRowsPerRowGroup: 1_000})
		if err != nil {
			t.Fatal(err)
		}
		w.cf.w.Reset(failingWriter{}) // the file fails from now on
		err = w.Write(receiptBenefits(rows, 0, false))
		if rows > 100_000 && err == nil {
			t.Errorf("%d rows: megabytes written to a failing file without an error", rows)
		}
		closeErr := w.Close()
		if closeErr == nil {
			t.Fatalf("%d rows: a failed file closed cleanly", rows)
		}
		if err := w.Write(receiptBenefits(1, 0, false)); err == nil {
			t.Errorf("%d rows: a failed writer took more rows", rows)
		}
		if err := d.Commit(); err == nil {
			t.Errorf("%d rows: a run directory with a failed file committed", rows)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }
