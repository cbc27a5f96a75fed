package pipeline

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// TestIssue17_1_MemberConflict: a person whose eligibility rows in force in the month
// disagree on household, birth date or sex is not resolved by row order: every receipt of
// the person is MEMBER_CONFLICT, its detail naming the two rows, the manifest counts the
// person, and the person's rows feed no household. Rows that agree may overlap (the
// later-starting one's class wins), and rows in force in different months (a move) are
// no conflict. The same on both ways of the join, and on a ledger's rows in force
// (MembersDecided), to the byte.
func TestIssue17_1_MemberConflict(t *testing.T) {
	m, _ := rules.ParseMonth("2025-10")
	const ins = "06139999"
	row := func(person, household, birth, sex, from, to, u70 string) receipt.MemberRow {
		return receipt.MemberRow{InsurerNo: ins, PersonID: person, HouseholdID: household, BirthDate: birth, Sex: sex,
			ValidFrom: from, ValidTo: to, CategoryU70: u70}
	}
	// P2 shares H1 with P1's first row, so that H1 has receipts whatever becomes of P1.
	p1 := row("P1", "H1", "1962-05-05", "2", "2020-01", "", "U")
	p2 := row("P2", "H1", "1964-03-03", "1", "2020-01", "", "U")
	receipts := []receipt.Row{
		{ReceiptID: "R1", ServiceMonth: "2025-10", InsurerNo: ins, PersonID: "P1", InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 1000000, Copay: 300000, Paid: 300000, BirthDate: "1962-05-05", Sex: "2"},
		{ReceiptID: "R2", ServiceMonth: "2025-10", InsurerNo: ins, PersonID: "P1", InstitutionID: "1322222222",
			Kind: "medical", Setting: "outpatient", Cost: 200000, Copay: 60000, Paid: 60000},
		{ReceiptID: "R3", ServiceMonth: "2025-10", InsurerNo: ins, PersonID: "P2", InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 900000, Copay: 270000, Paid: 270000},
	}
	with := func(r receipt.MemberRow, f func(*receipt.MemberRow)) receipt.MemberRow { f(&r); return r }
	cases := []struct {
		name   string
		first  func(*receipt.MemberRow) // changes P1's first row, line 2 of the master
		second receipt.MemberRow        // appended after p1 and p2: line 4
		// conflict names the column the rows disagree on; "" when P1's receipts are accepted,
		// in household and class.
		conflict            string
		household, classU70 string
	}{
		{name: "another household for the same months", second: with(p1, func(r *receipt.MemberRow) { r.HouseholdID, r.ValidFrom = "H2", "2024-04" }),
			conflict: "household_id"},
		{name: "another birth date", second: with(p1, func(r *receipt.MemberRow) { r.BirthDate, r.ValidFrom = "1962-05-06", "2024-04" }),
			conflict: "birth_date"},
		{name: "another sex", second: with(p1, func(r *receipt.MemberRow) { r.Sex = "1" }), conflict: "sex"},
		// The later-starting row's class wins, as before: the earlier row's would make the
		// household CATEGORY_CONFLICT beside P2's class.
		{name: "agree, another class", first: func(r *receipt.MemberRow) { r.CategoryU70 = "I" },
			second: with(p1, func(r *receipt.MemberRow) { r.ValidFrom = "2024-04" }), household: "H1", classU70: "U"},
		{name: "agree, another valid_to", second: with(p1, func(r *receipt.MemberRow) { r.ValidTo = "2026-03" }),
			household: "H1", classU70: "U"},
		{name: "a move between months", first: func(r *receipt.MemberRow) { r.ValidTo = "2025-06" },
			second: row("P1", "H2", "1962-05-05", "2", "2025-07", "", "A"), household: "H2", classU70: "A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			first := p1
			if c.first != nil {
				c.first(&first)
			}
			dir := t.TempDir()
			mp, rp, hp := writeInputs(t, dir, "csv", []receipt.MemberRow{first, p2, c.second}, receipts, nil)
			var want map[string][]byte
			for _, way := range []struct {
				name                         string
				byPartitions, membersDecided bool
			}{{"directory", false, false}, {"person partitions", true, false}, {"directory, decided", false, true}, {"person partitions, decided", true, true}} {
				cfg := Config{Month: m, Members: []string{mp}, Receipts: []string{rp}, History: []string{hp},
					Out: filepath.Join(dir, "out-"+way.name), PersonPartitions: way.byPartitions, MembersDecided: way.membersDecided}
				got := runMonth(t, dir, cfg)
				checkMemberConflict(t, way.name, got, c.conflict, c.household, c.classU70, mp)
				files := parquetOutputs(t, cfg.Out)
				if want == nil {
					want = files
					continue
				}
				for name, b := range files {
					if !bytes.Equal(b, want[name]) {
						t.Errorf("%s: %s differs from the directory's", way.name, name)
					}
				}
			}
		})
	}
}

