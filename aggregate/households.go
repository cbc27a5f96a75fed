package aggregate

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/kougaku/batch/receipt"

	"github.com/kougaku/batch/rules"
)

// Household is one household month ready for the rules, with the receipts it came from.
// Everything in it is reused for the next household: copy what must outlive the callback.
type Household struct {
	InsurerNo, HouseholdID string
	ClassU70               rules.ClassU70
	Class70                rules.Class70
	// Conflict is non-empty when the household's member rows disagree on a class
	// (CATEGORY_CONFLICT); the household is then rejected whole. ConflictRow is the member
	// row that disagreed, whose File and Line say where it was read.
	Conflict    string
	ConflictRow *Member
	// Rules is the input of the computation; Rules.Receipts[i] came from Receipts[i], and
	// Rules.Members[k] is the person Persons[k].
	Rules    rules.Household
	Receipts []*Receipt
	Persons  []string
	// Rows are the member rows in force, one per person (Rows[k] is Persons[k]'s).
	Rows []*Member
}

type sortKey struct {
	hash uint64
	idx  int32
}

// Households decodes one household partition and calls fn for every household with at least
// one receipt (with all set, for every household with a member row in force too), in the order
// of the household hash (then insurer, household id), which is the order of the outputs
// whatever the number of partitions or workers.
//
// Duplicates are found here: of the receipts of one person with one receipt_id, the one read
// first (file, then line) is kept and every other goes to reject as DUPLICATE_RECEIPT, what
// became of the first in the join notwithstanding; then the receipts the join refused go to
// reject with their reason (nil reject: either is an error). The receipt id embeds the
// institution and the person's receipt number, so a repeated id is in practice a repeated
// claim of that person.
func Households(part Part, month rules.Month, all bool, reject func(r *Receipt, reason, detail string) error, fn func(h *Household) error) error {
	return new(Scratch).Households(part, month, all, reject, fn)
}

// Scratch is the memory a worker reuses from one partition to the next: the bytes read from
// the spill, the decoded records and their sort keys. Allocating them afresh for every
// partition cost the household pass a tenth of its time, in zeroing and in page faults.
//
// The strings of the rows fn makes alias a Scratch, so it must not read another partition
// until everything made from the last one is done with.
type Scratch struct {
	data            []byte
	recs            []Receipt
	mems            []Member
	hist            []History
	rk, mk, hk, tmp []sortKey
}

// Read reads partition p of sp into the scratch's buffer (see Spill.Read).
func (s *Scratch) Read(sp *Spill, p int) (Part, error) {
	part, data, err := sp.readInto(p, s.data)
	s.data = data
	return part, err
}

