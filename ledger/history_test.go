package ledger

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
)

// historyLedger: H1 (ウ) had benefit months in January and February, before the ledger
// begins; the history saying so is given to April's run only. April (large) counts, May is
// small, June (large) is H1's fourth benefit month in twelve: 多数回 applies there.
func historyLedger(t *testing.T) (*Ledger, string) {
	t.Helper()
	l, dir := openLedger(t)
	hist := h1History(t, dir, "2025-01", "2025-02")
	runH1(t, l, dir, "2025-04", 1000000, hist)
	runH1(t, l, dir, "2025-05", 50000)
	runH1(t, l, dir, "2025-06", 1000000)
	return l, dir
}

// h1History writes a history file in which H1 counts in the given months.
func h1History(t *testing.T, dir string, months ...string) string {
	t.Helper()
	var rows []receipt.HistoryRow
	for _, m := range months {
		rows = append(rows, receipt.HistoryRow{InsurerNo: "06139999", HouseholdID: "H1", ServiceMonth: m})
	}
	return writeCSV(t, filepath.Join(dir, "history.csv"), func(f *os.File) error { return receipt.WriteHistoryCSV(f, rows) })
}

// runH1 runs month m on the ledger with H1's one receipt of the given cost and the history
// files given.
func runH1(t *testing.T, l *Ledger, dir, m string, cost int64, history ...string) *Result {
	t.Helper()
	members := []receipt.MemberRow{{InsurerNo: "06139999", PersonID: "P1", HouseholdID: "H1", BirthDate: "1980-05-05",
		Sex: "1", ValidFrom: "2020-01", CategoryU70: "U"}}
	mp := writeCSV(t, filepath.Join(dir, "members-"+m+".csv"), func(f *os.File) error { return receipt.WriteMembersCSV(f, members) })
	rp := writeCSV(t, filepath.Join(dir, "receipts-"+m+".csv"), func(f *os.File) error {
		return receipt.WriteReceiptsCSV(f, []receipt.Row{historyReceipt(m, cost)})
	})
	res, err := l.Run(context.Background(), pipeline.Config{Month: month(t, m), Members: []string{mp}, Receipts: []string{rp},
		History: history, Out: filepath.Join(dir, "out-"+m)})
	if err != nil {
		t.Fatalf("%s: %v", m, err)
	}
	return res
}

func historyReceipt(m string, cost int64) receipt.Row {
	return receipt.Row{ReceiptID: "R1-" + m, ServiceMonth: m, InsurerNo: "06139999", PersonID: "P1", InstitutionID: "1311111111",
		Kind: "medical", Setting: "inpatient", Cost: cost, Copay: cost * 3 / 10, Paid: cost * 3 / 10}
}

// TestHistoryBeforeLedgerKept: the counting months before the ledger, given to one run,
// still count in the later months' runs, in a rerun and in a cascade's recount, none of
// which is given them again.
func TestHistoryBeforeLedgerKept(t *testing.T) {
	h1 := HouseholdKey{"06139999", "H1"}
	rerun := func(t *testing.T, l *Ledger, dir, m string, cost int64) []output.Adjustment {
		t.Helper()
		cp := writeCSV(t, filepath.Join(dir, "corr-"+m+".csv"), func(f *os.File) error {
			return receipt.WriteReceiptsCSV(f, []receipt.Row{historyReceipt(m, cost)})
		})
		out := filepath.Join(dir, "rerun-"+m)
		if _, err := l.Run(context.Background(), pipeline.Config{Month: month(t, m), Receipts: []string{cp}, Out: out}); err != nil {
			t.Fatal(err)
		}
		return readAdjustments(t, out)
	}

	t.Run("monthly runs", func(t *testing.T) {
		l, _ := historyLedger(t)
		// June: prior Jan, Feb, Apr = 3: 多数回 44,400, cash 300,000 − 44,400.
		if st := stateOf(t, l, "2025-06", h1); st.prior != 3 || !st.tasukai || st.cash != 255600 {
			t.Fatalf("June %+v, want prior 3, 多数回, cash 255,600", st)
		}
	})
	t.Run("rerun", func(t *testing.T) {
		l, dir := historyLedger(t)
		// A June correction to 1,100,000 keeps 多数回: 330,000 − 44,400 = 285,600.
		adj := rerun(t, l, dir, "2025-06", 1100000)
		want := output.Adjustment{InsurerNo: "06139999", HouseholdID: "H1", ServiceMonth: "2025-06",
			PreviousCash: 255600, NewCash: 285600, Delta: 30000, Cause: output.CauseCorrectedReceipts}
		if len(adj) != 1 || adj[0] != want {
			t.Fatalf("adjustments %+v, want %+v", adj, want)
		}
		if st := stateOf(t, l, "2025-06", h1); st.prior != 3 {
			t.Errorf("June's prior after the rerun %d, want 3", st.prior)
		}
	})
	t.Run("cascade", func(t *testing.T) {
		l, dir := historyLedger(t)
		// May corrected to 600,000: May's prior is 3 (Jan, Feb, Apr), so 多数回 applies there,
		// 180,000 − 44,400; May counts now, June's prior becomes 4, still 多数回: no change.
		adj := rerun(t, l, dir, "2025-05", 600000)
		want := output.Adjustment{InsurerNo: "06139999", HouseholdID: "H1", ServiceMonth: "2025-05",
			PreviousCash: 0, NewCash: 135600, Delta: 135600, Cause: output.CauseCorrectedReceipts}
		if len(adj) != 1 || adj[0] != want {
			t.Fatalf("adjustments %+v, want only %+v", adj, want)
		}
		if st := stateOf(t, l, "2025-06", h1); st.cash != 255600 || !st.tasukai {
			t.Errorf("June after the cascade %+v, want 多数回 and cash 255,600 unchanged", st)
		}
	})
}

// TestBackfilledMonthCascades: a month filled in behind later ones replaces what the history
// said of it. H1's history counts January to March; April (large) is its fourth benefit month
// in twelve and gets 多数回. March, run later with a small receipt, does not count: April's
// count falls to two, 多数回 no longer applies, and the cascade adjusts April.
func TestBackfilledMonthCascades(t *testing.T) {
	l, dir := openLedger(t)
	runH1(t, l, dir, "2025-04", 1000000, h1History(t, dir, "2025-01", "2025-02", "2025-03"))
	res := runH1(t, l, dir, "2025-03", 50000)
	want := output.Adjustment{InsurerNo: "06139999", HouseholdID: "H1", ServiceMonth: "2025-04",
		PreviousCash: 255600, NewCash: 212570, Delta: -43030, Cause: output.CauseTasukaiCascade}
	if len(res.Adjustments) != 1 || res.Adjustments[0] != want {
		t.Fatalf("adjustments %+v, want %+v", res.Adjustments, want)
	}
	apr, _ := l.Current(month(t, "2025-04"))
	st, err := states(context.Background(), apr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := st[HouseholdKey{"06139999", "H1"}]; h.prior != 2 || h.tasukai || h.cash != 212570 {
		t.Errorf("April after the back-fill %+v, want prior 2, no 多数回, cash 212,570", h)
	}
}
