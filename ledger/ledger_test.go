package ledger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kougaku/batch/fixtures"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

func writeCSV(t testing.TB, path string, write func(f *os.File) error) string {
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
	return path
}

func month(t testing.TB, s string) rules.Month {
	t.Helper()
	m, err := rules.ParseMonth(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runMonth runs one month on the ledger from rows.
func runMonth(t testing.TB, l *Ledger, dir, m string, members []receipt.MemberRow, rows []receipt.Row) *Result {
	t.Helper()
	mp := writeCSV(t, filepath.Join(dir, "members-"+m+".csv"), func(f *os.File) error { return receipt.WriteMembersCSV(f, members) })
	rp := writeCSV(t, filepath.Join(dir, "receipts-"+m+".csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, rows) })
	res, err := l.Run(context.Background(), pipeline.Config{Month: month(t, m), Members: []string{mp}, Receipts: []string{rp},
		Out: filepath.Join(dir, "out-"+m)})
	if err != nil {
		t.Fatalf("%s: %v", m, err)
	}
	return res
}

// TestGoldenAnnual runs every golden annual case as twelve monthly runs into a ledger, then
// the annual outpatient cap.
func TestGoldenAnnual(t *testing.T) {
	cases, err := fixtures.Annual()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 6 {
		t.Fatalf("want 6 golden annual cases, found %d", len(cases))
	}
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			l, dir := openLedger(t)
			// The members master: one row per stretch of months with one class, the first
			// from long before the period, the last open.
			var mem []receipt.MemberRow
			for i, mo := range c.Months {
				u70, o70 := deref(mo.CategoryU70), deref(mo.Category70)
				if n := len(mem); n > 0 && mem[n-1].CategoryU70 == u70 && mem[n-1].Category70 == o70 {
					continue
				}
				if n := len(mem); n > 0 {
					mem[n-1].ValidTo = c.Months[i-1].ServiceMonth
				}
				from := mo.ServiceMonth
				if i == 0 {
					from = "2015-04"
				}
				mem = append(mem, receipt.MemberRow{InsurerNo: c.InsurerNo, PersonID: c.Person.Person, HouseholdID: c.Household,
					BirthDate: c.Person.BirthDate, Sex: "1", ValidFrom: from, CategoryU70: u70, Category70: o70})
			}
			for _, mo := range c.Months {
				var rows []receipt.Row
				for _, r := range mo.Receipts {
					rows = append(rows, receipt.Row{ReceiptID: r.ID, ServiceMonth: mo.ServiceMonth, InsurerNo: c.InsurerNo,
						PersonID: r.Person, InstitutionID: r.Institution, Kind: r.Kind, Setting: r.Setting,
						PrescriberID: r.Prescriber, Cost: r.Cost, Copay: r.Copay, Paid: r.Paid, Tokutei: r.Tokutei})
				}
				runMonth(t, l, dir, mo.ServiceMonth, mem, rows)
			}
			out := filepath.Join(dir, "annual")
			if _, err := l.Annual(month(t, c.PeriodStart), nil, out, nil); err != nil {
				t.Fatal(err)
			}
			got, err := output.ReadAll[output.AnnualOutpatient](filepath.Join(out, output.AnnualOutpatientFile))
			if err != nil {
				t.Fatal(err)
			}
			byPerson := map[string]output.AnnualOutpatient{}
			for _, r := range got {
				byPerson[r.PersonID] = r
			}
			for person, e := range c.Expect {
				r := byPerson[person]
				if r.Payout != e.AnnualPayout || r.OutpatientNetSum != e.AnnualNetSum {
					t.Errorf("%s (%s): payout %d net %d, want %d %d", c.ID, c.Title, r.Payout, r.OutpatientNetSum, e.AnnualPayout, e.AnnualNetSum)
				}
			}
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestAnnualRefusesMissingMonth(t *testing.T) {
	l, dir := openLedger(t)
	_, err := l.Annual(month(t, "2024-08"), nil, filepath.Join(dir, "annual"), nil)
	if err == nil || err.Error() == "" {
		t.Fatal("annual over an empty ledger succeeded")
	}
	want := "annual outpatient cap for 2024-08..2025-07: month 2024-08 is not in the ledger"
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("message %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "annual")); !os.IsNotExist(err) {
		t.Fatal("a refused annual run left an output directory")
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second open: %v, want LockedError", err)
	}
	l.Close()
	l2, err := Open(dir)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	l2.Close()
}

func TestDamagedMonth(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "months", "2025-06")
	if err := os.MkdirAll(md, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(md, "CURRENT"), []byte(`{"month":"2025-06","version":1,"layers":["L000001"]}`), 0o644)
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Current(month(t, "2025-06"))
	var de *DamagedError
	if !errors.As(err, &de) {
		t.Fatalf("got %v, want DamagedError", err)
	}
}

// openLedger opens a new ledger in a temporary directory, which it returns too; the ledger is
// closed when the test ends.
func openLedger(t *testing.T) (*Ledger, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(filepath.Join(dir, "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}
