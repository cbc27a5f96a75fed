package aggregate

import (
	"fmt"
	"slices"
)

// decodeAll decodes one partition into s's slices, grown once from its counts. The strings of
// the records alias the partition's chunks.
func decodeAll(part Part, s *Scratch) (recs []Receipt, mems []Member, hist []History, err error) {
	recs = slices.Grow(s.recs[:0], part.Receipts())
	mems = slices.Grow(s.mems[:0], part.counts[tagMember])
	hist = slices.Grow(s.hist[:0], part.counts[tagHistory])
	defer func() { s.recs, s.mems, s.hist = recs, mems, hist }()
	for _, chunk := range part.Chunks {
		d := dec{b: chunk}
		for len(d.b) > 0 && d.err == nil {
			switch tag := d.byte1(); tag {
			case tagReceipt:
				recs = append(recs, Receipt{})
				d.receipt(&recs[len(recs)-1])
			case tagJoined:
				recs = append(recs, Receipt{})
				d.joined(&recs[len(recs)-1])
			case tagRefused:
				recs = append(recs, Receipt{})
				d.refused(&recs[len(recs)-1])
			case tagMember:
				mems = append(mems, Member{})
				d.member(&mems[len(mems)-1])
			case tagHistory:
				hist = append(hist, History{})
				d.history(&hist[len(hist)-1])
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
