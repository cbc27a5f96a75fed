package ledger

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
)

// stateOf reads household k's state in the current version of month m.
func stateOf(t *testing.T, l *Ledger, m string, k HouseholdKey) hhState {
	t.Helper()
	v, err := l.Current(month(t, m))
	if err != nil {
		t.Fatal(err)
	}
	st, err := states(context.Background(), v, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st[k]
}

// correct runs month m of the ledger again with the correction rows given (and a new members
// master when members is set), into a new directory of dir.
func correct(t *testing.T, l *Ledger, dir, m string, members []receipt.MemberRow, rows []receipt.Row, tweak ...func(*pipeline.Config)) (*Result, string) {
	t.Helper()
	name := filepath.Join(dir, "correction-"+m+"-"+strings.ReplaceAll(t.Name(), "/", "-"))
	cfg := pipeline.Config{Month: month(t, m), Out: name}
	cfg.Receipts = []string{writeCSV(t, name+".csv", func(f *os.File) error { return receipt.WriteReceiptsCSV(f, rows) })}
	if members != nil {
		cfg.Members = []string{writeCSV(t, name+"-members.csv", func(f *os.File) error { return receipt.WriteMembersCSV(f, members) })}
	}
	for _, f := range tweak {
		f(&cfg)
	}
	res, err := l.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("correction of %s: %v", m, err)
	}
	return res, name
}

func readRejects(t *testing.T, out string) []receipt.Reject {
	t.Helper()
	rj, err := output.ReadAll[receipt.Reject](filepath.Join(out, output.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	return rj
}

// TestIssue17_4_MembersRerunKeepsTasukaiHistory: a rerun with a new members master recomputes
// the whole month with the 多数回 history the ledger keeps, as the first run does, for every
// household of the month, those the first run did not have included; the result counts the
// households it recomputed.
func TestIssue17_4_MembersRerunKeepsTasukaiHistory(t *testing.T) {
	p1 := receipt.MemberRow{InsurerNo: "06139999", PersonID: "P1", HouseholdID: "H1", BirthDate: "1980-05-05", Sex: "1", ValidFrom: "2020-01", CategoryU70: "U"}
	p2 := receipt.MemberRow{InsurerNo: "06139999", PersonID: "P2", HouseholdID: "H2", BirthDate: "1981-06-06", Sex: "2", ValidFrom: "2020-01", CategoryU70: "U"}
	h1, h2 := HouseholdKey{"06139999", "H1"}, HouseholdKey{"06139999", "H2"}
	rec := func(id, person string) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: "2025-04", InsurerNo: "06139999", PersonID: person, InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 1000000, Copay: 300000, Paid: 300000}
	}
	receipts := []receipt.Row{rec("R1", "P1"), rec("R2", "P2")}
	tasukai := hhState{cash: 255600, counts: true, prior: 3, tasukai: true} // ウ, 300,000 − 多数回 44,400
	for _, c := range []struct {
		name         string
		firstMembers []receipt.MemberRow
		wantAdjusted []HouseholdKey
	}{
		{"the same inputs again", []receipt.MemberRow{p1, p2}, nil},
		{"a member the first master lacked", []receipt.MemberRow{p1}, []HouseholdKey{h2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, dir := openLedger(t)
			var hist []receipt.HistoryRow
			for _, hh := range []string{"H1", "H2"} {
				for _, m := range []string{"2025-01", "2025-02", "2025-03"} {
					hist = append(hist, receipt.HistoryRow{InsurerNo: "06139999", HouseholdID: hh, ServiceMonth: m})
				}
			}
			hp := writeCSV(t, filepath.Join(dir, "history.csv"), func(f *os.File) error { return receipt.WriteHistoryCSV(f, hist) })
			mp := writeCSV(t, filepath.Join(dir, "members.csv"), func(f *os.File) error { return receipt.WriteMembersCSV(f, c.firstMembers) })
			rp := writeCSV(t, filepath.Join(dir, "receipts.csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, receipts) })
			if _, err := l.Run(context.Background(), pipeline.Config{Month: month(t, "2025-04"), Members: []string{mp}, Receipts: []string{rp},
				History: []string{hp}, Out: filepath.Join(dir, "first")}); err != nil {
				t.Fatal(err)
			}
			if st := stateOf(t, l, "2025-04", h1); st != tasukai {
				t.Fatalf("H1 after the first run %+v, want %+v", st, tasukai)
			}
			res, _ := correct(t, l, dir, "2025-04", []receipt.MemberRow{p1, p2}, receipts)
			for _, k := range []HouseholdKey{h1, h2} {
				if st := stateOf(t, l, "2025-04", k); st != tasukai {
					t.Errorf("%s after the rerun with --members %+v, want %+v", k.HouseholdID, st, tasukai)
				}
			}
			var adjusted []HouseholdKey
			for _, a := range res.Adjustments {
				adjusted = append(adjusted, HouseholdKey{a.InsurerNo, a.HouseholdID})
				if a.NewCash != tasukai.cash {
					t.Errorf("adjustment %+v, want new cash %d", a, tasukai.cash)
				}
			}
			if len(adjusted) != len(c.wantAdjusted) || (len(adjusted) > 0 && adjusted[0] != c.wantAdjusted[0]) {
				t.Errorf("adjusted %v, want %v", adjusted, c.wantAdjusted)
			}
			if !res.Rerun || res.Households != 2 {
				t.Errorf("rerun %v, recomputed %d households, want a rerun of 2", res.Rerun, res.Households)
			}
		})
	}
}

// TestIssue17_5_CancelOfUnknownReceipt: in a correction run, a cancel of a receipt_id the
// month does not hold is rejected UNKNOWN_RECEIPT, not counted as a cancel; a cancel of one
// it holds still is, and the run reconciles.
func TestIssue17_5_CancelOfUnknownReceipt(t *testing.T) {
	l, dir := cascadeLedger(t)
	cancel := func(id string) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: "2025-07", InsurerNo: "06139999", PersonID: "P2", InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 400000, Copay: 120000, Paid: 120000, Cancel: true}
	}
	res, out := correct(t, l, dir, "2025-07", nil, []receipt.Row{cancel("R2-2025-07"), cancel("R2-2025-99")})
	r := res.Summary.Manifest.Reconciliation
	if r.ReceiptsRead != 2 || r.ReceiptsCancelled != 1 || r.ReceiptsRejected != 1 || !r.Balanced {
		t.Errorf("reconciliation %+v, want 2 read, 1 cancelled, 1 rejected, balanced", r)
	}
	if n := res.Summary.Manifest.RejectsByReason[receipt.UnknownReceipt]; n != 1 {
		t.Errorf("rejects by reason %v, want one %s", res.Summary.Manifest.RejectsByReason, receipt.UnknownReceipt)
	}
	rj := readRejects(t, out)
	if len(rj) != 1 || rj[0].ReceiptID != "R2-2025-99" || rj[0].Reason != receipt.UnknownReceipt || !strings.Contains(rj[0].Detail, "2025-07") {
		t.Errorf("rejects %+v, want R2-2025-99 as %s", rj, receipt.UnknownReceipt)
	}
}

