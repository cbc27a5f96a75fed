package aggregate

import "fmt"

// decodeAll decodes one partition. The strings of the records alias part.
func decodeAll(part []byte) (recs []Receipt, mems []Member, hist []History, err error) {
	d := dec{b: part}
	for len(d.b) > 0 && d.err == nil {
		switch tag := d.byte1(); tag {
		case tagReceipt:
			recs = append(recs, Receipt{})
			d.receipt(&recs[len(recs)-1])
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
	return recs, mems, hist, d.err
}
