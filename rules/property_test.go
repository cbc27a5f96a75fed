package rules

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// genHousehold makes a random but valid household month: mixed ages, every kind and setting,
// pharmacy receipts tied to a prescriber, limits applied at the counter, 特定疾病, 多数回.
func genHousehold(rng *rand.Rand) *Household {
	month := MonthOf(2018, 8) + Month(rng.IntN(96)) // 2018-08 … 2026-07
	h := &Household{Month: month, PriorMonths: rng.IntN(6)}
	nm := 1 + rng.IntN(4)
	for i := 0; i < nm; i++ {
		age := []int{5, 30, 45, 69, 70, 72, 74, 75, 80}[rng.IntN(9)]
		d := Date{Year: month.Year() - age, Month: 1 + rng.IntN(12), Day: 1 + rng.IntN(28)}
		h.Members = append(h.Members, Member{BirthDate: d, HalfLimits: rng.IntN(20) == 0})
	}
	h.ClassU70 = ClassU70(1 + rng.IntN(int(numU70)-1))
	for {
		h.Class70 = Class70(1 + rng.IntN(int(num70)-1))
		if h.Class70 != O70Ippan2 || month >= MonthOf(2022, 10) {
			break
		}
	}
	insts := []string{"1311111111", "1312222222", "1331111111", "1343333333"}
	nr := 1 + rng.IntN(8)
	for i := 0; i < nr; i++ {
		r := Receipt{ID: fmt.Sprintf("R%02d", i), Member: rng.IntN(nm), Institution: insts[rng.IntN(3)]}
		r.Kind = Kind(rng.IntN(4))
		r.Setting = Setting(rng.IntN(2))
		if r.Kind == Pharmacy {
			r.Setting, r.Institution, r.Prescriber = Outpatient, insts[3], insts[rng.IntN(3)]
		}
		r.Cost = 10 * int64(100+rng.IntN(20000)*rng.IntN(20)+rng.IntN(10)*rng.IntN(1000000)/10)
		r.Copay = r.Cost * int64(1+rng.IntN(3)) / 10
		r.Paid = r.Copay
		if rng.IntN(4) == 0 {
			r.Paid = r.Copay * int64(rng.IntN(100)) / 100
		}
		if rng.IntN(15) == 0 {
			r.Tokutei = Tokutei(1 + rng.IntN(2))
		}
		h.Receipts = append(h.Receipts, r)
	}
	return h
}

func TestProperties(t *testing.T) {
	calc := NewCalculator(Default())
	rng := rand.New(rand.NewPCG(1, 2))
	var r, r2 Result
	for n := 0; n < 20000; n++ {
		h := genHousehold(rng)
		if err := calc.Compute(h, &r); err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		var copay, shares int64
		for i, rc := range h.Receipts {
			copay += rc.Copay
			s := r.Receipts[i].Cash
			shares += s
			if s < 0 || s > rc.Paid {
				t.Fatalf("case %d: receipt %s share %d outside [0, paid %d]", n, rc.ID, s, rc.Paid)
			}
		}
		if r.Cash < 0 || r.StageA < 0 || r.StageB < 0 || r.StageC < 0 || r.StageTokutei < 0 {
			t.Fatalf("case %d: negative benefit %+v", n, r)
		}
		if shares != r.Cash {
			t.Fatalf("case %d: Σ shares %d != cash %d", n, shares, r.Cash)
		}
		if r.Cash+r.InKind+r.StillPays() != copay || r.StillPays() < 0 {
			t.Fatalf("case %d: cash %d + in kind %d + still pays %d != Σ copay %d", n, r.Cash, r.InKind, r.StillPays(), copay)
		}

		// Order independence: the same receipts reversed give the same result per receipt.
		rev := *h
		rev.Receipts = make([]Receipt, len(h.Receipts))
		for i := range h.Receipts {
			rev.Receipts[len(h.Receipts)-1-i] = h.Receipts[i]
		}
		if err := calc.Compute(&rev, &r2); err != nil {
			t.Fatal(err)
		}
		if r2.Cash != r.Cash || r2.StageA != r.StageA || r2.StageB != r.StageB || r2.StageC != r.StageC ||
			r2.CountsForTasukai != r.CountsForTasukai || r2.TasukaiApplied != r.TasukaiApplied {
			t.Fatalf("case %d: reversed order changes the household result: %+v vs %+v", n, r, r2)
		}
		for i := range h.Receipts {
			if r.Receipts[i] != r2.Receipts[len(h.Receipts)-1-i] {
				t.Fatalf("case %d: reversed order changes receipt %s", n, h.Receipts[i].ID)
			}
		}
	}
}

