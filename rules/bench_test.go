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

// BenchmarkHousehold times the computation alone, per household, over a pool of 256
// households that stays in cache: in a run the aggregator hands over a household it has just
// built, so its receipts are in cache. Run with -benchmem to see the zero allocations of
// steady state.
func BenchmarkHousehold(b *testing.B) { benchPool(b, 256) }

// BenchmarkHouseholdColdPool is the same over 65,536 households, most of them out of cache:
// what the computation costs when every household's receipts come from main memory.
func BenchmarkHouseholdColdPool(b *testing.B) { benchPool(b, 1<<16) }

func benchPool(b *testing.B, n int) {
	hs := typicalHouseholds(n)
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
		if err := calc.Compute(&hs[i&(n-1)], &r); err != nil {
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
