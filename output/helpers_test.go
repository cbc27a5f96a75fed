package output

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kougaku/batch/receipt"
)

// newDir creates a run directory under a fresh test directory and aborts it at cleanup.
func newDir(t testing.TB) *Dir {
	t.Helper()
	d, err := Create(filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Abort() })
	return d
}

// writeRows writes rows to name in d in batches of batch rows, closes the file and returns
// its path in the temporary directory.
func writeRows[T any](t testing.TB, d *Dir, name string, opt Options, rows []T, batch int) string {
	t.Helper()
	w, err := NewWriter[T](d, name, opt)
	if err != nil {
		t.Fatal(err)
	}
	for len(rows) > 0 {
		n := min(batch, len(rows))
		if err := w.Write(rows[:n]); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d.TempPath(), name)
}

// equalRows fails t at the first row of got that differs from want.
func equalRows[T any](t testing.TB, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

var (
	kinds    = []string{"med", "dpc", "dental", "pharmacy"}
	settings = []string{"outpatient", "inpatient"}
)

// receiptBenefits returns n deterministic rows shaped like a month of receipts: a person
// has about three receipts, a household about two persons. With distinct set, every row
// has its own person and household, the worst case for dictionaries.
func receiptBenefits(n, from int, distinct bool) []ReceiptBenefit {
	r := rand.New(rand.NewPCG(uint64(from), 7))
	rows := make([]ReceiptBenefit, n)
	for i := range rows {
		k := from + i
		person, household, inst, insurer := k/3, k/6, k%5000, 1130000+k%7
		if distinct {
			person, household, inst, insurer = k, k, k, 10_000_000+k
		}
		cost := r.Int64N(2_000_000)
		rows[i] = ReceiptBenefit{
			ReceiptID:     fmt.Sprintf("R%012d", k),
			InsurerNo:     fmt.Sprintf("%08d", insurer),
			HouseholdID:   fmt.Sprintf("H%010d", household),
			PersonID:      fmt.Sprintf("P%010d", person),
			ServiceMonth:  "2025-10",
			Kind:          kinds[k%len(kinds)],
			Setting:       settings[k%len(settings)],
			Cost:          cost,
			Copay:         cost * 3 / 10,
			Paid:          cost - cost*3/10,
			Included:      k%5 != 0,
			BenefitCash:   r.Int64N(100_000),
			InstitutionID: fmt.Sprintf("13%08d", inst),
			PrescriberID:  fmt.Sprintf("14%08d", inst),
		}
	}
	return rows
}

func householdMonths() []HouseholdMonth {
	return []HouseholdMonth{
		{"01130012", "H1", "2025-10", "ウ", "一般Ⅱ", 3, true, true, 4, 120_000, 280_000, 35_430, 1_200, 80_100, 44_400, 0, 10_000, "2025-10"},
		{"01130012", "H2", "2025-10", "", "現役並みⅢ", 0, false, false, 1, 0, 0, 0, 0, 0, 0, 0, 0, "2025-10"},
		{"39131001", "H3", "2024-12", "ア", "", math.MaxInt32, false, true, math.MaxInt32, math.MaxInt64, -1, math.MinInt64, 1, 2, 3, 4, 5, "2018-08"},
	}
}

func personMonths() []PersonMonth {
	return []PersonMonth{
		{"01130012", "H1", "P1", "2025-10", AgeGroupU70, 30_000, 0, 250_000, 35_430},
		{"01130012", "H1", "P2", "2025-10", AgeGroup70Plus, 20_000, 2_000, 0, 2_000},
		{"39131001", "", "", "2024-12", AgeGroup70Plus, -5, math.MaxInt64, math.MinInt64, 0},
	}
}

func annualOutpatients() []AnnualOutpatient {
	return []AnnualOutpatient{
		{"39131001", "P2", "H1", "2024-08", 12, 180_000, 36_000},
		{"39131001", "P9", "H4", "2024-08", 7, 144_000, 0},
		{"01130012", "P1", "H1", "2025-08", 0, 0, math.MaxInt64},
	}
}

func adjustments() []Adjustment {
	return []Adjustment{
		{"01130012", "H1", "2025-08", 10_000, 4_000, -6_000, CauseCorrectedReceipts},
		{"01130012", "H1", "2025-09", 0, 44_400, 44_400, CauseTasukaiCascade},
	}
}

func rejects() []receipt.Reject {
	return []receipt.Reject{
		{Source: "receipts.csv:17", ReceiptID: "R1", InsurerNo: "01130012", PersonID: "P1",
			Reason: receipt.UnknownPerson, Detail: "person P1 not in members", Paid: 12_000},
		{Source: "receipts.parquet:row 3", Reason: receipt.BadRecord, Detail: "列数が不正です, \"quoted\""},
		{Source: "RECEIPTC.UKE:2", ReceiptID: "R3", InsurerNo: "39131001", PersonID: "P3",
			Reason: receipt.AmountInvalid, Paid: -7},
	}
}
