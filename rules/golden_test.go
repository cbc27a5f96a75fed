package rules

import (
	"testing"

	"github.com/kougaku/batch/fixtures"
)

// household builds the rules input of a golden case.
func household(t testing.TB, g *fixtures.HouseholdCase) *Household {
	t.Helper()
	m, err := ParseMonth(g.ServiceMonth)
	must(t, err)
	h := &Household{Month: m, PriorMonths: g.Household.Prior}
	h.ClassU70, err = ParseClassU70(g.CategoryU70())
	must(t, err)
	h.Class70, err = ParseClass70(g.Category70())
	must(t, err)
	idx := map[string]int{}
	for i, mb := range g.Members {
		d, err := ParseDate(mb.BirthDate)
		must(t, err)
		idx[mb.Person] = i
		h.Members = append(h.Members, Member{BirthDate: d, HalfLimits: mb.HalfLimits})
	}
	for _, r := range g.Receipts {
		k, err := ParseKind(r.Kind)
		must(t, err)
		s, err := ParseSetting(r.Setting)
		must(t, err)
		tk, err := ParseTokutei(r.Tokutei)
		must(t, err)
		mi, ok := idx[r.Person]
		if !ok {
			t.Fatalf("%s: receipt %s of unknown person %s", g.ID, r.ID, r.Person)
		}
		h.Receipts = append(h.Receipts, Receipt{ID: r.ID, Member: mi, Institution: r.Institution,
			Prescriber: r.Prescriber, Kind: k, Setting: s, Cost: r.Cost, Copay: r.Copay, Paid: r.Paid, Tokutei: tk})
	}
	return h
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestGoldenHouseholds(t *testing.T) {
	calc := NewCalculator(Default())
	cases, err := fixtures.Households()
	must(t, err)
	if len(cases) != 32 {
		t.Fatalf("want the 32 golden household cases, found %d", len(cases))
	}
	for _, g := range cases {
		t.Run(g.ID, func(t *testing.T) {
			h := household(t, &g)
			var r Result
			if err := calc.Compute(h, &r); err != nil {
				t.Fatalf("%s: %v", g.Title, err)
			}
			e := g.Expect
			got := []int64{r.Cash, r.InKind, r.StageA, r.StageB, r.StageC}
			want := []int64{e.BenefitCash, e.BenefitInKind, e.StageA, e.StageB, e.StageC}
			names := []string{"benefit_cash", "benefit_in_kind", "stage_a", "stage_b", "stage_c"}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s = %d, want %d (%s)", names[i], got[i], want[i], g.Title)
				}
			}
			if r.TasukaiApplied != e.TasukaiApplied {
				t.Errorf("tasukai_applied = %v, want %v", r.TasukaiApplied, e.TasukaiApplied)
			}
			if r.CountsForTasukai != e.CountsForTasukai {
				t.Errorf("counts_for_tasukai = %v, want %v", r.CountsForTasukai, e.CountsForTasukai)
			}
			if r.StageTokutei != 0 {
				t.Errorf("stage_tokutei = %d, want 0", r.StageTokutei)
			}
			for i, rc := range h.Receipts {
				if got, want := r.Receipts[i].Cash, e.ReceiptCash[rc.ID]; got != want {
					t.Errorf("receipt %s cash = %d, want %d", rc.ID, got, want)
				}
			}
		})
	}
}
