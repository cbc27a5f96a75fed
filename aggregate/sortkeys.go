package aggregate

import (
	"cmp"
	"slices"
	"strings"
)

// The household pass sorts a partition's keys by hash with a radix sort (sortByHash), then
// the short runs of equal hashes (the records of one household) by their records' strings
// (sortRun). Sorting by comparisons cost more than a tenth of a run's CPU: each comparison
// of keys of one household reaches its strings. Together the two give the order that
// slices.SortFunc would give with the comparator "hash, then the strings": a total order on
// the keys of a partition (TestSortKeys).

// radixByHash sorts keys by hash, stably, through tmp (as long as keys): an LSD radix sort on
// the hash's top radixBits bits, three passes of 11 bits, then the keys whose top bits agree
// but whose hashes differ sorted by the whole hash (sortLowBits). Its counts (16 KiB) stay in
// the first-level cache; with 16-bit digits they took 512 KiB, and a partition of 50,000
// keys sorted a fifth slower. The six passes of a sort on the whole hash were 2% of a run's
// CPU; the low bits seldom decide: a partition of 50,000 receipts has some ten pairs of
// households whose hashes agree on their top 33 bits (of which PartOf fixed about eight).
func radixByHash(keys, tmp []sortKey) {
	const bits = 11
	var count [1 << bits]int
	src, dst := keys, tmp
	for shift := uint(64 - radixBits); shift < 64; shift += bits {
		clear(count[:])
		for _, k := range src {
			count[(k.hash>>shift)&(1<<bits-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, k := range src {
			d := (k.hash >> shift) & (1<<bits - 1)
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	copy(keys, src) // three passes leave the keys in tmp
	sortLowBits(keys)
}

// radixBits is how many of the hash's top bits radixByHash sorts by digits.
const radixBits = 33

// sortLowBits sorts by the whole hash, stably, the runs of keys whose top radixBits bits
// agree: keys sorted by those bits alone are then sorted by hash. Such a run that needs it
// has two neighbours of different hashes, which is what the loop looks for.
func sortLowBits(keys []sortKey) {
	const s = 64 - radixBits
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1].hash, keys[i].hash
		if a == b || a>>s != b>>s {
			continue
		}
		from, to := i-1, i+1
		for from > 0 && keys[from-1].hash>>s == a>>s {
			from--
		}
		for to < len(keys) && keys[to].hash>>s == a>>s {
			to++
		}
		slices.SortStableFunc(keys[from:to], func(x, y sortKey) int { return cmp.Compare(x.hash, y.hash) })
		i = to - 1
	}
}

// sortRun sorts a run of keys of one hash: insertion sort, runs being a household's records.
func sortRun(run []sortKey, tie func(a, b sortKey) int) {
	if len(run) > 32 {
		slices.SortFunc(run, tie)
		return
	}
	for i := 1; i < len(run); i++ {
		for j := i; j > 0 && tie(run[j-1], run[j]) > 0; j-- {
			run[j-1], run[j] = run[j], run[j-1]
		}
	}
}

// compare2 orders by a1/b1, then a2/b2, lazily and testing equality first: in a run of one
// household or person the leading strings are equal, and an equality test is cheaper than
// a three-way comparison (cmp.Or would also compare every pair, needed or not).
func compare2(a1, b1, a2, b2 string) int {
	if a1 != b1 {
		return strings.Compare(a1, b1)
	}
	if a2 != b2 {
		return strings.Compare(a2, b2)
	}
	return 0
}

// compare4 is compare2 over four pairs.
func compare4(a1, b1, a2, b2, a3, b3, a4, b4 string) int {
	if c := compare2(a1, b1, a2, b2); c != 0 {
		return c
	}
	return compare2(a3, b3, a4, b4)
}

// sortByHash sorts keys by hash alone (the order of equal hashes is left to the caller). tmp
// is the radix sort's buffer, grown if need be and kept for the next call.
func sortByHash(keys []sortKey, tmp *[]sortKey) {
	if len(keys) < 512 {
		slices.SortFunc(keys, func(a, b sortKey) int { return cmp.Compare(a.hash, b.hash) })
		return
	}
	*tmp = slices.Grow((*tmp)[:0], len(keys))[:len(keys)]
	radixByHash(keys, *tmp)
}
