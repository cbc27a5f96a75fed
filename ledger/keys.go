package ledger

import (
	"cmp"
	"slices"
	"strings"
)

func sortedKeys(m map[HouseholdKey]struct{}) []HouseholdKey {
	out := make([]HouseholdKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b HouseholdKey) int {
		return cmp.Or(cmp.Compare(a.InsurerNo, b.InsurerNo), cmp.Compare(a.HouseholdID, b.HouseholdID))
	})
	return out
}

// keySet holds households in the form HouseholdKey.String gives, insurer_no NUL household_id:
// a row's key bytes, built in a reused buffer by appendKey, are looked up without allocating.
type keySet map[string]struct{}

func newKeySet(m map[HouseholdKey]struct{}) keySet {
	if m == nil {
		return nil
	}
	s := make(keySet, len(m))
	for k := range m {
		s[k.String()] = struct{}{}
	}
	return s
}

// has reports whether the key bytes are in s; a nil set holds every household.
func (s keySet) has(key []byte) bool {
	if s == nil {
		return true
	}
	_, ok := s[string(key)]
	return ok
}

func appendKey(buf, a, b []byte) []byte {
	return append(append(append(buf[:0], a...), 0), b...)
}

// parseKey turns key bytes back into a HouseholdKey.
func parseKey(key []byte) HouseholdKey {
	ins, hh, _ := strings.Cut(string(key), "\x00")
	return HouseholdKey{ins, hh}
}