// checkMemberConflict checks one run of a TestIssue17_1_MemberConflict case: with conflict
// set, P1's receipts R1 and R2 are rejected as MEMBER_CONFLICT naming both rows (lines 2 and
// 4 of members file mp), P1 is in no output and the manifest counts one person; else they
// are accepted in household with class classU70. R3 of P2, in H1, is accepted either way.
func checkMemberConflict(t *testing.T, way string, got runOutputs, conflict, household, classU70, mp string) {
	t.Helper()
	accepted := map[string]string{}
	for _, r := range got.receipts {
		accepted[r.ReceiptID] = r.HouseholdID
	}
	rejected := map[string]string{}
	for _, rj := range got.rejects {
		rejected[rj.ReceiptID] = rj.Reason
		wantDetail := fmt.Sprintf("disagree on %s: ", conflict)
		if !strings.Contains(rj.Detail, wantDetail) || !strings.Contains(rj.Detail, mp+":2") || !strings.Contains(rj.Detail, mp+":4") {
			t.Errorf("%s: detail %q, want it to say %q and name %s:2 and %s:4", way, rj.Detail, wantDetail, mp, mp)
		}
	}
	classes := map[string]string{}
	for _, h := range got.households {
		classes[h.HouseholdID] = h.CategoryU70
	}
	var persons []string
	for _, p := range got.persons {
		persons = append(persons, p.HouseholdID+"/"+p.PersonID)
	}
	sort.Strings(persons)
	sum := got.summary.Manifest
	wantAccepted, wantRejected, wantConflicting := map[string]string{"R3": "H1"}, map[string]string{}, int64(0)
	wantClasses, wantPersons := map[string]string{"H1": "U"}, []string{"H1/P2"}
	if conflict != "" {
		wantRejected = map[string]string{"R1": receipt.MemberConflict, "R2": receipt.MemberConflict}
		wantConflicting = 1
	} else {
		wantAccepted["R1"], wantAccepted["R2"] = household, household
		wantClasses[household] = classU70
		wantPersons = append(wantPersons, household+"/P1")
		sort.Strings(wantPersons)
	}
	if !reflect.DeepEqual(accepted, wantAccepted) || !reflect.DeepEqual(rejected, wantRejected) {
		t.Errorf("%s: accepted %v rejected %v, want accepted %v rejected %v", way, accepted, rejected, wantAccepted, wantRejected)
	}
	if !reflect.DeepEqual(classes, wantClasses) || !reflect.DeepEqual(persons, wantPersons) {
		t.Errorf("%s: households %v persons %v, want %v and %v", way, classes, persons, wantClasses, wantPersons)
	}
	if sum.MembersConflicting != wantConflicting || !sum.Reconciliation.Balanced ||
		sum.Reconciliation.ReceiptsRejected != int64(len(wantRejected)) || sum.RejectsByReason[receipt.MemberConflict] != int64(len(wantRejected)) {
		t.Errorf("%s: manifest members_conflicting %d, %+v, by reason %v", way, sum.MembersConflicting, sum.Reconciliation, sum.RejectsByReason)
	}
}
