package receipt

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// gotRow is a receipt read back from a batch, with its source_line.
type gotRow struct {
	Row
	Line int64
	File string
}

// readResult is everything a ReadReceipts call produced.
type readResult struct {
	rows    []gotRow
	batches []int64 // rows per emitted batch
	rejects []Reject
	stats   ReadStats
	err     error
}

// readAll reads file with a checked allocator (so leaked Arrow buffers fail the test) and
// collects the batches' rows and the rejects.
func readAll(t testing.TB, file string, batchRows int) readResult {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	var res readResult
	res.stats, res.err = ReadReceipts(context.Background(), file, ReadOptions{BatchRows: batchRows, Alloc: alloc},
		func(b Batch) error {
			defer b.Record.Release()
			if !b.Record.Schema().Equal(Schema) {
				t.Fatalf("batch schema %v, want %v", b.Record.Schema(), Schema)
			}
			res.batches = append(res.batches, b.Record.NumRows())
			res.rows = append(res.rows, recordRows(b.Record, b.File)...)
			return nil
		},
		func(r Reject) error {
			res.rejects = append(res.rejects, r)
			return nil
		})
	return res
}

// recordRows decodes a record of Schema back into rows.
func recordRows(rec arrow.Record, file string) []gotRow {
	str := func(c int) *array.String { return rec.Column(c).(*array.String) }
	i64 := func(c int) *array.Int64 { return rec.Column(c).(*array.Int64) }
	cancel := rec.Column(ColCancel).(*array.Boolean)
	out := make([]gotRow, rec.NumRows())
	for i := range out {
		out[i] = gotRow{
			Row: Row{
				ReceiptID:     str(ColReceiptID).Value(i),
				ServiceMonth:  str(ColServiceMonth).Value(i),
				InsurerNo:     str(ColInsurerNo).Value(i),
				PersonID:      str(ColPersonID).Value(i),
				InstitutionID: str(ColInstitutionID).Value(i),
				Kind:          str(ColKind).Value(i),
				Setting:       str(ColSetting).Value(i),
				PrescriberID:  str(ColPrescriberID).Value(i),
				Cost:          i64(ColCost).Value(i),
				Copay:         i64(ColCopay).Value(i),
				Paid:          i64(ColPaid).Value(i),
				Tokutei:       str(ColTokutei).Value(i),
				BirthDate:     str(ColBirthDate).Value(i),
				Sex:           str(ColSex).Value(i),
				NameKana:      str(ColNameKana).Value(i),
				Cancel:        cancel.Value(i),
			},
			Line: i64(ColSourceLine).Value(i),
			File: file,
		}
	}
	return out
}

// sampleRows makes n valid, varied receipts.
func sampleRows(n int) []Row {
	kinds := []string{"medical", "dpc", "dental", "pharmacy"}
	tokutei := []string{"", "", "", "chou", "chou2"}
	rows := make([]Row, n)
	for i := range rows {
		kind := kinds[i%len(kinds)]
		setting := "outpatient"
		prescriber := ""
		if kind == "pharmacy" {
			prescriber = fmt.Sprintf("13%08d", 1000+i%97)
		} else if i%3 == 0 {
			setting = "inpatient"
		}
		cost := int64(1000 + (i*7919)%900000)
		rows[i] = Row{
			ReceiptID:     fmt.Sprintf("R%08d", i+1),
			ServiceMonth:  fmt.Sprintf("2025-%02d", 1+i%12),
			InsurerNo:     []string{"138000", "06139999"}[i%2],
			PersonID:      fmt.Sprintf("P%07d", i%5000),
			InstitutionID: fmt.Sprintf("13%08d", i%2000),
			Kind:          kind,
			Setting:       setting,
			PrescriberID:  prescriber,
			Cost:          cost,
			Copay:         cost * 3 / 10,
			Paid:          cost - cost*3/10,
			Tokutei:       tokutei[i%len(tokutei)],
			BirthDate:     fmt.Sprintf("19%02d-%02d-%02d", 30+i%60, 1+i%12, 1+i%28),
			Sex:           []string{"1", "2"}[i%2],
			Cancel:        i%11 == 5,
		}
	}
	return rows
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func receiptsCSV(t testing.TB, rows []Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteReceiptsCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeParquet writes rows of T to a Parquet file, in row groups of rowGroup rows (0: one),
// with the writer options given.
func writeParquet[T any](t testing.TB, path string, rows []T, rowGroup int, opts ...parquet.WriterOption) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[T](f, opts...)
	if rowGroup <= 0 {
		rowGroup = len(rows) + 1
	}
	for len(rows) > 0 {
		n := min(rowGroup, len(rows))
		if _, err := w.Write(rows[:n]); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
