package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// goldenCase is the shape of fixtures/golden/household/*.json.
type goldenCase struct {
	ID           string `json:"id"`
	Title        string `json:"title"`
	ServiceMonth string `json:"service_month"`
	InsurerNo    string `json:"insurer_no"`
	Household    struct {
		ID          string  `json:"id"`
		CategoryU70 *string `json:"category_u70"`
		Category70  *string `json:"category_70"`
		Prior       int     `json:"prior_benefit_months"`
	} `json:"household"`
	Members []struct {
		Person     string `json:"person"`
		BirthDate  string `json:"birth_date"`
		HalfLimits bool   `json:"half_limits"`
	} `json:"members"`
	Receipts []struct {
		ID          string `json:"id"`
		Person      string `json:"person"`
		Institution string `json:"institution"`
		Kind        string `json:"kind"`
		Setting     string `json:"setting"`
		Cost        int64  `json:"cost"`
		Copay       int64  `json:"copay"`
		Paid        int64  `json:"paid"`
		Prescriber  string `json:"prescriber"`
		Tokutei     string `json:"tokutei"`
	} `json:"receipts"`
	Expect struct {
		BenefitCash      int64            `json:"benefit_cash"`
		BenefitInKind    int64            `json:"benefit_in_kind"`
		StageA           int64            `json:"stage_a"`
		StageB           int64            `json:"stage_b"`
		StageC           int64            `json:"stage_c"`
		TasukaiApplied   bool             `json:"tasukai_applied"`
		CountsForTasukai bool             `json:"counts_for_tasukai"`
		ReceiptCash      map[string]int64 `json:"receipt_cash"`
	} `json:"expect"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	files, err := filepath.Glob("../fixtures/golden/household/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("golden cases not found: %v", err)
	}
	sort.Strings(files)
	var cases []goldenCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g goldenCase
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases = append(cases, g)
	}
	return cases
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// household builds the rules input of a golden case.
func (g *goldenCase) household(t testing.TB) *Household {
	t.Helper()
	m, err := ParseMonth(g.ServiceMonth)
	must(t, err)
	h := &Household{Month: m, PriorMonths: g.Household.Prior}
	h.ClassU70, err = ParseClassU70(str(g.Household.CategoryU70))
	must(t, err)
	h.Class70, err = ParseClass70(str(g.Household.Category70))
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
	cases := loadGolden(t)
	if len(cases) != 32 {
		t.Fatalf("want the 32 golden household cases, found %d", len(cases))
	}
	for _, g := range cases {
		t.Run(g.ID, func(t *testing.T) {
			h := g.household(t)
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
