package ledger

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSeekAgreesWithFind: a galloping cursor finds, for hashes asked in ascending order, what
// find finds, over sections dense and sparse beside the keys, with repeated hashes, hashes
// absent, and hashes past the last.
func TestSeekAgreesWithFind(t *testing.T) {
	for _, tc := range []struct{ n, keys, spread int }{
		{0, 5, 10}, {1, 3, 4}, {10, 10, 20}, {1000, 1000, 3000}, {5000, 40, 100000}, {20000, 2000, 1 << 30},
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.keys)))
		table := make([]uint64, tc.n)
		for i := range table {
			table[i] = uint64(rng.IntN(tc.spread)) // repeats when spread is small
		}
		slices.Sort(table)
		x := &index{data: make([]byte, 8*tc.n)}
		for i, h := range table {
			binary.LittleEndian.PutUint64(x.data[8*i:], h)
		}
		asks := make([]uint64, tc.keys)
		for i := range asks {
			if tc.n > 0 && i%2 == 0 {
				asks[i] = table[rng.IntN(tc.n)] // present
			} else {
				asks[i] = uint64(rng.IntN(tc.spread + 10)) // mostly absent, some past the last
			}
		}
		slices.Sort(asks)
		c := cursor{gallop: true}
		for _, h := range asks {
			if got, want := x.seek(&c, 0, tc.n, h), x.find(0, tc.n, h); got != want {
				t.Fatalf("n %d keys %d: seek(%d) = %d, find = %d", tc.n, tc.keys, h, got, want)
			}
		}
	}
}

// TestMergeBlocks: mergeSorted of two block lists in file order merge into the order one sort of both gives.
func TestMergeBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		list := func(n int) []block {
			bs := make([]block, n)
			for i := range bs {
				bs[i] = block{layer: rng.IntN(3), ref: storeRef{off: uint64(rng.IntN(1000))}}
			}
			slices.SortFunc(bs, inFileOrder)
			return bs
		}
		a, b := list(rng.IntN(round+1)), list(rng.IntN(round+1))
		want := slices.SortedFunc(slices.Values(append(slices.Clone(a), b...)), inFileOrder)
		got := mergeSorted(a, b, inFileOrder)
		if len(got) != len(want) || !slices.IsSortedFunc(got, inFileOrder) {
			t.Fatalf("merge of %v and %v: %v", a, b, got)
		}
		for i := range got {
			if inFileOrder(got[i], want[i]) != 0 {
				t.Fatalf("merge of %v and %v: %v, want %v", a, b, got, want)
			}
		}
	}
}

// TestMergeKeys: mergeSorted of two sorted lists of households merge into the order sortedKeys gives both.
func TestMergeKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 30 {
		keys := func(n int) map[HouseholdKey]struct{} {
			m := map[HouseholdKey]struct{}{}
			for range n {
				m[HouseholdKey{fmt.Sprint(rng.IntN(3) * 7), fmt.Sprint("H", rng.IntN(50))}] = struct{}{}
			}
			return m
		}
		a, b := keys(rng.IntN(round+1)), keys(rng.IntN(3))
		for k := range b {
			delete(a, k) // as brought: households the list does not hold yet
		}
		all := maps.Clone(a)
		maps.Copy(all, b)
		if got, want := mergeSorted(sortedKeys(a), sortedKeys(b), compareKeys), sortedKeys(all); !slices.Equal(got, want) {
			t.Fatalf("merge of %v and %v: %v, want %v", sortedKeys(a), sortedKeys(b), got, want)
		}
	}
}

// TestFilterKeepsWhatWasAdded: a filter lets through every key added to it, by bytes and by
// string alike, and turns most others away.
func TestFilterKeepsWhatWasAdded(t *testing.T) {
	f := newFilter(1000)
	for i := range 1000 {
		f.add(fmt.Sprint("R", i))
	}
	passed := 0
	for i := range 2000 {
		k := fmt.Sprint("R", i)
		if f.mayHave([]byte(k)) != f.mayHaveString(k) {
			t.Fatalf("%s: bytes and string disagree", k)
		}
		if i < 1000 && !f.mayHaveString(k) {
			t.Fatalf("%s was added, and turned away", k)
		}
		if i >= 1000 && f.mayHaveString(k) {
			passed++
		}
	}
	if passed > 200 { // 16 bits a key: about one in sixteen gets through
		t.Errorf("%d of 1000 keys never added got through", passed)
	}
}
