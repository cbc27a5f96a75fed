package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/fixtures"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// monthCases are the golden cases of one month: the good rows the reject tests surround bad
// ones with.
func monthCases(t testing.TB, month string) []fixtures.HouseholdCase {
	cases, err := fixtures.Households()
	if err != nil {
		t.Fatal(err)
	}
	var out []fixtures.HouseholdCase
	for _, c := range cases {
		if c.ServiceMonth == month {
			out = append(out, c)
		}
	}
	return out
}

type runOutputs struct {
	households []output.HouseholdMonth
	receipts   []output.ReceiptBenefit
	persons    []output.PersonMonth
	rejects    []receipt.Reject
	summary    *Summary
}

func runMonth(t testing.TB, dir string, cfg Config) runOutputs {
	t.Helper()
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return runOutputs{
		households: readBack[output.HouseholdMonth](t, filepath.Join(cfg.Out, output.HouseholdMonthFile)),
		receipts:   readBack[output.ReceiptBenefit](t, filepath.Join(cfg.Out, output.ReceiptBenefitFile)),
		persons:    readBack[output.PersonMonth](t, filepath.Join(cfg.Out, output.PersonMonthFile)),
		rejects:    readBack[receipt.Reject](t, filepath.Join(cfg.Out, output.RejectsFile)),
		summary:    sum,
	}
}

// TestRejectReasons puts one bad row among the good ones of a month, for every reason that
// applies to normalized input, and checks that the good rows' results are unchanged, the bad
// row is in the rejects with its file and line, and the manifest reconciles.
func TestRejectReasons(t *testing.T) {
	const month = "2025-10"
	m, _ := rules.ParseMonth(month)
	good := monthCases(t, month)
	mem, rec, hist := goldenInputs(good)
	baseDir := t.TempDir()
	mp, rp, hp := writeInputs(t, baseDir, "csv", mem, rec, hist)
	base := runMonth(t, baseDir, Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, History: []string{hp}, Out: filepath.Join(baseDir, "out")})

	ins := good[0].InsurerNo
	member := func(person, household, birth, u70, o70 string) receipt.MemberRow {
		return receipt.MemberRow{InsurerNo: ins, PersonID: person, HouseholdID: household, BirthDate: birth, Sex: "2",
			ValidFrom: "2020-01", CategoryU70: u70, Category70: o70}
	}
	bad := func(id, person string) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: month, InsurerNo: ins, PersonID: person, InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 500000, Copay: 150000, Paid: 150000}
	}
	cases := []rejectCase{
		{reason: receipt.BadRecord, raw: month + "-X,2025-10," + ins + ",Q1,1311111111,medical,inpatient,,12a00,3000,3000,,,", rejects: 1},
		{reason: receipt.DuplicateReceipt, rows: []receipt.Row{rec[0]}, rejects: 1},
		{reason: receipt.UnknownInsurer, rows: []receipt.Row{func() receipt.Row { r := bad("X1", "Q1"); r.InsurerNo = "99999999"; return r }()}, rejects: 1},
		{reason: receipt.UnknownInsurer, rows: []receipt.Row{func() receipt.Row { r := bad("X1", "Q1"); r.InsurerNo = "77777777"; return r }()}, rejects: 1},
		{reason: receipt.UnknownPerson, rows: []receipt.Row{bad("X1", "nobody")}, rejects: 1},
		{reason: receipt.NotEligible, members: []receipt.MemberRow{func() receipt.MemberRow {
			r := member("Q1", "HQ1", "1980-01-01", "U", "")
			r.ValidTo = "2025-09"
			return r
		}()}, rows: []receipt.Row{bad("X1", "Q1")}, rejects: 1},
		{reason: receipt.BirthdateMismatch, members: []receipt.MemberRow{member("Q1", "HQ1", "1980-01-01", "U", "")},
			rows: []receipt.Row{func() receipt.Row { r := bad("X1", "Q1"); r.BirthDate = "1980-01-02"; return r }()}, rejects: 1},
		{reason: receipt.SexMismatch, members: []receipt.MemberRow{member("Q1", "HQ1", "1980-01-01", "U", "")},
			rows: []receipt.Row{func() receipt.Row { r := bad("X1", "Q1"); r.BirthDate, r.Sex = "1980-01-01", "1"; return r }()}, rejects: 1},
		{reason: receipt.MonthMismatch, members: []receipt.MemberRow{member("Q1", "HQ1", "1980-01-01", "U", "")},
			rows: []receipt.Row{func() receipt.Row { r := bad("X1", "Q1"); r.ServiceMonth = "2025-09"; return r }()}, rejects: 1},
		{reason: receipt.AmountInvalid, members: []receipt.MemberRow{member("Q1", "HQ1", "1980-01-01", "U", "")},
			rows: []receipt.Row{func() receipt.Row { r := bad("X1", "Q1"); r.Paid = r.Copay + 10; return r }()}, rejects: 1},
		{reason: receipt.CategoryMissing, members: []receipt.MemberRow{member("Q1", "HQ1", "1950-01-01", "U", "")},
			rows: []receipt.Row{bad("X1", "Q1")}, rejects: 1},
		{reason: receipt.MemberConflict, members: []receipt.MemberRow{member("Q1", "HQ1", "1980-01-01", "U", ""), member("Q1", "HQ2", "1980-01-01", "U", "")},
			rows: []receipt.Row{bad("X1", "Q1")}, rejects: 1},
		{reason: receipt.CategoryConflict, members: []receipt.MemberRow{member("Q1", "HQ1", "1980-01-01", "U", ""), member("Q2", "HQ1", "1982-01-01", "A", "")},
			rows: []receipt.Row{bad("X1", "Q1"), bad("X2", "Q2")}, rejects: 2},
	}
	for _, c := range cases {
		for _, way := range []bool{false, true} {
			name := c.reason + "/directory"
			if way {
				name = c.reason + "/person_partitions"
			}
			t.Run(name, func(t *testing.T) { c.run(t, m, mem, rec, hist, base, way) })
		}
	}
}

