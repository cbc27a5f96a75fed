package rules

import "math/bits"

// step takes one step's benefit, max(0, Σ remaining of the entrants − limit), and apportions
// it over the entrants. It returns the benefit.
func (c *Calculator) step(ent []int32, limit int64) int64 {
	var sum int64
	for _, i := range ent {
		sum += c.rem[i]
	}
	benefit := sum - limit
	if benefit <= 0 {
		return 0
	}
	c.apportion(ent, benefit, sum)
	return benefit
}

// apportion shares benefit over the entrants in proportion to what each still has, by the
// largest-remainder method in whole yen (CONTRACT.md §3.3): floor every share, then give one
// yen at a time to the largest remainders, ties to the earlier entrant (entrants come in
// receipt-id order). Requires 0 < benefit ≤ total = Σ c.rem over ent; then no share exceeds
// its receipt's remaining amount.
//
// Products benefit × remaining are formed in 128 bits, so no amount can overflow.
func (c *Calculator) apportion(ent []int32, benefit, total int64) {
	given := int64(0)
	for k, i := range ent {
		hi, lo := bits.Mul64(uint64(benefit), uint64(c.rem[i]))
		q, r := bits.Div64(hi, lo, uint64(total)) // hi < total since benefit ≤ total
		c.frac[k] = r
		c.share[i] += int64(q)
		c.rem[i] -= int64(q)
		given += int64(q)
	}
	left := benefit - given // < len(ent), since each remainder is below one yen
	if left == 0 {
		return
	}
	// Order the entrants by remainder, largest first, earlier entrant first on ties.
	pick := c.pick[:len(ent)]
	for k := range pick {
		pick[k] = int32(k)
	}
	for a := 1; a < len(pick); a++ {
		x := pick[a]
		b := a
		for b > 0 && c.frac[pick[b-1]] < c.frac[x] {
			pick[b] = pick[b-1]
			b--
		}
		pick[b] = x
	}
	for _, k := range pick[:left] {
		i := ent[k]
		c.share[i]++
		c.rem[i]--
	}
}
