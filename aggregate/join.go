package aggregate

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync/atomic"

	"github.com/kougaku/batch/rules"
)

// Person partitions (pass 1 → pass 2) hold receipts and member rows keyed by (insurer, person),
// for a members master too large to be held whole in a Directory; the join makes a directory
// of each partition's members and writes receipts and members into household partitions
// (pass 2 → pass 3).

// PersonPart routes records into person partitions.
type PersonPart struct {
	w *PartWriter
	e enc
}

// NewPersonPart returns worker w's router into s.
func NewPersonPart(s *Spill, w int) *PersonPart { return &PersonPart{w: s.Writer(w)} }

// Receipt appends a receipt to its person partition.
func (p *PersonPart) Receipt(r *Receipt) error {
	p.e.b = p.e.b[:0]
	p.e.receipt(r)
	return p.w.Append(PartOf(Hash2(r.InsurerNo, r.PersonID), p.w.s.parts), p.e.b)
}

// Member appends a member row to its person partition.
func (p *PersonPart) Member(m *Member) error {
	p.e.b = p.e.b[:0]
	p.e.member(m)
	return p.w.Append(PartOf(Hash2(m.InsurerNo, m.PersonID), p.w.s.parts), p.e.b)
}

// Flush writes out what the router buffered.
func (p *PersonPart) Flush() error { return p.w.Flush() }

// MarkTail tells that the router has routed its last receipt: the member rows it routes
// from now on are read by a Matcher without the receipts before them (Spill.ReadTailInto).
func (p *PersonPart) MarkTail() error { return p.w.MarkTail() }

// HouseholdPart routes records into household partitions.
type HouseholdPart struct {
	w           *PartWriter
	e           enc
	warmed      int32           // see Directory.Warm
	marks       *HouseholdMarks // when set, the households of joined receipts are marked in it
	fullMembers bool            // see KeepMemberRows
	refusals    int64           // receipts refused by the join, see Refusals
	// only, when of > 0: the router takes records of partition only of of alone (a
	// RoutedJoin's), and any other is ErrMisrouted.
	only, of int
	// direct, when set, takes the records as they are, for the household pass, instead of
	// a spill (a RoutedJoin's: see Scratch.held).
	direct *Scratch
}

// Refusals is how many receipts the join refused through p (they reach the rejects only in
// the household pass, with the person's other receipts).
func (p *HouseholdPart) Refusals() int64 { return p.refusals }

// KeepMemberRows has the member rows written whole from now on, for a run that writes them
// out again (a members file): otherwise they are lean (see leanMember).
func (p *HouseholdPart) KeepMemberRows() { p.fullMembers = true }

// MarkInto has the households of the receipts joined from now on marked in m, which several
// HouseholdParts may share.
func (p *HouseholdPart) MarkInto(m *HouseholdMarks) { p.marks = m }

// HouseholdMarks notes the households that joined receipts went to: with them, EmitInForce
// leaves out the member rows of the households without a receipt, which the household pass
// would decode, sort and pass over for nothing (unless every household is wanted:
// Households' all).
//
// The join marks the directory row in force that a receipt joined (a bit per row: a table a
// tenth the size of the households', and the row's index at hand); Directory.SettleMarks then
// marks those rows' households, by their hash, before EmitInForce asks for them. Marking the
// household's hash at each receipt cost a wait for memory per receipt, in the middle of the
// join's work; settled apart, a row after the other, the waits overlap. A household mark is a
// bit chosen by the hash, so an unmarked household may pass for marked (its rows then go as
// before), never the reverse. The workers share the tables, marked atomically, so that
// their size does not grow with their number.
type HouseholdMarks struct {
	rows  []uint64 // by directory row
	bits  []uint64 // by household hash
	shift uint
}

// NewHouseholdMarks makes room for marking the rows of a directory of n rows, and up to n
// households, at 8 or more bits each.
func NewHouseholdMarks(n int) *HouseholdMarks {
	k := max(bits.Len(uint(max(n, 1)))+3, 6)
	return &HouseholdMarks{rows: make([]uint64, (n+63)/64), bits: make([]uint64, 1<<(k-6)), shift: uint(64 - k)}
}

// reset empties m for a directory of n rows, reusing its memory where it is large enough
// (a routed join's marks, made again for every partition).
func (m *HouseholdMarks) reset(n int) {
	k := max(bits.Len(uint(max(n, 1)))+3, 6)
	m.rows = Room(m.rows, (n+63)/64)[:(n+63)/64]
	m.bits = Room(m.bits, 1<<(k-6))[:1<<(k-6)]
	clear(m.rows)
	clear(m.bits)
	m.shift = uint(64 - k)
}

// markRow marks directory row i.
func (m *HouseholdMarks) markRow(i int32) { setBit(m.rows, uint64(i)) }

func (m *HouseholdMarks) mark(hhHash uint64) { setBit(m.bits, hhHash>>m.shift) }