// rejectCase is one bad input of TestRejectReasons.
type rejectCase struct {
	reason  string
	members []receipt.MemberRow
	rows    []receipt.Row
	raw     string // a raw CSV line instead of rows
	rejects int
}

// run runs the case, by the directory or by person partitions.
func (c rejectCase) run(t *testing.T, m rules.Month, mem []receipt.MemberRow, rec []receipt.Row, hist []receipt.HistoryRow, base runOutputs, personPartitions bool) {
	dir := t.TempDir()
	rows := append(append([]receipt.Row(nil), rec...), c.rows...)
	mp, rp, hp := writeInputs(t, dir, "csv", append(append([]receipt.MemberRow(nil), mem...), c.members...), rows, hist)
	if c.raw != "" {
		f, err := os.OpenFile(rp, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "%s\n", c.raw)
		f.Close()
	}
	got := runMonth(t, dir, Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, History: []string{hp}, Out: filepath.Join(dir, "out"),
		PersonPartitions: personPartitions})
	if got.summary.MembersInMemory == personPartitions {
		t.Fatalf("members in memory %v with PersonPartitions %v", got.summary.MembersInMemory, personPartitions)
	}
	if !reflect.DeepEqual(got.households, base.households) || !reflect.DeepEqual(got.receipts, base.receipts) || !reflect.DeepEqual(got.persons, base.persons) {
		t.Errorf("the good rows' results changed")
	}
	if len(got.rejects) != c.rejects {
		t.Fatalf("rejects %+v, want %d", got.rejects, c.rejects)
	}
	for k, rj := range got.rejects {
		wantLine := len(rec) + 2 + k // header is line 1, the bad rows come last
		if rj.Reason != c.reason || rj.Source != fmt.Sprintf("%s:%d", rp, wantLine) || rj.Detail == "" {
			t.Errorf("reject %+v, want %s at %s:%d", rj, c.reason, rp, wantLine)
		}
	}
	r := got.summary.Manifest.Reconciliation
	if !r.Balanced || r.ReceiptsRead != r.ReceiptsAccepted+r.ReceiptsRejected || r.PaidRead != r.PaidAccepted+r.PaidRejected ||
		r.ReceiptsRejected != int64(c.rejects) || got.summary.Manifest.RejectsByReason[c.reason] != int64(c.rejects) {
		t.Errorf("manifest %+v by reason %v", r, got.summary.Manifest.RejectsByReason)
	}
	// A conflict names the member row that disagreed, where the master has it (the
	// second of the two rows added last).
	if want := fmt.Sprintf("(%s:%d)", mp, len(mem)+len(c.members)+1); c.reason == receipt.CategoryConflict && !strings.HasSuffix(got.rejects[0].Detail, want) {
		t.Errorf("conflict detail %q, want it to end %s", got.rejects[0].Detail, want)
	}
	// A member conflict names both rows (the two added last).
	if a, b := fmt.Sprintf("%s:%d,", mp, len(mem)+2), fmt.Sprintf("%s:%d", mp, len(mem)+3); c.reason == receipt.MemberConflict &&
		(!strings.Contains(got.rejects[0].Detail, a) || !strings.HasSuffix(got.rejects[0].Detail, b)) {
		t.Errorf("member conflict detail %q, want it to name %s and %s", got.rejects[0].Detail, a, b)
	}
	if got.summary.Manifest.MembersConflicting != map[bool]int64{true: 1}[c.reason == receipt.MemberConflict] {
		t.Errorf("manifest members_conflicting %d", got.summary.Manifest.MembersConflicting)
	}
	if c.reason != receipt.BadRecord && !strings.HasPrefix(got.rejects[0].ReceiptID, "X") && c.reason != receipt.DuplicateReceipt {
		t.Errorf("reject names receipt %q", got.rejects[0].ReceiptID)
	}
}

