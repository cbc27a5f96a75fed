package output

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/kougaku/batch/receipt"
)

// writeColumns writes rows to name in d through Columns batches whose sizes are drawn from
// sizes in turn, closes the file and returns its path.
func writeColumns[T comparable](t *testing.T, d *Dir, name string, opt Options, rows []T, sizes []int) string {
	t.Helper()
	w, err := NewWriter[T](d, name, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewColumns[T]()
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; len(rows) > 0; k++ {
		n := min(sizes[k%len(sizes)], len(rows))
		b.Reset()
		for i := range rows[:n] {
			if appendDirectly {
				appendDirect(t, b, &rows[i])
			} else {
				b.Append(&rows[i])
			}
		}
		if b.Len() != n {
			t.Fatalf("a batch of %d rows has Len %d", n, b.Len())
		}
		for i := range rows[:n] {
			if got := b.Row(i); got != rows[i] {
				t.Fatalf("row %d of a batch reads back as %+v, want %+v", i, got, rows[i])
			}
		}
		if err := w.WriteColumns(b); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d.TempPath(), name)
}

// columnsAgree writes rows once through Write and once through WriteColumns, with each engine,
// and wants the same bytes: the page and row-group cuts, the dictionaries and their fallback,
// the bounds and the footer may not depend on which way the rows came.
func columnsAgree[T comparable](t *testing.T, name string, opt Options, rows []T, batches ...[]int) {
	t.Helper()
	defer func(was bool) { columnEngine = was }(columnEngine)
	engines := []bool{true, false}
	if testing.Short() && len(rows) > 10_000 {
		engines = engines[:1]
	}
	defer func(was bool) { appendDirectly = was }(appendDirectly)
	for k, engine := range engines {
		columnEngine = engine
		appendDirectly = k == 0 // the batches made by direct appends with the column engine, by Append with parquet-go's
		byRows, err := os.ReadFile(writeRows(t, newDir(t), name, opt, rows, 333))
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) == 0 {
			batches = [][]int{{1}, {7, 300, 1}, {len(rows)}}
		}
		for _, sizes := range batches {
			p := writeColumns(t, newDir(t), name, opt, rows, sizes)
			byCols, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(byRows, byCols) {
				t.Fatalf("%s, column engine %v, batches of %v rows: %d bytes by columns, %d by rows, not the same", name, engine, sizes, len(byCols), len(byRows))
			}
			got, err := ReadAll[T](p)
			if err != nil {
				t.Fatal(err)
			}
			equalRows(t, got, rows)
		}
	}
}

// appendDirectly makes writeColumns fill its batches by direct appends instead of Append.
var appendDirectly bool

