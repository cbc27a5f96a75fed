package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/kougaku/batch/fixtures"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// goldenInputs turns golden cases into the batch's inputs. Person and receipt ids are prefixed
// with the case id, so that every case can share one run (the prefix keeps the receipt-id
// order, which decides apportionment ties).
func goldenInputs(cases []fixtures.HouseholdCase) (members []receipt.MemberRow, receipts []receipt.Row, history []receipt.HistoryRow) {
	for _, c := range cases {
		m, _ := rules.ParseMonth(c.ServiceMonth)
		for _, mb := range c.Members {
			row := receipt.MemberRow{InsurerNo: c.InsurerNo, PersonID: c.ID + "-" + mb.Person, HouseholdID: c.Household.ID,
				BirthDate: mb.BirthDate, Sex: "1", ValidFrom: "2015-04", CategoryU70: c.CategoryU70(), Category70: c.Category70()}
			if mb.HalfLimits {
				row.HalfLimitsMonth = c.ServiceMonth
			}
			members = append(members, row)
		}
		for _, r := range c.Receipts {
			receipts = append(receipts, receipt.Row{ReceiptID: c.ID + "-" + r.ID, ServiceMonth: c.ServiceMonth,
				InsurerNo: c.InsurerNo, PersonID: c.ID + "-" + r.Person, InstitutionID: r.Institution, Kind: r.Kind,
				Setting: r.Setting, PrescriberID: r.Prescriber, Cost: r.Cost, Copay: r.Copay, Paid: r.Paid, Tokutei: r.Tokutei})
		}
		for k := 1; k <= c.Household.Prior; k++ {
			history = append(history, receipt.HistoryRow{InsurerNo: c.InsurerNo, HouseholdID: c.Household.ID, ServiceMonth: (m - rules.Month(k)).String()})
		}
	}
	return members, receipts, history
}

func writeCSV(t testing.TB, path string, write func(f *os.File) error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeParquet[T any](t testing.TB, path string, rows []T) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// writeInputs writes the three tables as CSV or Parquet into dir and returns their paths.
func writeInputs(t testing.TB, dir, format string, members []receipt.MemberRow, receipts []receipt.Row, history []receipt.HistoryRow) (string, string, string) {
	t.Helper()
	mp, rp, hp := filepath.Join(dir, "members."+format), filepath.Join(dir, "receipts."+format), filepath.Join(dir, "history."+format)
	if format == "csv" {
		writeCSV(t, mp, func(f *os.File) error { return receipt.WriteMembersCSV(f, members) })
		writeCSV(t, rp, func(f *os.File) error { return receipt.WriteReceiptsCSV(f, receipts) })
		writeCSV(t, hp, func(f *os.File) error { return receipt.WriteHistoryCSV(f, history) })
	} else {
		writeParquet(t, mp, members)
		writeParquet(t, rp, receipts)
		writeParquet(t, hp, history)
	}
	return mp, rp, hp
}

func readBack[T any](t testing.TB, path string) []T {
	t.Helper()
	rows, err := output.ReadAll[T](path)
	if err != nil {
		t.Fatalf("reading back %s: %v", path, err)
	}
	return rows
}

// TestGoldenEndToEnd writes every golden household case as input, runs the batch month by
// month, reads the Parquet back and matches every amount, from CSV and from Parquet input.
func TestGoldenEndToEnd(t *testing.T) {
	cases, err := fixtures.Households()
	if err != nil {
		t.Fatal(err)
	}
	byMonth := map[string][]fixtures.HouseholdCase{}
	for _, c := range cases {
		byMonth[c.ServiceMonth] = append(byMonth[c.ServiceMonth], c)
	}
	months := make([]string, 0, len(byMonth))
	for m := range byMonth {
		months = append(months, m)
	}
	sort.Strings(months)
	for _, format := range []string{"csv", "parquet"} {
		seen := 0
		for _, month := range months {
			t.Run(format+"/"+month, func(t *testing.T) {
				dir := t.TempDir()
				mem, rec, hist := goldenInputs(byMonth[month])
				mp, rp, hp := writeInputs(t, dir, format, mem, rec, hist)
				out := filepath.Join(dir, "out")
				m, _ := rules.ParseMonth(month)
				sum, err := Run(context.Background(), Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, History: []string{hp}, Out: out})
				if err != nil {
					t.Fatal(err)
				}
				if r := sum.Manifest.Reconciliation; r.ReceiptsRejected != 0 || !r.Balanced || r.ReceiptsRead != int64(len(rec)) {
					t.Fatalf("reconciliation %+v", r)
				}
				seen += checkGolden(t, out, byMonth[month])
			})
		}
		if seen != len(cases) {
			t.Errorf("%s: %d of %d golden cases came out", format, seen, len(cases))
		}
	}
}

func checkGolden(t *testing.T, out string, cases []fixtures.HouseholdCase) int {
	hh := readBack[output.HouseholdMonth](t, filepath.Join(out, output.HouseholdMonthFile))
	rb := readBack[output.ReceiptBenefit](t, filepath.Join(out, output.ReceiptBenefitFile))
	pm := readBack[output.PersonMonth](t, filepath.Join(out, output.PersonMonthFile))
	rj := readBack[receipt.Reject](t, filepath.Join(out, output.RejectsFile))
	if len(rj) != 0 {
		t.Fatalf("rejects: %+v", rj)
	}
	byHH := map[string]output.HouseholdMonth{}
	for _, h := range hh {
		byHH[h.HouseholdID] = h
	}
	byReceipt := map[string]output.ReceiptBenefit{}
	for _, r := range rb {
		byReceipt[r.ReceiptID] = r
	}
	personCash := map[string]int64{}
	for _, p := range pm {
		personCash[p.HouseholdID] += p.BenefitCash
	}
	for _, c := range cases {
		h, ok := byHH[c.Household.ID]
		if !ok {
			t.Errorf("%s: no household_month row", c.ID)
			continue
		}
		e := c.Expect
		if h.BenefitCash != e.BenefitCash || h.BenefitInKind != e.BenefitInKind || h.StageA != e.StageA ||
			h.StageB != e.StageB || h.StageC != e.StageC || h.TasukaiApplied != e.TasukaiApplied ||
			h.CountsForTasukai != e.CountsForTasukai || int(h.PriorBenefitMonths) != c.Household.Prior ||
			h.CategoryU70 != c.CategoryU70() || h.Category70 != c.Category70() || h.Receipts != len(c.Receipts) {
			t.Errorf("%s (%s): household row %+v, want %+v", c.ID, c.Title, h, e)
		}
		if personCash[c.Household.ID] != e.BenefitCash {
			t.Errorf("%s: Σ person benefit_cash %d, want %d", c.ID, personCash[c.Household.ID], e.BenefitCash)
		}
		for _, r := range c.Receipts {
			got, ok := byReceipt[c.ID+"-"+r.ID]
			if !ok {
				t.Errorf("%s: receipt %s missing", c.ID, r.ID)
				continue
			}
			if got.BenefitCash != e.ReceiptCash[r.ID] || got.Paid != r.Paid || got.Cost != r.Cost || got.Copay != r.Copay ||
				got.Kind != r.Kind || got.Setting != r.Setting || got.HouseholdID != c.Household.ID {
				t.Errorf("%s: receipt row %+v, want cash %d", c.ID, got, e.ReceiptCash[r.ID])
			}
		}
	}
	return len(cases)
}