// Households is the package's Households, in the scratch's memory.
func (s *Scratch) Households(part Part, month rules.Month, all bool, reject func(r *Receipt, reason, detail string) error, fn func(h *Household) error) error {
	recs, mems, hist, err := decodeAll(part, s)
	if err != nil {
		return err
	}
	rk := keys(s.rk, len(recs), func(i int) (string, string) { return recs[i].InsurerNo, recs[i].HouseholdID })
	s.rk = rk
	sortKeys(rk, &s.tmp, func(a, b sortKey) int {
		x, y := &recs[a.idx], &recs[b.idx]
		if c := compare4(x.InsurerNo, y.InsurerNo, x.HouseholdID, y.HouseholdID, x.PersonID, y.PersonID, x.ID, y.ID); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.File, y.File), cmp.Compare(x.Line, y.Line))
	})
	if rk, err = dropDuplicates(recs, rk, reject); err != nil {
		return err
	}
	mk := keys(s.mk, len(mems), func(i int) (string, string) { return mems[i].InsurerNo, mems[i].HouseholdID })
	s.mk = mk
	sortKeys(mk, &s.tmp, func(a, b sortKey) int {
		x, y := &mems[a.idx], &mems[b.idx]
		return compare4(x.InsurerNo, y.InsurerNo, x.HouseholdID, y.HouseholdID, x.PersonID, y.PersonID, "", "")
	})
	hk := keys(s.hk, len(hist), func(i int) (string, string) { return hist[i].InsurerNo, hist[i].HouseholdID })
	s.hk = hk
	sortKeys(hk, &s.tmp, func(a, b sortKey) int {
		x, y := &hist[a.idx], &hist[b.idx]
		return compare2(x.InsurerNo, y.InsurerNo, x.HouseholdID, y.HouseholdID)
	})

	var h Household
	hi := 0
	for i, mi := 0, 0; i < len(rk) || mi < len(mk); {
		hash, ins, hh := nextHousehold(recs, rk[i:], mems, mk[mi:])
		j, mj := i, mi
		for j < len(rk) && rk[j].hash == hash && recs[rk[j].idx].InsurerNo == ins && recs[rk[j].idx].HouseholdID == hh {
			j++
		}
		for mj < len(mk) && mk[mj].hash == hash && mems[mk[mj].idx].InsurerNo == ins && mems[mk[mj].idx].HouseholdID == hh {
			mj++
		}
		hi = skipTo(hk, hi, hash, ins, hh, func(k int) (string, string) { return hist[k].InsurerNo, hist[k].HouseholdID })
		hj := hi
		for hj < len(hk) && hk[hj].hash == hash && hist[hk[hj].idx].InsurerNo == ins && hist[hk[hj].idx].HouseholdID == hh {
			hj++
		}
		if j > i || all {
			if err := h.build(month, ins, hh, recs, rk[i:j], mems, mk[mi:mj], hist, hk[hi:hj]); err != nil {
				return err
			}
			if err := fn(&h); err != nil {
				return err
			}
		}
		i, mi, hi = j, mj, hj
	}
	return nil
}

