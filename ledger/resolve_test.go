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

// TestIssue19_LedgerKeepsResolution: a month on a ledger with a receipt claimed under a
// moved person's old card, resolved into their new 国保 household (paid there with its own
// receipts: 32,770). The ledger keeps it under that household, and resolved.parquet with the
// month. A correction of the receipt, still claimed under the old card, is resolved again
// from the ledger's members in force, into the same household, for the same reason, and the
// change shows in the adjustments (+2,900). A new members master in which a namesake born
// the same day is in force makes the receipt AMBIGUOUS_PERSON: the household falls back to
// its own receipts (9,570), and the adjustments of that --members rerun say so (−26,100).
func TestIssue19_LedgerKeepsResolution(t *testing.T) {
	l, dir := openLedger(t)
	const kyokai, kokuho, clinic, hospital = "01130012", "138123", "1311111111", "1322222222"
	mem := func(ins, person, household, birth, sex, kana, from, to string) receipt.MemberRow {
		return receipt.MemberRow{InsurerNo: ins, PersonID: person, HouseholdID: household, BirthDate: birth, Sex: sex,
			ValidFrom: from, ValidTo: to, CategoryU70: "U", NameKana: kana}
	}
	members := []receipt.MemberRow{
		mem(kyokai, "K1", "KH1", "1980-04-01", "1", "ヤマダ タロウ", "2015-04", "2025-09"),
		mem(kokuho, "N1", "NH1", "1980-04-01", "1", "ヤマダ タロウ", "2025-10", ""),
		mem(kokuho, "N2", "NH1", "1982-06-15", "2", "ヤマダ ハナコ", "2020-01", ""),
	}
	rec := func(id, ins, person, inst, setting string, cost, paid int64, birth, sex, kana string) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: "2025-10", InsurerNo: ins, PersonID: person, InstitutionID: inst,
			Kind: "medical", Setting: setting, Cost: cost, Copay: paid, Paid: paid, BirthDate: birth, Sex: sex, NameKana: kana}
	}
	run := func(name string, rows []receipt.Row, members []receipt.MemberRow) (*Result, []output.ResolvedReceipt) {
		t.Helper()
		cfg := pipeline.Config{Month: month(t, "2025-10"), Out: filepath.Join(dir, name)}
		if rows != nil {
			cfg.Receipts = []string{writeCSV(t, filepath.Join(dir, name+"-receipts.csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, rows) })}
		}
		if members != nil {
			cfg.Members = []string{writeCSV(t, filepath.Join(dir, name+"-members.csv"), func(f *os.File) error { return receipt.WriteMembersCSV(f, members) })}
		}
		res, err := l.Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rec := res.Summary.Manifest.Reconciliation; !rec.Balanced || rec.ReceiptsRead != rec.ReceiptsAccepted+rec.ReceiptsRejected {
			t.Errorf("%s: %+v", name, rec)
		}
		resolved, err := output.ReadAll[output.ResolvedReceipt](filepath.Join(cfg.Out, output.ResolvedFile))
		if err != nil {
			t.Fatal(err)
		}
		return res, resolved
	}
	cash := func(what string, want int64) {
		t.Helper()
		v, err := l.Current(month(t, "2025-10"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := states(context.Background(), v, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := st[HouseholdKey{kokuho, "NH1"}].cash; got != want {
			t.Errorf("%s: NH1 cash %d in the ledger, want %d", what, got, want)
		}
	}
	claimedOld := rec("R1", kyokai, "K1", clinic, "outpatient", 40000, 12000, "1980-04-01", "1", "ﾔﾏﾀﾞ ﾀﾛｳ")
	_, resolved := run("first", []receipt.Row{claimedOld,
		rec("R2", kokuho, "N1", clinic, "outpatient", 40000, 12000, "1980-04-01", "1", "ヤマダ タロウ"),
		rec("R3", kokuho, "N2", hospital, "inpatient", 300000, 90000, "1982-06-15", "2", "ヤマダ ハナコ"),
	}, members)
	if len(resolved) != 1 || resolved[0].PersonID != "N1" || resolved[0].Reason != "not_eligible" {
		t.Fatalf("first run: resolved %+v, want R1 to N1 (not_eligible)", resolved)
	}
	cash("first run", 32770)

	corrected := claimedOld
	corrected.Cost, corrected.Copay, corrected.Paid = 50000, 15000, 15000
	res, resolved := run("correction", []receipt.Row{corrected}, nil)
	if len(resolved) != 1 || resolved[0].ReceiptID != "R1" || resolved[0].HouseholdID != "NH1" || resolved[0].Reason != "not_eligible" {
		t.Errorf("correction: resolved %+v, want R1 to NH1 again (not_eligible)", resolved)
	}
	if len(res.Adjustments) != 1 || res.Adjustments[0].HouseholdID != "NH1" || res.Adjustments[0].Delta != 2900 {
		t.Errorf("correction: adjustments %+v, want NH1 +2,900", res.Adjustments)
	}
	cash("correction", 35670)

	// Compaction keeps the month's resolutions: a rerun of the compacted month resolves R1
	// again from its claim.
	if _, err := l.Compact(context.Background(), month(t, "2025-10")); err != nil {
		t.Fatal(err)
	}
	v, err := l.Current(month(t, "2025-10"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []output.ResolvedReceipt
	if err := v.Resolved(func(r *output.ResolvedReceipt) error { kept = append(kept, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(v.Layers) != 1 || len(kept) != 1 || kept[0].ReceiptID != "R1" || kept[0].HouseholdID != "NH1" || kept[0].ClaimedInsurerNo != kyokai {
		t.Errorf("compacted into %d layer(s): resolved %+v, want R1 claimed under %s, found in NH1", len(v.Layers), kept, kyokai)
	}

	namesake := append(append([]receipt.MemberRow(nil), members...),
		mem(kyokai, "K2", "KH2", "1980-04-01", "1", "ヤマダ　タロウ", "2010-01", ""))
	res, resolved = run("new-members", nil, namesake)
	if len(resolved) != 0 {
		t.Errorf("--members rerun: resolved %+v, want none (ambiguous)", resolved)
	}
	rejects, err := output.ReadAll[receipt.Reject](filepath.Join(dir, "new-members", output.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rejects) != 1 || rejects[0].ReceiptID != "R1" || rejects[0].Reason != receipt.AmbiguousPerson {
		t.Errorf("--members rerun: rejects %+v, want R1 AMBIGUOUS_PERSON", rejects)
	}
	var delta int64
	for _, a := range res.Adjustments {
		if a.HouseholdID == "NH1" {
			delta += a.Delta
		}
	}
	if delta != 9570-35670 {
		t.Errorf("--members rerun: adjustments %+v, want NH1 %d", res.Adjustments, 9570-35670)
	}
	cash("--members rerun", 9570)
}
