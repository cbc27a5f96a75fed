package ledger

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
)

// cascadeLedger fills a ledger (closed when the test ends) with five months of two households: H1 (ウ) has benefit months
// in April and May, small receipts in June and July and a large one in August, so that August
// has two counting months before it; H2 is a bystander with a benefit every month.
func cascadeLedger(t *testing.T) (*Ledger, string) {
	t.Helper()
	l, dir := openLedger(t)
	members := []receipt.MemberRow{
		{InsurerNo: "06139999", PersonID: "P1", HouseholdID: "H1", BirthDate: "1980-05-05", Sex: "1", ValidFrom: "2020-01", CategoryU70: "U"},
		{InsurerNo: "06139999", PersonID: "P2", HouseholdID: "H2", BirthDate: "1970-05-05", Sex: "2", ValidFrom: "2020-01", CategoryU70: "E"},
	}
	rec := func(id, m, person string, cost int64) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: m, InsurerNo: "06139999", PersonID: person, InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: cost, Copay: cost * 3 / 10, Paid: cost * 3 / 10}
	}
	plan := map[string]int64{"2025-04": 1000000, "2025-05": 1000000, "2025-06": 50000, "2025-07": 50000, "2025-08": 1000000}
	for _, m := range []string{"2025-04", "2025-05", "2025-06", "2025-07", "2025-08"} {
		runMonth(t, l, dir, m, members, []receipt.Row{rec("R1-"+m, m, "P1", plan[m]), rec("R2-"+m, m, "P2", 400000)})
	}
	return l, dir
}

