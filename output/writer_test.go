package output

import (
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// roundTripCase writes rows, reads them back with parquet-go and compares.
type roundTripCase struct {
	name    string
	columns []string // the contract's column names, in order
	run     func(t *testing.T, d *Dir) (path string)
}

func roundTrip[T any](name string, rows []T, batch int, columns ...string) roundTripCase {
	return roundTripCase{name, columns, func(t *testing.T, d *Dir) string {
		p := writeRows(t, d, name, Options{}, rows, batch)
		got, err := ReadAll[T](p)
		if err != nil {
			t.Fatal(err)
		}
		equalRows(t, got, rows)
		return p
	}}
}

func TestRoundTrip(t *testing.T) {
	adjustmentColumns := []string{"insurer_no", "household_id", "service_month", "previous_cash", "new_cash", "delta", "cause"}
	cases := []roundTripCase{
		roundTrip(HouseholdMonthFile, householdMonths(), 2,
			"insurer_no", "household_id", "service_month", "category_u70", "category_70",
			"prior_benefit_months", "tasukai_applied", "counts_for_tasukai", "receipts", "copay_total", "paid_total",
			"benefit_in_kind", "benefit_cash", "stage_a", "stage_b", "stage_c", "stage_tokutei", "rules_version"),
		roundTrip(ReceiptBenefitFile, receiptBenefits(1000, 0, false), 100,
			"receipt_id", "insurer_no", "household_id", "person_id", "service_month", "kind",
			"setting", "cost", "copay", "paid", "included", "benefit_cash", "institution_id", "prescriber_id", "tokutei"),
		roundTrip(PersonMonthFile, personMonths(), 1,
			"insurer_no", "household_id", "person_id", "service_month", "age_group",
			"outpatient_paid", "outpatient_benefit_cash", "inpatient_paid", "benefit_cash"),
		roundTrip(RejectsFile, rejects(), 3,
			"source", "receipt_id", "insurer_no", "person_id", "reason_code", "detail", "paid"),
		roundTrip(AnnualOutpatientFile, annualOutpatients(), 2,
			"insurer_no", "person_id", "household_id", "period_start", "months_counted",
			"outpatient_net_sum", "payout"),
		roundTrip(AdjustmentsFile, adjustments(), 2, adjustmentColumns...),
		roundTrip("empty.parquet", []Adjustment{}, 1, adjustmentColumns...),
	}
	d := newDir(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.run(t, d)
			_, pf, err := openParquet(p)
			if err != nil {
				t.Fatal(err)
			}
			var cols []string
			for _, path := range pf.Schema().Columns() {
				cols = append(cols, strings.Join(path, "."))
			}
			if !slices.Equal(cols, c.columns) {
				t.Errorf("columns\n got %v\nwant %v", cols, c.columns)
			}
			if got := pf.Metadata().RowGroups; len(got) > 0 {
				for _, col := range got[0].Columns {
					if col.MetaData.Codec != format.Zstd {
						t.Errorf("column %v compressed with %v, want ZSTD", col.MetaData.PathInSchema, col.MetaData.Codec)
					}
				}
			}
		})
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestRowGroupBounds(t *testing.T) {
	cases := []struct {
		name    string
		maxRows int64
		rows    int
		batch   int
		want    []int64
	}{
		{"one write spanning groups", 10, 25, 25, []int64{10, 10, 5}},
		{"small batches", 10, 25, 3, []int64{10, 10, 5}},
		{"batches straddling the limit", 10, 25, 7, []int64{10, 10, 5}},
		{"exact multiple", 10, 20, 20, []int64{10, 10}},
		{"one row per group", 1, 3, 2, []int64{1, 1, 1}},
		{"limit above row count", 100, 25, 4, []int64{25}},
		{"default limit", 0, 1000, 1000, []int64{1000}},
		{"no rows", 10, 0, 1, nil},
	}
	d := newDir(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows := receiptBenefits(c.rows, 0, false)
			p := writeRows(t, d, "f"+string(rune('a'+i))+".parquet", Options{MaxRowsPerRowGroup: c.maxRows}, rows, c.batch)
			groups, err := RowGroups(p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(groups, c.want) {
				t.Errorf("row groups %v, want %v", groups, c.want)
			}
			got, err := ReadAll[ReceiptBenefit](p)
			if err != nil {
				t.Fatal(err)
			}
			equalRows(t, got, rows)
		})
	}
}