// TestIssue17_6_CountRewrittenWithoutFlip: when a correction or a back-fill changes a later
// month's count of counting months without crossing the 多数回 line, the later months still
// say the true count (what a ledger built from scratch with the same data says), and no
// adjustment is written for them since their cash is the same.
func TestIssue17_6_CountRewrittenWithoutFlip(t *testing.T) {
	h1 := HouseholdKey{"06139999", "H1"}
	later := []string{"2025-05", "2025-06", "2025-07"}
	// scratch is the ledger built in order with April's receipt of aprilCost.
	scratch := func(t *testing.T, aprilCost int64) *Ledger {
		l, dir := openLedger(t)
		hist := h1History(t, dir, "2025-01", "2025-02", "2025-03")
		runH1(t, l, dir, "2025-04", aprilCost, hist)
		for _, m := range later {
			runH1(t, l, dir, m, 1000000)
		}
		return l
	}
	sameAs := func(t *testing.T, l, want *Ledger) {
		t.Helper()
		for _, m := range later {
			if got, w := stateOf(t, l, m, h1), stateOf(t, want, m, h1); got != w {
				t.Errorf("%s: %+v, want %+v as a ledger built from scratch", m, got, w)
			}
		}
	}
	noCascadeAdjustment := func(t *testing.T, adj []output.Adjustment) {
		t.Helper()
		for _, a := range adj {
			if a.Cause == output.CauseTasukaiCascade {
				t.Errorf("adjustment %+v for a month whose cash did not change", a)
			}
		}
	}
	t.Run("correction", func(t *testing.T) {
		// April's benefit month taken away: May to July count one month fewer (4, 5, 6 → 3,
		// 4, 5), 多数回 all along.
		l, dir := openLedger(t)
		hist := h1History(t, dir, "2025-01", "2025-02", "2025-03")
		runH1(t, l, dir, "2025-04", 1000000, hist)
		for _, m := range later {
			runH1(t, l, dir, m, 1000000)
		}
		if st := stateOf(t, l, "2025-06", h1); st.prior != 5 || !st.tasukai {
			t.Fatalf("June before the correction %+v, want prior 5 and 多数回", st)
		}
		res, _ := correct(t, l, dir, "2025-04", nil, []receipt.Row{historyReceipt("2025-04", 50000)})
		noCascadeAdjustment(t, res.Adjustments)
		if st := stateOf(t, l, "2025-06", h1); st.prior != 4 {
			t.Errorf("June after the correction: prior %d, want 4", st.prior)
		}
		sameAs(t, l, scratch(t, 50000))
	})
	t.Run("back-fill", func(t *testing.T) {
		// April run after May to July: it counts, where the history said nothing of it.
		l, dir := openLedger(t)
		hist := h1History(t, dir, "2025-01", "2025-02", "2025-03")
		runH1(t, l, dir, "2025-05", 1000000, hist)
		runH1(t, l, dir, "2025-06", 1000000)
		runH1(t, l, dir, "2025-07", 1000000)
		res := runH1(t, l, dir, "2025-04", 1000000)
		noCascadeAdjustment(t, res.Adjustments)
		sameAs(t, l, scratch(t, 1000000))
	})
}

