package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// The insurers of the resolution tests: a 協会けんぽ branch and a 市町村国保.
const (
	kyokai = "01130012"
	kokuho = "138123"
)

// resolvedRun is a run of the resolution tests, with resolved.parquet read back.
type resolvedRun struct {
	runOutputs
	resolved []output.ResolvedReceipt
}

// runResolving runs month 2025-10 over members and receipts (written as format) on both
// ways of the join, checks that they write the same files to the byte (resolved.parquet
// included) and that the run reconciles, and returns the directory way's outputs.
func runResolving(t *testing.T, format string, members []receipt.MemberRow, receipts []receipt.Row) resolvedRun {
	t.Helper()
	m, _ := rules.ParseMonth("2025-10")
	dir := t.TempDir()
	mp, rp, hp := writeInputs(t, dir, format, members, receipts, nil)
	var first resolvedRun
	var want map[string][]byte
	for _, way := range []struct {
		name         string
		byPartitions bool
	}{{"directory", false}, {"person partitions", true}} {
		cfg := Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, History: []string{hp},
			Out: filepath.Join(dir, "out-"+way.name), PersonPartitions: way.byPartitions, AllowEmpty: true}
		got := resolvedRun{runOutputs: runMonth(t, dir, cfg),
			resolved: readBack[output.ResolvedReceipt](t, filepath.Join(cfg.Out, output.ResolvedFile))}
		rec := got.summary.Manifest.Reconciliation
		if rec.ReceiptsRead != rec.ReceiptsAccepted+rec.ReceiptsRejected || rec.ReceiptsRead != int64(len(receipts)) ||
			rec.ReceiptsAccepted != int64(len(got.receipts)) || rec.ReceiptsRejected != int64(len(got.rejects)) {
			t.Errorf("%s: read %d, accepted %d, rejected %d, for %d receipts given: does not reconcile", way.name,
				rec.ReceiptsRead, rec.ReceiptsAccepted, rec.ReceiptsRejected, len(receipts))
		}
		var resolvedCount int64
		for _, n := range got.summary.Manifest.ResolvedByReason {
			resolvedCount += n
		}
		if resolvedCount != int64(len(got.resolved)) {
			t.Errorf("%s: manifest resolved_by_reason %v, resolved.parquet %d rows", way.name, got.summary.Manifest.ResolvedByReason, len(got.resolved))
		}
		files := parquetOutputs(t, cfg.Out)
		data, err := os.ReadFile(filepath.Join(cfg.Out, output.ResolvedFile))
		if err != nil {
			t.Fatal(err)
		}
		files[output.ResolvedFile] = data
		if want == nil {
			want, first = files, got
			continue
		}
		for name, b := range files {
			if !bytes.Equal(b, want[name]) {
				t.Errorf("%s: %s differs from the directory's", way.name, name)
			}
		}
	}
	return first
}

func member(ins, person, household, birth, sex, kana, from, to string) receipt.MemberRow {
	return receipt.MemberRow{InsurerNo: ins, PersonID: person, HouseholdID: household, BirthDate: birth, Sex: sex,
		ValidFrom: from, ValidTo: to, CategoryU70: "U", NameKana: kana}
}

func claim(id, ins, person, inst, setting string, cost, paid int64, birth, sex, kana string) receipt.Row {
	return receipt.Row{ReceiptID: id, ServiceMonth: "2025-10", InsurerNo: ins, PersonID: person, InstitutionID: inst,
		Kind: "medical", Setting: setting, Cost: cost, Copay: paid, Paid: paid, BirthDate: birth, Sex: sex, NameKana: kana}
}

func rejectOf(got resolvedRun, id string) *receipt.Reject {
	for i := range got.rejects {
		if got.rejects[i].ReceiptID == id {
			return &got.rejects[i]
		}
	}
	return nil
}

func receiptOf(got resolvedRun, id string) *output.ReceiptBenefit {
	for i := range got.receipts {
		if got.receipts[i].ReceiptID == id {
			return &got.receipts[i]
		}
	}
	return nil
}