// TestIdenticalBytes writes the same rows twice, in different directories and with
// different Write batch sizes, and expects the same bytes.
func TestIdenticalBytes(t *testing.T) {
	rows := receiptBenefits(30_000, 0, false)
	var digests []string
	for _, batch := range []int{30_000, 1_000, 7} {
		d := newDir(t)
		p := writeRows(t, d, ReceiptBenefitFile, Options{MaxRowsPerRowGroup: 8_000}, rows, batch)
		size, sum, err := Digest(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("batch %d: %d bytes, sha256 %s", batch, size, sum)
		digests = append(digests, sum)

		_, pf, err := openParquet(p)
		if err != nil {
			t.Fatal(err)
		}
		md := pf.Metadata()
		if md.CreatedBy != createdBy() || !strings.HasPrefix(md.CreatedBy, "github.com/kougaku/batch/output version ") {
			t.Errorf("created_by %q", md.CreatedBy)
		}
		if len(md.KeyValueMetadata) != 0 {
			t.Errorf("unexpected key/value metadata %v", md.KeyValueMetadata)
		}
	}
	for _, s := range digests[1:] {
		if s != digests[0] {
			t.Fatalf("digests differ: %v", digests)
		}
	}
}

// TestIdenticalBytesFullPages is TestIdenticalBytes with pages that fill up: parquet-go
// closes a page after the run of rows in which it filled, so runs cut where the batches
// end would move page boundaries. Row groups of 100,003 rows (not a multiple of the runs)
// and pages of 16 KiB put many page and group ends between batch ends.
func TestIdenticalBytesFullPages(t *testing.T) {
	if testing.Short() {
		t.Skip("300k rows")
	}
	rows := receiptBenefits(300_000, 0, false)
	opts := []Options{{}, {MaxRowsPerRowGroup: 100_003, PageBufferSize: 16 << 10}}
	for _, opt := range opts {
		var digests []string
		for _, batch := range []int{300_000, 4096, 1000, 63, 7, 1} {
			d := newDir(t)
			p := writeRows(t, d, ReceiptBenefitFile, opt, rows, batch)
			_, sum, err := Digest(p)
			if err != nil {
				t.Fatal(err)
			}
			digests = append(digests, sum)
			if batch == 7 {
				got, err := ReadAll[ReceiptBenefit](p)
				if err != nil {
					t.Fatal(err)
				}
				equalRows(t, got, rows)
			}
		}
		for i, s := range digests[1:] {
			if s != digests[0] {
				t.Errorf("options %+v: batch sizes give different files (%d: %s, first %s)", opt, i+1, s, digests[0])
			}
		}
	}
}

// writeReadBack writes rows to file name in batches of batch with opt, checks that they read
// back the same and returns the file's path and metadata.
func writeReadBack[T any](t *testing.T, name string, opt Options, rows []T, batch int) (string, *format.FileMetaData) {
	t.Helper()
	p := writeRows(t, newDir(t), name, opt, rows, batch)
	got, err := ReadAll[T](p)
	if err != nil {
		t.Fatal(err)
	}
	equalRows(t, got, rows)
	f, pf, err := openParquet(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p, pf.Metadata()
}

// TestAmountEncodings: the amounts tagged ",delta" are written DELTA_BINARY_PACKED and read
// back exactly, extremes and negatives included (their differences overflow int64), over
// several row groups and pages; the mostly-zero amounts stay PLAIN.
func TestAmountEncodings(t *testing.T) {
	rows := receiptBenefits(20_000, 0, false)
	extremes := []int64{math.MinInt64, math.MaxInt64, -1, 0, math.MinInt64, 1, math.MaxInt64, -7}
	for i := range rows {
		if i%3 == 0 {
			rows[i].Cost = extremes[i%len(extremes)]
			rows[i].Copay = -extremes[(i+3)%len(extremes)]
			rows[i].Paid = extremes[(i+5)%len(extremes)] / 3
		}
	}
	rows[5].Tokutei, rows[5].PrescriberID = "長", "" // the other columns keep working
	_, md := writeReadBack(t, ReceiptBenefitFile, Options{MaxRowsPerRowGroup: 7_000, PageBufferSize: 4 << 10}, rows, 999)
	want := map[string]format.Encoding{"cost": format.DeltaBinaryPacked, "copay": format.DeltaBinaryPacked,
		"paid": format.DeltaBinaryPacked, "benefit_cash": format.Plain}
	groups := md.RowGroups
	if len(groups) != 3 {
		t.Fatalf("%d row groups, want 3", len(groups))
	}
	for _, rg := range groups {
		for _, col := range rg.Columns {
			enc, ok := want[strings.Join(col.MetaData.PathInSchema, ".")]
			if !ok {
				continue
			}
			var pages int32
			for _, s := range col.MetaData.EncodingStats {
				if s.PageType != format.DataPageV2 || s.Encoding != enc {
					t.Errorf("%v: pages %v, want all %v", col.MetaData.PathInSchema, col.MetaData.EncodingStats, enc)
				}
				pages += s.Count
			}
			if pages < 2 {
				t.Errorf("%v: %d pages in a row group, want several", col.MetaData.PathInSchema, pages)
			}
		}
	}
}

// TestDictionaryFallback writes 400k rows whose ids are all distinct, so the dictionary-encoded
// insurer column (as distinct as it could be in a file of a national month's many insurers)
// outgrows dictMaxBytes and falls back to PLAIN mid row group, and checks that every value reads back. parquet-go before v0.32
// silently lost values after such a fallback.
func TestDictionaryFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("400k rows")
	}
	const n = 400_000
	rows := receiptBenefits(n, 0, true)
	// One row group of 400k; two of 200k, each falling back on its own. The fallback is
	// decided when a page is flushed, so a group needs well over dictMaxBytes of distinct
	// ids (~11 bytes each, 64k per 256 KiB page of indexes) before it happens.
	for _, maxRows := range []int64{0, 200_000} {
		_, md := writeReadBack(t, ReceiptBenefitFile, Options{MaxRowsPerRowGroup: maxRows}, rows, 10_000)
		for g, rg := range md.RowGroups {
			for _, col := range rg.Columns {
				name := strings.Join(col.MetaData.PathInSchema, ".")
				if name != "insurer_no" {
					continue
				}
				// The chunk's encoding list also names PLAIN for the dictionary page
				// itself; only the per-page stats show data pages written PLAIN.
				var dictPages, plainPages int32
				for _, s := range col.MetaData.EncodingStats {
					switch {
					case s.PageType == format.DataPageV2 && s.Encoding == format.RLEDictionary:
						dictPages += s.Count
					case s.PageType == format.DataPageV2 && s.Encoding == format.Plain:
						plainPages += s.Count
					}
				}
				if dictPages == 0 || plainPages == 0 {
					t.Errorf("max rows %d, group %d, %s: page encodings %v; want dictionary pages, then PLAIN after the fallback",
						maxRows, g, name, col.MetaData.EncodingStats)
				}
			}
		}
	}
}