// hasRow is read once the join is over.
func (m *HouseholdMarks) hasRow(i int32) bool { return hasBit(m.rows, uint64(i)) }

// has is read once the marks are settled.
func (m *HouseholdMarks) has(hhHash uint64) bool { return hasBit(m.bits, hhHash>>m.shift) }

// setBit sets bit i of words, atomically: a load first, so that the many receipts of a marked
// person or household find their bit set without a locked write.
func setBit(words []uint64, i uint64) {
	w, bit := &words[i>>6], uint64(1)<<(i&63)
	if atomic.LoadUint64(w)&bit == 0 {
		atomic.OrUint64(w, bit)
	}
}

func hasBit(words []uint64, i uint64) bool { return words[i>>6]&(1<<(i&63)) != 0 }

// NewHouseholdPart returns worker w's router into s.
func NewHouseholdPart(s *Spill, w int) *HouseholdPart { return &HouseholdPart{w: s.Writer(w)} }

func (p *HouseholdPart) part(insurer, household string) int {
	return PartOf(Hash2(insurer, household), p.w.s.parts)
}

// joined appends a receipt joined to its member to the partition of household hh.
// row is the index of the member's row in force in the directory, which marks note.
func (p *HouseholdPart) joined(r *Receipt, hh string, hhHash uint64, row int32) error {
	if p.marks != nil {
		p.marks.markRow(row)
	}
	if err := p.checkRouted(hhHash, "a receipt joined to household ", hh); err != nil {
		return err
	}
	if p.direct != nil {
		p.direct.addReceipt(r, hh, hhHash, "", "")
		return nil
	}
	part := PartOf(hhHash, p.w.s.parts)
	b, err := p.w.reserve(part, 1+binary.MaxVarintLen64+len(hh)+receiptBytes(r))
	if err != nil {
		return err
	}
	e := enc{b: b} // straight into the partition's chunk
	e.byte1(tagJoined)
	e.receiptFields(r, hh)
	p.w.commit(part, e.b)
	return nil
}

// refused appends a receipt the join refused, with its reason, to the partition of
// household hh.
func (p *HouseholdPart) refused(r *Receipt, hh string, hhHash uint64, reason, detail string) error {
	p.refusals++
	if p.direct != nil {
		p.direct.addReceipt(r, hh, hhHash, reason, detail)
		return nil
	}
	p.e.b = p.e.b[:0]
	p.e.byte1(tagRefused)
	p.e.s(reason)
	p.e.s(detail)
	p.e.receiptFields(r, hh)
	return p.w.Append(PartOf(hhHash, p.w.s.parts), p.e.b)
}

// Member appends a member row in force this month to its household partition.
func (p *HouseholdPart) Member(m *Member) error {
	return p.member(m, Hash2(m.InsurerNo, m.HouseholdID))
}

// member is Member with the household hash already computed.
func (p *HouseholdPart) member(m *Member, hhHash uint64) error {
	if err := p.checkRouted(hhHash, "the member row in force of household ", m.HouseholdID); err != nil {
		return err
	}
	if p.direct != nil {
		p.direct.addMember(m, hhHash, p.fullMembers)
		return nil
	}
	p.e.b = p.e.b[:0]
	if p.fullMembers {
		p.e.member(m)
	} else {
		p.e.leanMember(m)
	}
	return p.w.Append(PartOf(hhHash, p.w.s.parts), p.e.b)
}

// History appends a prior counting month to its household partition.
func (p *HouseholdPart) History(h *History) error {
	p.e.b = p.e.b[:0]
	p.e.history(h)
	return p.w.Append(p.part(h.InsurerNo, h.HouseholdID), p.e.b)
}

// Flush writes out what the router buffered.
func (p *HouseholdPart) Flush() error { return p.w.Flush() }

// JoinPartition joins the receipts of one person partition to the member rows in it, for
// service month month, the way a Directory joins a month's receipts: the partition's member
// rows become a directory of their own, its rows in force go to out, and every receipt is
// looked up in it and goes to out, joined or refused with its reason (Directory.Join).
// knownInsurer tells whether the whole members master has the insurer (a partition holds
// only some of its persons); halfDecided is Directory.HalfDecided; files are the members
// files' paths (Directory.NameFiles). It returns the number of the partition's persons
// whose rows in force disagree (Directory.Conflicting): a person is in one partition only.
// The receipts to resolve are set aside in unresolved (Directory.SetAside), when not nil.
func JoinPartition(part Part, month rules.Month, knownInsurer func(string) bool, halfDecided bool, files []string, unresolved *Unresolved, out *HouseholdPart) (conflicting int64, err error) {
	return new(joinScratch).join(part, month, knownInsurer, halfDecided, files, unresolved, false, out)
}

