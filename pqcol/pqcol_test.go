package pqcol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

type sample struct {
	ID     string  `parquet:"id"`
	Kind   string  `parquet:"kind,dict"`
	Cost   int64   `parquet:"cost"`
	Small  int32   `parquet:"small"`
	Flag   bool    `parquet:"flag"`
	Note   *string `parquet:"note,optional"`
	NoteD  *string `parquet:"note_dict,optional,dict"`
	Amount *int64  `parquet:"amount,optional"`
	Maybe  *bool   `parquet:"maybe,optional"`
}

func makeRows(n int, seed uint64) []sample {
	rng := rand.New(rand.NewPCG(seed, 1))
	kinds := []string{"med", "pharmacy", "dental", ""}
	rows := make([]sample, n)
	for i := range rows {
		r := &rows[i]
		r.ID = fmt.Sprintf("R%0*d", 1+rng.IntN(12), i)
		r.Kind = kinds[rng.IntN(len(kinds))]
		r.Cost = rng.Int64N(1 << 40)
		r.Small = int32(rng.IntN(1000)) - 500
		r.Flag = rng.IntN(3) == 0
		if rng.IntN(4) != 0 {
			s := fmt.Sprintf("note-%d", rng.IntN(50))
			r.Note, r.NoteD = &s, &s
		}
		if rng.IntN(5) != 0 {
			v := rng.Int64N(1000)
			r.Amount = &v
		}
		if rng.IntN(2) == 0 {
			b := rng.IntN(2) == 0
			r.Maybe = &b
		}
	}
	return rows
}

