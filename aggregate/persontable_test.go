package aggregate

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kougaku/batch/rules"
)

// TestPersonTableRoutes: each person's route is decided from all their rows, whatever the
// order they come in and however they are split between Set and Add: the partition of the
// household of the rows that cover the month, none when no row does, and split when the
// covering rows lie in more than one partition.
func TestPersonTableRoutes(t *testing.T) {
	month := rules.MonthOf(2025, 10)
	const parts = 97
	row := func(per, hh string, from, to rules.Month) Member {
		return Member{InsurerNo: "06130012", PersonID: per, HouseholdID: hh, From: from, To: to}
	}
	part := func(hh string) int { return PartOf(Hash2("06130012", hh), parts) }
	// Two households in different partitions, for the person whose covering rows disagree.
	hhA, hhB := "H-A", ""
	for i := 0; hhB == ""; i++ {
		if h := fmt.Sprintf("H-B%d", i); part(h) != part(hhA) {
			hhB = h
		}
	}
	rows := []Member{
		row("P-1", hhA, month-5, OpenEnd),  // in force
		row("P-2", hhB, month-12, month-1), // ended last month
		row("P-2", hhA, month, OpenEnd),    // moved: in force in A
		row("P-3", hhA, month-12, month-1), // not eligible
		row("P-4", hhA, month-3, OpenEnd),  // covering rows in two partitions
		row("P-4", hhB, month-1, month+2),
		row("P-5", hhB, month+1, OpenEnd), // begins next month: not eligible
	}
	want := map[string]struct {
		status uint16
		part   int
	}{
		"P-1": {routeInForce, part(hhA)}, "P-2": {routeInForce, part(hhA)}, "P-3": {routeNotEligible, 0},
		"P-4": {routeSplit, 0}, "P-5": {routeNotEligible, 0},
	}
	// Many more persons, so that the table has more than one bucket in use and the sort
	// has work; each in force in a household of their own.
	for i := range 50000 {
		rows = append(rows, row(fmt.Sprintf("Q-%d", i), fmt.Sprintf("HQ-%d", i), month-1, OpenEnd))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		set := len(rows) - round*7 // the rest are added, as a CSV master's
		tb, err := NewPersonTable(month, parts, set)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows[:set] {
			tb.Set(i, &rows[i])
		}
		for i := range rows[set:] {
			tb.Add(&rows[set+i])
		}
		if err := tb.Seal(1 + round); err != nil {
			t.Fatal(err)
		}
		if tb.Persons() != 50005 {
			t.Fatalf("round %d: %d persons, want 50,005", round, tb.Persons())
		}
		for per, w := range want {
			route, ok := tb.lookup(Hash2("06130012", per))
			if !ok || route&routeStatus != w.status || (w.status == routeInForce && int(route&routePart) != w.part) {
				t.Errorf("round %d: %s: route %#x (found %v), want status %#x partition %d", round, per, route, ok, w.status, w.part)
			}
		}
		for i := range 50000 {
			per := fmt.Sprintf("Q-%d", i)
			route, ok := tb.lookup(Hash2("06130012", per))
			if !ok || route != routeInForce|uint16(part(fmt.Sprintf("HQ-%d", i))) {
				t.Fatalf("round %d: %s: route %#x (found %v)", round, per, route, ok)
			}
		}
		for _, per := range []string{"P-0", "Q-50000", ""} {
			if _, ok := tb.lookup(Hash2("06130012", per)); ok {
				t.Errorf("round %d: %q found, and the master has no such person", round, per)
			}
		}
	}
}

// TestPersonTableCollision: two persons whose 64-bit hashes are equal would be routed as one;
// Seal finds them by their check hashes and refuses the table. (Real hashes of different
// persons are equal too rarely to be found: the rows are made with the same hash here.)
func TestPersonTableCollision(t *testing.T) {
	month := rules.MonthOf(2025, 10)
	tb, err := NewPersonTable(month, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	a := Member{InsurerNo: "06130012", PersonID: "P-A", HouseholdID: "H", From: month, To: OpenEnd}
	b := Member{InsurerNo: "06130012", PersonID: "P-B", HouseholdID: "H", From: month, To: OpenEnd}
	tb.Set(0, &a)
	tb.Set(1, &b)
	tb.Set(2, &a)
	if checkHash(a.InsurerNo, a.PersonID) == checkHash(b.InsurerNo, b.PersonID) {
		t.Fatal("the test's two persons share a check hash: pick others")
	}
	tb.keys[1] = tb.keys[0] // P-B's hash made P-A's
	if err := tb.Seal(1); !errors.Is(err, ErrTableCollision) {
		t.Fatalf("Seal: %v, want ErrTableCollision", err)
	}
}

// TestPersonTableParts: a table routes to at most MaxTableParts partitions.
func TestPersonTableParts(t *testing.T) {
	if _, err := NewPersonTable(rules.MonthOf(2025, 10), MaxTableParts+1, 0); err == nil {
		t.Fatal("a table of more partitions than an entry can name was made")
	}
}

func BenchmarkPersonTableSeal(b *testing.B) {
	month := rules.MonthOf(2025, 10)
	const n = 1 << 20
	rows := make([]Member, n)
	for i := range rows {
		rows[i] = Member{InsurerNo: "06130012", PersonID: fmt.Sprintf("P-%d", i), HouseholdID: fmt.Sprintf("H-%d", i/2), From: month, To: OpenEnd}
	}
	for b.Loop() {
		tb, _ := NewPersonTable(month, 569, n)
		for i := range rows {
			tb.Set(i, &rows[i])
		}
		if err := tb.Seal(2); err != nil {
			b.Fatal(err)
		}
	}
}
