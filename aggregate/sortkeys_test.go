package aggregate

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSortKeys: sortByHash, then sortRun over each run of equal hashes, as the household pass
// sorts, gives exactly the order of a comparison sort on (hash, tie), with runs of equal
// hashes short and long, at every size either way taken.
func TestSortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tmp []sortKey // shared by every call, as a worker's Scratch shares it between partitions
	for _, n := range []int{0, 1, 7, 511, 512, 5000, 100_000, 600} {
		for _, distinct := range []int{1, 3, 50, 1 << 30} {
			names := make([]int, n) // what tie compares: a stand-in for the records' strings
			keys := make([]sortKey, n)
			for i := range keys {
				keys[i] = sortKey{hash: rng.Uint64() % uint64(min(distinct, n+1)) * 0x9e3779b97f4a7c15, idx: int32(i)}
				names[i] = rng.IntN(1000)*n + i // unique, so the order is total
			}
			tie := func(a, b sortKey) int { return cmp.Compare(names[a.idx], names[b.idx]) }
			want := slices.Clone(keys)
			slices.SortFunc(want, func(a, b sortKey) int { return cmp.Or(cmp.Compare(a.hash, b.hash), tie(a, b)) })
			sortByHash(keys, &tmp)
			for i := 0; i < len(keys); {
				j := runEnd(keys, i, keys[i].hash)
				sortRun(keys[i:j], tie)
				i = j
			}
			if !slices.Equal(keys, want) {
				t.Fatalf("n %d, %d distinct hashes: order differs", n, distinct)
			}
		}
	}
}

// TestCompare: compare2 and compare4 order as cmp.Or over strings.Compare does.
func TestCompare(t *testing.T) {
	vals := []string{"", "a", "ab", "b", "ba", "a\x00"}
	for _, a1 := range vals {
		for _, b1 := range vals {
			for _, a2 := range vals {
				for _, b2 := range vals {
					want := cmp.Or(strings.Compare(a1, b1), strings.Compare(a2, b2))
					if got := compare2(a1, b1, a2, b2); got != want {
						t.Fatalf("compare2(%q, %q, %q, %q) = %d, want %d", a1, b1, a2, b2, got, want)
					}
					if got := compare4(a1, a1, a2, a2, a1, b1, a2, b2); got != want {
						t.Fatalf("compare4 with equal leading pairs = %d, want %d", got, want)
					}
				}
			}
		}
	}
}

// TestSortByHashLowBits: hashes that agree on their top bits and differ below them (as in a
// partition, whose hashes share their top bits) come out in the order of a stable sort on
// the whole hash.
func TestSortByHashLowBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tmp []sortKey
	for _, n := range []int{512, 5000, 60_000} {
		for _, tops := range []int{1, 7, 1000} {
			for _, lows := range []int{1, 3, 1 << 20} {
				keys := make([]sortKey, n)
				for i := range keys {
					top := uint64(rng.IntN(tops)) * 0x9e3779b97f4a7c15 << (64 - radixBits)
					low := uint64(rng.IntN(lows)) * 0x9e3779b97f4a7c15 >> radixBits
					keys[i] = sortKey{hash: top | low, idx: int32(i)}
				}
				want := slices.Clone(keys)
				slices.SortStableFunc(want, func(a, b sortKey) int { return cmp.Compare(a.hash, b.hash) })
				sortByHash(keys, &tmp)
				if !slices.Equal(keys, want) {
					t.Fatalf("n %d, %d top and %d low values: order differs", n, tops, lows)
				}
			}
		}
	}
}