// appendDirect adds r to b by direct appends, field by field through each column's handle.
func appendDirect[T any](t testing.TB, b *Columns[T], r *T) {
	t.Helper()
	v := reflect.ValueOf(r).Elem()
	for f := 0; f < v.NumField(); f++ {
		name, _, _ := strings.Cut(v.Type().Field(f).Tag.Get("parquet"), ",")
		var err error
		switch fv := v.Field(f); fv.Kind() {
		case reflect.String:
			var c StringColumn
			if c, err = b.StringColumn(name); err == nil {
				c.Append(fv.String())
			}
		case reflect.Bool:
			var c BoolColumn
			if c, err = b.BoolColumn(name); err == nil {
				c.Append(fv.Bool())
			}
		default:
			var c IntColumn
			if c, err = b.IntColumn(name); err == nil {
				c.Append(fv.Int())
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	b.EndRow()
}

// Direct appends refuse what is not a column of the type, or not of the type asked for, and
// WriteColumns refuses a batch in which a column missed a row's value or took two, without
// writing any of it.
func TestColumnsDirectRefusals(t *testing.T) {
	b, err := NewColumns[ReceiptBenefit]()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.StringColumn("no_such_column"); err == nil {
		t.Error("a handle of a column the type does not have")
	}
	if _, err := b.IntColumn("receipt_id"); err == nil {
		t.Error("an integer handle of a string column")
	}
	if _, err := b.StringColumn("cost"); err == nil {
		t.Error("a string handle of an integer column")
	}
	if _, err := b.BoolColumn("paid"); err == nil {
		t.Error("a bool handle of an integer column")
	}
	rows := randomRows[ReceiptBenefit](3, 41)
	for _, spoil := range []string{"missing", "twice"} {
		d := newDir(t)
		w, err := NewWriter[ReceiptBenefit](d, ReceiptBenefitFile, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b.Reset()
		for i := range rows {
			appendDirect(t, b, &rows[i])
		}
		kind, _ := b.StringColumn("kind")
		if spoil == "twice" {
			kind.Append("medical")
		} else {
			b.EndRow() // a row to which no column took a value
		}
		if err := w.WriteColumns(b); err == nil {
			t.Errorf("%s: a batch whose columns disagree was written", spoil)
		}
		if w.Rows() != 0 {
			t.Errorf("%s: %d rows written of a refused batch", spoil, w.Rows())
		}
		b.Reset()
		appendDirect(t, b, &rows[0])
		if err := w.WriteColumns(b); err != nil {
			t.Errorf("%s: the next, whole batch: %v", spoil, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestColumnsWriteAsRows: a file written from Columns batches is, byte for byte, the file
// written from the same rows, for every flat row type the batch writes, with pages and row
// groups small enough that batches straddle both, and with a dictionary that falls back; the
// batches are made by direct appends for the column engine and by Append for parquet-go's
// (each then checked row by row with Row).
func TestColumnsWriteAsRows(t *testing.T) {
	small := Options{MaxRowsPerRowGroup: 1_500, PageBufferSize: 2 << 10}
	t.Run("ReceiptBenefit", func(t *testing.T) {
		columnsAgree(t, ReceiptBenefitFile, small, randomRows[ReceiptBenefit](4_000, 21))
	})
	t.Run("HouseholdMonth", func(t *testing.T) {
		columnsAgree(t, HouseholdMonthFile, small, randomRows[HouseholdMonth](4_000, 22))
	})
	t.Run("PersonMonth", func(t *testing.T) {
		columnsAgree(t, PersonMonthFile, small, randomRows[PersonMonth](4_000, 23))
	})
	t.Run("Reject", func(t *testing.T) {
		columnsAgree(t, RejectsFile, small, randomRows[receipt.Reject](4_000, 24))
	})
	t.Run("bool pages", func(t *testing.T) {
		// Pages of 64 bytes: a page of bools (512 of them) fills within a row group too.
		columnsAgree(t, HouseholdMonthFile, Options{MaxRowsPerRowGroup: 1_200, PageBufferSize: 64}, randomRows[HouseholdMonth](1_500, 25))
	})
	t.Run("dictionary fallback", func(t *testing.T) {
		// Insurer numbers all distinct: the dictionary falls back to PLAIN mid chunk. (Under
		// -short, which make test's race detector run uses, with the column engine only.)
		columnsAgree(t, ReceiptBenefitFile, Options{}, receiptBenefits(150_000, 0, true), []int{4096, 77})
	})
	t.Run("dictionary fallback, repeated values", func(t *testing.T) {
		// Each insurer number on two rows in a row, the same string (as a household's insurer
		// is on each of its receipts): the second takes the first's index, until the
		// dictionary falls back, and PLAIN after it.
		rows := receiptBenefits(300_000, 0, true)
		for i := 1; i < len(rows); i += 2 {
			rows[i].InsurerNo = rows[i-1].InsurerNo
		}
		columnsAgree(t, ReceiptBenefitFile, Options{}, rows, []int{4096, 77})
	})
}

// A batch keeps copies of its rows' plain strings: changing the caller's bytes after Append
// does not change what is written. (Dictionary columns keep the caller's strings, as
// documented, and are not changed here.)
func TestColumnsCopyPlainStrings(t *testing.T) {
	b, err := NewColumns[ReceiptBenefit]()
	if err != nil {
		t.Fatal(err)
	}
	id := []byte("R000000000001")
	row := ReceiptBenefit{ReceiptID: unsafe.String(&id[0], len(id)), InsurerNo: "01130012", Cost: 5}
	b.Append(&row)
	copy(id, "XXXXXXXXXXXXX")
	if got := b.Row(0).ReceiptID; got != "R000000000001" {
		t.Fatalf("receipt_id reads %q after the caller's bytes changed", got)
	}
	if _, err := NewColumns[struct{ X []int }](); err == nil {
		t.Error("NewColumns took a row type the column engine does not write")
	}
}

// A batch of random size and rows, written after random ones, gives the bytes of the rows.
func TestColumnsRandomBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	rows := randomRows[ReceiptBenefit](2_500, 31)
	sizes := make([]int, 40)
	for i := range sizes {
		sizes[i] = 1 + rng.IntN(200)
	}
	opt := Options{MaxRowsPerRowGroup: 700, PageBufferSize: 1 << 10}
	byRows, err := os.ReadFile(writeRows(t, newDir(t), ReceiptBenefitFile, opt, rows, 64))
	if err != nil {
		t.Fatal(err)
	}
	byCols, err := os.ReadFile(writeColumns(t, newDir(t), ReceiptBenefitFile, opt, rows, sizes))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(byRows, byCols) {
		t.Fatal("random batches by columns wrote other bytes than the rows")
	}
}

// BenchmarkBuildAndWrite measures both sides of handing a month's receipt rows to their
// writer, as the household pass does a partition at a time: making the rows (into a slice of
// rows, or into a Columns batch) and writing them, Close and fsync included. One op is one
// file of 2^18 rows in batches of 4,096.
func BenchmarkBuildAndWrite(b *testing.B) {
	src := monthReceiptBenefits(1 << 18)
	const batch = 4096
	b.Run("rows", func(b *testing.B) {
		d := newDir(b)
		rows := make([]ReceiptBenefit, 0, batch)
		for k := 0; b.Loop(); k++ {
			w, err := NewWriter[ReceiptBenefit](d, "f"+strconv.Itoa(k)+".parquet", Options{})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(src); i += batch {
				rows = rows[:0]
				for j := range src[i:min(i+batch, len(src))] {
					rows = append(rows, src[i+j])
				}
				if err := w.Write(rows); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("columns", func(b *testing.B) {
		d := newDir(b)
		cols, err := NewColumns[ReceiptBenefit]()
		if err != nil {
			b.Fatal(err)
		}
		for k := 0; b.Loop(); k++ {
			w, err := NewWriter[ReceiptBenefit](d, "f"+strconv.Itoa(k)+".parquet", Options{})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(src); i += batch {
				cols.Reset()
				for j := range src[i:min(i+batch, len(src))] {
					cols.Append(&src[i+j])
				}
				if err := w.WriteColumns(cols); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
