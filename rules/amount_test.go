package rules

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

// TestIssue17_2_AddYenFailsOnOverflow: the checked sum refuses every sum outside int64, at
// both ends, and gives every other one exactly.
func TestIssue17_2_AddYenFailsOnOverflow(t *testing.T) {
	cases := []struct {
		a, b int64
		ok   bool
	}{
		{0, 0, true},
		{1, -1, true},
		{math.MaxInt64, 0, true},
		{math.MaxInt64 - 1, 1, true},
		{math.MaxInt64, 1, false},
		{1 << 62, 1 << 62, false}, // the two receipts of 2^62 that wrapped paid_total
		{math.MaxInt64, math.MaxInt64, false},
		{math.MinInt64, 0, true},
		{math.MinInt64 + 1, -1, true},
		{math.MinInt64, -1, false},
		{math.MinInt64, math.MinInt64, false},
		{math.MinInt64, math.MaxInt64, true},
		{-MaxAmount, MaxAmount, true},
	}
	for _, c := range cases {
		for _, ab := range [][2]int64{{c.a, c.b}, {c.b, c.a}} {
			s, ok := AddYen(ab[0], ab[1])
			want := new(big.Int).Add(big.NewInt(ab[0]), big.NewInt(ab[1]))
			if ok != c.ok || (ok && s != want.Int64()) {
				t.Errorf("AddYen(%d, %d) = %d, %v; want ok %v (exact sum %s)", ab[0], ab[1], s, ok, c.ok, want)
			}
		}
	}
	// MaxSummed amounts at the bound fit; one more does not.
	if s := big.NewInt(0).Mul(big.NewInt(MaxSummed), big.NewInt(MaxAmount)); !s.IsInt64() {
		t.Errorf("MaxSummed × MaxAmount = %s passes int64", s)
	}
	if s := big.NewInt(0).Mul(big.NewInt(MaxSummed+1), big.NewInt(MaxAmount)); s.IsInt64() {
		t.Errorf("MaxSummed is not the largest count: (MaxSummed+1) × MaxAmount = %s fits", s)
	}
}

// TestIssue17_2_AmountBound: the bound is inclusive, names the fields above it, and comes
// before the order checks; the paid a reconciliation counts is 0 beyond it.
func TestIssue17_2_AmountBound(t *testing.T) {
	cases := []struct {
		cost, copay, paid int64
		want              string // "" or what the detail must hold
	}{
		{MaxAmount, MaxAmount, MaxAmount, ""},
		{MaxAmount + 1, 0, 0, "cost 10000000001 above 10000000000 yen"},
		{math.MaxInt64, 150000, 150000, "cost 9223372036854775807 above"},
		{500000, 1 << 62, 1 << 62, "copay 4611686018427387904, paid 4611686018427387904 above"},
		{-1, 0, 0, "negative"},
		{100, 30, 40, "paid 40 > copay 30"},
	}
	for _, c := range cases {
		d := ValidateAmounts(c.cost, c.copay, c.paid)
		if (c.want == "") != (d == "") || !strings.Contains(d, c.want) {
			t.Errorf("ValidateAmounts(%d, %d, %d) = %q, want %q", c.cost, c.copay, c.paid, d, c.want)
		}
	}
	for paid, want := range map[int64]int64{0: 0, MaxAmount: MaxAmount, -MaxAmount: -MaxAmount, MaxAmount + 1: 0,
		-MaxAmount - 1: 0, math.MaxInt64: 0, math.MinInt64: 0} {
		if got := CountedPaid(paid); got != want {
			t.Errorf("CountedPaid(%d) = %d, want %d", paid, got, want)
		}
	}
}

// TestIssue17_2_LimitOfLargeCosts: a limit over a large cost at a rate of nine decimals is
// exact (2·num·excess passes int64 there).
func TestIssue17_2_LimitOfLargeCosts(t *testing.T) {
	f := Formula{Base: 80100, Threshold: 267000, RateNum: 123456789, RateDen: 1_000_000_000}
	for _, cost := range []int64{0, 267000, 1_000_000, MaxAmount, 100 * MaxAmount, MaxSummed * MaxAmount} {
		excess := big.NewInt(max(cost-f.Threshold, 0))
		num := new(big.Int).Mul(excess, big.NewInt(2*f.RateNum))
		num.Add(num, big.NewInt(f.RateDen))
		want := num.Div(num, big.NewInt(2*f.RateDen)).Int64() + f.Base
		if got := f.Limit(cost); got != want {
			t.Errorf("Limit(%d) = %d, want %d", cost, got, want)
		}
	}
}
