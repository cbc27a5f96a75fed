package aggregate

import (
	"cmp"
	"fmt"
	"slices"
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
	w *PartWriter
	e enc
}

// NewHouseholdPart returns worker w's router into s.
func NewHouseholdPart(s *Spill, w int) *HouseholdPart { return &HouseholdPart{w: s.Writer(w)} }

func (p *HouseholdPart) part(insurer, household string) int {
	return PartOf(Hash2(insurer, household), p.w.s.parts)
}

// Receipt appends a joined receipt to its household partition.
func (p *HouseholdPart) Receipt(r *Receipt) error {
	p.e.b = p.e.b[:0]
	p.e.receipt(r)
	return p.w.Append(p.part(r.InsurerNo, r.HouseholdID), p.e.b)
}

// Member appends a member row in force this month to its household partition.
func (p *HouseholdPart) Member(m *Member) error {
	p.e.b = p.e.b[:0]
	p.e.member(m)
	return p.w.Append(p.part(m.InsurerNo, m.HouseholdID), p.e.b)
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
// UNKNOWN_PERSON, NOT_ELIGIBLE, BIRTHDATE_MISMATCH, SEX_MISMATCH, DUPLICATE_RECEIPT); joined
// receipts and the member rows in force go to out. knownInsurer tells whether the members
// master has the insurer at all. It returns the count and paid of the receipts it passed on.
//
// Both sides are sorted by (person hash, insurer, person) and merged, so the join needs no map. Receipts of
// one person are in (receipt id, file, line) order: of two receipts with one id, the one read
// first is kept and the other is DUPLICATE_RECEIPT. Duplicates are therefore found among the
// receipts of one person; the receipt id embeds the institution and the person's receipt
// number, so a repeated id is in practice a repeated claim of that person.
func Join(part Part, month rules.Month, knownInsurer func(string) bool, out *HouseholdPart,
	reject func(r *Receipt, reason, detail string) error) (passed, paid int64, err error) {
	recs, mems, _, err := decodeAll(part)
	if err != nil {
		return 0, 0, err
	}
	// Sort keys, not records: a key is 16 bytes, a record over 200, and the person hash
	// settles almost every comparison without looking at a string.
	rk := keys(len(recs), func(i int) (string, string) { return recs[i].InsurerNo, recs[i].PersonID })
	slices.SortFunc(rk, func(a, b sortKey) int {
		if a.hash != b.hash {
			return cmp.Compare(a.hash, b.hash)
		}
		x, y := &recs[a.idx], &recs[b.idx]
		return cmp.Or(strings.Compare(x.InsurerNo, y.InsurerNo), strings.Compare(x.PersonID, y.PersonID),
			strings.Compare(x.ID, y.ID), cmp.Compare(x.File, y.File), cmp.Compare(x.Line, y.Line))
	})
	mk := keys(len(mems), func(i int) (string, string) { return mems[i].InsurerNo, mems[i].PersonID })
	slices.SortFunc(mk, func(a, b sortKey) int {
		if a.hash != b.hash {
			return cmp.Compare(a.hash, b.hash)
		}
		x, y := &mems[a.idx], &mems[b.idx]
		return cmp.Or(strings.Compare(x.InsurerNo, y.InsurerNo), strings.Compare(x.PersonID, y.PersonID),
			cmp.Compare(x.From, y.From), strings.Compare(x.Source, y.Source))
	})
	sortedRecs := make([]Receipt, len(recs))
	for i, k := range rk {
		sortedRecs[i] = recs[k.idx]
	}
	recs = sortedRecs
	sortedMems := make([]Member, len(mems))
	for i, k := range mk {
		sortedMems[i] = mems[k.idx]
	}
	mems = sortedMems
	for i, mi := 0, 0; i < len(recs) || mi < len(mems); {
		ins, per := nextPerson(recs[i:], mems[mi:])
		j, mj := i, mi
		for j < len(recs) && recs[j].InsurerNo == ins && recs[j].PersonID == per {
			j++
		}
		for mj < len(mems) && mems[mj].InsurerNo == ins && mems[mj].PersonID == per {
			mj++
		}
		if m := inForce(mems[mi:mj], month); m != nil {
			if err := out.Member(m); err != nil {
				return 0, 0, err
			}
		}
		n, p, err := joinPerson(recs[i:j], mems[mi:mj], month, knownInsurer, out, reject)
		if err != nil {
			return 0, 0, err
		}
		passed, paid = passed+n, paid+p
		i, mi = j, mj
	}
	return passed, paid, nil
}

// nextPerson is the smaller (insurer, person) of the heads of the two sorted lists.
func nextPerson(recs []Receipt, mems []Member) (insurer, person string) {
	switch {
	case len(recs) == 0:
		return mems[0].InsurerNo, mems[0].PersonID
	case len(mems) == 0:
		return recs[0].InsurerNo, recs[0].PersonID
	}
	r, m := &recs[0], &mems[0]
	hm, hr := Hash2(m.InsurerNo, m.PersonID), Hash2(r.InsurerNo, r.PersonID)
	if hm != hr {
		if hm < hr {
			return m.InsurerNo, m.PersonID
		}
		return r.InsurerNo, r.PersonID
	}
	if c := cmp.Or(strings.Compare(m.InsurerNo, r.InsurerNo), strings.Compare(m.PersonID, r.PersonID)); c < 0 {
		return m.InsurerNo, m.PersonID
	}
	return r.InsurerNo, r.PersonID
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

func joinPerson(recs []Receipt, rows []Member, month rules.Month, knownInsurer func(string) bool,
	out *HouseholdPart, reject func(r *Receipt, reason, detail string) error) (passed, paid int64, err error) {
	m := inForce(rows, month)
	for k := range recs {
		r := &recs[k]
		reason, detail := "", ""
		switch {
		case k > 0 && r.ID == recs[k-1].ID:
			reason, detail = receipt.DuplicateReceipt, "receipt_id already read"
		case strings.Trim(r.InsurerNo, "7") == "" || !knownInsurer(r.InsurerNo):
			reason, detail = receipt.UnknownInsurer, fmt.Sprintf("insurer %q is not in the members master", r.InsurerNo)
		case len(rows) == 0:
			reason, detail = receipt.UnknownPerson, fmt.Sprintf("person %q has no row in the members master of insurer %s", r.PersonID, r.InsurerNo)
		case m == nil:
			reason, detail = receipt.NotEligible, fmt.Sprintf("no eligibility row of person %q covers %s", r.PersonID, month)
		case r.BirthDate != "" && r.BirthDate != m.Birth.String():
			reason, detail = receipt.BirthdateMismatch, fmt.Sprintf("receipt birth_date %s, members master %s", r.BirthDate, m.Birth)
		case r.Sex != "" && m.Sex != "" && r.Sex != m.Sex:
			reason, detail = receipt.SexMismatch, fmt.Sprintf("receipt sex %s, members master %s", r.Sex, m.Sex)
		}
		if reason != "" {
			if err := reject(r, reason, detail); err != nil {
				return 0, 0, err
			}
			continue
		}
		r.HouseholdID, r.Birth, r.HalfLimits = m.HouseholdID, m.Birth, m.HalfMonth == month
		if err := out.Receipt(r); err != nil {
			return 0, 0, err
		}
		passed++
		paid += r.Paid
	}
	return passed, paid, nil
}