// joinScratch is the memory a worker's joins reuse from one partition to the next: the
// receipts read (full of pointers, which the collector would otherwise scan afresh in every
// partition's garbage) and the directory's rows.
type joinScratch struct {
	recs []Receipt
	d    *Directory
	// marks, when not nil, leave out the member rows in force of the households that no
	// receipt joined and wanted does not name (a routed join's, see RoutedJoin).
	marks  *HouseholdMarks
	wanted []uint64
}

// join is JoinPartition in s's memory; routed says that the partition is a routed one
// (RoutedJoin), whose receipts were all routed for a person in it.
func (s *joinScratch) join(part Part, month rules.Month, knownInsurer func(string) bool, halfDecided bool, files []string, unresolved *Unresolved, routed bool, out *HouseholdPart) (conflicting int64, err error) {
	if s.d == nil {
		s.d = NewDirectory(month, part.counts[tagMember])
	} else {
		s.d.recycle(month)
	}
	d := s.d
	d.routed = routed
	d.unresolved = unresolved
	d.keepNames = true // a partition's directory is small: its members file rows keep their names
	d.knownInsurer = knownInsurer
	d.halfDecided = halfDecided
	d.files = files
	clear(s.recs) // no strings of the last partition kept
	recs := s.recs[:0]
	defer func() { s.recs = recs }()
	if err := d.readPartition(part, func(r *Receipt) { recs = append(recs, *r) }); err != nil {
		return 0, err
	}
	if s.marks == nil {
		if err := d.EmitInForce(out, 0, 1, nil); err != nil {
			return 0, err
		}
	} else {
		s.marks.reset(d.Rows())
		out.MarkInto(s.marks)
		defer out.MarkInto(nil)
	}
	for i := range recs {
		r := &recs[i]
		if err := d.JoinHashed(r, Hash2(r.InsurerNo, r.PersonID), out); err != nil {
			return 0, err
		}
	}
	if s.marks != nil {
		d.SettleMarks(s.marks, 0, 1)
		for _, h := range s.wanted {
			s.marks.mark(h)
		}
		if err := d.EmitInForce(out, 0, 1, s.marks); err != nil {
			return 0, err
		}
	}
	return d.Conflicting(), nil
}

// readPartition adds the member rows of a person partition to d, hands its receipts to
// receipt (whose argument is reused for the next), and seals d.
func (d *Directory) readPartition(part Part, receipt func(*Receipt)) error {
	sh := d.Shard(0)
	if err := eachRecord(part, sh.Add, receipt); err != nil {
		return err
	}
	return d.Seal(1)
}

// eachRecord hands each member row of a person partition to member and each receipt to
// receipt, in the partition's order (their arguments are reused for the next); a nil
// receipt passes the receipts over.
func eachRecord(part Part, member func(*Member) error, receipt func(*Receipt)) error {
	var m Member
	var r Receipt
	for _, chunk := range part.Chunks {
		dc := dec{b: chunk}
		for len(dc.b) > 0 && dc.err == nil {
			switch tag := dc.byte1(); tag {
			case tagMember:
				dc.member(&m)
				if dc.err == nil {
					if err := member(&m); err != nil {
						return err
					}
				}
			case tagReceipt:
				r = Receipt{}
				dc.receipt(&r)
				if dc.err == nil && receipt != nil {
					receipt(&r)
				}
			default:
				return fmt.Errorf("%w: record tag %d in a person partition", errCorrupt, tag)
			}
		}
		if dc.err != nil {
			return dc.err
		}
	}
	return nil
}

// inForce picks a person's row in force in month: of several, the one that started last
// (a later row supersedes an earlier one for the months they share). nil when none is.
func inForce(rows []Member, month rules.Month) *Member {
	var best *Member
	for k := range rows {
		if rows[k].Covers(month) && (best == nil || rows[k].From >= best.From) {
			best = &rows[k]
		}
	}
	return best
}

// halfLimits decides the 75歳到達月特例 for the person of rows in month (m is the row in
// force): the master says so, or it is their 75th-birthday month and their eligibility under
// this insurer begins or ends in it (no row covers the month before, or the month after).
func halfLimits(rows []Member, m *Member, month rules.Month) bool {
	begins, ends := true, true
	for k := range rows {
		begins = begins && !rows[k].Covers(month-1)
		ends = ends && !rows[k].Covers(month+1)
	}
	return rules.HalfLimitsApply(m.Birth, month, m.HalfMonth == month, begins || ends)
}

// samePackedDate compares a YYYY-MM-DD text with a valid date packed as packDate packs it
// (a directory row's birth date; a receipt hot path), without unpacking it or checking the
// text's date beyond its digits: a text whose digits give a valid date's is that date.
func samePackedDate(s string, packed uint32) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	v := uint32(0)
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9} {
		c := s[i] - '0'
		if c > 9 {
			return false
		}
		v = v*10 + uint32(c)
	}
	return v == packed
}
