package pipeline

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// boundsInputs are the golden cases of 2025-10 and a member Q1 whose receipts the tests below
// add, with the run's config: the good rows the bad ones come among.
func boundsInputs(t *testing.T) (rules.Month, []receipt.MemberRow, []receipt.Row, func(id string) receipt.Row) {
	const month = "2025-10"
	m, _ := rules.ParseMonth(month)
	good := monthCases(t, month)
	mem, rec, _ := goldenInputs(good)
	ins := good[0].InsurerNo
	mem = append(mem, receipt.MemberRow{InsurerNo: ins, PersonID: "Q1", HouseholdID: "HQ1", BirthDate: "1980-01-01", Sex: "2",
		ValidFrom: "2020-01", CategoryU70: "U"})
	row := func(id string) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: month, InsurerNo: ins, PersonID: "Q1", InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 500000, Copay: 150000, Paid: 150000}
	}
	return m, mem, rec, row
}

// TestIssue17_2_AmountsAboveBoundAreInvalid: an amount above ¥10^10 on one receipt is
// AMOUNT_INVALID, with a detail naming the field and the bound; one at the bound is paid as
// any other. The run balances, and no total is negative or beyond what the accepted
// receipts can hold.
func TestIssue17_2_AmountsAboveBoundAreInvalid(t *testing.T) {
	m, mem, rec, row := boundsInputs(t)
	bound := rules.MaxAmount
	cases := []struct {
		name              string
		cost, copay, paid int64
		rejected          bool
		fields            []string // named in the detail
	}{
		{"cost MaxInt64", math.MaxInt64, 150000, 150000, true, []string{"cost"}},
		{"copay and paid 2^62", 1 << 62, 1 << 62, 1 << 62, true, []string{"cost", "copay", "paid"}},
		{"copay and paid 2^62, cost small", 500000, 1 << 62, 1 << 62, true, []string{"copay", "paid"}},
		{"all at the bound", bound, bound, bound, false, nil},
		{"cost at the bound", bound, 150000, 150000, false, nil},
		{"cost one above the bound", bound + 1, 150000, 150000, true, []string{"cost"}},
		{"paid one above the bound", bound + 1, bound + 1, bound + 1, true, []string{"cost", "copay", "paid"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			r := row("X1")
			r.Cost, r.Copay, r.Paid = c.cost, c.copay, c.paid
			rows := append(append([]receipt.Row(nil), rec...), r)
			mp, rp, _ := writeInputs(t, dir, "csv", mem, rows, nil)
			got := runMonth(t, dir, Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, Out: filepath.Join(dir, "out")})
			var accepted bool
			for _, rb := range got.receipts {
				accepted = accepted || rb.ReceiptID == "X1"
			}
			if c.rejected {
				if accepted || len(got.rejects) != 1 || got.rejects[0].Reason != receipt.AmountInvalid {
					t.Fatalf("accepted %v, rejects %+v: want X1 rejected as %s", accepted, got.rejects, receipt.AmountInvalid)
				}
				d := got.rejects[0].Detail
				for _, f := range c.fields {
					if !strings.Contains(d, f+" ") {
						t.Errorf("detail %q does not name %s", d, f)
					}
				}
				if !strings.Contains(d, strconv.FormatInt(bound, 10)) {
					t.Errorf("detail %q does not name the bound %d", d, bound)
				}
			} else if !accepted || len(got.rejects) != 0 {
				t.Fatalf("accepted %v, rejects %+v: want X1 accepted", accepted, got.rejects)
			}
			rc := got.summary.Manifest.Reconciliation
			if !rc.Balanced {
				t.Errorf("manifest not balanced: %+v", rc)
			}
			most := rc.ReceiptsRead * bound // what the receipts read can hold at most
			for name, v := range map[string]int64{"paid_read": rc.PaidRead, "paid_accepted": rc.PaidAccepted, "paid_rejected": rc.PaidRejected,
				"benefit_cash": rc.BenefitCashHouseholds, "summary benefit_cash": got.summary.BenefitCash, "summary in kind": got.summary.BenefitInKind} {
				if v < 0 || v > most {
					t.Errorf("%s = %d, want 0..%d", name, v, most)
				}
			}
			for _, h := range got.households {
				if h.PaidTotal < 0 || h.BenefitCash < 0 || h.BenefitCash > h.PaidTotal || h.CopayTotal > int64(h.Receipts)*bound {
					t.Errorf("household %+v", h)
				}
			}
		})
	}
}

