package aggregate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kougaku/batch/rules"
)

// Routed partitions: the way of a month whose members master is too large for a Directory
// but whose PersonTable fits the budget. The intake routes each receipt and member row of a
// person into the household partition the table names (Router); each partition is then
// joined and handed to the household pass in memory (RoutedJoin). Beside the routed spill, a
// side spill takes the records already meant for the household pass: the receipts the
// intake refuses, the history and the resolved receipts.

// A Router routes one intake worker's records by a PersonTable.
type Router struct {
	t          *PersonTable
	w          *PartWriter    // into the routed spill
	side       *HouseholdPart // into the side spill
	known      func(string) bool
	unresolved *Unresolved
	e          enc
	warmed     uint64
	// pending are member rows encoded, with their person hashes, routed a block at a time
	// (flushMembers) so that their look-ups are warmed together, as the receipts' are: one at
	// a time, the 100M month's 70 million rows waited 49 s on memory.
	pending  []byte
	pendingH [WarmBlock]uint64
	pendingN int
	ends     [WarmBlock]int
}

// NewRouter returns worker w's router into the routed and side spills, both of the table's
// partitions. known tells the insurers of the master; the receipts to resolve are set aside
// in unresolved, when not nil.
func NewRouter(t *PersonTable, routed, side *Spill, w int, known func(string) bool, unresolved *Unresolved) *Router {
	return &Router{t: t, w: routed.Writer(w), side: NewHouseholdPart(side, w), known: known, unresolved: unresolved}
}

// Warm loads into the caches what the routing of the receipts of hashes will read.
func (rt *Router) Warm(hashes []uint64) { rt.warmed ^= rt.t.warm(hashes) }

// Receipt routes a receipt whose person hash is hash: to its person's partition, or, when
// the master has no person of it in force, to the side spill refused, or to be resolved.
// The refusals are the Directory's, with its reasons and details (personMissing).
func (rt *Router) Receipt(r *Receipt, hash uint64) error {
	var route uint16
	found := false
	if strings.Trim(r.InsurerNo, "7") != "" {
		route, found = rt.t.lookup(hash)
	}
	var reason, detail string
	switch {
	case !found:
		reason, detail = personMissing(r, rt.known)
	case route&routeStatus == routeNotEligible:
		reason, detail = notEligible(r, rt.t.month)
	default:
		rt.e.b = rt.e.b[:0]
		rt.e.receipt(r)
		return rt.w.Append(rt.part(route, r.InsurerNo, r.PersonID), rt.e.b)
	}
	if rt.unresolved != nil && rt.unresolved.take(r, reason, detail) {
		return nil
	}
	hh := refusedHousehold(r)
	return rt.side.refused(r, hh, Hash2(r.InsurerNo, hh), reason, detail)
}

// Member routes a member row to its person's partition; the rows of a person no row of
// whom covers the month go nowhere (their receipts are refused or resolved at intake).
func (rt *Router) Member(m *Member) error {
	e := enc{b: rt.pending}
	e.member(m)
	rt.pending = e.b
	rt.pendingH[rt.pendingN] = Hash2(m.InsurerNo, m.PersonID)
	rt.ends[rt.pendingN] = len(rt.pending)
	rt.pendingN++
	if rt.pendingN == WarmBlock {
		return rt.flushMembers()
	}
	return nil
}

// flushMembers routes the member rows pending.
func (rt *Router) flushMembers() error {
	hashes := rt.pendingH[:rt.pendingN]
	rt.warmed ^= rt.t.warm(hashes)
	from := 0
	for i, h := range hashes {
		rec := rt.pending[from:rt.ends[i]]
		from = rt.ends[i]
		route, found := rt.t.lookup(h)
		if found && route&routeStatus == routeNotEligible {
			continue
		}
		part := int(route & routePart)
		if !found || route&routeStatus == routeSplit { // rare: the row's ids are wanted
			var m Member
			dc := dec{b: rec[1:]}
			dc.member(&m)
			if dc.err != nil {
				return dc.err
			}
			if !found {
				return fmt.Errorf("%w: member row of insurer %s, person %q, read at row %d of members file %d, was not in the members master when it was first read: did the file change during the run?",
					ErrMisrouted, m.InsurerNo, m.PersonID, m.Line, m.File)
			}
			part = rt.part(route, m.InsurerNo, m.PersonID)
		}
		if err := rt.w.Append(part, rec); err != nil {
			return err
		}
	}
	rt.pending, rt.pendingN = rt.pending[:0], 0
	return nil
}

// part is the partition of a person of the given route: their household's, or for a person
// whose covering rows disagree on it, the partition where the join will refuse their
// receipts (refusedHousehold's).
func (rt *Router) part(route uint16, ins, per string) int {
	if route&routeStatus == routeSplit {
		return PartOf(Hash2(ins, "\x00"+per), rt.t.parts)
	}
	return int(route & routePart)
}

// MarkTail is PartWriter.MarkTail of the routed spill's writer.
func (rt *Router) MarkTail() error { return rt.w.MarkTail() }