// TestIssue19_MovedPersonPaidInNewHousehold: a person who left 協会けんぽ at the end of
// September and joined a 国保 household in October is claimed, for October, under the old
// card (NOT_ELIGIBLE there). The receipt is resolved to the 国保 person and paid within the
// new household, together with the household's own receipts: the person's receipt claimed
// right at the same clinic (12,000 yen each: only their sum, 24,000, passes the 21,000 yen
// threshold) and the spouse's inpatient stay. By hand, under ウ: Σ paid 114,000; the limit
// 80,100 + (380,000 − 267,000) × 1% = 81,230; benefit 32,770 (without the resolution the
// person's unit is 12,000, left out: 90,000 − 80,430 = 9,570). The same household claimed
// right gives the same row.
func TestIssue19_MovedPersonPaidInNewHousehold(t *testing.T) {
	members := []receipt.MemberRow{
		member(kyokai, "K1", "KH1", "1980-04-01", "1", "ヤマダ タロウ", "2015-04", "2025-09"),
		member(kokuho, "N1", "NH1", "1980-04-01", "1", "ヤマダ タロウ", "2025-10", ""),
		member(kokuho, "N2", "NH1", "1982-06-15", "2", "ヤマダ ハナコ", "2020-01", ""),
	}
	const clinic, hospital = "1311111111", "1322222222"
	receipts := []receipt.Row{
		claim("R1", kyokai, "K1", clinic, "outpatient", 40000, 12000, "1980-04-01", "1", "ヤマダ タロウ"),
		claim("R2", kokuho, "N1", clinic, "outpatient", 40000, 12000, "1980-04-01", "1", "ヤマダ タロウ"),
		claim("R3", kokuho, "N2", hospital, "inpatient", 300000, 90000, "1982-06-15", "2", "ヤマダ ハナコ"),
	}
	got := runResolving(t, "csv", members, receipts)
	if len(got.rejects) != 0 {
		t.Fatalf("rejects %+v, want none", got.rejects)
	}
	if len(got.resolved) != 1 {
		t.Fatalf("resolved %+v, want R1 alone", got.resolved)
	}
	want := output.ResolvedReceipt{ReceiptID: "R1", ServiceMonth: "2025-10", ClaimedInsurerNo: kyokai, ClaimedPersonID: "K1",
		InsurerNo: kokuho, PersonID: "N1", HouseholdID: "NH1", Reason: "not_eligible", Method: "kana_birth_sex",
		NameKana: "ヤマダ タロウ", BirthDate: "1980-04-01", Sex: "1"}
	if got.resolved[0] != want {
		t.Errorf("resolved %+v, want %+v", got.resolved[0], want)
	}
	if r := receiptOf(got, "R1"); r == nil || r.InsurerNo != kokuho || r.PersonID != "N1" || r.HouseholdID != "NH1" || !r.Included {
		t.Errorf("R1 in receipt_benefit: %+v, want under %s N1 NH1, included", r, kokuho)
	}
	if len(got.households) != 1 || got.households[0].HouseholdID != "NH1" || got.households[0].BenefitCash != 32770 ||
		got.households[0].PaidTotal != 114000 || got.households[0].Receipts != 3 {
		t.Fatalf("households %+v, want NH1 with 3 receipts, paid 114,000, benefit_cash 32,770", got.households)
	}
	if n := got.summary.Manifest.ResolvedByReason["not_eligible"]; n != 1 {
		t.Errorf("resolved_by_reason %v, want not_eligible 1", got.summary.Manifest.ResolvedByReason)
	}

	right := append([]receipt.Row(nil), receipts...)
	right[0].InsurerNo, right[0].PersonID = kokuho, "N1"
	claimedRight := runResolving(t, "csv", members, right)
	if len(claimedRight.resolved) != 0 || len(claimedRight.households) != 1 || claimedRight.households[0] != got.households[0] {
		t.Errorf("claimed right: households %+v, resolved %+v; want the same household row, nothing resolved",
			claimedRight.households, claimedRight.resolved)
	}
}

// TestIssue19_AllSevensFoundByKana: a 不詳 receipt (insurer and person all 7s) is found by
// kana name, birth date and sex among every insurer's persons in force, and paid under the
// one found; a person of the same name and birth date whose eligibility ended is no match.
func TestIssue19_AllSevensFoundByKana(t *testing.T) {
	members := []receipt.MemberRow{
		member(kyokai, "K7", "KH7", "1975-11-30", "2", "スズキ ハナコ", "2010-01", ""),
		member(kokuho, "N7", "NH7", "1975-11-30", "2", "スズキ ハナコ", "2001-01", "2009-12"), // not in force
		member(kokuho, "N8", "NH8", "1975-11-30", "1", "スズキ ハナコ", "2001-01", ""),        // another sex
	}
	receipts := []receipt.Row{
		claim("R1", "77777777", "7777777", "1311111111", "inpatient", 1000000, 300000, "1975-11-30", "2", "すずき　はなこ"),
	}
	got := runResolving(t, "parquet", members, receipts)
	if len(got.resolved) != 1 || got.resolved[0].Reason != "insurer_unknown" || got.resolved[0].InsurerNo != kyokai ||
		got.resolved[0].PersonID != "K7" || got.resolved[0].ClaimedInsurerNo != "77777777" {
		t.Fatalf("resolved %+v, want R1 from 77777777 to %s K7, insurer_unknown", got.resolved, kyokai)
	}
	if r := receiptOf(got, "R1"); r == nil || r.InsurerNo != kyokai || r.HouseholdID != "KH7" || r.BenefitCash == 0 {
		t.Errorf("R1 in receipt_benefit: %+v, want paid a benefit under %s KH7", r, kyokai)
	}
	if n := got.summary.Manifest.ResolvedByReason["insurer_unknown"]; n != 1 {
		t.Errorf("resolved_by_reason %v, want insurer_unknown 1", got.summary.Manifest.ResolvedByReason)
	}
}