// TestIssue17_13_LongRejectDetailIsCut: a CSV row with a field of 1 MB is rejected with a
// detail, and ids, of a few hundred bytes, cut on a rune boundary and saying how long they
// were.
func TestIssue17_13_LongRejectDetailIsCut(t *testing.T) {
	m, mem, rec, _ := boundsInputs(t)
	dir := t.TempDir()
	mp, rp, _ := writeInputs(t, dir, "csv", mem, rec, nil)
	huge := strings.Repeat("あ", 1<<20/3) // 1 MB of three-byte runes
	f, err := os.OpenFile(rp, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A bad kind of 1 MB, and a receipt id of 1 MB.
	fmt.Fprintf(f, "X%s,2025-10,%s,Q1,1311111111,%s,inpatient,,500000,150000,150000,,,\n", huge, mem[0].InsurerNo, huge)
	f.Close()
	got := runMonth(t, dir, Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, Out: filepath.Join(dir, "out")})
	if len(got.rejects) != 1 || got.rejects[0].Reason != receipt.BadRecord {
		t.Fatalf("rejects: %d, want one BAD_RECORD", len(got.rejects))
	}
	rj := got.rejects[0]
	for name, v := range map[string]string{"detail": rj.Detail, "receipt_id": rj.ReceiptID} {
		if len(v) > 600 || !utf8.ValidString(v) {
			t.Errorf("%s is %d bytes (valid UTF-8 %v), want a few hundred: %.80q", name, len(v), utf8.ValidString(v), v)
		}
		if !strings.Contains(v, "cut;") || !strings.Contains(v, " bytes)") {
			t.Errorf("%s %.80q…%q does not say it was cut", name, v, v[max(0, len(v)-40):])
		}
	}
	if !strings.Contains(rj.ReceiptID, strconv.Itoa(1+len(huge))) {
		t.Errorf("receipt_id %q does not give the length %d", rj.ReceiptID[len(rj.ReceiptID)-40:], 1+len(huge))
	}
}

// TestIssue17_13_InvalidBirthDateIsBadRecord: a receipt whose birth date is not a date is
// BAD_RECORD, whatever the member's; an empty birth date is still no claim at all.
func TestIssue17_13_InvalidBirthDateIsBadRecord(t *testing.T) {
	m, mem, rec, row := boundsInputs(t)
	for _, birth := range []string{"2025-02-30", "1990-13-01", "1980-00-01", "abc", "1980-1-01", "19800101", "2023-02-29"} {
		t.Run(birth, func(t *testing.T) {
			dir := t.TempDir()
			r := row("X1")
			r.BirthDate = birth
			ok := row("X2") // no birth date: accepted
			mp, rp, _ := writeInputs(t, dir, "csv", mem, append(append([]receipt.Row(nil), rec...), r, ok), nil)
			got := runMonth(t, dir, Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, Out: filepath.Join(dir, "out")})
			if len(got.rejects) != 1 || got.rejects[0].Reason != receipt.BadRecord || got.rejects[0].ReceiptID != "X1" ||
				!strings.Contains(got.rejects[0].Detail, "birth_date") {
				t.Fatalf("rejects %+v, want X1 as BAD_RECORD for its birth_date", got.rejects)
			}
			if !got.summary.Manifest.Reconciliation.Balanced {
				t.Errorf("not balanced: %+v", got.summary.Manifest.Reconciliation)
			}
		})
	}
}