// TestDuplicatesWhateverTheJoinSaid: of the copies of a receipt (one person, one receipt_id)
// the first read is judged and every later one is DUPLICATE_RECEIPT, whatever the join made
// of the first: a corrected copy of a receipt refused for its birth date is not paid, and
// the copies of a receipt of an unknown person or of a person not insured that month are
// duplicates after the first refusal. The same on both ways of the join.
func TestDuplicatesWhateverTheJoinSaid(t *testing.T) {
	m, _ := rules.ParseMonth("2025-10")
	const ins = "06139999"
	mem := []receipt.MemberRow{
		{InsurerNo: ins, PersonID: "P1", HouseholdID: "H1", BirthDate: "1962-05-05", Sex: "2", ValidFrom: "2020-01", CategoryU70: "U"},
		{InsurerNo: ins, PersonID: "P2", HouseholdID: "H2", BirthDate: "1970-01-01", Sex: "1", ValidFrom: "2020-01", ValidTo: "2025-06", CategoryU70: "U"},
	}
	row := func(id, person, birth string) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: "2025-10", InsurerNo: ins, PersonID: person, InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 1000000, Copay: 300000, Paid: 300000, BirthDate: birth}
	}
	rec := []receipt.Row{
		row("R1", "P1", "1962-05-06"), // line 2: refused, its birth date is wrong
		row("R1", "P1", "1962-05-05"), // line 3: the corrected copy: a duplicate
		row("R9", "NOBODY", ""),       // line 4
		row("R9", "NOBODY", ""),       // line 5
		row("R7", "P2", ""),           // line 6: P2 is not insured in October
		row("R7", "P2", ""),           // line 7
		row("R2", "P1", ""),           // line 8: accepted
		row("R2", "P1", ""),           // line 9
	}
	want := map[int]string{2: receipt.BirthdateMismatch, 3: receipt.DuplicateReceipt, 4: receipt.UnknownPerson, 5: receipt.DuplicateReceipt,
		6: receipt.NotEligible, 7: receipt.DuplicateReceipt, 9: receipt.DuplicateReceipt}
	for _, byPartitions := range []bool{false, true} {
		dir := t.TempDir()
		mp, rp, hp := writeInputs(t, dir, "csv", mem, rec, nil)
		got := runMonth(t, dir, Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, History: []string{hp},
			Out: filepath.Join(dir, "out"), PersonPartitions: byPartitions})
		if len(got.receipts) != 1 || got.receipts[0].ReceiptID != "R2" {
			t.Errorf("by partitions %v: accepted %+v, want R2 alone", byPartitions, got.receipts)
		}
		seen := map[int]string{}
		for _, rj := range got.rejects {
			var line int
			fmt.Sscanf(rj.Source[strings.LastIndex(rj.Source, ":")+1:], "%d", &line)
			seen[line] = rj.Reason
		}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("by partitions %v: rejects by line %v, want %v", byPartitions, seen, want)
		}
		if r := got.summary.Manifest.Reconciliation; !r.Balanced || r.ReceiptsRejected != 7 {
			t.Errorf("by partitions %v: reconciliation %+v", byPartitions, r)
		}
	}
}

// The rejects keep no string of the records they come from: those alias a partition's
// buffer, which a kept reference would hold in memory until the end of the run.
func TestRejectsCopyTheirStrings(t *testing.T) {
	buf := []byte("R1" + "06139999" + "P1" + receipt.BirthdateMismatch + "the detail")
	at := func(from, to int) string { return unsafe.String(&buf[from], to-from) }
	r := &aggregate.Receipt{ID: at(0, 2), InsurerNo: at(2, 10), PersonID: at(10, 12), Paid: 1}
	reason := at(12, 12+len(receipt.BirthdateMismatch))
	detail := at(12+len(receipt.BirthdateMismatch), len(buf))
	s := newRejectSet([]string{"f.csv"})
	s.receipt(r, reason, detail)
	got := s.rows[0]
	inBuf := func(v string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(v)))
		return p >= uintptr(unsafe.Pointer(&buf[0])) && p < uintptr(unsafe.Pointer(&buf[0]))+uintptr(len(buf))
	}
	for _, v := range []string{got.ReceiptID, got.InsurerNo, got.PersonID, got.Reason, got.Detail} {
		if v == "" || inBuf(v) {
			t.Errorf("reject string %q aliases the record's buffer", v)
		}
	}
}