// TestIssue17_7_LedgerGapWarned: a run whose 11 months before lack a month the ledger should
// hold (it holds an earlier one) warns in its manifest that 多数回 will be recomputed when
// the month is run; a run with no gap warns nothing.
func TestIssue17_7_LedgerGapWarned(t *testing.T) {
	l, dir := openLedger(t)
	warned := func(res *Result) string { return strings.Join(res.Summary.Manifest.Warnings, "\n") }
	if w := warned(runH1(t, l, dir, "2025-04", 1000000)); w != "" {
		t.Errorf("the ledger's first month warned: %s", w)
	}
	if w := warned(runH1(t, l, dir, "2025-05", 1000000)); w != "" {
		t.Errorf("the month after the last warned: %s", w)
	}
	w := warned(runH1(t, l, dir, "2025-08", 1000000))
	for _, want := range []string{"2025-06, 2025-07", "多数回", "recomputed"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q does not say %q", w, want)
		}
	}
	if strings.Contains(w, "2025-05") {
		t.Errorf("warning %q names a month the ledger holds", w)
	}
	// The missing months, run later, fill the gap: a month after them warns nothing.
	runH1(t, l, dir, "2025-06", 1000000)
	runH1(t, l, dir, "2025-07", 1000000)
	if w := warned(runH1(t, l, dir, "2025-09", 1000000)); w != "" {
		t.Errorf("a month with no gap before it warned: %s", w)
	}
}

// TestIssue17_12_CorrectionForUnknownPerson: a correction for a person the month's members
// lack, under an insurer they have, is UNKNOWN_PERSON (the rerun is given the members of the
// households it recomputes only); an insurer they lack is still UNKNOWN_INSURER. Both ways
// of the join.
func TestIssue17_12_CorrectionForUnknownPerson(t *testing.T) {
	for _, partitions := range []bool{false, true} {
		t.Run(map[bool]string{false: "members in memory", true: "person partitions"}[partitions], func(t *testing.T) {
			l, dir := cascadeLedger(t)
			row := func(id, insurer, person string) receipt.Row {
				return receipt.Row{ReceiptID: id, ServiceMonth: "2025-07", InsurerNo: insurer, PersonID: person, InstitutionID: "1311111111",
					Kind: "medical", Setting: "outpatient", Cost: 10000, Copay: 3000, Paid: 3000}
			}
			_, out := correct(t, l, dir, "2025-07", nil, []receipt.Row{row("N1", "06139999", "P9"), row("N2", "01234567", "P1")},
				func(c *pipeline.Config) { c.PersonPartitions = partitions })
			got := map[string]string{}
			for _, r := range readRejects(t, out) {
				got[r.ReceiptID] = r.Reason
			}
			want := map[string]string{"N1": receipt.UnknownPerson, "N2": receipt.UnknownInsurer}
			for id, reason := range want {
				if got[id] != reason {
					t.Errorf("%s rejected %q, want %s", id, got[id], reason)
				}
			}
			if len(got) != len(want) {
				t.Errorf("rejects %v, want %v", got, want)
			}
		})
	}
}
