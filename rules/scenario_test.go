package rules

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/kougaku/batch/fixtures"
)

func pct(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// TestRaisedGolden: G01 (ウ, one inpatient receipt, cost 1,000,000, copay 300,000 paid at the
// counter) under every limit +10%. The benefit depends on the rounding unit of the raised
// amounts, since 80,100 × 1.10 = 88,110 is not a multiple of 100:
//
//	to the yen (or 10 yen):
//	  base      80,100 × 1.10 =  88,110
//	  threshold 267,000 × 1.10 = 293,700
//	  limit     88,110 + (1,000,000 − 293,700) × 1% = 88,110 + 7,063 = 95,173
//	  benefit   300,000 − 95,173 = 204,827
//	to the yen hundred (batch simulate's default):
//	  base      88,110 → 88,100 (half up: 10 < 50)
//	  limit     88,100 + 7,063 = 95,163
//	  benefit   300,000 − 95,163 = 204,837
//	now: 300,000 − (80,100 + 7,330) = 212,570
func TestRaisedGolden(t *testing.T) {
	cases, err := fixtures.Households()
	must(t, err)
	var g *fixtures.HouseholdCase
	for i := range cases {
		if cases[i].ID == "G01" {
			g = &cases[i]
		}
	}
	if g == nil {
		t.Fatal("golden case G01 not found")
	}
	for _, c := range []struct {
		round, base, limit, benefit int64
	}{{1, 88110, 95173, 204827}, {10, 88110, 95173, 204827}, {100, 88100, 95163, 204837}} {
		set := Default().Raised(pct("10"), c.round)
		tab, err := set.For(MonthOf(2025, 10))
		must(t, err)
		f := tab.U70[U70U].Monthly
		if f.Base != c.base || f.Threshold != 293700 || f.RateNum*100 != f.RateDen || f.Limit(1000000) != c.limit {
			t.Fatalf("ウ under +10%% to ¥%d: %+v (limit %d), want %d + (cost − 293,700) × 1%% = %d", c.round, f, f.Limit(1000000), c.base, c.limit)
		}
		var r Result
		must(t, NewCalculator(set).Compute(household(t, g), &r))
		if r.Cash != c.benefit || r.InKind != 0 {
			t.Fatalf("G01 under +10%% to ¥%d: cash %d in kind %d, want %d and 0", c.round, r.Cash, r.InKind, c.benefit)
		}
		if r.Table.Label() != "2025-10+10%+scenario" {
			t.Errorf("label %q", r.Table.Label())
		}
	}
}

// TestRaisedAmounts checks the raise amount by amount, in both tables that differ.
func TestRaisedAmounts(t *testing.T) {
	d := Default()
	cur, err := d.For(MonthOf(2025, 10))
	must(t, err)
	r := cur.Raised(pct("10"), 100)
	checks := []struct {
		name      string
		got, want int64
	}{
		{"ア base 252,600 × 1.1 = 277,860", r.U70[U70A].Monthly.Base, 277900},
		{"ア threshold 842,000 × 1.1", r.U70[U70A].Monthly.Threshold, 926200},
		{"ア 多数回 140,100 × 1.1 = 154,110", r.U70[U70A].Tasukai, 154100},
		{"オ 35,400 × 1.1 = 38,940", r.U70[U70O].Monthly.Base, 38900},
		{"オ 多数回 24,600 × 1.1 = 27,060", r.U70[U70O].Tasukai, 27100},
		{"一般 outpatient 18,000 × 1.1", r.O70[O70Ippan].Outpatient.Base, 19800},
		{"一般 household 57,600 × 1.1 = 63,360", r.O70[O70Ippan].Household.Base, 63400},
		{"低所得Ⅰ household 15,000 × 1.1", r.O70[O70Tei1].Household.Base, 16500},
		{"低所得Ⅱ 多数回 stays none", r.O70[O70Tei2].Tasukai, 0},
		{"annual outpatient cap 144,000 × 1.1", r.AnnualOutpatientCap, 158400},
		{"合算対象基準額 kept", r.UnitThreshold, 21000},
		{"特定疾病 kept", r.Chou + r.Chou2, 30000},
		{"rate kept", r.U70[U70U].Monthly.RateNum * 100 / r.U70[U70U].Monthly.RateDen, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
	if r.Version != "2025-10+10%" || r.Status != StatusScenario || cur.Version != "2025-10" || cur.U70[U70A].Monthly.Base != 252600 {
		t.Errorf("version %q status %q; the original must be untouched: %q %d", r.Version, r.Status, cur.Version, cur.U70[U70A].Monthly.Base)
	}
	// The 一般Ⅱ 配慮措置 (2022-10..2025-09): 6,000 + (cost − 30,000) × 10%, at most 18,000.
	old, err := d.For(MonthOf(2024, 4))
	must(t, err)
	relief := old.Raised(pct("10"), 100).O70[O70Ippan2].Outpatient
	if relief.Base != 6600 || relief.Threshold != 33000 || relief.Cap != 19800 || relief.RateNum*10 != relief.RateDen {
		t.Errorf("一般Ⅱ relief under +10%%: %+v, want 6,600 + (cost − 33,000) × 10%%, cap 19,800", relief)
	}
	// +7.5%: 80,100 × 1.075 = 86,107.5 → 86,100; 267,000 × 1.075 = 287,025 → 287,000.
	if f := cur.Raised(pct("7.5"), 100).U70[U70U].Monthly; f.Base != 86100 || f.Threshold != 287000 {
		t.Errorf("ウ under +7.5%%: %+v", f)
	}
	if v := cur.Raised(pct("-5"), 100).Version; v != "2025-10-5%" {
		t.Errorf("a cut's version %q", v)
	}
}

func TestRaiserRounding(t *testing.T) {
	cases := []struct {
		a     int64
		pct   string
		round int64
		want  int64
	}{
		{1000, "5", 100, 1100},        // 1,050: exactly half, up
		{1000, "4.99", 100, 1000},     // 1,049.9: down
		{15000, "0.5", 100, 15100},    // 15,075
		{15000, "0.3", 100, 15000},    // 15,045
		{80100, "10", 1, 88110},       // to the yen
		{80100, "12.5", 1, 90113},     // 90,112.5: half up
		{80100, "0", 100, 80100},      // nothing moves
		{44400, "0", 1000, 44400},     // not a multiple of the unit: rounding may not cut a raise of 0
		{44400, "1", 1000, 45000},     // 44,844
		{57600, "-10", 100, 51800},    // 51,840
		{57600, "-0.01", 1000, 57600}, // 57,594 rounds to 58,000: a cut may not round into a raise
	}
	for _, c := range cases {
		r := raiser{factor: decimal.NewFromInt(100).Add(pct(c.pct)), up: !pct(c.pct).IsNegative(), round: c.round}
		if got := r.amount(c.a); got != c.want {
			t.Errorf("%d %s%% to %d: %d, want %d", c.a, c.pct, c.round, got, c.want)
		}
	}
}

// TestRaisedZeroIsIdentity: +0% leaves every limit of every embedded table as it is.
func TestRaisedZeroIsIdentity(t *testing.T) {
	for _, tab := range Default().Tables() {
		z := tab.Raised(decimal.Zero, 100)
		if z.U70 != tab.U70 || z.O70 != tab.O70 || z.AnnualOutpatientCap != tab.AnnualOutpatientCap ||
			z.UnitThreshold != tab.UnitThreshold || z.Chou != tab.Chou || z.From != tab.From || z.To != tab.To {
			t.Errorf("%s +0%% changed a limit", tab.Version)
		}
		if z.Version != tab.Version+"+0%" {
			t.Errorf("%s +0%%: version %q", tab.Version, z.Version)
		}
	}
}

// TestRaisedNeverLowersALimit: for any raise (small ones included, where rounding dominates)
// and any rounding unit, no limit of the raised table is below the original's at any cost,
// halved or not; for any cut, none is above.
func TestRaisedNeverLowersALimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	units := []int64{1, 10, 100, 1000}
	// The case that needs the threshold guard: +0.03% moves 267,000 to 267,100 but leaves
	// 80,100 at 80,100.
	tab, err := Default().For(MonthOf(2025, 10))
	must(t, err)
	if f := tab.Raised(pct("0.03"), 100).U70[U70U].Monthly; f.Base != 80100 || f.Threshold != 267000 {
		t.Errorf("+0.03%%: ウ %+v, want the threshold held at 267,000", f)
	}
	for n := 0; n < 3000; n++ {
		p := decimal.New(int64(rng.IntN(3000)), -2) // 0.00 … 29.99
		if rng.IntN(4) == 0 {
			p = decimal.New(int64(rng.IntN(100)), -3) // below 0.1%: rounding decides
		}
		if rng.IntN(5) == 0 {
			p = p.Neg()
		}
		round := units[rng.IntN(len(units))]
		for _, tab := range Default().Tables() {
			r := tab.Raised(p, round)
			check := func(what string, f, g Formula) {
				for k := 0; k < 20; k++ {
					cost := int64(rng.IntN(3_000_000))
					for _, half := range []bool{false, true} {
						a, b := f, g
						if half {
							a, b = f.Half(), g.Half()
						}
						lo, hi := a.Limit(cost), b.Limit(cost)
						if p.IsNegative() {
							lo, hi = hi, lo
						}
						if hi < lo {
							t.Fatalf("%s %s%% (unit %d) %s half=%v: limit at cost %d moved the wrong way: %d → %d (%+v → %+v)",
								tab.Version, p, round, what, half, cost, a.Limit(cost), b.Limit(cost), a, b)
						}
					}
				}
			}
			for c := U70A; c < numU70; c++ {
				check("u70 "+c.String(), tab.U70[c].Monthly, r.U70[c].Monthly)
				if (r.U70[c].Tasukai < tab.U70[c].Tasukai) != p.IsNegative() && r.U70[c].Tasukai != tab.U70[c].Tasukai {
					t.Fatalf("%s %s%%: 多数回 of %s moved the wrong way", tab.Version, p, c)
				}
			}
			for c := O70Gen3; c < num70; c++ {
				check("70+ household "+c.String(), tab.O70[c].Household, r.O70[c].Household)
				if tab.O70[c].HasOutpatient {
					check("70+ outpatient "+c.String(), tab.O70[c].Outpatient, r.O70[c].Outpatient)
				}
			}
		}
	}
}

// TestRaiseNeverIncreasesBenefit: over generated households (paid fixed as the counter
// collected it), a raised table never pays more cash than the enacted one.
func TestRaiseNeverIncreasesBenefit(t *testing.T) {
	base := NewCalculator(Default())
	rng := rand.New(rand.NewPCG(13, 14))
	raised := map[string]*Calculator{}
	for _, p := range []string{"0.03", "1", "5", "7.5", "10", "12.5", "15", "40"} {
		raised[p] = NewCalculator(Default().Raised(pct(p), 100))
	}
	var r0, r1 Result
	for n := 0; n < 5000; n++ {
		h := genHousehold(rng)
		must(t, base.Compute(h, &r0))
		for p, c := range raised {
			must(t, c.Compute(h, &r1))
			if r1.Cash > r0.Cash {
				t.Fatalf("case %d: +%s%% pays %d, more than the enacted %d", n, p, r1.Cash, r0.Cash)
			}
		}
	}
}

func TestParseScenario(t *testing.T) {
	data, err := os.ReadFile("tables/2025-10.json")
	must(t, err)
	scen := strings.Replace(string(data), `"status": "enacted"`, `"status": "scenario"`, 1)
	scen = strings.Replace(scen, `"base": 80100`, `"base": 90000`, 1)
	tab, err := ParseScenario([]byte(scen))
	must(t, err)
	if tab.Status != StatusScenario || tab.U70[U70U].Monthly.Base != 90000 || tab.Label() != "2025-10+scenario" {
		t.Errorf("scenario table: status %q, ウ base %d, label %q", tab.Status, tab.U70[U70U].Monthly.Base, tab.Label())
	}
	if _, err := ParseTable([]byte(scen)); err == nil {
		t.Error("ParseTable accepted a scenario table: a monthly run must never compute with one")
	}
	if _, err := ParseScenario([]byte(strings.Replace(scen, `"scenario"`, `"draft"`, 1))); err == nil {
		t.Error("an unknown status was accepted")
	}
	if tab, err := ParseScenario(data); err != nil || !tab.Enacted() {
		t.Errorf("an enacted table as a scenario file: %v", err)
	}
}

func TestSetRaised(t *testing.T) {
	s := Default().Raised(pct("12.5"), 100)
	if len(s.Tables()) != len(Default().Tables()) {
		t.Fatal("tables lost")
	}
	for _, tab := range s.Tables() {
		if !strings.HasSuffix(tab.Version, "+12.5%") || tab.Status != StatusScenario {
			t.Errorf("%s %s", tab.Version, tab.Status)
		}
	}
	tab, err := s.For(MonthOf(2019, 1))
	must(t, err)
	if got := fmt.Sprint(tab.U70[U70U].Monthly.Base); got != "90100" { // 80,100 × 1.125 = 90,112.5
		t.Errorf("2018-08 ウ base under +12.5%%: %s", got)
	}
}