// TestWriterMemoryBounded checks invariant 1: the heap does not grow with the number of
// rows written. Retaining rows would cost ~50 MB over the 300k rows written between the
// two measurements; what may grow is the footer metadata of 15 row groups (~15 KB each).
func TestWriterMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("400k rows")
	}
	const group, batch = 20_000, 10_000
	d := newDir(t)
	w, err := NewWriter[ReceiptBenefit](d, ReceiptBenefitFile, Options{MaxRowsPerRowGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		// Twice: the first GC moves sync.Pool contents (parquet-go pools its page
		// buffers) to the victim cache, the second frees them.
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var before uint64
	for i := 0; i < 400_000; i += batch {
		if i == 100_000 {
			before = heap()
		}
		if err := w.Write(receiptBenefits(batch, i, false)); err != nil {
			t.Fatal(err)
		}
	}
	after := heap()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	growth := int64(after) - int64(before)
	t.Logf("heap %d → %d bytes (growth %d) over 300k rows", before, after, growth)
	if growth > 1<<20 {
		t.Errorf("heap grew by %d bytes over 300k rows; rows or row groups are being retained", growth)
	}
}

func TestReadAllChecksColumns(t *testing.T) {
	d := newDir(t)
	p := writeRows(t, d, AdjustmentsFile, Options{}, adjustments(), 10)
	_, err := ReadAll[PersonMonth](p)
	if err == nil || !strings.Contains(err.Error(), "column person_id missing") {
		t.Errorf("reading adjustments as PersonMonth: %v, want missing column error", err)
	}
	type wrongKind struct {
		Delta string `parquet:"delta"`
	}
	_, err = ReadAll[wrongKind](p)
	if err == nil || !strings.Contains(err.Error(), "column delta is INT64") {
		t.Errorf("reading int64 delta as string: %v, want kind mismatch", err)
	}
	// A subset of the columns is fine.
	type cause struct {
		Cause string `parquet:"cause"`
	}
	got, err := ReadAll[cause](p)
	if err != nil || len(got) != 2 || got[1].Cause != CauseTasukaiCascade {
		t.Errorf("reading cause only: %v, %v", got, err)
	}
}

func TestWriterMisuse(t *testing.T) {
	d := newDir(t)
	w, err := NewWriter[Adjustment](d, AdjustmentsFile, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewWriter[Adjustment](d, AdjustmentsFile, Options{}); err == nil || !strings.Contains(err.Error(), "written twice") {
		t.Errorf("second writer of one name: %v", err)
	}
	for _, name := range []string{"", ".", "..", "a/b.parquet", filepath.Join("..", "x")} {
		if _, err := NewWriter[Adjustment](d, name, Options{}); err == nil {
			t.Errorf("NewWriter(%q) succeeded", name)
		}
	}
	if _, err := NewWriter[int](d, "int.parquet", Options{}); err == nil {
		t.Error("NewWriter[int] succeeded")
	}
	if _, err := NewWriter[Adjustment](d, "neg.parquet", Options{MaxRowsPerRowGroup: -1}); err == nil {
		t.Error("negative MaxRowsPerRowGroup accepted")
	}
	if err := d.Commit(); err == nil || !strings.Contains(err.Error(), "still open: "+AdjustmentsFile) {
		t.Errorf("Commit with an open writer: %v", err)
	}
	if err := w.Write(adjustments()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Write(adjustments()); err == nil {
		t.Error("Write after Close succeeded")
	}
	if w.Rows() != 2 {
		t.Errorf("Rows() = %d, want 2", w.Rows())
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWriter[Adjustment](d, "late.parquet", Options{}); err == nil {
		t.Error("NewWriter after Commit succeeded")
	}
}

// TestFailedWriterBlocksCommit: a writer whose file broke must keep the run from
// committing (invariant 3), even if the caller ignores the error.
func TestFailedWriterBlocksCommit(t *testing.T) {
	d := newDir(t)
	w, err := NewWriter[Adjustment](d, AdjustmentsFile, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(adjustments())
	w.st.f.Close() // the disk goes away under the writer
	if err := w.Close(); err == nil {
		t.Fatal("Close on a closed file succeeded")
	}
	if err := d.Commit(); err == nil || !strings.Contains(err.Error(), "failed files: "+AdjustmentsFile) {
		t.Errorf("Commit after a failed writer: %v", err)
	}
	if _, err := parquet.ReadFile[Adjustment](filepath.Join(d.TempPath(), AdjustmentsFile)); err == nil {
		t.Error("the broken file reads as valid Parquet")
	}
}
