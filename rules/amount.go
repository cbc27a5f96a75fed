package rules

import (
	"fmt"
	"math"
	"strings"
)

// MaxAmount bounds every amount of one receipt (cost, copay, paid), in yen. The dearest
// real receipts, a month of intensive care or a one-time gene therapy (¥167 million in
// 2020), are well under a tenth of it: an amount above it is a broken record, not a bill.
// The bound is what keeps every sum of amounts in int64 (see MaxSummed).
const MaxAmount int64 = 10_000_000_000

// MaxSummed is how many amounts within ±MaxAmount an int64 sum holds without wrapping
// (922 million): a sum over fewer receipts than this (a household's, a partition's, a
// file's) needs no check of its own, and sums of such sums are added with AddYen.
const MaxSummed = math.MaxInt64 / MaxAmount

// ValidateAmounts checks one receipt's amounts: none negative or above MaxAmount,
// paid ≤ copay ≤ cost.
func ValidateAmounts(cost, copay, paid int64) string {
	switch {
	case cost < 0 || copay < 0 || paid < 0:
		return fmt.Sprintf("negative amount (cost %d, copay %d, paid %d)", cost, copay, paid)
	case cost > MaxAmount || copay > MaxAmount || paid > MaxAmount:
		return aboveBound(cost, copay, paid)
	case paid > copay:
		return fmt.Sprintf("paid %d > copay %d", paid, copay)
	case copay > cost:
		return fmt.Sprintf("copay %d > cost %d", copay, cost)
	}
	return ""
}

// aboveBound names every amount above MaxAmount, and the bound.
func aboveBound(cost, copay, paid int64) string {
	var over []string
	for _, a := range [...]struct {
		name string
		v    int64
	}{{"cost", cost}, {"copay", copay}, {"paid", paid}} {
		if a.v > MaxAmount {
			over = append(over, fmt.Sprintf("%s %d", a.name, a.v))
		}
	}
	return fmt.Sprintf("%s above %d yen, the most one receipt can hold", strings.Join(over, ", "), MaxAmount)
}

// CountedPaid is what a row's paid adds to the reconciliation's sums of paid: paid itself,
// or 0 when it is beyond ±MaxAmount. Such a row is refused (AMOUNT_INVALID, or BAD_RECORD
// for another fault), and its paid counts as one that did not parse, alike in the sum read
// and the sum rejected: summed as it was, two rows of 2^62 wrapped the sums, and one made
// the manifest's totals absurd. Every paid a sum takes is then within ±MaxAmount.
func CountedPaid(paid int64) int64 {
	if paid > MaxAmount || paid < -MaxAmount {
		return 0
	}
	return paid
}

// AddYen returns a + b, and false when the sum is outside int64 (it would have wrapped).
func AddYen(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0)
}
