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

// TestIssue17_1_MemberConflictOnLedger: on a ledger, a person whose rows in force disagree on
// their household is MEMBER_CONFLICT in the month's first run and keeps no row in the
// ledger's members; a correction of the household's other person is rerun from the ledger's
// rows in force (MembersDecided) without the person; a correction with a new members master
// that still disagrees is MEMBER_CONFLICT again.
func TestIssue17_1_MemberConflictOnLedger(t *testing.T) {
	l, dir := openLedger(t)
	const ins = "06139999"
	members := []receipt.MemberRow{
		{InsurerNo: ins, PersonID: "P1", HouseholdID: "H1", BirthDate: "1962-05-05", Sex: "2", ValidFrom: "2020-01", CategoryU70: "U"},
		{InsurerNo: ins, PersonID: "P2", HouseholdID: "H1", BirthDate: "1964-03-03", Sex: "1", ValidFrom: "2020-01", CategoryU70: "U"},
		{InsurerNo: ins, PersonID: "P1", HouseholdID: "H2", BirthDate: "1962-05-05", Sex: "2", ValidFrom: "2024-04", CategoryU70: "U"},
	}
	rec := func(id, person string, cost int64) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: "2025-10", InsurerNo: ins, PersonID: person, InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: cost, Copay: cost * 3 / 10, Paid: cost * 3 / 10}
	}
	mp := writeCSV(t, filepath.Join(dir, "members.csv"), func(f *os.File) error { return receipt.WriteMembersCSV(f, members) })
	run := func(name string, rows []receipt.Row, withMembers bool) (*Result, map[string]string) {
		t.Helper()
		rp := writeCSV(t, filepath.Join(dir, name+".csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, rows) })
		cfg := pipeline.Config{Month: month(t, "2025-10"), Receipts: []string{rp}, Out: filepath.Join(dir, name)}
		if withMembers {
			cfg.Members = []string{mp}
		}
		res, err := l.Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rejects, err := output.ReadAll[receipt.Reject](filepath.Join(cfg.Out, output.RejectsFile))
		if err != nil {
			t.Fatal(err)
		}
		reasons := map[string]string{}
		for _, r := range rejects {
			reasons[r.ReceiptID] = r.Reason
		}
		if !res.Summary.Manifest.Reconciliation.Balanced {
			t.Errorf("%s: %+v", name, res.Summary.Manifest.Reconciliation)
		}
		return res, reasons
	}
	accepted := func() map[string]string {
		t.Helper()
		v, err := l.Current(month(t, "2025-10"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		if err := v.Receipts(func(r *output.ReceiptBenefit) error { got[r.ReceiptID] = r.HouseholdID; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}

	res, rejected := run("first", []receipt.Row{rec("R1", "P1", 1000000), rec("R2", "P2", 900000)}, true)
	if res.Summary.Manifest.MembersConflicting != 1 || rejected["R1"] != receipt.MemberConflict || len(rejected) != 1 {
		t.Errorf("first run: members_conflicting %d, rejects %v", res.Summary.Manifest.MembersConflicting, rejected)
	}
	if got := accepted(); len(got) != 1 || got["R2"] != "H1" {
		t.Errorf("first run: the ledger holds %v, want R2 in H1", got)
	}

	// H1 rerun from the ledger's rows in force, which are P2's alone.
	res, rejected = run("rerun", []receipt.Row{rec("R3", "P2", 200000)}, false)
	if res.Summary.Manifest.MembersConflicting != 0 || len(rejected) != 0 {
		t.Errorf("rerun: members_conflicting %d, rejects %v", res.Summary.Manifest.MembersConflicting, rejected)
	}
	if got := accepted(); len(got) != 2 || got["R2"] != "H1" || got["R3"] != "H1" {
		t.Errorf("rerun: the ledger holds %v, want R2 and R3 in H1", got)
	}

	// A correction with the master, which still disagrees.
	res, rejected = run("rerun-members", []receipt.Row{rec("R4", "P1", 300000)}, true)
	if res.Summary.Manifest.MembersConflicting != 1 || rejected["R4"] != receipt.MemberConflict || len(rejected) != 1 {
		t.Errorf("rerun with the master: members_conflicting %d, rejects %v", res.Summary.Manifest.MembersConflicting, rejected)
	}
	if got := accepted(); len(got) != 2 || got["R2"] != "H1" || got["R3"] != "H1" {
		t.Errorf("rerun with the master: the ledger holds %v, want R2 and R3 in H1", got)
	}
}
