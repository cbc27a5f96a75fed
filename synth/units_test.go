package synth

import (
	"bytes"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/kougaku/batch/rules"
)

// TestFixtureCopy keeps fixtures/synth/distributions.json identical to the embedded file.
func TestFixtureCopy(t *testing.T) {
	fixture, err := os.ReadFile("../fixtures/synth/distributions.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fixture, distributionsJSON) {
		t.Error("fixtures/synth/distributions.json differs from synth/distributions.json: cp synth/distributions.json fixtures/synth/")
	}
}

// TestDistributionsNameSources: every table carries a source, and the file compiles.
func TestDistributionsNameSources(t *testing.T) {
	d, err := loadDistributions()
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{
		"insurer_types": d.InsurerTypes.Source, "aged_70_74_share": d.Aged7074.Source,
		"class_u70": d.ClassU70.Source, "class_70": d.Class70.Source, "household_shapes": d.Shapes.Source,
		"utilisation": d.Utilisation.Source, "receipt_targets": d.Targets.Source, "costs": d.Costs.Source,
		"high_cost_tail": d.Tail.Source, "counter": d.Counter.Source, "eligibility": d.Eligibility.Source,
		"history": d.History.Source, "faults": d.Faults.Source,
	} {
		if len(src) < 10 {
			t.Errorf("%s: no source", name)
		}
	}
	if _, err := compile(d); err != nil {
		t.Fatal(err)
	}
	if _, err := parseDistributions([]byte(`{"nope": 1}`)); err == nil {
		t.Error("an unknown field was accepted")
	}
}

func TestInsurerNumbers(t *testing.T) {
	// Published numbers: 協会けんぽ 東京支部, 世田谷区国保.
	if got := newInsurer("01", 13, 1).No; got != "01130012" {
		t.Errorf("協会けんぽ 東京: %s, want 01130012", got)
	}
	if got := newInsurer("", 13, 805).No; got != "138057" {
		t.Errorf("世田谷区: %s, want 138057", got)
	}
	formats := map[insurerType]*regexp.Regexp{
		kyokai: regexp.MustCompile(`^01\d{6}$`), kumiai: regexp.MustCompile(`^06\d{6}$`),
		kyosai: regexp.MustCompile(`^3[1-4]\d{6}$`), kokuho: regexp.MustCompile(`^\d{6}$`),
		kouki: regexp.MustCompile(`^39\d{6}$`),
	}
	seen := map[string]bool{}
	for tp, list := range insurerLists() {
		if len(list) < 20 {
			t.Errorf("%s: %d insurers, want a few dozen", insurerType(tp), len(list))
		}
		for _, in := range list {
			b := []byte(in.No)
			if !formats[insurerType(tp)].MatchString(in.No) || checkDigit(b[:len(b)-1]) != b[len(b)-1] || seen[in.No] {
				t.Errorf("%s: bad or repeated insurer number %s", insurerType(tp), in.No)
			}
			seen[in.No] = true
		}
	}
}

func TestCopayRounding(t *testing.T) {
	for _, c := range []struct{ cost, tenths, want int64 }{
		{12340, 3, 3700}, // 3,702 → 3,700
		{12350, 3, 3710}, // 3,705 → 3,710: half up
		{10, 1, 0},       // 1 → 0
		{50, 1, 10},      // 5 → 10
		{1_000_000, 2, 200_000},
	} {
		if got := copayOf(c.cost, c.tenths); got != c.want {
			t.Errorf("copayOf(%d, %d) = %d, want %d", c.cost, c.tenths, got, c.want)
		}
	}
}

func TestPreschool(t *testing.T) {
	april := func(y int) rules.Month { return rules.MonthOf(y, 4) }
	for _, c := range []struct {
		birth rules.Date
		m     rules.Month
		want  bool
	}{
		{rules.Date{Year: 2018, Month: 4, Day: 1}, april(2024) - 1, true},
		{rules.Date{Year: 2018, Month: 4, Day: 1}, april(2024), false}, // 早生まれ: school at 6
		{rules.Date{Year: 2018, Month: 4, Day: 2}, april(2024), true},
		{rules.Date{Year: 2018, Month: 4, Day: 2}, april(2025), false},
	} {
		if got := preschool(c.birth, c.m); got != c.want {
			t.Errorf("preschool(%v, %s) = %v, want %v", c.birth, c.m, got, c.want)
		}
	}
}

func TestCopayRates(t *testing.T) {
	m := rules.MonthOf(2024, 5)
	adult := &person{birth: rules.Date{Year: 1980, Month: 1, Day: 2}}
	child := &person{birth: rules.Date{Year: 2021, Month: 1, Day: 2}}
	for _, c := range []struct {
		t    insurerType
		p    *person
		old  bool
		o70  rules.Class70
		want int64
	}{
		{kyokai, adult, false, rules.O70None, 3},
		{kyokai, child, false, rules.O70None, 2},
		{kokuho, adult, true, rules.O70Ippan, 2},
		{kokuho, adult, true, rules.O70Gen1, 3},
		{kouki, adult, true, rules.O70Ippan, 1},
		{kouki, adult, true, rules.O70Ippan2, 2},
		{kouki, adult, true, rules.O70Gen3, 3},
		{kouki, adult, true, rules.O70Tei1, 1},
	} {
		if got := copayTenths(c.t, c.p, c.old, c.o70, m); got != c.want {
			t.Errorf("%s %v 70+ %v %s: %d割, want %d割", c.t, c.p.birth, c.old, c.o70, got, c.want)
		}
	}
}

// TestCostDistributions draws costs straight from the model: outpatient receipts mostly
// 3,000–30,000 yen, inpatient 300,000–2,000,000, and a tail above 10 million yen at the
// calibrated rate (a few per million receipts once inpatient receipts are about 1.3% of all).
func TestCostDistributions(t *testing.T) {
	m, err := loadModel()
	if err != nil {
		t.Fatal(err)
	}
	g := &generator{model: m}
	r := rand.New(rand.NewPCG(1, 2))
	quantiles := func(draw func() int64) (p10, p50, p90 int64) {
		xs := make([]int64, 20_000)
		for i := range xs {
			xs[i] = draw()
			if xs[i]%10 != 0 || xs[i] <= 0 {
				t.Fatalf("cost %d: want a positive multiple of 10", xs[i])
			}
		}
		slices.Sort(xs)
		return xs[len(xs)/10], xs[len(xs)/2], xs[len(xs)*9/10]
	}
	if p10, p50, p90 := quantiles(func() int64 { return m.costs[costOutpatient].draw(r) }); p10 < 2500 || p50 < 6000 || p50 > 12000 || p90 > 35000 {
		t.Errorf("outpatient cost deciles %d / %d / %d", p10, p50, p90)
	}
	if p10, p50, p90 := quantiles(func() int64 { return g.inpatientCost(costInpatient, r) }); p10 < 150_000 || p90 > 2_200_000 {
		t.Errorf("inpatient cost deciles %d / %d / %d", p10, p50, p90)
	}
	const n = 2_000_000
	above := 0
	for range n {
		if g.inpatientCost(costDPC, r) > 10_000_000 {
			above++
		}
	}
	want := m.d.Tail.PerInpatient * n
	if f := float64(above); f < want*0.8 || f > want*1.2 {
		t.Errorf("%d of %d inpatient receipts above 10 million yen, want about %.0f", above, n, want)
	}
}