// Flush routes the member rows pending and writes out what the router buffered, in both
// spills.
func (rt *Router) Flush() error {
	if err := rt.flushMembers(); err != nil {
		return err
	}
	return errors.Join(rt.w.Flush(), rt.side.Flush())
}

// Refusals is how many receipts the router refused.
func (rt *Router) Refusals() int64 { return rt.side.Refusals() }

// RoutedJoin joins the partitions of a routed spill for the household pass, one at a time:
// the partition's member rows become a directory, its receipts are joined to it
// (JoinPartition) straight into the records of the household pass's Scratch, and the side
// spill's partition is the Part the pass decodes after them. (Encoded into an in-memory
// spill and decoded again by the pass, as the other ways' records are, they cost a routed
// month some 9% of its instructions, and the 100M month 7% of its time: bench/RESULTS.md,
// 2026-12-08.) The records alias the RoutedJoin's memory until its next Join.
type RoutedJoin struct {
	raw, side []byte
	join      joinScratch
	marks     *HouseholdMarks
}

// JoinStats is what a join counted: the persons whose rows in force disagree, and the
// receipts it refused.
type JoinStats struct {
	Conflicting, Refused int64
}

// RoutedOptions are what every partition's join is given: the service month, the master's
// insurers, Directory.HalfDecided, the members files' names, and whether member rows are
// kept whole (HouseholdPart.KeepMemberRows).
type RoutedOptions struct {
	Month        rules.Month
	KnownInsurer func(string) bool
	HalfDecided  bool
	Files        []string
	KeepMembers  bool
	// Resolved are the household hashes, sorted, of the receipts resolved into the side
	// spill: their member rows in force are wanted though no receipt of the partition joined
	// them.
	Resolved []uint64
}

// ResolvedHouseholds returns the hashes of the households of resolved, sorted and each once
// (RoutedOptions.Resolved).
func ResolvedHouseholds(resolved []Resolved) []uint64 {
	hashes := make([]uint64, len(resolved))
	for i := range resolved {
		hashes[i] = Hash2(resolved[i].InsurerNo, resolved[i].Household)
	}
	slices.Sort(hashes)
	return slices.Compact(hashes)
}

// inPart is the part of the sorted hashes that falls in partition q of parts (a range of
// the hash space).
func inPart(hashes []uint64, q, parts int) []uint64 {
	from, _ := slices.BinarySearchFunc(hashes, q, func(h uint64, q int) int { return PartOf(h, parts) - q })
	to, _ := slices.BinarySearchFunc(hashes, q+1, func(h uint64, q int) int { return PartOf(h, parts) - q })
	return hashes[from:to]
}

// Join joins partition q of routed, whose side records are side's partition q, into s for
// the household pass, and returns the side's partition, which s.Households takes after
// them, with what the join counted. A record the join would send to another partition, or a
// receipt of a person the partition lacks, is ErrMisrouted.
func (j *RoutedJoin) Join(routed, side *Spill, q int, o *RoutedOptions, s *Scratch) (part Part, st JoinStats, err error) {
	var raw Part
	if raw, j.raw, err = routed.ReadInto(q, j.raw); err != nil {
		return Part{}, st, err
	}
	if part, j.side, err = side.ReadInto(q, j.side); err != nil {
		return Part{}, st, err
	}
	// Room for the records of both (a receipt joins once, a member row in force goes once).
	s.hold(raw.counts[tagReceipt]+part.Receipts(), raw.counts[tagMember]+part.counts[tagMember]+part.counts[tagLeanMember],
		part.counts[tagHistory])
	s.held = true
	out := &HouseholdPart{direct: s, fullMembers: o.KeepMembers, only: q, of: routed.Parts()}
	// Only the households with a receipt get their member rows in force (unless every
	// member row is kept), as the directory's way leaves them out (HouseholdMarks): the
	// household pass would decode, sort and pass over a third of the partition's members
	// for nothing.
	j.join.marks, j.join.wanted = nil, nil
	if !o.KeepMembers {
		if j.marks == nil {
			j.marks = new(HouseholdMarks)
		}
		j.join.marks, j.join.wanted = j.marks, inPart(o.Resolved, q, routed.Parts())
	}
	if st.Conflicting, err = j.join.join(raw, o.Month, o.KnownInsurer, o.HalfDecided, o.Files, nil, true, out); err != nil {
		s.held = false
		return Part{}, st, fmt.Errorf("partition %d: %w", q, err)
	}
	st.Refused = out.Refusals()
	// The partition counts the records held too: Part.Receipts is the partition's.
	part.counts[tagJoined] += len(s.recs)
	part.counts[tagLeanMember] += len(s.mems)
	return part, st, nil
}

// checkRouted refuses a household record of household hh (hhHash), what it is, for another
// partition than the one p takes alone (p.only, a RoutedJoin's). Its message is made only
// when it refuses: every joined receipt passes here.
func (p *HouseholdPart) checkRouted(hhHash uint64, what, hh string) error {
	if p.of > 0 && PartOf(hhHash, p.of) != p.only {
		return fmt.Errorf("%w: %s%s belongs to partition %d", ErrMisrouted, what, hh, PartOf(hhHash, p.of))
	}
	return nil
}
