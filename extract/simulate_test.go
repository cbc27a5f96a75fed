package extract

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

func scenarios(t testing.TB, round int64, args ...string) []Scenario {
	t.Helper()
	var out []Scenario
	for _, a := range args {
		s, err := ParseScenario(a, rules.Default(), round)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// outcomeKey names a household month.
type outcomeKey struct{ month, insurer, household string }

// TestSimulateZeroReproducesLedger: under +0% every household month of twelve months (one
// rerun with corrections, later months cascaded) gets the ledger's cash and in kind back,
// household by household, and the raises never pay more than the ledger.
func TestSimulateZeroReproducesLedger(t *testing.T) {
	l := synthLedger(t, 3000, 12, month(t, "2024-08"), 1, true)
	from, to := month(t, "2024-08"), month(t, "2025-07")
	ledgerRows := map[outcomeKey]output.HouseholdMonth{}
	for m := from; m <= to; m++ {
		v, err := l.Current(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.HouseholdMonths(func(h *output.HouseholdMonth) error {
			ledgerRows[outcomeKey{m.String(), h.InsurerNo, h.HouseholdID}] = *h
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"+0%", "+1%", "+5%", "+7.5%", "+10%", "+12.5%", "+15%"}
	seen := 0
	var saved [7]int64
	// A budget of a few MB makes every month spill to disk in some twenty partitions, as a
	// month of millions of receipts does with the default budget.
	sum, err := Simulate(context.Background(), SimConfig{Ledger: l, From: from, To: to, Scenarios: scenarios(t, 100, names...),
		MemoryBudget: 6 << 20, SpillDir: t.TempDir(),
		Household: func(o *Outcome) error {
			seen++
			h, ok := ledgerRows[outcomeKey{o.Month.String(), o.InsurerNo, o.HouseholdID}]
			if !ok {
				return fmt.Errorf("%s %s/%s is not in the ledger", o.Month, o.InsurerNo, o.HouseholdID)
			}
			if o.Cash != h.BenefitCash || o.InKind != h.BenefitInKind || o.Recomputed != h.BenefitCash ||
				o.ScenarioCash[0] != h.BenefitCash || o.ScenarioInKind[0] != h.BenefitInKind {
				return fmt.Errorf("%s %s/%s: ledger cash %d in kind %d; read %d %d, recomputed %d, +0%% %d %d",
					o.Month, o.InsurerNo, o.HouseholdID, h.BenefitCash, h.BenefitInKind, o.Cash, o.InKind, o.Recomputed, o.ScenarioCash[0], o.ScenarioInKind[0])
			}
			now := o.Cash + o.InKind
			for i := range names {
				if got := o.ScenarioCash[i] + o.ScenarioInKind[i]; got > now {
					return fmt.Errorf("%s %s/%s: %s pays %d, more than the ledger's %d", o.Month, o.InsurerNo, o.HouseholdID, names[i], got, now)
				} else {
					saved[i] += now - got
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(ledgerRows) || sum.Households != int64(len(ledgerRows)) || sum.Mismatches != 0 || len(sum.Warnings) != 0 {
		t.Fatalf("saw %d household months, summary %d, ledger %d; mismatches %d; warnings %q", seen, sum.Households, len(ledgerRows), sum.Mismatches, sum.Warnings)
	}
	for i := 1; i < len(names); i++ {
		if saved[i] <= saved[i-1] {
			t.Errorf("%s saves ¥%d, no more than %s's ¥%d", names[i], saved[i], names[i-1], saved[i-1])
		}
	}
	// The rows add up to the ledger, and their differences to the per-household savings.
	for i, name := range names {
		var now, diff int64
		for _, r := range sum.Rows {
			if r.Scenario == name {
				now += r.NowTotal
				diff += r.Difference
				if r.Total != r.InKind+r.Cash || r.Difference != r.Total-r.NowTotal || r.AffectedPersons < r.AffectedHouseholds {
					t.Errorf("inconsistent row %+v", r)
				}
			}
		}
		var ledgerNow int64
		for _, h := range ledgerRows {
			ledgerNow += h.BenefitCash + h.BenefitInKind
		}
		if now != ledgerNow || diff != -saved[i] {
			t.Errorf("%s: now %d (ledger %d), difference %d (households: %d)", name, now, ledgerNow, diff, -saved[i])
		}
	}
}

// g01 is golden case G01 as a ledger month: ウ, one inpatient receipt, cost 1,000,000, copay
// 300,000, paid as given.
func g01(t *testing.T, paid int64) (*ledger.Ledger, string) {
	l, dir := openLedger(t)
	handLedger(t, dir, l, "2025-10", nil,
		[]receipt.MemberRow{{InsurerNo: "06139999", PersonID: "P1", HouseholdID: "H-G01", BirthDate: "1992-04-01", Sex: "1", ValidFrom: "2020-01", CategoryU70: "U"}},
		[]receipt.Row{{ReceiptID: "R1", ServiceMonth: "2025-10", InsurerNo: "06139999", PersonID: "P1", InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 1000000, Copay: 300000, Paid: paid}})
	return l, dir
}

// TestSimulateGolden: G01 under +10%.
//
//	limit now          80,100 + (1,000,000 − 267,000) × 1%  = 87,430  → benefit 212,570
//	+10%, to the yen   88,110 + (1,000,000 − 293,700) × 1%  = 95,173  → benefit 204,827
//	+10%, to ¥100      88,100 + 7,063                        = 95,163  → benefit 204,837
//
// Paid in full at the counter, the benefit is cash; with the limit applied at the counter
// (paid 87,430), the counter would have collected the raised limit instead: the same benefit,
// in kind.
func TestSimulateGolden(t *testing.T) {
	for _, c := range []struct {
		paid, round      int64
		inKind, cash     int64
		nowIn, nowCash   int64
		affected, person int64
	}{
		{300000, 1, 0, 204827, 0, 212570, 1, 1},
		{300000, 100, 0, 204837, 0, 212570, 1, 1},
		{87430, 1, 204827, 0, 212570, 0, 1, 1},
		{87430, 100, 204837, 0, 212570, 0, 1, 1},
	} {
		l, _ := g01(t, c.paid)
		sum, err := Simulate(context.Background(), SimConfig{Ledger: l, From: month(t, "2025-10"), To: month(t, "2025-10"),
			Scenarios: scenarios(t, c.round, "+10%")})
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Rows) != 1 {
			t.Fatalf("rows %+v", sum.Rows)
		}
		r := sum.Rows[0]
		if r.InKind != c.inKind || r.Cash != c.cash || r.NowInKind != c.nowIn || r.NowCash != c.nowCash ||
			r.AffectedHouseholds != c.affected || r.AffectedPersons != c.person || r.InsurerType != TypeKumiai || r.IncomeClass != "U" {
			t.Errorf("paid %d, ¥%d: %+v, want in kind %d cash %d", c.paid, c.round, r, c.inKind, c.cash)
		}
		if want := c.inKind + c.cash - 212570; r.Difference != want || r.YenPerAffectedPerson != want {
			t.Errorf("difference %d per person %d, want %d", r.Difference, r.YenPerAffectedPerson, want)
		}
		if r.ScenarioRules != "2025-10+10%+scenario" || r.Scenario != "+10%" {
			t.Errorf("scenario %q rules %q", r.Scenario, r.ScenarioRules)
		}
	}
}

// TestSimulateScenarioFile: a scenario table file (status "scenario") with ウ's base at
// 90,000 gives G01 300,000 − (90,000 + 7,330) = 202,670.
func TestSimulateScenarioFile(t *testing.T) {
	l, dir := g01(t, 300000)
	data, err := os.ReadFile(filepath.Join("..", "rules", "tables", "2025-10.json"))
	if err != nil {
		t.Fatal(err)
	}
	js := strings.Replace(strings.Replace(string(data), `"status": "enacted"`, `"status": "scenario"`, 1), `"base": 80100`, `"base": 90000`, 1)
	js = strings.Replace(js, `"version": "2025-10"`, `"version": "ウ-90000"`, 1)
	path := filepath.Join(dir, "u90000.json")
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ParseScenario(path, rules.Default(), 100)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Simulate(context.Background(), SimConfig{Ledger: l, From: month(t, "2025-10"), To: month(t, "2025-10"), Scenarios: []Scenario{s}})
	if err != nil {
		t.Fatal(err)
	}
	if r := sum.Rows[0]; r.Cash != 202670 || r.Scenario != "u90000" || r.ScenarioRules != "ウ-90000+scenario" {
		t.Errorf("%+v", r)
	}
	// A month the file does not cover is refused, not silently computed under the law.
	old, err := ParseScenario(filepath.Join("..", "rules", "tables", "2022-10.json"), rules.Default(), 100)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Simulate(context.Background(), SimConfig{Ledger: l, From: month(t, "2025-10"), To: month(t, "2025-10"), Scenarios: []Scenario{old}})
	if err == nil || !strings.Contains(err.Error(), "scenario 2022-10 has no table for service month 2025-10 (its tables cover 2022-10..2025-09)") {
		t.Errorf("a scenario without a table for the month: %v", err)
	}
}

func TestParseScenarioArgs(t *testing.T) {
	for arg, want := range map[string]string{"+10%": "+10%", "10%": "+10%", "+7.5%": "+7.5%", "-5%": "-5%", "+0%": "+0%"} {
		s, err := ParseScenario(arg, rules.Default(), 100)
		if err != nil || s.Name != want {
			t.Errorf("%s: %q %v", arg, s.Name, err)
		}
	}
	for _, arg := range []string{"+ten%", "-100%", "%", "no-such-file.json"} {
		if _, err := ParseScenario(arg, rules.Default(), 100); err == nil {
			t.Errorf("%s accepted", arg)
		}
	}
}

// TestSimulateOtherRules: a ledger computed under another table does not reproduce under
// the embedded ones; the simulation says so (and reproduces with the same --rules).
func TestSimulateOtherRules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "rules", "tables", "2025-10.json"))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := rules.ParseTable([]byte(strings.Replace(string(data), `"base": 80100`, `"base": 81000`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	other := rules.Default().Override(tab)
	l, dir := openLedger(t)
	handLedger(t, dir, l, "2025-10", other,
		[]receipt.MemberRow{{InsurerNo: "06139999", PersonID: "P1", HouseholdID: "H-G01", BirthDate: "1992-04-01", Sex: "1", ValidFrom: "2020-01", CategoryU70: "U"}},
		[]receipt.Row{{ReceiptID: "R1", ServiceMonth: "2025-10", InsurerNo: "06139999", PersonID: "P1", InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 1000000, Copay: 300000, Paid: 300000}})
	cfg := SimConfig{Ledger: l, From: month(t, "2025-10"), To: month(t, "2025-10"), Scenarios: scenarios(t, 100, "+0%")}
	sum, err := Simulate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Mismatches != 1 || sum.MismatchYen != 900 || len(sum.Warnings) != 1 {
		t.Errorf("mismatches %d (¥%d), warnings %q", sum.Mismatches, sum.MismatchYen, sum.Warnings)
	}
	cfg.Rules = other
	cfg.Scenarios = []Scenario{{Name: "+0%", Rules: other.Raised(decimal.Zero, 100)}}
	if sum, err = Simulate(context.Background(), cfg); err != nil || sum.Mismatches != 0 || sum.Rows[0].Difference != 0 {
		t.Errorf("with the ledger's own rules: %v %+v", err, sum)
	}
}

// genHousehold makes a household month as a counter would have left it: each receipt paid in
// full, or (at random) paid down to its own limit at the counter (the 70+ outpatient limit, the
// household formula, the 多数回 amount, 特定疾病's), with the other reductions a receipt may
// have (paid below copay for no limit) mixed in.
func genHousehold(rng *rand.Rand, set *rules.Set) (*rules.Household, *rules.Table) {
	m := rules.MonthOf(2018, 8) + rules.Month(rng.IntN(96))
	t, _ := set.For(m)
	h := &rules.Household{Month: m, PriorMonths: rng.IntN(6)}
	nm := 1 + rng.IntN(4)
	for i := 0; i < nm; i++ {
		age := []int{5, 30, 45, 69, 70, 72, 74, 75, 80}[rng.IntN(9)]
		d := rules.Date{Year: m.Year() - age, Month: 1 + rng.IntN(12), Day: 1 + rng.IntN(28)}
		h.Members = append(h.Members, rules.Member{BirthDate: d, HalfLimits: rng.IntN(20) == 0})
	}
	h.ClassU70 = rules.ClassU70(1 + rng.IntN(5))
	for {
		h.Class70 = rules.Class70(1 + rng.IntN(7))
		if t.O70[h.Class70].Present {
			break
		}
	}
	insts := []string{"1311111111", "1312222222", "1331111111", "1343333333"}
	for i := 0; i < 1+rng.IntN(8); i++ {
		r := rules.Receipt{ID: fmt.Sprintf("R%02d", i), Member: rng.IntN(nm), Institution: insts[rng.IntN(3)]}
		r.Kind = rules.Kind(rng.IntN(4))
		r.Setting = rules.Setting(rng.IntN(2))
		if r.Kind == rules.Pharmacy {
			r.Setting, r.Institution, r.Prescriber = rules.Outpatient, insts[3], insts[rng.IntN(3)]
		}
		r.Cost = 10 * int64(100+rng.IntN(20000)*rng.IntN(20)+rng.IntN(10)*rng.IntN(1000000)/10)
		r.Copay = r.Cost * int64(1+rng.IntN(3)) / 10
		if rng.IntN(15) == 0 {
			r.Tokutei = rules.Tokutei(1 + rng.IntN(2))
		}
		r.Paid = r.Copay
		old := rules.IsElderly(h.Members[r.Member].BirthDate, m)
		f, tas := counterLimits(t, h, &r, old, h.Members[r.Member].HalfLimits)
		switch rng.IntN(6) {
		case 0, 1:
			r.Paid = min(r.Copay, f)
		case 2:
			if tas > 0 {
				r.Paid = min(r.Copay, tas)
			}
		case 3:
			r.Paid = r.Copay * int64(rng.IntN(100)) / 100
		}
		h.Receipts = append(h.Receipts, r)
	}
	return h, t
}

// TestRaiseNeverIncreasesBenefit: over generated households, with the counter moved as the
// simulation moves it, any raise (rounded to any unit) pays no more, in kind and cash
// together, than the enacted tables; +0% pays exactly the same.
func TestRaiseNeverIncreasesBenefit(t *testing.T) {
	base := rules.Default()
	calc0 := rules.NewCalculator(base)
	rng := rand.New(rand.NewPCG(21, 22))
	var r0, r1 rules.Result
	for n := 0; n < 4000; n++ {
		h, t0 := genHousehold(rng, base)
		if err := calc0.Compute(h, &r0); err != nil {
			t.Fatal(err)
		}
		pct := decimal.New(int64(rng.IntN(3000)), -2)
		round := []int64{1, 10, 100, 1000}[rng.IntN(4)]
		if n%10 == 0 {
			pct = decimal.Zero
		}
		set := base.Raised(pct, round)
		ts, _ := set.For(h.Month)
		s := *h
		s.Receipts = append([]rules.Receipt(nil), h.Receipts...)
		for i := range s.Receipts {
			rc := &s.Receipts[i]
			rc.Paid = counterPaid(t0, ts, h, rc, r0.Elderly[rc.Member], h.Members[rc.Member].HalfLimits)
			if rc.Paid < h.Receipts[i].Paid {
				t.Fatalf("case %d: +%s%% lowered a receipt's paid", n, pct)
			}
		}
		if err := rules.NewCalculator(set).Compute(&s, &r1); err != nil {
			t.Fatal(err)
		}
		before, after := r0.InKind+r0.Cash, r1.InKind+r1.Cash
		if after > before || (pct.IsZero() && after != before) {
			t.Fatalf("case %d: +%s%% (¥%d): benefit %d → %d\n%+v", n, pct, round, before, after, h)
		}
	}
}

// TestSimulateSameAtAnyWorkers: the outcomes come in one order, with the same amounts,
// whatever the workers and whether the months stay in memory or spill in many partitions
// (the pipeline's partitions, Done in partition order).
func TestSimulateSameAtAnyWorkers(t *testing.T) {
	l := synthLedger(t, 1500, 2, month(t, "2025-09"), 3, false)
	var want []string
	for _, c := range []struct {
		workers int
		budget  int64
	}{{1, 0}, {3, 0}, {1, 2 << 20}, {4, 2 << 20}} {
		var got []string
		sum, err := Simulate(context.Background(), SimConfig{Ledger: l, From: month(t, "2025-09"), To: month(t, "2025-10"),
			Scenarios: scenarios(t, 100, "+5%", "+15%"), Workers: c.workers, MemoryBudget: c.budget, SpillDir: t.TempDir(),
			Household: func(o *Outcome) error {
				got = append(got, fmt.Sprintf("%s %s/%s %d %d %d %d %v %v", o.Month, o.InsurerNo, o.HouseholdID, o.Persons,
					o.Cash, o.InKind, o.Recomputed, o.ScenarioCash, o.ScenarioInKind))
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || int64(len(got)) != sum.Households {
			t.Fatalf("workers %d budget %d: %d outcomes, %d households", c.workers, c.budget, len(got), sum.Households)
		}
		if want == nil {
			want = got
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("workers %d budget %d: the outcomes differ from 1 worker in memory (%d against %d)", c.workers, c.budget, len(got), len(want))
		}
	}
}
