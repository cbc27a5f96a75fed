package rules

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// typicalHouseholds makes households of 1–4 receipts in one service month, the shape of most
// of a monthly run.
func typicalHouseholds(n int) []Household {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([]Household, n)
	for i := range out {
		h := genHousehold(rng)
		for h.Month = MonthOf(2025, 10); h.Class70 == O70None; {
			h.Class70 = Class70(1 + rng.IntN(int(num70)-1))
		}
		h.Receipts = h.Receipts[:1+rng.IntN(min(4, len(h.Receipts)))]
		for j := range h.Receipts {
			h.Receipts[j].ID = fmt.Sprintf("2025-10-%09d", i*4+j)
		}
		out[i] = *h
	}
	return out
}

// BenchmarkHousehold times the computation alone, per household, over a pool of 1,024
// households (about the L2 cache: in a run the aggregator hands over a household it has just
// built, so its receipts are in cache); run with -benchmem to see
// the zero allocations of steady state.
func BenchmarkHousehold(b *testing.B) {
	hs := typicalHouseholds(1024)
	calc := NewCalculator(Default())
	var r Result
	for i := range hs { // warm the scratch space
		if err := calc.Compute(&hs[i], &r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := calc.Compute(&hs[i&1023], &r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "households/s")
}

func TestComputeAllocatesNothing(t *testing.T) {
	hs := typicalHouseholds(256)
	calc := NewCalculator(Default())
	var r Result
	for i := range hs {
		must(t, calc.Compute(&hs[i], &r))
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		_ = calc.Compute(&hs[i&255], &r)
		i++
	})
	if allocs != 0 {
		t.Fatalf("Compute allocates %.1f times per household in steady state, want 0", allocs)
	}
}
