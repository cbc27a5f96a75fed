package ledger

import (
	"cmp"
	"slices"
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
