package ledger

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

func sortedKeys(m map[HouseholdKey]struct{}) []HouseholdKey {
	out := make([]HouseholdKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, compareKeys)
	return out
}

func compareKeys(a, b HouseholdKey) int {
	return cmp.Or(cmp.Compare(a.InsurerNo, b.InsurerNo), cmp.Compare(a.HouseholdID, b.HouseholdID))
}

// mergeSorted merges two lists sorted by compare into one, a's first of equals.
func mergeSorted[T any](a, b []T, compare func(T, T) int) []T {
	out := make([]T, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if compare(b[0], a[0]) < 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// keySet holds households in the form HouseholdKey.String gives, insurer_no NUL household_id:
// a row's key bytes, built in a reused buffer by appendKey, are looked up without allocating.
// A nil *keySet holds every household.
//
// Scans look up every row of a file, and most rows are not in the set: a filter turns most
// of those away before the map, whose probe is a cache miss.
type keySet struct {
	m map[string]struct{}
	filter
	// ordered is the keys in the order of byHash, kept until a key is added: a correction's
	// households are looked up in the index of every month it counts.
	ordered [][]byte
	mu      sync.Mutex // guards ordered: readers share a set
}

func newKeys() *keySet { return newKeysFor(0) }

// newKeysFor is an empty set with room for n keys, its map and filter made once.
func newKeysFor(n int) *keySet {
	return &keySet{m: make(map[string]struct{}, n), filter: newFilter(n)}
}

// filter is a one-hash Bloom filter: a bit per hash, 16 bits a key, small enough to stay in
// cache. A key it turns away was never added; one it lets through may not have been.
type filter struct {
	bits []uint64
	seed maphash.Seed
}

// newFilter is an empty filter for n keys.
func newFilter(n int) filter {
	return filter{bits: make([]uint64, filterWords(n)), seed: maphash.MakeSeed()}
}

// filterWords is the filter's size for n keys: 16 bits a key, in a power of two of words.
func filterWords(n int) int {
	w := 64
	for w*64 < n*16 {
		w *= 2
	}
	return w
}

// bit is the word and the bit of hash h.
func (f filter) bit(h uint64) (int, uint64) {
	i := h & uint64(len(f.bits)*64-1)
	return int(i / 64), 1 << (i % 64)
}

func (f filter) add(key string) {
	w, b := f.bit(maphash.String(f.seed, key))
	f.bits[w] |= b
}

// mayHave reports whether key may have been added (maphash.Bytes hashes as String does).
func (f filter) mayHave(key []byte) bool {
	w, b := f.bit(maphash.Bytes(f.seed, key))
	return f.bits[w]&b != 0
}

// mayHaveString is mayHave of a string key.
func (f filter) mayHaveString(key string) bool {
	w, b := f.bit(maphash.String(f.seed, key))
	return f.bits[w]&b != 0
}

func newKeySet(m map[HouseholdKey]struct{}) *keySet {
	if m == nil {
		return nil
	}
	s := newKeysFor(len(m))
	for k := range m {
		s.add(k.String())
	}
	return s
}

func (s *keySet) add(key string) {
	if _, ok := s.m[key]; ok {
		return
	}
	s.m[key] = struct{}{}
	s.ordered = nil
	if len(s.m)*16 > len(s.bits)*64 {
		s.filter = filter{bits: make([]uint64, 2*len(s.bits)), seed: s.seed} // rebuilt from every key
		for k := range s.m {
			s.filter.add(k)
		}
		return
	}
	s.filter.add(key)
}

// has reports whether the key bytes are in s; a nil set holds every household.
func (s *keySet) has(key []byte) bool {
	if s == nil {
		return true
	}
	if len(s.m) == 0 {
		return false
	}
	if !s.filter.mayHave(key) {
		return false
	}
	_, ok := s.m[string(key)]
	return ok
}

// size is the number of households in s (-1 for the set of all).
func (s *keySet) size() int {
	if s == nil {
		return -1
	}
	return len(s.m)
}

func appendKey(buf, a, b []byte) []byte {
	return append(append(append(buf[:0], a...), 0), b...)
}

// parseKey turns key bytes back into a HouseholdKey.
func parseKey(key []byte) HouseholdKey { return parseKeyString(string(key)) }

// parseKeyString is parseKey of a key already a string: its parts share its bytes.
func parseKeyString(key string) HouseholdKey {
	ins, hh, _ := strings.Cut(key, "\x00")
	return HouseholdKey{ins, hh}
}
