package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The limits of the MHLW 計算事例 (reference GT-2) and the halved 75th-birthday-month limits.
func TestLimits(t *testing.T) {
	tab, err := Default().For(MonthOf(2025, 6))
	must(t, err)
	cases := []struct {
		name string
		f    Formula
		cost int64
		want int64
	}{
		{"ア 945,760 rounds 253,637.6 up", tab.U70[U70A].Monthly, 945760, 253638},
		{"イ 726,410 rounds 169,084.1 down", tab.U70[U70I].Monthly, 726410, 169084},
		{"ウ 364,520", tab.U70[U70U].Monthly, 364520, 81075},
		{"ウ 1,000,000", tab.U70[U70U].Monthly, 1000000, 87430},
		{"ウ below the threshold", tab.U70[U70U].Monthly, 100000, 80100},
		{"エ flat", tab.U70[U70E].Monthly, 216350, 57600},
		{"オ flat", tab.U70[U70O].Monthly, 187950, 35400},
		{"現役Ⅲ 992,600", tab.O70[O70Gen3].Household, 992600, 254106},
		{"現役Ⅱ 616,000", tab.O70[O70Gen2].Household, 616000, 167980},
		{"現役Ⅰ 276,000", tab.O70[O70Gen1].Household, 276000, 80190},
		{"half 現役Ⅱ 336,000", tab.O70[O70Gen2].Household.Half(), 336000, 84270},
		{"half 現役Ⅲ at threshold", tab.O70[O70Gen3].Household.Half(), 421000, 126300},
		{"half 現役Ⅰ", tab.O70[O70Gen1].Household.Half(), 133500, 40050},
		{"half 一般 household", tab.O70[O70Ippan].Household.Half(), 0, 28800},
		{"half 一般 outpatient", tab.O70[O70Ippan].Outpatient.Half(), 0, 9000},
		{"half 低所得Ⅱ", tab.O70[O70Tei2].Household.Half(), 0, 12300},
		{"half 低所得Ⅰ", tab.O70[O70Tei1].Household.Half(), 0, 7500},
		{"half 低所得 outpatient", tab.O70[O70Tei1].Outpatient.Half(), 0, 4000},
	}
	for _, c := range cases {
		if got := c.f.Limit(c.cost); got != c.want {
			t.Errorf("%s: limit(%d) = %d, want %d", c.name, c.cost, got, c.want)
		}
	}
	multi := map[ClassU70]int64{U70A: 140100, U70I: 93000, U70U: 44400, U70E: 44400, U70O: 24600}
	for c, want := range multi {
		if tab.U70[c].Tasukai != want {
			t.Errorf("多数回 %s = %d, want %d", c, tab.U70[c].Tasukai, want)
		}
	}
	if tab.O70[O70Tei1].Tasukai != 0 || tab.O70[O70Tei2].Tasukai != 0 || tab.O70[O70Ippan].Tasukai != 44400 {
		t.Errorf("70+ 多数回 amounts wrong: %+v", tab.O70)
	}
}

func TestRelief(t *testing.T) {
	s := Default()
	in, err := s.For(MonthOf(2024, 5))
	must(t, err)
	after, err := s.For(MonthOf(2025, 10))
	must(t, err)
	relief := in.O70[O70Ippan2].Outpatient
	for cost, want := range map[int64]int64{10000: 6000, 30000: 6000, 60000: 9000, 150000: 18000, 200000: 18000, 30005: 6001, 30004: 6000} {
		if got := relief.Limit(cost); got != want {
			t.Errorf("relief(%d) = %d, want %d", cost, got, want)
		}
	}
	if got := after.O70[O70Ippan2].Outpatient.Limit(60000); got != 18000 {
		t.Errorf("after the relief, IPPAN2 outpatient limit = %d, want 18000", got)
	}
	early, err := s.For(MonthOf(2021, 1))
	must(t, err)
	if early.O70[O70Ippan2].Present {
		t.Error("IPPAN2 must not exist before 2022-10")
	}
}

