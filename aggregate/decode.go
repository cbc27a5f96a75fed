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
func decodeAll(part Part, s *Scratch) (recs []Receipt, mems []Member, hist []History, err error) {
	recs = Room(s.recs, part.Receipts())
	mems = Room(s.mems, part.counts[tagMember]+part.counts[tagLeanMember])
	hist = Room(s.hist, part.counts[tagHistory])
	rk := Room(s.rk, part.Receipts())
	mk := Room(s.mk, part.counts[tagMember]+part.counts[tagLeanMember])
	hk := Room(s.hk, part.counts[tagHistory])
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

// Receipts is the number of receipts in the partition.
func (p *Part) Receipts() int {
	return p.counts[tagReceipt] + p.counts[tagJoined] + p.counts[tagRefused]
}