// TestLargerCostNeverLowersBenefit raises one receipt's cost, its copay and paid following at
// the same copay rate, and checks the household's benefit (cash + in kind) does not fall.
func TestLargerCostNeverLowersBenefit(t *testing.T) {
	calc := NewCalculator(Default())
	rng := rand.New(rand.NewPCG(3, 4))
	var before, after Result
	for n := 0; n < 20000; n++ {
		h := genHousehold(rng)
		for i := range h.Receipts {
			r := &h.Receipts[i]
			r.Cost -= r.Cost % 10
			r.Copay = r.Cost * int64(1+i%3) / 10
			r.Paid = r.Copay
		}
		must(t, calc.Compute(h, &before))
		k := rng.IntN(len(h.Receipts))
		r := &h.Receipts[k]
		rate := r.Copay * 10 / max(r.Cost, 1)
		if r.Cost == 0 {
			rate = 3
		}
		r.Cost += 10 * int64(1+rng.IntN(100000))
		r.Copay = r.Cost * rate / 10
		r.Paid = r.Copay
		must(t, calc.Compute(h, &after))
		if after.Cash+after.InKind < before.Cash+before.InKind {
			t.Fatalf("case %d: raising receipt %s lowered the benefit from %d to %d", n, r.ID, before.Cash+before.InKind, after.Cash+after.InKind)
		}
	}
}

func TestInputErrors(t *testing.T) {
	calc := NewCalculator(Default())
	base := func() *Household {
		return &Household{Month: MonthOf(2025, 10), ClassU70: U70U, Class70: O70Ippan,
			Members: []Member{{BirthDate: Date{1980, 1, 2}}, {BirthDate: Date{1950, 1, 2}}},
			Receipts: []Receipt{{ID: "R1", Member: 0, Institution: "1311111111", Cost: 1000, Copay: 300, Paid: 300},
				{ID: "R2", Member: 1, Institution: "1311111111", Cost: 1000, Copay: 200, Paid: 200}}}
	}
	cases := []struct {
		name string
		edit func(h *Household)
		code string
	}{
		{"negative cost", func(h *Household) { h.Receipts[0].Cost = -1 }, CodeAmountInvalid},
		{"paid above copay", func(h *Household) { h.Receipts[0].Paid = 301 }, CodeAmountInvalid},
		{"copay above cost", func(h *Household) { h.Receipts[1].Copay, h.Receipts[1].Paid = 1001, 1001 }, CodeAmountInvalid},
		{"70+ member without 70+ class", func(h *Household) { h.Class70 = O70None }, CodeCategoryMissing},
		{"under-70 member without under-70 class", func(h *Household) { h.ClassU70 = U70None }, CodeCategoryMissing},
		{"IPPAN2 before it existed", func(h *Household) { h.Class70, h.Month = O70Ippan2, MonthOf(2021, 5) }, CodeCategoryMissing},
		{"receipt of no member", func(h *Household) { h.Receipts[0].Member = 5 }, CodeCategoryMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := base()
			c.edit(h)
			var r Result
			err := calc.Compute(h, &r)
			var ie *InputError
			if !errors.As(err, &ie) || ie.Code != c.code {
				t.Fatalf("got %v, want an InputError %s", err, c.code)
			}
		})
	}
	t.Run("no table", func(t *testing.T) {
		h := base()
		h.Month = MonthOf(2026, 8)
		var r Result
		err := calc.Compute(h, &r)
		var nt *NoTableError
		if !errors.As(err, &nt) || nt.Month != h.Month {
			t.Fatalf("got %v, want NoTableError for 2026-08", err)
		}
		want := "no enacted rule table covers service month 2026-08 (tables cover 2018-08..2022-09, 2022-10..2025-09, 2025-10..2026-07): supply the enacted table for that month with --rules FILE"
		if err.Error() != want {
			t.Fatalf("message:\n got %s\nwant %s", err, want)
		}
	})
	t.Run("a 70+ member without receipts needs no 70+ class", func(t *testing.T) {
		h := base()
		h.Class70 = O70None
		h.Receipts = h.Receipts[:1]
		var r Result
		must(t, calc.Compute(h, &r))
	})
}