func TestTableSet(t *testing.T) {
	s := Default()
	ts := s.Tables()
	if len(ts) != 3 || ts[0].From != MonthOf(2018, 8) || ts[2].To != MonthOf(2026, 7) {
		t.Fatalf("embedded tables cover the wrong months: %v", ts)
	}
	for _, tab := range ts {
		if !tab.Enacted() || tab.Source == "" || tab.AnnualOutpatientCap != 144000 || tab.UnitThreshold != 21000 {
			t.Errorf("table %s: %+v", tab.Version, tab)
		}
	}
	// An operator's provisional table for 2026-08 onward.
	data, err := os.ReadFile("tables/2025-10.json")
	must(t, err)
	doc := strings.Replace(string(data), `"status": "enacted"`, `"status": "provisional"`, 1)
	doc = strings.Replace(doc, `"valid_from": "2025-10"`, `"valid_from": "2026-08"`, 1)
	doc = strings.Replace(doc, `"valid_to": "2026-07"`, `"valid_to": "2027-07"`, 1)
	doc = strings.Replace(doc, `"version": "2025-10"`, `"version": "2026-08"`, 1)
	doc = strings.Replace(doc, `"base": 80100`, `"base": 85800`, 1)
	path := filepath.Join(t.TempDir(), "2026-08.json")
	must(t, os.WriteFile(path, []byte(doc), 0o644))
	s2, err := s.LoadFile(path)
	must(t, err)
	tab, err := s2.For(MonthOf(2026, 9))
	must(t, err)
	if tab.Enacted() || tab.Label() != "2026-08+provisional" || tab.U70[U70U].Monthly.Base != 85800 {
		t.Fatalf("loaded table: %+v", tab)
	}
	if old, _ := s2.For(MonthOf(2026, 7)); old.Version != "2025-10" {
		t.Fatalf("2026-07 governed by %s, want 2025-10", old.Version)
	}
	// An operator's table in the middle cuts the embedded one.
	mid := strings.Replace(doc, `"valid_from": "2026-08"`, `"valid_from": "2020-01"`, 1)
	mid = strings.Replace(mid, `"valid_to": "2027-07"`, `"valid_to": "2020-03"`, 1)
	tm, err := ParseTable([]byte(mid))
	must(t, err)
	s3 := s.Override(tm)
	for m, want := range map[Month]string{MonthOf(2019, 12): "2018-08", MonthOf(2020, 2): "2026-08", MonthOf(2020, 4): "2018-08"} {
		if got, _ := s3.For(m); got.Version != want {
			t.Errorf("%s governed by %s, want %s", m, got.Version, want)
		}
	}
}

func TestBadTables(t *testing.T) {
	good, err := os.ReadFile("tables/2025-10.json")
	must(t, err)
	cases := map[string][2]string{
		"status":     {`"status": "enacted"`, `"status": "maybe"`},
		"no source":  {`"source": "`, `"source": "", "x": "`},
		"rate >= 1":  {`"rate": "0.01"`, `"rate": "1.5"`},
		"bad month":  {`"valid_from": "2025-10"`, `"valid_from": "2025-13"`},
		"bad class":  {`"GEN3"`, `"GEN4"`},
		"unknown":    {`"unit_threshold"`, `"unit_treshold"`},
		"TEI tasuka": {`"TEI1": {`, `"TEI1": {"tasukai": 10000, `},
	}
	for name, r := range cases {
		doc := strings.Replace(string(good), r[0], r[1], 1)
		if doc == string(good) {
			t.Fatalf("%s: edit did not apply", name)
		}
		if _, err := ParseTable([]byte(doc)); err == nil {
			t.Errorf("%s: accepted a broken table", name)
		}
	}
}

func TestAges(t *testing.T) {
	cases := []struct {
		birth   Date
		month   Month
		elderly bool
		half    bool
	}{
		{Date{1955, 10, 1}, MonthOf(2025, 10), true, false},
		{Date{1955, 10, 2}, MonthOf(2025, 10), false, false},
		{Date{1955, 10, 2}, MonthOf(2025, 11), true, false},
		{Date{1955, 9, 30}, MonthOf(2025, 10), true, false},
		{Date{1950, 10, 15}, MonthOf(2025, 10), true, true},
		{Date{1950, 10, 1}, MonthOf(2025, 10), true, false},
		{Date{1950, 10, 15}, MonthOf(2025, 11), true, false},
		{Date{1956, 2, 29}, MonthOf(2026, 2), false, false},
		{Date{1956, 2, 29}, MonthOf(2026, 3), true, false},
	}
	for _, c := range cases {
		if got := IsElderly(c.birth, c.month); got != c.elderly {
			t.Errorf("IsElderly(%s, %s) = %v", c.birth, c.month, got)
		}
		if got := Is75thBirthdayMonth(c.birth, c.month); got != c.half {
			t.Errorf("Is75thBirthdayMonth(%s, %s) = %v", c.birth, c.month, got)
		}
	}
	for _, c := range []struct {
		birth                Date
		flagged, moves, want bool
	}{
		{Date{1950, 10, 15}, false, true, true},
		{Date{1950, 10, 15}, false, false, false}, // eligibility unbroken through the month
		{Date{1950, 10, 1}, false, true, false},   // born on the 1st: 後期 from the 1st
		{Date{1980, 3, 3}, true, false, true},     // a dependant, as the members master says
	} {
		if got := HalfLimitsApply(c.birth, MonthOf(2025, 10), c.flagged, c.moves); got != c.want {
			t.Errorf("HalfLimitsApply(%s, flagged %v, moves %v) = %v", c.birth, c.flagged, c.moves, got)
		}
	}
	for _, s := range []string{"2025-02-29", "2025-13-01", "25-01-01", "2025-1-01"} {
		if _, err := ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) accepted", s)
		}
	}
}