func readAdjustments(t *testing.T, out string) []output.Adjustment {
	t.Helper()
	adj, err := output.ReadAll[output.Adjustment](filepath.Join(out, output.AdjustmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	return adj
}

// TestCorrectionCascade: a correction in June makes June a counting month for H1, so August
// (M+2) has three counting months before it and 多数回 applies there: the cascade adjusts
// August. The same correction again adjusts nothing.
func TestCorrectionCascade(t *testing.T) {
	l, dir := cascadeLedger(t)
	aug, err := l.Current(month(t, "2025-08"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := states(context.Background(), aug, nil)
	if err != nil {
		t.Fatal(err)
	}
	h1 := HouseholdKey{"06139999", "H1"}
	if before[h1].cash != 212570 { // ウ, cost 1,000,000: 300,000 − 87,430, no 多数回 yet
		t.Fatalf("August before: %+v", before[h1])
	}
	corr := []receipt.Row{{ReceiptID: "R1-2025-06", ServiceMonth: "2025-06", InsurerNo: "06139999", PersonID: "P1",
		InstitutionID: "1311111111", Kind: "medical", Setting: "inpatient", Cost: 600000, Copay: 180000, Paid: 180000}}
	cp := writeCSV(t, filepath.Join(dir, "corr.csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, corr) })
	for try := 1; try <= 2; try++ {
		out := filepath.Join(dir, "rerun", string(rune('0'+try)))
		os.MkdirAll(filepath.Dir(out), 0o755)
		res, err := l.Run(context.Background(), pipeline.Config{Month: month(t, "2025-06"), Receipts: []string{cp}, Out: out})
		if err != nil {
			t.Fatal(err)
		}
		adj := readAdjustments(t, out)
		if try == 2 {
			if len(adj) != 0 {
				t.Fatalf("the repeated correction adjusted again: %+v", adj)
			}
			continue
		}
		if res.Households != 1 {
			t.Errorf("recomputed %d households of June, want only H1", res.Households)
		}
		if r := res.Summary.Manifest.Reconciliation; r.ReceiptsRejected != 0 || r.ReceiptsRead != 1 {
			t.Errorf("the rerun read %d receipts and rejected %d, want the correction alone (it replaces H1's receipt), none rejected", r.ReceiptsRead, r.ReceiptsRejected)
		}
		// June: 180,000 − (80,100 + 3,330) = 96,570, where there was nothing.
		// August: 多数回 44,400 instead of 87,430: 255,600, 43,030 more.
		want := []output.Adjustment{
			{InsurerNo: "06139999", HouseholdID: "H1", ServiceMonth: "2025-06", PreviousCash: 0, NewCash: 96570, Delta: 96570, Cause: output.CauseCorrectedReceipts},
			{InsurerNo: "06139999", HouseholdID: "H1", ServiceMonth: "2025-08", PreviousCash: 212570, NewCash: 255600, Delta: 43030, Cause: output.CauseTasukaiCascade},
		}
		if len(adj) != len(want) {
			t.Fatalf("adjustments %+v, want %+v", adj, want)
		}
		for i := range want {
			if adj[i] != want[i] {
				t.Errorf("adjustment %d: %+v, want %+v", i, adj[i], want[i])
			}
		}
	}
	// The ledger now reads the new months, the bystander untouched.
	aug, _ = l.Current(month(t, "2025-08"))
	after, err := states(context.Background(), aug, nil)
	if err != nil {
		t.Fatal(err)
	}
	h2 := HouseholdKey{"06139999", "H2"}
	if after[h1].cash != 255600 || after[h2] != before[h2] || len(after) != 2 {
		t.Errorf("August after: %+v", after)
	}
}

// TestCancelAndAdd: a cancel removes a receipt, a new id adds one.
func TestCancelAndAdd(t *testing.T) {
	l, dir := cascadeLedger(t)
	corr := []receipt.Row{
		{ReceiptID: "R2-2025-07", ServiceMonth: "2025-07", InsurerNo: "06139999", PersonID: "P2", InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 400000, Copay: 120000, Paid: 120000, Cancel: true},
		{ReceiptID: "R3-2025-07", ServiceMonth: "2025-07", InsurerNo: "06139999", PersonID: "P1", InstitutionID: "1312222222",
			Kind: "medical", Setting: "inpatient", Cost: 100000, Copay: 30000, Paid: 30000},
	}
	cp := writeCSV(t, filepath.Join(dir, "corr.csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, corr) })
	out := filepath.Join(dir, "rerun")
	res, err := l.Run(context.Background(), pipeline.Config{Month: month(t, "2025-07"), Receipts: []string{cp}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Summary.Manifest.Reconciliation
	if r.ReceiptsCancelled != 1 || !r.Balanced {
		t.Errorf("reconciliation %+v", r)
	}
	// The manifest names the rows the rerun took from the ledger by month, version and kind,
	// each once, beside the corrections' file.
	paths := map[string]int64{}
	for _, in := range res.Summary.Manifest.Inputs {
		if _, twice := paths[in.Path]; twice {
			t.Errorf("input %q listed twice", in.Path)
		}
		paths[in.Path] = in.Rows
	}
	kinds := map[string]int64{} // the parts of each kind added up
	for path, rows := range paths {
		kind, _, _ := strings.Cut(path, " (part ")
		kinds[kind] += rows
	}
	// The corrections' households H1 and H2 hold a member row each and a receipt each, of
	// which H2's (R2) is the correction's to cancel: the rerun reads R1 alone from the ledger.
	for want, rows := range map[string]int64{cp: 2, "ledger month 2025-07 version 1, receipts": 1, "ledger month 2025-07 version 1, members": 2} {
		if kinds[want] != rows {
			t.Errorf("manifest inputs %v: want %q with %d rows", paths, want, rows)
		}
	}
	jul, _ := l.Current(month(t, "2025-07"))
	var ids []string
	if err := jul.Receipts(func(r *output.ReceiptBenefit) error { ids = append(ids, r.ReceiptID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || !contains(ids, "R1-2025-07") || !contains(ids, "R3-2025-07") {
		t.Errorf("July's receipts after the correction: %v", ids)
	}
	// H2 lost its only receipt in July: 120,000 − 多数回 44,400 (April to June counted) = 75,600
	// is taken back.
	adj := readAdjustments(t, out)
	found := false
	for _, a := range adj {
		if a.HouseholdID == "H2" && a.ServiceMonth == "2025-07" && a.NewCash == 0 && a.PreviousCash == 75600 && a.Delta == -75600 {
			found = true
		}
	}
	if !found {
		t.Errorf("no adjustment taking H2's July benefit back: %+v", adj)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestCascadeWholeReads runs the cascade tests with every keyed read done by reading the
// whole file, the way taken beyond seekLimit households (the tests' few households otherwise
// take the way of seeking to their pages).
func TestCascadeWholeReads(t *testing.T) {
	defer func(n int) { seekLimit = n }(seekLimit)
	seekLimit = 0
	TestCorrectionCascade(t)
	TestCancelAndAdd(t)
	TestHistoryBeforeLedgerKept(t)
}

// TestCorrectLaterMonthCountsEarlierOne: one `batch correct` makes June a counting month for
// H1 and corrects H1's August receipt. August is rerun after June is committed, and a rerun
// takes a household's count of counting months from its own month, which the cascade has not
// brought up to date yet: H1's count there must be looked up instead. August is then computed
// once, with 多数回, and adjusted for the correction alone, not once without it and again by
// the cascade.
func TestCorrectLaterMonthCountsEarlierOne(t *testing.T) {
	l, dir := cascadeLedger(t)
	rec := func(m string, cost int64) receipt.Row {
		return receipt.Row{ReceiptID: "R1-" + m, ServiceMonth: m, InsurerNo: "06139999", PersonID: "P1",
			InstitutionID: "1311111111", Kind: "medical", Setting: "inpatient", Cost: cost, Copay: cost * 3 / 10, Paid: cost * 3 / 10}
	}
	c, out := runCorrect(t, l, dir, "two-months", []receipt.Row{rec("2025-06", 600000), rec("2025-08", 1100000)})
	// June: 180,000 − (80,100 + 3,330) = 96,570, where there was nothing. August, cost
	// 1,100,000: 330,000 − 44,400 (多数回: April, May and June count) = 285,600, from 212,570.
	want := []output.Adjustment{
		{InsurerNo: "06139999", HouseholdID: "H1", ServiceMonth: "2025-06", PreviousCash: 0, NewCash: 96570, Delta: 96570, Cause: output.CauseCorrectedReceipts},
		{InsurerNo: "06139999", HouseholdID: "H1", ServiceMonth: "2025-08", PreviousCash: 212570, NewCash: 285600, Delta: 73030, Cause: output.CauseCorrectedReceipts},
	}
	adj := readAdjustments(t, out)
	if len(adj) != len(want) {
		t.Fatalf("adjustments %+v, want %+v", adj, want)
	}
	for i := range want {
		if adj[i] != want[i] {
			t.Errorf("adjustment %d: %+v, want %+v", i, adj[i], want[i])
		}
	}
	if slices.Contains(c.Cascaded, month(t, "2025-08")) { // July's count changes, its cash not
		t.Errorf("the cascade recomputed August (%v): the correction's rerun left it behind", c.Cascaded)
	}
}
