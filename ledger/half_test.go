package ledger

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
)

// TestRerunKeepsTheHalving: a person turns 75 in October, not on the 1st. Where they stay
// with the insurer (a row ending in October, the next starting in November) the
// 75歳到達月特例 does not apply; where their eligibility ends in October it does. A
// correction rerun that changes nothing must adjust nothing: the ledger keeps only the row
// in force, from which alone the first case would be taken for the second, so the month's
// decision is kept with it (half_limits_month) and the rerun derives nothing.
func TestRerunKeepsTheHalving(t *testing.T) {
	row := func(from, to string) receipt.MemberRow {
		return receipt.MemberRow{InsurerNo: "06139999", PersonID: "P1", HouseholdID: "H1", BirthDate: "1950-10-15", Sex: "1",
			ValidFrom: from, ValidTo: to, Category70: "IPPAN"}
	}
	cases := []struct {
		name    string
		members []receipt.MemberRow
		cash    int64
	}{
		{"stays with the insurer", []receipt.MemberRow{row("2020-01", "2025-10"), row("2025-11", "")}, 100000 - 57600},
		{"leaves the insurer", []receipt.MemberRow{row("2020-01", "2025-10")}, 100000 - 28800}, // half of 57,600
	}
	rec := []receipt.Row{{ReceiptID: "R1", ServiceMonth: "2025-10", InsurerNo: "06139999", PersonID: "P1", InstitutionID: "1311111111",
		Kind: "medical", Setting: "inpatient", Cost: 1000000, Copay: 100000, Paid: 100000}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, dir := openLedger(t)
			if got := runMonth(t, l, dir, "2025-10", c.members, rec).Summary.BenefitCash; got != c.cash {
				t.Fatalf("first run: cash %d, want %d", got, c.cash)
			}
			cp := writeCSV(t, filepath.Join(dir, "corr.csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, rec) })
			out := filepath.Join(dir, "rerun")
			res, err := l.Run(context.Background(), pipeline.Config{Month: month(t, "2025-10"), Receipts: []string{cp}, Out: out})
			if err != nil {
				t.Fatal(err)
			}
			if adj := readAdjustments(t, out); len(adj) != 0 || res.Summary.BenefitCash != c.cash {
				t.Fatalf("a correction that changes nothing: cash %d, adjustments %+v", res.Summary.BenefitCash, adj)
			}
		})
	}
}
