package aggregate

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Person partitions (pass 1 → pass 2) hold receipts and member rows keyed by (insurer, person);
// the join resolves each receipt to its member's household and writes receipts and members
// into household partitions (pass 2 → pass 3).

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

// HouseholdPart routes records into household partitions.
type HouseholdPart struct {
	w      *PartWriter
	e      enc
	warmed int32 // see Directory.Warm
}

// NewHouseholdPart returns worker w's router into s.
func NewHouseholdPart(s *Spill, w int) *HouseholdPart { return &HouseholdPart{w: s.Writer(w)} }

func (p *HouseholdPart) part(insurer, household string) int {
	return PartOf(Hash2(insurer, household), p.w.s.parts)
}

// joined appends a receipt joined to its member (raw is its record after the tag) to the
// household's partition.
func (p *HouseholdPart) joined(r *headRec, m *Member) error {
	p.e.b = p.e.b[:0]
	p.e.joined(m.HouseholdID, r.raw)
	return p.w.Append(p.part(m.InsurerNo, m.HouseholdID), p.e.b)
}

// Member appends a member row in force this month to its household partition.
func (p *HouseholdPart) Member(m *Member) error {
	return p.member(m, Hash2(m.InsurerNo, m.HouseholdID))
}

// member is Member with the household hash already computed.
func (p *HouseholdPart) member(m *Member, hhHash uint64) error {
	p.e.b = p.e.b[:0]
	p.e.member(m)
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

// Join resolves the receipts of one person partition against the member rows in it, for
// service month month. Receipts that cannot be joined become rejects (UNKNOWN_INSURER,
// UNKNOWN_PERSON, NOT_ELIGIBLE, BIRTHDATE_MISMATCH, SEX_MISMATCH; duplicates are found in
// the household pass, on this way and on the Directory's alike); joined
// receipts and the member rows in force go to out. knownInsurer tells whether the members
// master has the insurer at all. It returns the count and paid of the receipts it passed on.
//
// Both sides are sorted by (person hash, insurer, person) and merged, so the join needs no map.
func Join(part Part, month rules.Month, knownInsurer func(string) bool, out *HouseholdPart,
	reject func(r *Receipt, reason, detail string) error) (passed, paid int64, err error) {
	recs, mems, err := decodeHeads(part)
	if err != nil {
		return 0, 0, err
	}
	// Sort keys, not records: a key is 16 bytes, and the person hash settles almost every
	// comparison without looking at a string.
	rk := keys(len(recs), func(i int) (string, string) { return recs[i].InsurerNo, recs[i].PersonID })
	sortKeys(rk, func(a, b sortKey) int {
		x, y := &recs[a.idx], &recs[b.idx]
		if c := compare4(x.InsurerNo, y.InsurerNo, x.PersonID, y.PersonID, x.ID, y.ID, "", ""); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.File, y.File), cmp.Compare(x.Line, y.Line))
	})
	mk := keys(len(mems), func(i int) (string, string) { return mems[i].InsurerNo, mems[i].PersonID })
	sortKeys(mk, func(a, b sortKey) int {
		x, y := &mems[a.idx], &mems[b.idx]
		if c := compare2(x.InsurerNo, y.InsurerNo, x.PersonID, y.PersonID); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.From, y.From), cmp.Compare(x.File, y.File), cmp.Compare(x.Line, y.Line))
	})
	rows := make([]Member, 0, 4)
	for i, mi := 0, 0; i < len(rk) || mi < len(mk); {
		hash, ins, per := nextPerson(recs, rk[i:], mems, mk[mi:])
		j, mj := i, mi
		for j < len(rk) && rk[j].hash == hash && recs[rk[j].idx].InsurerNo == ins && recs[rk[j].idx].PersonID == per {
			j++
		}
		rows = rows[:0]
		for mj < len(mk) && mk[mj].hash == hash && mems[mk[mj].idx].InsurerNo == ins && mems[mk[mj].idx].PersonID == per {
			rows = append(rows, mems[mk[mj].idx])
			mj++
		}
		m := inForce(rows, month)
		if m != nil {
			m.HalfNow = halfLimits(rows, m, month)
			if err := out.Member(m); err != nil {
				return 0, 0, err
			}
		}
		for k := i; k < j; k++ {
			r := &recs[rk[k].idx]
			reason, detail := check(r, len(rows) > 0, m, month, knownInsurer)
			if reason != "" {
				if err := reject(&r.Receipt, reason, detail); err != nil {
					return 0, 0, err
				}
				continue
			}
			if err := out.joined(r, m); err != nil {
				return 0, 0, err
			}
			passed++
			paid += r.Paid
		}
		i, mi = j, mj
	}
	return passed, paid, nil
}