func writeRows(t *testing.T, rows []sample, opts ...parquet.WriterOption) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[sample](f, opts...)
	for i := 0; i < len(rows); i += 333 { // several Write calls
		if _, err := w.Write(rows[i:min(i+333, len(rows))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestScanMatchesRows reads every column of files written with several page and row group
// sizes and compares each value, null or not, with the rows written.
func TestScanMatchesRows(t *testing.T) {
	rows := makeRows(20_000, 7)
	cases := []struct {
		name string
		opts []parquet.WriterOption
	}{
		{"defaults", nil},
		{"small pages", []parquet.WriterOption{parquet.PageBufferSize(1024)}},
		{"small row groups", []parquet.WriterOption{parquet.MaxRowsPerRowGroup(3001), parquet.PageBufferSize(4096)}},
		{"one row per group", []parquet.WriterOption{parquet.MaxRowsPerRowGroup(1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := rows
			if tc.name == "one row per group" {
				in = rows[:50]
			}
			path := writeRows(t, in, tc.opts...)
			r, err := Open(path, allColumns...)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			next := int64(0)
			err = r.Scan(context.Background(), func(b *Batch) error {
				if b.First != next {
					return fmt.Errorf("batch starts at %d, want %d", b.First, next)
				}
				next += int64(b.Len)
				return checkBatch(b, in)
			})
			if err != nil {
				t.Fatal(err)
			}
			if next != int64(len(in)) {
				t.Fatalf("read %d rows, want %d", next, len(in))
			}
		})
	}
}

var allColumns = []string{"id", "kind", "cost", "small", "flag", "note", "note_dict", "amount", "maybe"}

// checkBatch compares every value of a batch of allColumns with the rows written.
func checkBatch(b *Batch, in []sample) error {
	// The views' raw forms: the plain id column is contiguous, the dictionary columns give
	// their dictionary, and each form's values are the rows'.
	if _, _, _, ok := b.Bytes(0).Dictionary(); ok {
		return errors.New("the plain id column reads as a dictionary")
	}
	if data, offs, ok := b.Bytes(0).Contiguous(); !ok || len(offs) != b.Len+1 {
		return fmt.Errorf("the plain id column is not contiguous (%v, %d offsets)", ok, len(offs))
	} else {
		for i := range b.Len {
			if got, want := string(data[offs[i]:offs[i+1]]), in[b.First+int64(i)].ID; got != want {
				return fmt.Errorf("row %d contiguous id %q want %q", b.First+int64(i), got, want)
			}
		}
	}
	for _, c := range []int{1, 6} {
		data, offs, idx, ok := b.Bytes(c).Dictionary()
		if _, _, contiguous := b.Bytes(c).Contiguous(); !ok || contiguous || len(idx) != b.Len {
			return fmt.Errorf("column %d: dictionary %v (%d indexes), contiguous %v", c, ok, len(idx), contiguous)
		}
		for i, k := range idx {
			w := &in[b.First+int64(i)]
			want, null := w.Kind, false
			if c == 6 {
				null = w.NoteD == nil
				if !null {
					want = *w.NoteD
				}
			}
			if (k < 0) != null || (k >= 0 && string(data[offs[k]:offs[k+1]]) != want) {
				return fmt.Errorf("row %d column %d: dictionary index %d, want %q (null %v)", b.First+int64(i), c, k, want, null)
			}
		}
	}
	for i := range b.Len {
		w := &in[b.First+int64(i)]
		if got := b.Bytes(0).At(i); string(got) != w.ID {
			return fmt.Errorf("row %d id %q want %q", b.First+int64(i), got, w.ID)
		}
		if got := b.Bytes(1).At(i); string(got) != w.Kind {
			return fmt.Errorf("row %d kind %q want %q", b.First+int64(i), got, w.Kind)
		}
		if got := b.Int64s(2).At(i); got != w.Cost {
			return fmt.Errorf("row %d cost %d want %d", b.First+int64(i), got, w.Cost)
		}
		if got := b.Int64s(3).At(i); got != int64(w.Small) {
			return fmt.Errorf("row %d small %d want %d", b.First+int64(i), got, w.Small)
		}
		if got := b.Bools(4).At(i); got != w.Flag {
			return fmt.Errorf("row %d flag %v want %v", b.First+int64(i), got, w.Flag)
		}
		for c := 5; c <= 6; c++ {
			v := b.Bytes(c)
			if v.Null(i) != (w.Note == nil) || (w.Note != nil && !bytes.Equal(v.At(i), []byte(*w.Note))) {
				return fmt.Errorf("row %d col %d note %q null %v want %v", b.First+int64(i), c, v.At(i), v.Null(i), w.Note)
			}
		}
		a := b.Int64s(7)
		if a.Null(i) != (w.Amount == nil) || (w.Amount != nil && a.At(i) != *w.Amount) {
			return fmt.Errorf("row %d amount %d null %v want %v", b.First+int64(i), a.At(i), a.Null(i), w.Amount)
		}
		m := b.Bools(8)
		if m.Null(i) != (w.Maybe == nil) || (w.Maybe != nil && m.At(i) != *w.Maybe) {
			return fmt.Errorf("row %d maybe %v null %v want %v", b.First+int64(i), m.At(i), m.Null(i), w.Maybe)
		}
	}
	return nil
}

// TestScanRanges reads random sets of ranges (within pages, across pages and row groups,
// adjacent, single rows) and finds exactly their rows, each value right.
func TestScanRanges(t *testing.T) {
	for _, index := range []bool{true, false} {
		usePageIndex = index
		testScanRanges(t)
	}
	usePageIndex = true
}

func testScanRanges(t *testing.T) {
	rows := makeRows(30_000, 11)
	for _, opts := range [][]parquet.WriterOption{
		{parquet.PageBufferSize(2048), parquet.MaxRowsPerRowGroup(7001)},
		{parquet.MaxRowsPerRowGroup(10_000)},
	} {
		path := writeRows(t, rows, opts...)
		r, err := Open(path, allColumns...)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for try := 0; try < 50; try++ {
			var ranges [][2]int64
			for at := int64(rng.IntN(500)); at < int64(len(rows)); {
				n := int64(1 + rng.IntN([]int{1, 5, 300, 9000}[rng.IntN(4)]))
				end := min(at+n, int64(len(rows)))
				ranges = append(ranges, [2]int64{at, end})
				at = end + int64(rng.IntN([]int{1, 50, 4000}[rng.IntN(3)]))
				if rng.IntN(10) == 0 {
					at = end // adjacent
				}
			}
			var want []int64
			for _, rg := range ranges {
				for x := rg[0]; x < rg[1]; x++ {
					want = append(want, x)
				}
			}
			var got []int64
			err := r.ScanRanges(context.Background(), ranges, func(b *Batch) error {
				for i := range b.Len {
					got = append(got, b.First+int64(i))
				}
				return checkBatch(b, rows)
			})
			if err != nil {
				t.Fatalf("try %d: %v", try, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("try %d: read %d rows, want %d (ranges %v)", try, len(got), len(want), ranges)
			}
		}
		r.Close()
	}
}

func TestOpenRefusesMissingColumn(t *testing.T) {
	path := writeRows(t, makeRows(10, 1))
	if _, err := Open(path, "id", "nope"); err == nil {
		t.Fatal("a missing column was accepted")
	}
}

func TestScanStopsOnCancel(t *testing.T) {
	path := writeRows(t, makeRows(50_000, 2), parquet.PageBufferSize(1024))
	r, err := Open(path, "id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err = r.Scan(ctx, func(b *Batch) error {
		calls++
		cancel()
		return nil
	})
	if err != context.Canceled || calls != 1 {
		t.Fatalf("err %v after %d batches, want context.Canceled after 1", err, calls)
	}
}

func TestScanDamagedFile(t *testing.T) {
	path := writeRows(t, makeRows(20_000, 3))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < len(data)/2; i += 7 { // garble pages, keep the footer
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, "id", "cost")
	if err != nil {
		return // refusing to open is as good
	}
	defer r.Close()
	if err := r.Scan(context.Background(), func(*Batch) error { return nil }); err == nil {
		t.Fatal("a damaged file scanned without error")
	}
}

// FuzzScan: whatever the bytes, opening and scanning return an error or read every row,
// never panic.
func FuzzScan(f *testing.F) {
	dir := f.TempDir()
	for i, opts := range [][]parquet.WriterOption{nil, {parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(40)}} {
		path := filepath.Join(dir, fmt.Sprintf("seed%d.parquet", i))
		out, err := os.Create(path)
		if err != nil {
			f.Fatal(err)
		}
		w := parquet.NewGenericWriter[sample](out, opts...)
		if _, err := w.Write(makeRows(100, uint64(i))); err != nil {
			f.Fatal(err)
		}
		w.Close()
		out.Close()
		data, _ := os.ReadFile(path)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path, "id", "kind", "cost", "small", "flag", "note", "note_dict", "amount", "maybe")
		if err != nil {
			return
		}
		defer r.Close()
		var n int64
		err = r.Scan(context.Background(), func(b *Batch) error {
			for i := range b.Len {
				b.Bytes(0).At(i)
				b.Bytes(1).At(i)
				b.Int64s(2).At(i)
				b.Bools(4).At(i)
				b.Bytes(6).At(i)
				b.Int64s(7).At(i)
			}
			n += int64(b.Len)
			return nil
		})
		if err == nil && n != r.NumRows() {
			t.Fatalf("read %d rows of %d without error", n, r.NumRows())
		}
	})
}

// pagesOf serves fixed pages, as a column chunk's reader would.
type pagesOf struct{ pages []parquet.Page }

func (p *pagesOf) ReadPage() (parquet.Page, error) {
	if len(p.pages) == 0 {
		return nil, io.EOF
	}
	pg := p.pages[0]
	p.pages = p.pages[1:]
	return pg, nil
}
func (p *pagesOf) SeekToRow(int64) error { return nil }
func (p *pagesOf) Close() error          { return nil }

// TestDamagedPagesAreErrors: pages parquet-go decodes without complaint but whose values
// cannot be right (a dictionary index past the dictionary, which parquet-go does not check)
// are errors of the read, never a panic in the caller's hands.
func TestDamagedPagesAreErrors(t *testing.T) {
	dict := parquet.ByteArrayType.NewDictionary(0, 2, encoding.ByteArrayValues([]byte("ab"), []uint32{0, 1, 2}))
	cases := map[string]parquet.Page{
		"index past the dictionary": dict.Type().NewPage(0, 3, encoding.Int32Values([]int32{0, 1, 5})),
		"negative index":            dict.Type().NewPage(0, 2, encoding.Int32Values([]int32{-1, 0})),
	}
	for name, page := range cases {
		c := cursor{kind: parquet.ByteArray, pages: &pagesOf{pages: []parquet.Page{page}}}
		if err := c.next(); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
	good := dict.Type().NewPage(0, 3, encoding.Int32Values([]int32{0, 1, 1}))
	c := cursor{kind: parquet.ByteArray, pages: &pagesOf{pages: []parquet.Page{good}}}
	if err := c.next(); err != nil || string(c.bytes.At(2)) != "b" {
		t.Fatalf("a good dictionary page: %v, %q", err, c.bytes.At(2))
	}
}

// TestScanRangesRefusesDisorder: ranges must increase within the file.
func TestScanRangesRefusesDisorder(t *testing.T) {
	path := writeRows(t, makeRows(100, 5))
	r, err := Open(path, "id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, ranges := range [][][2]int64{{{5, 10}, {8, 12}}, {{10, 20}, {0, 5}}, {{90, 101}}, {{-1, 3}}, {{7, 6}}} {
		if err := r.ScanRanges(context.Background(), ranges, func(*Batch) error { return nil }); err == nil {
			t.Errorf("ranges %v accepted", ranges)
		}
	}
}

// NumRows reads the count from the footer alone, and refuses what is not Parquet.
func TestNumRows(t *testing.T) {
	path := writeRows(t, makeRows(1234, 5))
	if n, err := NumRows(path); err != nil || n != 1234 {
		t.Fatalf("NumRows = %d, %v; want 1234", n, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	os.WriteFile(bad, []byte("not parquet at all"), 0o644)
	if _, err := NumRows(bad); err == nil {
		t.Fatal("NumRows of a file that is not Parquet: no error")
	}
}

// A footer whose row count is not the sum of its row groups' is refused: readers size their
// work from it (the members directory reserves its rows from it).
func TestFooterRowsMustAgree(t *testing.T) {
	path := writeRows(t, makeRows(100, 3))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), b[len(b)-8-l:len(b)-8], &md); err != nil {
		t.Fatal(err)
	}
	md.NumRows++
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		t.Fatal(err)
	}
	out := append(append([]byte(nil), b[:len(b)-8-l]...), footer...)
	out = append(binary.LittleEndian.AppendUint32(out, uint32(len(footer))), "PAR1"...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NumRows(path); err == nil || !strings.Contains(err.Error(), "footer says 101 rows") {
		t.Errorf("NumRows: %v", err)
	}
	if _, err := Open(path); err == nil {
		t.Errorf("Open: no error")
	}
}