// dropDuplicates removes from sorted keys every receipt that repeats the person and id of the
// one before it, passing it to reject as DUPLICATE_RECEIPT, then every receipt the join
// refused, passing it to reject with its reason. A nil reject makes either an error.
func dropDuplicates(recs []Receipt, rk []sortKey, reject func(r *Receipt, reason, detail string) error) ([]sortKey, error) {
	out := rk[:0]
	for i, k := range rk {
		r := &recs[k.idx]
		reason, detail := r.Refused, r.Detail
		if i > 0 {
			p := &recs[rk[i-1].idx]
			if k.hash == rk[i-1].hash && r.ID == p.ID && r.PersonID == p.PersonID && r.InsurerNo == p.InsurerNo && r.HouseholdID == p.HouseholdID {
				reason, detail = receipt.DuplicateReceipt, "receipt_id already read"
			}
		}
		if reason == "" {
			out = append(out, k)
			continue
		}
		if reject == nil {
			return nil, fmt.Errorf("aggregate: receipt %s of person %s: %s (%s)", r.ID, r.PersonID, reason, detail)
		}
		if err := reject(r, reason, detail); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// nextHousehold is the smaller (hash, insurer, household) at the heads of the receipts and
// the member rows.
func nextHousehold(recs []Receipt, rk []sortKey, mems []Member, mk []sortKey) (uint64, string, string) {
	switch {
	case len(rk) == 0:
		return mk[0].hash, mems[mk[0].idx].InsurerNo, mems[mk[0].idx].HouseholdID
	case len(mk) == 0:
		return rk[0].hash, recs[rk[0].idx].InsurerNo, recs[rk[0].idx].HouseholdID
	}
	r, m := &recs[rk[0].idx], &mems[mk[0].idx]
	if mk[0].hash != rk[0].hash {
		if mk[0].hash < rk[0].hash {
			return mk[0].hash, m.InsurerNo, m.HouseholdID
		}
		return rk[0].hash, r.InsurerNo, r.HouseholdID
	}
	if compare2(m.InsurerNo, r.InsurerNo, m.HouseholdID, r.HouseholdID) < 0 {
		return mk[0].hash, m.InsurerNo, m.HouseholdID
	}
	return rk[0].hash, r.InsurerNo, r.HouseholdID
}

// keys makes the sort keys of n records in dst's memory (grown if need be).
func keys(dst []sortKey, n int, key func(i int) (string, string)) []sortKey {
	out := slices.Grow(dst[:0], n)[:n]
	for i := range out {
		a, b := key(i)
		out[i] = sortKey{hash: Hash2(a, b), idx: int32(i)}
	}
	return out
}

// skipTo advances k past the entries that sort before (hash, insurer, household).
func skipTo(ks []sortKey, k int, hash uint64, ins, hh string, key func(int) (string, string)) int {
	for k < len(ks) {
		if ks[k].hash != hash {
			if ks[k].hash > hash {
				break
			}
			k++
			continue
		}
		a, b := key(int(ks[k].idx))
		if compare2(a, ins, b, hh) >= 0 {
			break
		}
		k++
	}
	return k
}

// build fills h from one household's receipts (sorted by person, id), member rows (sorted by
// person, one per person: the join passed on only the row in force) and history.
func (h *Household) build(month rules.Month, ins, hh string, recs []Receipt, rk []sortKey, mems []Member, mk []sortKey, hist []History, hk []sortKey) error {
	*h = Household{InsurerNo: ins, HouseholdID: hh,
		Rules:    rules.Household{Month: month, Members: h.Rules.Members[:0], Receipts: h.Rules.Receipts[:0]},
		Receipts: h.Receipts[:0], Persons: h.Persons[:0], Rows: h.Rows[:0]}
	for _, k := range mk {
		m := &mems[k.idx]
		if len(h.Persons) > 0 && h.Persons[len(h.Persons)-1] == m.PersonID {
			continue // a person has one row in force
		}
		h.Persons = append(h.Persons, m.PersonID)
		h.Rows = append(h.Rows, m)
		h.Rules.Members = append(h.Rules.Members, rules.Member{BirthDate: m.Birth, HalfLimits: m.HalfNow})
		h.mergeClass(m)
	}
	pi := 0
	for _, k := range rk {
		r := &recs[k.idx]
		for pi < len(h.Persons) && h.Persons[pi] < r.PersonID {
			pi++
		}
		if pi == len(h.Persons) || h.Persons[pi] != r.PersonID {
			return fmt.Errorf("aggregate: receipt %s of person %s has no member row in household %s", r.ID, r.PersonID, h.HouseholdID)
		}
		h.Receipts = append(h.Receipts, r)
		h.Rules.Receipts = append(h.Rules.Receipts, rules.Receipt{ID: r.ID, Member: pi,
			Institution: r.InstitutionID, Prescriber: r.PrescriberID, Kind: r.Kind, Setting: r.Setting,
			Cost: r.Cost, Copay: r.Copay, Paid: r.Paid, Tokutei: r.Tokutei})
	}
	h.Rules.ClassU70, h.Rules.Class70 = h.ClassU70, h.Class70
	h.Rules.PriorMonths = priorMonths(month, hist, hk)
	return nil
}

// mergeClass takes a member row's classes into the household's, noting any disagreement.
func (h *Household) mergeClass(m *Member) {
	if m.ClassU70 != rules.U70None {
		if h.ClassU70 != rules.U70None && h.ClassU70 != m.ClassU70 && h.Conflict == "" {
			h.Conflict, h.ConflictRow = fmt.Sprintf("member rows disagree on category_u70: %s and %s", h.ClassU70, m.ClassU70), m
		}
		if h.ClassU70 == rules.U70None {
			h.ClassU70 = m.ClassU70
		}
	}
	if m.Class70 != rules.O70None {
		if h.Class70 != rules.O70None && h.Class70 != m.Class70 && h.Conflict == "" {
			h.Conflict, h.ConflictRow = fmt.Sprintf("member rows disagree on category_70: %s and %s", h.Class70, m.Class70), m
		}
		if h.Class70 == rules.O70None {
			h.Class70 = m.Class70
		}
	}
}

// priorMonths counts the distinct counting months among the 11 before month.
func priorMonths(month rules.Month, hist []History, hk []sortKey) int {
	var seen [11]bool
	n := 0
	for _, k := range hk {
		d := int(month - hist[k.idx].Month)
		if d >= 1 && d <= 11 && !seen[d-1] {
			seen[d-1] = true
			n++
		}
	}
	return n
}
