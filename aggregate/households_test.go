package aggregate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/kougaku/batch/rules"
)

// TestHouseholdsWithCollidingHashes: households whose hashes collide are told apart by their
// insurer and household id. The pass runs over one partition with real hashes, then with
// hashes cut to 3 bits (eight values for 300 households of three insurers, so nearly every
// hash is shared by dozens of households), with and without every household wanted: the
// households built (their persons, receipts in order, member rows, history, classes and
// conflicts) and the rejects must be the same.
func TestHouseholdsWithCollidingHashes(t *testing.T) {
	part := collisionPartition(t, 300)
	for _, all := range []bool{false, true} {
		want, wantRejects := householdsOf(t, part, 0, all)
		got, gotRejects := householdsOf(t, part, ^uint64(0)>>3, all)
		if len(want) < 200 {
			t.Fatalf("all %v: only %d households built", all, len(want))
		}
		if !slices.Equal(got, want) {
			t.Errorf("all %v: households differ when hashes collide:\n%s\nwant\n%s", all, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if len(wantRejects) < 20 || !slices.Equal(gotRejects, wantRejects) {
			t.Errorf("all %v: rejects %v, want %v", all, gotRejects, wantRejects)
		}
	}
}

// householdsOf runs the household pass over part with the hash bits of collide cleared, and
// describes the households and the rejects, sorted.
func householdsOf(t *testing.T, part Part, collide uint64, all bool) (households, rejects []string) {
	t.Helper()
	s := Scratch{collide: collide}
	err := s.Households(part, month("2025-10"), all, func(r *Receipt, reason, detail string) error {
		rejects = append(rejects, fmt.Sprintf("%s %s %d:%d %s %s", r.PersonID, r.ID, r.File, r.Line, reason, detail))
		return nil
	}, func(h *Household) error {
		var b strings.Builder
		fmt.Fprintf(&b, "%s/%s u70 %s 70 %s conflict %q prior %d persons %v:", h.InsurerNo, h.HouseholdID, h.ClassU70, h.Class70, h.Conflict, h.Rules.PriorMonths, h.Persons)
		for k, m := range h.Rows {
			fmt.Fprintf(&b, " [%s %v %v]", m.PersonID, h.Rules.Members[k].BirthDate, m.Line)
		}
		for i, r := range h.Receipts {
			fmt.Fprintf(&b, " %s@%d:%d→%s", r.ID, r.File, r.Line, h.Persons[h.Rules.Receipts[i].Member])
		}
		households = append(households, b.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(households)
	slices.Sort(rejects)
	return households, rejects
}

// collisionPartition makes one household partition of households households of three
// insurers (household ids repeat across insurers), with duplicate receipts, receipts of
// persons unknown or not in force, prior months and some households whose member rows
// disagree on their class.
func collisionPartition(t *testing.T, households int) Part {
	rng := rand.New(rand.NewPCG(3, 4))
	oct := month("2025-10")
	var mems []Member
	var recs []Receipt
	var hist []History
	line := int64(0)
	for h := range households {
		ins := "0613" + strconv.Itoa(1000+h%3)
		hh := strconv.Itoa(h / 3)
		for p := range 1 + rng.IntN(3) {
			m := member(hh+"-"+strconv.Itoa(p), hh, "2020-01", "", rules.U70U)
			m.InsurerNo, m.Line = ins, int64(len(mems)+1)
			if p > 0 && h%17 == 0 {
				m.ClassU70 = rules.U70A // a conflict
			}
			if h%23 == 0 && p == 0 {
				m.To = month("2025-08") // not in force
			}
			mems = append(mems, m)
			for k := range rng.IntN(4) {
				line++
				r := rec(strconv.Itoa(rng.IntN(50))+"-"+strconv.Itoa(k), m.PersonID, int32(rng.IntN(2)), line)
				r.InsurerNo = ins
				recs = append(recs, r)
				if rng.IntN(8) == 0 { // the same receipt again, read later
					line++
					r.Line = line
					recs = append(recs, r)
				}
			}
		}
		if h%5 == 0 {
			hist = append(hist, History{InsurerNo: ins, HouseholdID: hh, Month: oct - 1 - rules.Month(rng.IntN(3))})
		}
	}
	for i := range 20 {
		line++
		r := rec("X"+strconv.Itoa(i), "nobody-"+strconv.Itoa(i%7), 1, line)
		recs = append(recs, r)
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	return joinedPartition(t, oct, mems, recs, hist, 2)
}

// TestHouseholdsShareInsurerCopies: the households of one insurer hand fn one copy of its
// number (the writers' dictionaries recognise it by its address), equal to the records'.
func TestHouseholdsShareInsurerCopies(t *testing.T) {
	part := collisionPartition(t, 90)
	copies := map[string]*byte{}
	var s Scratch
	err := s.Households(part, month("2025-10"), true, func(*Receipt, string, string) error { return nil }, func(h *Household) error {
		p := unsafe.StringData(h.InsurerNo)
		if q, ok := copies[h.InsurerNo]; ok && q != p {
			t.Errorf("insurer %s: two copies", h.InsurerNo)
		}
		copies[h.InsurerNo] = p
		for _, r := range h.Receipts {
			if r.InsurerNo != h.InsurerNo {
				t.Errorf("household %s: insurer %s, its receipt's %s", h.HouseholdID, h.InsurerNo, r.InsurerNo)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != 3 {
		t.Errorf("%d insurers, want 3", len(copies))
	}
}

// joinedPartition is the one household partition (in memory) that the receipts, joined
// through a directory of mems sealed on workers goroutines, the rows in force and the history
// make.
func joinedPartition(tb testing.TB, m rules.Month, mems []Member, recs []Receipt, hist []History, workers int) Part {
	tb.Helper()
	d := sealedDirectory(tb, m, mems, workers)
	spill, err := NewSpill("", 1, 2)
	if err != nil {
		tb.Fatal(err)
	}
	out, emit := NewHouseholdPart(spill, 0), NewHouseholdPart(spill, 1)
	for i := range recs {
		if err := d.Join(&recs[i], out); err != nil {
			tb.Fatal(err)
		}
	}
	if err := d.EmitInForce(emit, 0, 1, nil); err != nil {
		tb.Fatal(err)
	}
	for i := range hist {
		if err := out.History(&hist[i]); err != nil {
			tb.Fatal(err)
		}
	}
	part, err := spill.Read(0)
	if err != nil {
		tb.Fatal(err)
	}
	return part
}
