package aggregate

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// routedMonth routes the receipts and member rows of a small master through a person table
// into in-memory spills of parts partitions.
func routedMonth(t *testing.T, month rules.Month, parts int, members []Member, recs []Receipt) (routed, side *Spill) {
	t.Helper()
	tb, err := NewPersonTable(month, parts, len(members))
	if err != nil {
		t.Fatal(err)
	}
	for i := range members {
		tb.Set(i, &members[i])
	}
	if err := tb.Seal(1); err != nil {
		t.Fatal(err)
	}
	if routed, err = NewSpill("", parts, 1); err != nil {
		t.Fatal(err)
	}
	if side, err = NewSpill("", parts, 1); err != nil {
		t.Fatal(err)
	}
	known := func(ins string) bool { return ins == "06130012" }
	rt := NewRouter(tb, routed, side, 0, known, nil)
	for i := range recs {
		if err := rt.Receipt(&recs[i], Hash2(recs[i].InsurerNo, recs[i].PersonID)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range members {
		if err := rt.Member(&members[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.Flush(); err != nil {
		t.Fatal(err)
	}
	return routed, side
}

// TestRoutedJoin: every receipt reaches the household pass of its household's partition,
// joined or refused with the reason the Directory gives, and the refused ones of persons
// not in force, or unknown, are refused at the intake (the side spill).
func TestRoutedJoin(t *testing.T) {
	month := rules.MonthOf(2025, 10)
	const parts = 16
	mem := func(per, hh string, from, to rules.Month) Member {
		return Member{InsurerNo: "06130012", PersonID: per, HouseholdID: hh, Birth: rules.Date{Year: 1960, Month: 1, Day: 2},
			Sex: "1", From: from, To: to, ClassU70: rules.U70A}
	}
	members := []Member{
		mem("P-1", "H-1", month-5, OpenEnd),
		mem("P-2", "H-2", month-12, month-1),
		mem("P-3", "H-3", month-3, OpenEnd),
		mem("P-3", "H-4", month-1, OpenEnd), // in force in two households: MEMBER_CONFLICT
	}
	rc := func(id, ins, per string) Receipt {
		return Receipt{ID: id, InsurerNo: ins, PersonID: per, InstitutionID: "1311111111", Cost: 10000, Copay: 3000, Paid: 3000}
	}
	recs := []Receipt{rc("R-1", "06130012", "P-1"), rc("R-2", "06130012", "P-2"), rc("R-3", "06130012", "P-3"),
		rc("R-4", "06130012", "P-9"), rc("R-5", "77777777", "P-1"), rc("R-6", "01010016", "P-1")}
	routed, side := routedMonth(t, month, parts, members, recs)
	want := map[string]string{"R-1": "", "R-2": receipt.NotEligible, "R-3": receipt.MemberConflict,
		"R-4": receipt.UnknownPerson, "R-5": receipt.UnknownInsurer, "R-6": receipt.UnknownInsurer}
	got := map[string]string{}
	inForce := 0
	var j RoutedJoin
	opts := &RoutedOptions{Month: month, KnownInsurer: func(ins string) bool { return ins == "06130012" }}
	for q := range parts {
		var s Scratch
		part, _, err := j.Join(routed, side, q, opts, &s)
		if err != nil {
			t.Fatalf("partition %d: %v", q, err)
		}
		recs, mems, _, err := decodeAll(part, &s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got[strings.Clone(r.ID)] = strings.Clone(r.Refused) // they alias the join's memory, which the next Join reuses
			if r.Refused == "" && PartOf(Hash2(r.InsurerNo, r.HouseholdID), parts) != q {
				t.Errorf("receipt %s joined to household %s in partition %d", r.ID, r.HouseholdID, q)
			}
		}
		inForce += len(mems)
	}
	for id, reason := range want {
		if r, ok := got[id]; !ok || r != reason {
			t.Errorf("receipt %s: refused %q (reached the pass %v), want %q", id, r, ok, reason)
		}
	}
	if inForce != 1 { // P-1's row; P-3's rows disagree, P-2's is over
		t.Errorf("%d member rows in force reached the household pass, want 1", inForce)
	}
}

// TestRoutedJoinMisrouted: a receipt in a routed partition that does not hold its person in
// force (a hash shared with a known person's, a members file changed between the two reads)
// stops the join with ErrMisrouted, instead of being refused as if the person were unknown.
func TestRoutedJoinMisrouted(t *testing.T) {
	month := rules.MonthOf(2025, 10)
	members := []Member{{InsurerNo: "06130012", PersonID: "P-1", HouseholdID: "H-1", From: month, To: OpenEnd}}
	routed, side := routedMonth(t, month, 4, members, nil)
	// A receipt of a person the master lacks, put where P-1's records went.
	q := PartOf(Hash2("06130012", "H-1"), 4)
	var e enc
	e.receipt(&Receipt{ID: "R-X", InsurerNo: "06130012", PersonID: "P-X"})
	if err := routed.Writer(0).Append(q, e.b); err != nil {
		t.Fatal(err)
	}
	var j RoutedJoin
	_, _, err := j.Join(routed, side, q, &RoutedOptions{Month: month, KnownInsurer: func(string) bool { return true }}, new(Scratch))
	if !errors.Is(err, ErrMisrouted) || !strings.Contains(err.Error(), "R-X") {
		t.Fatalf("Join: %v, want ErrMisrouted naming receipt R-X", err)
	}
	// A member row the table never saw.
	tb, _ := NewPersonTable(month, 4, 1)
	tb.Set(0, &members[0])
	if err := tb.Seal(1); err != nil {
		t.Fatal(err)
	}
	rt := NewRouter(tb, routed, side, 0, func(string) bool { return true }, nil)
	stranger := Member{InsurerNo: "06130012", PersonID: "P-Y", HouseholdID: "H-1", From: month, To: OpenEnd}
	if err := errors.Join(rt.Member(&stranger), rt.Flush()); !errors.Is(err, ErrMisrouted) || !strings.Contains(err.Error(), "P-Y") {
		t.Fatalf("Member: %v, want ErrMisrouted naming person P-Y", err)
	}
}

// TestJoinAllocates: joining a receipt to its member allocates nothing, on either way (a
// directory's join straight into a spill, and a routed partition's, whose household check is
// on every receipt): a string made per receipt cost the 10M month 330 MB of peak memory.
func TestJoinAllocates(t *testing.T) {
	month := rules.MonthOf(2025, 10)
	d := NewDirectory(month, 1)
	sh := d.Shard(0)
	if err := sh.Add(&Member{InsurerNo: "06130012", PersonID: "P-1", HouseholdID: "H-1", From: month, To: OpenEnd, ClassU70: rules.U70A}); err != nil {
		t.Fatal(err)
	}
	if err := d.Seal(1); err != nil {
		t.Fatal(err)
	}
	r := Receipt{ID: "R-1", InsurerNo: "06130012", PersonID: "P-1", InstitutionID: "1311111111", Cost: 10000, Copay: 3000, Paid: 3000}
	hash := Hash2(r.InsurerNo, r.PersonID)
	for _, routed := range []bool{false, true} {
		sp, err := NewSpill("", 4, 1)
		if err != nil {
			t.Fatal(err)
		}
		out := NewHouseholdPart(sp, 0)
		if routed {
			out.only, out.of = PartOf(Hash2("06130012", "H-1"), 4), 4
		}
		if err := d.JoinHashed(&r, hash, out); err != nil { // the partition's first chunk
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(1000, func() {
			if err := d.JoinHashed(&r, hash, out); err != nil {
				t.Fatal(err)
			}
		}); n > 0.01 { // a new chunk now and then
			t.Errorf("routed %v: %.3f allocations a receipt joined, want none", routed, n)
		}
	}
}

// TestRoutedJoinMembersWanted: a routed join gives the household pass the member rows in
// force of the households a receipt joined, and of those that resolved receipts went to
// (RoutedOptions.Resolved), not of the others; every household's with KeepMembers.
func TestRoutedJoinMembersWanted(t *testing.T) {
	month := rules.MonthOf(2025, 10)
	const parts = 4
	mem := func(per, hh string) Member {
		return Member{InsurerNo: "06130012", PersonID: per, HouseholdID: hh, Birth: rules.Date{Year: 1980, Month: 3, Day: 4},
			Sex: "2", From: month - 5, To: OpenEnd, ClassU70: rules.U70U}
	}
	var members []Member
	for i := range 40 { // forty households of two persons, spread over the partitions
		hh := fmt.Sprintf("H-%d", i)
		members = append(members, mem(fmt.Sprintf("P-%d-a", i), hh), mem(fmt.Sprintf("P-%d-b", i), hh))
	}
	recs := []Receipt{{ID: "R-1", InsurerNo: "06130012", PersonID: "P-3-a", InstitutionID: "1311111111", Cost: 10000, Copay: 3000},
		{ID: "R-2", InsurerNo: "06130012", PersonID: "P-17-b", InstitutionID: "1311111111", Cost: 10000, Copay: 3000}}
	resolved := ResolvedHouseholds([]Resolved{{InsurerNo: "06130012", Household: "H-25"}, {InsurerNo: "06130012", Household: "H-25"}})
	for _, c := range []struct {
		keep bool
		want int
	}{{false, 3}, {true, 40}} {
		routed, side := routedMonth(t, month, parts, members, recs)
		seen := map[string]int{}
		var j RoutedJoin
		opts := &RoutedOptions{Month: month, KnownInsurer: func(string) bool { return true }, KeepMembers: c.keep, Resolved: resolved}
		for q := range parts {
			var s Scratch
			part, _, err := j.Join(routed, side, q, opts, &s)
			if err != nil {
				t.Fatal(err)
			}
			_, mems, _, err := decodeAll(part, &s)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range mems {
				seen[strings.Clone(m.HouseholdID)]++
			}
		}
		if len(seen) != c.want {
			t.Errorf("keep %v: the member rows of %d households reached the pass, want %d: %v", c.keep, len(seen), c.want, seen)
		}
		for _, hh := range []string{"H-3", "H-17", "H-25"} {
			if seen[hh] != 2 {
				t.Errorf("keep %v: %d member rows of %s, want 2", c.keep, seen[hh], hh)
			}
		}
	}
}