// Cases worked by hand for rules the golden set does not reach.
func TestHandCases(t *testing.T) {
	calc := NewCalculator(Default())
	oct := MonthOf(2025, 10)
	cases := []struct {
		name                 string
		h                    Household
		cash, tok, a, b, c   int64
		counts, incl0, incl1 bool
	}{
		{
			name: "長２ under 70 ア: 120,000 paid without the counter limit → 100,000 back, outside aggregation",
			h: Household{Month: oct, ClassU70: U70A, Members: []Member{{BirthDate: Date{1970, 5, 5}}},
				Receipts: []Receipt{{ID: "R1", Institution: "1311111111", Cost: 400000, Copay: 120000, Paid: 120000, Tokutei: Chou2},
					{ID: "R2", Institution: "1312222222", Cost: 100000, Copay: 30000, Paid: 30000}}},
			cash: 100000, tok: 100000, counts: true, incl0: false, incl1: true,
		},
		{
			name: "長 70+ 一般: 40,000 paid → 30,000 back; the 10,000 left joins the outpatient step",
			h: Household{Month: oct, Class70: O70Ippan, Members: []Member{{BirthDate: Date{1952, 5, 5}}},
				Receipts: []Receipt{{ID: "R1", Institution: "1311111111", Cost: 200000, Copay: 40000, Paid: 40000, Tokutei: Chou},
					{ID: "R2", Institution: "1312222222", Cost: 50000, Copay: 10000, Paid: 10000}}},
			cash: 32000, tok: 30000, a: 2000, counts: true, incl0: true, incl1: true,
		},
		{
			name: "halved under-70 dependant: 10,500 threshold; own step 71,000 − (40,050 + (236,670 − 133,500)×1% = 41,082)",
			h: Household{Month: oct, ClassU70: U70U, Members: []Member{{BirthDate: Date{1980, 3, 3}, HalfLimits: true}},
				Receipts: []Receipt{{ID: "R1", Institution: "1311111111", Setting: Inpatient, Cost: 200000, Copay: 60000, Paid: 60000},
					{ID: "R2", Institution: "1312222222", Cost: 36670, Copay: 11000, Paid: 11000}}},
			cash: 29918, c: 29918, counts: true, incl0: true, incl1: true,
		},
		{
			name: "75th birthday month, halved: 28,800",
			h: Household{Month: oct, Class70: O70Ippan, Members: []Member{{BirthDate: Date{1950, 10, 15}, HalfLimits: true}},
				Receipts: []Receipt{{ID: "R1", Institution: "1311111111", Setting: Inpatient, Cost: 200000, Copay: 40000, Paid: 40000}}},
			cash: 11200, b: 11200, counts: true, incl0: true,
		},
		{
			name: "not halved: the whole household limit",
			h: Household{Month: oct, Class70: O70Ippan, Members: []Member{{BirthDate: Date{1950, 10, 1}}},
				Receipts: []Receipt{{ID: "R1", Institution: "1311111111", Setting: Inpatient, Cost: 200000, Copay: 40000, Paid: 40000}}},
			incl0: true,
		},
		{
			name: "pharmacy with a dental prescriber joins the dental unit",
			h: Household{Month: oct, ClassU70: U70U, Members: []Member{{BirthDate: Date{1980, 3, 3}}},
				Receipts: []Receipt{{ID: "R1", Kind: Dental, Institution: "1331111111", Cost: 40000, Copay: 12000, Paid: 12000},
					{ID: "R2", Kind: Pharmacy, Institution: "1341111111", Prescriber: "1331111111", Cost: 40000, Copay: 12000, Paid: 12000}}},
			incl0: true, incl1: true,
		},
		{
			name: "in kind on a 70+ 一般 outpatient receipt does not count for 多数回",
			h: Household{Month: oct, Class70: O70Ippan, Members: []Member{{BirthDate: Date{1952, 5, 5}}},
				Receipts: []Receipt{{ID: "R1", Institution: "1311111111", Cost: 200000, Copay: 40000, Paid: 18000}}},
			incl0: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Result
			must(t, calc.Compute(&c.h, &r))
			if r.Cash != c.cash || r.StageTokutei != c.tok || r.StageA != c.a || r.StageB != c.b || r.StageC != c.c {
				t.Errorf("cash %d tokutei %d a %d b %d c %d, want %d %d %d %d %d", r.Cash, r.StageTokutei, r.StageA, r.StageB, r.StageC, c.cash, c.tok, c.a, c.b, c.c)
			}
			if r.CountsForTasukai != c.counts {
				t.Errorf("counts_for_tasukai = %v", r.CountsForTasukai)
			}
			if r.Receipts[0].Included != c.incl0 || (len(r.Receipts) > 1 && r.Receipts[1].Included != c.incl1) {
				t.Errorf("included = %+v", r.Receipts)
			}
		})
	}
}