// TestIssue19_NamesakesAmbiguous: two persons in force under two insurers share a kana name,
// a birth date and a sex; a receipt that could be either is refused AMBIGUOUS_PERSON with
// the count, and nobody is paid for it.
func TestIssue19_NamesakesAmbiguous(t *testing.T) {
	members := []receipt.MemberRow{
		member(kyokai, "K1", "KH1", "1990-01-01", "1", "サトウ ケンジ", "2020-01", ""),
		member(kokuho, "N1", "NH1", "1990-01-01", "1", "ｻﾄｳ ｹﾝｼﾞ", "2020-01", ""),
		member(kokuho, "N2", "NH2", "1991-01-01", "1", "サトウ ケンジ", "2020-01", ""),
	}
	receipts := []receipt.Row{
		claim("R1", "77777777", "7777777", "1311111111", "inpatient", 1000000, 300000, "1990-01-01", "1", "サトウ ケンジ"),
		claim("R2", kokuho, "N2", "1311111111", "outpatient", 10000, 3000, "1991-01-01", "1", "サトウ ケンジ"),
	}
	got := runResolving(t, "csv", members, receipts)
	rj := rejectOf(got, "R1")
	if rj == nil || rj.Reason != receipt.AmbiguousPerson || !strings.Contains(rj.Detail, "2 persons") {
		t.Fatalf("R1 reject %+v, want AMBIGUOUS_PERSON naming 2 persons", rj)
	}
	if len(got.resolved) != 0 || len(got.receipts) != 1 {
		t.Errorf("resolved %+v, accepted %d; want nothing resolved, R2 alone accepted", got.resolved, len(got.receipts))
	}
}

// TestIssue19_HalfWidthMatchesFullWidth: the receipt writes the name in half-width kana
// (with 濁点 as a separate character), the master in full-width: they match. The person is
// unknown to the insurer the receipt names (UNKNOWN_PERSON) and found under another.
func TestIssue19_HalfWidthMatchesFullWidth(t *testing.T) {
	members := []receipt.MemberRow{
		member(kyokai, "K1", "KH1", "1966-02-03", "2", "ヤマダ　タマヨ", "2020-01", ""),
		member(kokuho, "N1", "NH1", "1950-05-05", "1", "タナカ イチロウ", "2020-01", ""),
	}
	receipts := []receipt.Row{
		claim("R1", kokuho, "N9", "1311111111", "inpatient", 1000000, 300000, "1966-02-03", "2", "ﾔﾏﾀﾞ ﾀﾏﾖ"),
	}
	for _, format := range []string{"csv", "parquet"} {
		got := runResolving(t, format, members, receipts)
		if len(got.resolved) != 1 || got.resolved[0].PersonID != "K1" || got.resolved[0].Reason != "person_unknown" {
			t.Errorf("%s: resolved %+v, want R1 to K1, person_unknown", format, got.resolved)
		}
	}
}

// TestIssue19_NoMatchKeepsReason: a receipt whose name, birth date and sex match no person
// in force keeps the join's reason, the detail counting 0 candidates; a receipt without a
// kana name is refused as before, its detail unchanged; a receipt refused for another
// reason (a birth date that differs from the master's) is never looked up.
func TestIssue19_NoMatchKeepsReason(t *testing.T) {
	members := []receipt.MemberRow{
		member(kyokai, "K1", "KH1", "1966-02-03", "2", "ヤマダ タマヨ", "2020-01", ""),
		member(kokuho, "N1", "NH1", "1966-02-03", "2", "ヤマダ タマコ", "2020-01", ""),
	}
	receipts := []receipt.Row{
		claim("R1", kokuho, "N9", "1311111111", "inpatient", 100000, 30000, "1966-02-03", "2", "タナカ タマヨ"),
		claim("R2", kokuho, "N9", "1322222222", "inpatient", 100000, 30000, "1966-02-03", "2", ""),
		claim("R3", kokuho, "N1", "1333333333", "inpatient", 100000, 30000, "1966-02-04", "2", "ヤマダ タマヨ"),
		claim("R4", "77777777", "7777777", "1344444444", "inpatient", 100000, 30000, "1966-02-03", "1", "ヤマダ タマヨ"),
	}
	got := runResolving(t, "csv", members, receipts)
	for _, c := range []struct{ id, reason, detail string }{
		{"R1", receipt.UnknownPerson, `person "N9" has no row in the members master of insurer 138123; no person in force in 2025-10 has its name_kana, birth date and sex (0 candidates)`},
		{"R2", receipt.UnknownPerson, `person "N9" has no row in the members master of insurer 138123`},
		{"R3", receipt.BirthdateMismatch, "receipt birth_date 1966-02-04, members master 1966-02-03"},
		{"R4", receipt.UnknownInsurer, `insurer "77777777" is not in the members master; no person in force in 2025-10 has its name_kana, birth date and sex (0 candidates)`},
	} {
		rj := rejectOf(got, c.id)
		if rj == nil || rj.Reason != c.reason || rj.Detail != c.detail {
			t.Errorf("%s: reject %+v, want %s %q", c.id, rj, c.reason, c.detail)
		}
	}
	if len(got.resolved) != 0 || len(got.summary.Manifest.ResolvedByReason) != 0 {
		t.Errorf("resolved %+v, %v; want none", got.resolved, got.summary.Manifest.ResolvedByReason)
	}
}
