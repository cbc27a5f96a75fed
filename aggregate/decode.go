package aggregate

import (
	"fmt"
)

// Room returns s emptied, with room for n elements: s's own array when it has the room, a new
// one a quarter larger than n otherwise (slices.Grow(s[:0], n) would copy s's whole old
// capacity into it, the last partition's records, only for them to be overwritten).
func Room[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:0]
	}
	return make([]T, 0, n+n/4)
}

// decodeAll decodes one partition into s's slices, grown once from its counts, and makes
// each record's sort key (the hash of its insurer and household, collide's bits cleared)
// as it goes: the record's strings are in the caches then, where a pass of its own over
// the records afterwards waited for memory at each one. The strings of the records alias
// the partition's chunks.
//
// The records a RoutedJoin put in s (s.held) stay, and part's are decoded after them.
func decodeAll(part Part, s *Scratch) (recs []Receipt, mems []Member, hist []History, err error) {
	if !s.held {
		s.hold(part.Receipts(), part.counts[tagMember]+part.counts[tagLeanMember], part.counts[tagHistory])
	}
	s.held = false
	recs, mems, hist, rk, mk, hk := s.recs, s.mems, s.hist, s.rk, s.mk, s.hk
	defer func() { s.recs, s.mems, s.hist, s.rk, s.mk, s.hk = recs, mems, hist, rk, mk, hk }()
	key := func(insurer, household string, i int) sortKey {
		return sortKey{hash: Hash2(insurer, household) &^ s.collide, idx: int32(i)}
	}
	for _, chunk := range part.Chunks {
		d := dec{b: chunk}
		for len(d.b) > 0 && d.err == nil {
			tag := d.byte1()
			switch tag {
			case tagReceipt, tagJoined, tagRefused:
				recs = append(recs, Receipt{})
				r := &recs[len(recs)-1]
				switch tag {
				case tagReceipt:
					d.receipt(r)
				case tagJoined:
					d.joined(r)
				default:
					d.refused(r)
				}
				rk = append(rk, key(r.InsurerNo, r.HouseholdID, len(recs)-1))
			case tagMember, tagLeanMember:
				mems = append(mems, Member{})
				m := &mems[len(mems)-1]
				d.memberFields(m, tag == tagMember)
				mk = append(mk, key(m.InsurerNo, m.HouseholdID, len(mems)-1))
			case tagHistory:
				hist = append(hist, History{})
				h := &hist[len(hist)-1]
				d.history(h)
				hk = append(hk, key(h.InsurerNo, h.HouseholdID, len(hist)-1))
			default:
				return nil, nil, nil, fmt.Errorf("%w: record tag %d", errCorrupt, tag)
			}
		}
		if d.err != nil {
			return nil, nil, nil, d.err
		}
	}
	return recs, mems, hist, nil
}

// hold empties s's records and keys, with room for this many of each.
func (s *Scratch) hold(receipts, members, history int) {
	s.recs, s.rk = Room(s.recs, receipts), Room(s.rk, receipts)
	s.mems, s.mk = Room(s.mems, members), Room(s.mk, members)
	s.hist, s.hk = Room(s.hist, history), Room(s.hk, history)
}

// addReceipt adds a joined receipt of household hh (hhHash), or one the join refused for
// reason, as decodeAll would decode it from its record (HouseholdPart.joined, .refused): what
// receiptFields leaves out is left out.
func (s *Scratch) addReceipt(r *Receipt, hh string, hhHash uint64, reason, detail string) {
	s.recs = append(s.recs, *r)
	x := &s.recs[len(s.recs)-1]
	x.HouseholdID, x.BirthDate, x.Sex, x.NameKana, x.Refused, x.Detail = hh, "", "", "", reason, detail
	s.rk = append(s.rk, sortKey{hash: hhHash &^ s.collide, idx: int32(len(s.recs) - 1)})
}

// addMember adds a member row in force of household hash hhHash, whole or lean, as
// decodeAll would decode it from its record (HouseholdPart.member).
func (s *Scratch) addMember(m *Member, hhHash uint64, whole bool) {
	s.mems = append(s.mems, *m)
	x := &s.mems[len(s.mems)-1]
	if !whole {
		x.Sex, x.NameKana, x.From, x.To, x.HalfMonth = "", "", 0, 0, 0
	}
	s.mk = append(s.mk, sortKey{hash: hhHash &^ s.collide, idx: int32(len(s.mems) - 1)})
}

// Receipts is the number of receipts in the partition.
func (p *Part) Receipts() int {
	return p.counts[tagReceipt] + p.counts[tagJoined] + p.counts[tagRefused]
}
