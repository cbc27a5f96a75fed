package aggregate

import (
	"cmp"
	"fmt"
	"strings"

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
	h               Household
	insurers        interner // one copy of each insurer number (pass.insurer)
	// held: the records hold a RoutedJoin's partition, joined straight into them, which the
	// next Households takes with the records of its part (decodeAll).
	held bool
	// collide, when not zero, clears these bits of every household hash: a test's way to
	// make households collide, which real 64-bit hashes do too rarely to be tested.
	collide uint64
}

// Read reads partition p of sp into the scratch's buffer (see Spill.Read).
func (s *Scratch) Read(sp *Spill, p int) (Part, error) {
	part, data, err := sp.readInto(p, s.data, false)
	s.data = data
	return part, err
}

// Households is the package's Households, in the scratch's memory.
//
// The keys are sorted by hash alone (a radix sort that never reads a record), then the pass
// goes from one hash to the next and does everything for that hash's records at once: sorts
// them, drops the duplicates, builds the household. A household's records are scattered
// over the partition's memory, so each is a cache miss the first time it is touched; done
// a household at a time, the later touches find it in the cache. (Sorting, dropping
// duplicates and grouping each over the whole partition missed three times per record.)
func (s *Scratch) Households(part Part, month rules.Month, all bool, reject func(r *Receipt, reason, detail string) error, fn func(h *Household) error) error {
	recs, mems, hist, err := decodeAll(part, s)
	if err != nil {
		return err
	}
	for _, k := range [][]sortKey{s.rk, s.mk, s.hk} {
		sortByHash(k, &s.tmp)
	}
	rk, mk, hk := s.rk, s.mk, s.hk
	p := pass{month: month, all: all, reject: reject, fn: fn, recs: recs, mems: mems, hist: hist, h: &s.h, insurers: &s.insurers}
	for i, mi, hi, wr, wm := 0, 0, 0, 0, 0; i < len(rk) || mi < len(mk); {
		if i+warmBlock/2 >= wr && wr < len(rk) {
			p.warmReceipts(rk[wr:min(wr+warmBlock, len(rk))])
			wr += warmBlock
		}
		if mi+warmBlock/2 >= wm && wm < len(mk) {
			p.warmMembers(mk[wm:min(wm+warmBlock, len(mk))])
			wm += warmBlock
		}
		hash := nextHash(rk[i:], mk[mi:])
		j, mj := runEnd(rk, i, hash), runEnd(mk, mi, hash)
		for hi < len(hk) && hk[hi].hash < hash {
			hi++
		}
		hj := runEnd(hk, hi, hash)
		if err := p.run(rk[i:j], mk[mi:mj], hk[hi:hj]); err != nil {
			return err
		}
		i, mi, hi = j, mj, hj
	}
	return nil
}

// warmBlock is how many records the pass loads into the caches at once, ahead of its work.
const warmBlock = 32

// warmReceipts loads into the caches the receipts of the keys and their strings, which the
// pass is about to read. They are scattered over the partition's memory: read one after the
// other, each cost a wait for main memory (a tenth of the household pass); asked for in a
// tight loop, many are in flight at once. What was loaded is folded into p.warmed so that
// the compiler keeps the loads.
func (p *pass) warmReceipts(rk []sortKey) {
	var sink int
	for _, k := range rk {
		r := &p.recs[k.idx]
		sink += int(r.File) + len(r.HouseholdID)
	}
	for _, k := range rk {
		if r := &p.recs[k.idx]; len(r.HouseholdID) > 0 && len(r.InstitutionID) > 0 {
			sink += int(r.HouseholdID[0]) + int(r.InstitutionID[0])
		}
	}
	p.warmed ^= sink
}

// warmMembers is warmReceipts for member rows.
func (p *pass) warmMembers(mk []sortKey) {
	var sink int
	for _, k := range mk {
		m := &p.mems[k.idx]
		sink += len(m.InsurerNo) + int(m.Line)
	}
	for _, k := range mk {
		if m := &p.mems[k.idx]; len(m.HouseholdID) > 0 {
			sink += int(m.HouseholdID[0])
		}
	}
	p.warmed ^= sink
}

// nextHash is the smaller hash at the heads of the receipts and the member rows.
func nextHash(rk, mk []sortKey) uint64 {
	switch {
	case len(rk) == 0:
		return mk[0].hash
	case len(mk) == 0:
		return rk[0].hash
	}
	return min(rk[0].hash, mk[0].hash)
}

// runEnd is the end of the run of keys of hash that begins at i.
func runEnd(ks []sortKey, i int, hash uint64) int {
	for i < len(ks) && ks[i].hash == hash {
		i++
	}
	return i
}

// pass is one household pass over a partition.
type pass struct {
	month    rules.Month
	all      bool
	reject   func(r *Receipt, reason, detail string) error
	fn       func(h *Household) error
	recs     []Receipt
	mems     []Member
	hist     []History
	h        *Household
	insurers *interner // see insurer
	warmed   int       // see warmReceipts
}