// headRec is a receipt as the join sees it: its head decoded, its record kept as bytes.
type headRec struct {
	Receipt
	raw []byte // the record after its tag
}

// decodeHeads decodes the receipt heads and the member rows of a person partition.
func decodeHeads(part Part) (recs []headRec, mems []Member, err error) {
	recs = make([]headRec, 0, part.counts[tagReceipt])
	mems = make([]Member, 0, part.counts[tagMember])
	for _, chunk := range part.Chunks {
		d := dec{b: chunk}
		for len(d.b) > 0 && d.err == nil {
			switch tag := d.byte1(); tag {
			case tagReceipt:
				start := d.b
				recs = append(recs, headRec{})
				r := &recs[len(recs)-1]
				d.receiptHead(&r.Receipt)
				d.skipReceiptBody()
				r.raw = start[:len(start)-len(d.b)]
			case tagMember:
				mems = append(mems, Member{})
				d.member(&mems[len(mems)-1])
			default:
				return nil, nil, fmt.Errorf("%w: record tag %d in a person partition", errCorrupt, tag)
			}
		}
		if d.err != nil {
			return nil, nil, d.err
		}
	}
	return recs, mems, nil
}

// nextPerson is the smaller (hash, insurer, person) of the heads of the two sorted lists.
func nextPerson(recs []headRec, rk []sortKey, mems []Member, mk []sortKey) (uint64, string, string) {
	switch {
	case len(rk) == 0:
		m := &mems[mk[0].idx]
		return mk[0].hash, m.InsurerNo, m.PersonID
	case len(mk) == 0:
		r := &recs[rk[0].idx]
		return rk[0].hash, r.InsurerNo, r.PersonID
	}
	r, m := &recs[rk[0].idx], &mems[mk[0].idx]
	if mk[0].hash != rk[0].hash {
		if mk[0].hash < rk[0].hash {
			return mk[0].hash, m.InsurerNo, m.PersonID
		}
		return rk[0].hash, r.InsurerNo, r.PersonID
	}
	if compare2(m.InsurerNo, r.InsurerNo, m.PersonID, r.PersonID) < 0 {
		return mk[0].hash, m.InsurerNo, m.PersonID
	}
	return rk[0].hash, r.InsurerNo, r.PersonID
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

// check says why a receipt cannot be joined, or "" when it can.
func check(r *headRec, known bool, m *Member, month rules.Month, knownInsurer func(string) bool) (reason, detail string) {
	switch {
	case strings.Trim(r.InsurerNo, "7") == "" || !knownInsurer(r.InsurerNo):
		return receipt.UnknownInsurer, fmt.Sprintf("insurer %q is not in the members master", r.InsurerNo)
	case !known:
		return receipt.UnknownPerson, fmt.Sprintf("person %q has no row in the members master of insurer %s", r.PersonID, r.InsurerNo)
	case m == nil:
		return receipt.NotEligible, fmt.Sprintf("no eligibility row of person %q covers %s", r.PersonID, month)
	case r.BirthDate != "" && !sameDate(r.BirthDate, m.Birth):
		return receipt.BirthdateMismatch, fmt.Sprintf("receipt birth_date %s, members master %s", r.BirthDate, m.Birth)
	case r.Sex != "" && m.Sex != "" && r.Sex != m.Sex:
		return receipt.SexMismatch, fmt.Sprintf("receipt sex %s, members master %s", r.Sex, m.Sex)
	}
	return "", ""
}

// sameDate compares a YYYY-MM-DD text with a date without formatting (a receipt hot path).
func sameDate(s string, d rules.Date) bool {
	p, err := rules.ParseDate(s)
	return err == nil && p == d
}