// run handles the records of one household hash. They are nearly always one household's:
// then its receipts are sorted by (person, id, file, line) and its member rows by person
// without comparing the insurer and household again. Records of households whose hashes
// collide are sorted by insurer and household first and taken a household at a time.
func (p *pass) run(rk, mk, hk []sortKey) error {
	one := p.oneHousehold(rk, mk, hk)
	if one {
		sortRun(rk, func(a, b sortKey) int { return p.receiptOrder(a, b) })
		sortRun(mk, func(a, b sortKey) int { return strings.Compare(p.mems[a.idx].PersonID, p.mems[b.idx].PersonID) })
	} else {
		sortRun(rk, func(a, b sortKey) int {
			x, y := &p.recs[a.idx], &p.recs[b.idx]
			if c := compare2(x.InsurerNo, y.InsurerNo, x.HouseholdID, y.HouseholdID); c != 0 {
				return c
			}
			return p.receiptOrder(a, b)
		})
		sortRun(mk, func(a, b sortKey) int {
			x, y := &p.mems[a.idx], &p.mems[b.idx]
			return compare4(x.InsurerNo, y.InsurerNo, x.HouseholdID, y.HouseholdID, x.PersonID, y.PersonID, "", "")
		})
		sortRun(hk, func(a, b sortKey) int {
			x, y := &p.hist[a.idx], &p.hist[b.idx]
			return compare2(x.InsurerNo, y.InsurerNo, x.HouseholdID, y.HouseholdID)
		})
	}
	rk, err := dropDuplicates(p.recs, rk, p.reject)
	if err != nil {
		return err
	}
	if one {
		return p.household(rk, mk, hk)
	}
	for i, mi, hi := 0, 0, 0; i < len(rk) || mi < len(mk); {
		ins, hh := p.nextHousehold(rk[i:], mk[mi:])
		j, mj := i, mi
		for j < len(rk) && p.recs[rk[j].idx].InsurerNo == ins && p.recs[rk[j].idx].HouseholdID == hh {
			j++
		}
		for mj < len(mk) && p.mems[mk[mj].idx].InsurerNo == ins && p.mems[mk[mj].idx].HouseholdID == hh {
			mj++
		}
		for hi < len(hk) && compare2(p.hist[hk[hi].idx].InsurerNo, ins, p.hist[hk[hi].idx].HouseholdID, hh) < 0 {
			hi++
		}
		hj := hi
		for hj < len(hk) && p.hist[hk[hj].idx].InsurerNo == ins && p.hist[hk[hj].idx].HouseholdID == hh {
			hj++
		}
		if err := p.household(rk[i:j], mk[mi:mj], hk[hi:hj]); err != nil {
			return err
		}
		i, mi, hi = j, mj, hj
	}
	return nil
}

// household builds one household from its receipts (sorted, duplicates dropped), member rows
// and history and hands it to fn, if it has a receipt or every household is wanted.
func (p *pass) household(rk, mk, hk []sortKey) error {
	if len(rk) == 0 && (!p.all || len(mk) == 0) {
		return nil // no receipt (or only refused ones), and no member row to show if all are wanted
	}
	ins, hh := p.head(rk, mk)
	if err := p.h.build(p.month, p.insurer(ins), hh, p.recs, rk, p.mems, mk, p.hist, hk); err != nil {
		return err
	}
	return p.fn(p.h)
}

// insurer returns the scratch's one copy of an insurer number. The rows made from the
// households then share one copy per insurer, which the writers' dictionaries recognise by
// its address or read from their caches; the copy in the partition's memory, read again by
// a writer after the pass has moved on, was a wait for main memory per row.
func (p *pass) insurer(ins string) string { return p.insurers.intern(ins) }

// oneHousehold reports whether the records of a hash are all of one insurer and household.
func (p *pass) oneHousehold(rk, mk, hk []sortKey) bool {
	ins, hh := p.head(rk, mk)
	for _, k := range rk {
		if r := &p.recs[k.idx]; r.HouseholdID != hh || r.InsurerNo != ins {
			return false
		}
	}
	for _, k := range mk {
		if m := &p.mems[k.idx]; m.HouseholdID != hh || m.InsurerNo != ins {
			return false
		}
	}
	for _, k := range hk {
		if x := &p.hist[k.idx]; x.HouseholdID != hh || x.InsurerNo != ins {
			return false
		}
	}
	return true
}

// receiptOrder orders two receipts of one household: by person, receipt id, then where they
// were read (file, line), so that of the copies of a receipt the one read first comes first.
func (p *pass) receiptOrder(a, b sortKey) int {
	x, y := &p.recs[a.idx], &p.recs[b.idx]
	if c := compare2(x.PersonID, y.PersonID, x.ID, y.ID); c != 0 {
		return c
	}
	if x.File != y.File {
		return cmp.Compare(x.File, y.File)
	}
	return cmp.Compare(x.Line, y.Line)
}

// head is the insurer and household of the first receipt, or of the first member row when
// there is no receipt.
func (p *pass) head(rk, mk []sortKey) (string, string) {
	if len(rk) > 0 {
		return p.recs[rk[0].idx].InsurerNo, p.recs[rk[0].idx].HouseholdID
	}
	return p.mems[mk[0].idx].InsurerNo, p.mems[mk[0].idx].HouseholdID
}

// nextHousehold is the smaller (insurer, household) at the heads of the receipts and the
// member rows of one hash.
func (p *pass) nextHousehold(rk, mk []sortKey) (string, string) {
	if len(rk) == 0 || len(mk) == 0 {
		return p.head(rk, mk)
	}
	r, m := &p.recs[rk[0].idx], &p.mems[mk[0].idx]
	if compare2(m.InsurerNo, r.InsurerNo, m.HouseholdID, r.HouseholdID) < 0 {
		return m.InsurerNo, m.HouseholdID
	}
	return r.InsurerNo, r.HouseholdID
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

// priorMonths counts the distinct counting months among the 11 before month, adding any
// count given whole (History.Months; a ledger gives a household either the count or months).
func priorMonths(month rules.Month, hist []History, hk []sortKey) int {
	var seen [11]bool
	n := 0
	for _, k := range hk {
		if c := int(hist[k.idx].Months); c > 0 {
			n += c
			continue
		}
		d := int(month - hist[k.idx].Month)
		if d >= 1 && d <= 11 && !seen[d-1] {
			seen[d-1] = true
			n++
		}
	}
	return min(n, 11)
}
