package aggregate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Resolving 不詳 and 旧資格 receipts (CONTRACT.md §3.8). A receipt whose insurer number is all
// 7s, whose person the claimed insurer does not know, or who is not eligible under it in the
// month, is what an institution claims when it could not verify the patient's eligibility:
// the organization then looks the patient up among every insurer's persons. The join does
// it where it fails: such a receipt, when it carries a kana name, a birth date and a sex, is
// set aside (Unresolved) instead of refused; once every receipt has been joined, the persons
// in force in the month are scanned once for the names, birth dates and sexes set aside
// (Directory.Match, or MatchPartition on each person partition), and each receipt set aside
// is routed (Route): to the household of the one person found, joined as if claimed right;
// refused with its reason when none is found; AMBIGUOUS_PERSON when several are.
//
// Receipts set aside are few (well under 1% of a month), so the look-up builds no index of
// the master: a directory keeps only a hash of each row's normalized name (Directory.kana),
// and the scan compares the rows in force with the small index of what is sought. Receipts
// that join pay nothing for it.

// The reasons a receipt needed resolving (resolved.parquet's reason) and the method.
const (
	ResolvedInsurerUnknown = "insurer_unknown"
	ResolvedPersonUnknown  = "person_unknown"
	ResolvedNotEligible    = "not_eligible"
	ResolvedByKana         = "kana_birth_sex"
)

// Resolved is a receipt reassigned to the person found: a row of resolved.parquet.
type Resolved struct {
	File                           int32
	Line                           int64
	ReceiptID                      string
	ClaimedInsurer, ClaimedPerson  string
	InsurerNo, PersonID, Household string
	Reason                         string // ResolvedInsurerUnknown, …
	// What the receipt claimed it by, for a rerun to look it up again.
	NameKana, BirthDate, Sex string
}

// Unresolved holds the receipts a join set aside to resolve; the join's goroutines share it.
type Unresolved struct {
	mu     sync.Mutex
	names  kanaKeyer              // under mu
	list   []*toResolve           // pointers: growing the list copies 8 bytes a receipt, not 400
	ready  sync.Once              // prepare, once, whichever partition's match comes first
	index  map[resolveKey][]int32 // by what is sought: the receipts that seek it
	filter []uint64               // a bit per name hash sought, to pass most rows at once
}

// NewUnresolved returns an empty set of receipts to resolve.
func NewUnresolved() *Unresolved { return &Unresolved{} }

// Len is the number of receipts set aside.
func (u *Unresolved) Len() int { return len(u.list) }

type resolveKey struct {
	birth uint32 // packDate
	sex   string
	kana  uint64 // kanaHash
}

// toResolve is a receipt set aside, with its refusal and what the scan found.
type toResolve struct {
	r              Receipt // its strings copied
	reason, detail string
	key            resolveKey
	found          int
	// The first person found: only used when they are the only one.
	insurer, person, household string
	hhHash                     uint64
	row                        int32 // in the directory that found it, for its marks
}

// SetAside has the join set aside, in u, the receipts it would refuse that resolution may
// place (take).
func (d *Directory) SetAside(u *Unresolved) { d.unresolved = u }

// take sets r aside when its refusal is one resolution answers and it carries what the
// look-up needs; it reports whether it did.
func (u *Unresolved) take(r *Receipt, reason, detail string) bool {
	if reason != receipt.UnknownInsurer && reason != receipt.UnknownPerson && reason != receipt.NotEligible {
		return false
	}
	if r.NameKana == "" || r.BirthDate == "" || (r.Sex != "1" && r.Sex != "2") {
		return false
	}
	birth, err := rules.ParseDate(r.BirthDate)
	if err != nil {
		return false // checked at intake: not reached
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	name := u.names.hash(r.NameKana)
	if name == 0 {
		return false
	}
	t := &toResolve{r: cloneReceipt(r), reason: reason, detail: strings.Clone(detail),
		key: resolveKey{birth: uint32(packDate(birth)), kana: name}}
	t.key.sex = t.r.Sex // the copy's
	u.list = append(u.list, t)
	return true
}

// cloneReceipt copies r with its strings, which alias a batch or a partition.
func cloneReceipt(r *Receipt) Receipt {
	c := *r
	for _, s := range []*string{&c.ID, &c.InsurerNo, &c.PersonID, &c.InstitutionID, &c.PrescriberID,
		&c.BirthDate, &c.Sex, &c.NameKana, &c.HouseholdID, &c.Refused, &c.Detail} {
		*s = strings.Clone(*s)
	}
	return c
}

// prepare builds the index of what is sought, once every receipt is set aside. The person
// partitions are matched on several goroutines at once: the first builds it, the others wait.
func (u *Unresolved) prepare() { u.ready.Do(u.build) }

func (u *Unresolved) build() {
	u.index = make(map[resolveKey][]int32, len(u.list))
	u.filter = make([]uint64, filterWords(len(u.list)))
	for i := range u.list {
		k := u.list[i].key
		u.index[k] = append(u.index[k], int32(i))
		setBit(u.filter, filterHash(k.kana, k.birth)&uint64(len(u.filter)*64-1))
	}
}

// filterWords sizes the filter at 64 bits or more per receipt, a power of two.
func filterWords(n int) int {
	w := 1
	for w*64 < 64*n {
		w <<= 1
	}
	return w
}

// seeks reports whether a person of this name hash and birth date (packDate) may be sought
// (false: certainly not).
//
// The filter holds name and birth date, not the name alone: a master's common names are
// sought by some receipt or other, and on the 100M month a filter of names let most persons
// through to the index, 13 s of the run's CPU in map look-ups (2026-12-07). It leaves the
// sex out, which a directory keeps among its strings: reading it for every person in force
// cost the 10M month's in-memory Match a wait for memory each.
func (u *Unresolved) seeks(kana uint64, birth uint32) bool {
	return kana != 0 && hasBit(u.filter, filterHash(kana, birth)&uint64(len(u.filter)*64-1))
}

// filterHash mixes a name hash and a birth date into the bit of the filter they set.
func filterHash(kana uint64, birth uint32) uint64 {
	h := kana ^ uint64(birth)*0x9e3779b97f4a7c15
	return h ^ h>>29
}

// Match looks every receipt set aside up among the directory's persons in force, on
// workers goroutines. A person counts once, by their row in force; a person whose rows in
// force disagree (MEMBER_CONFLICT) is no one's match.
func (d *Directory) Match(u *Unresolved, workers int) error {
	if len(u.list) == 0 {
		return nil
	}
	u.prepare()
	return d.inParallel(max(workers, 1), func(from, to int) { d.match(u, from, to) })
}

func (d *Directory) match(u *Unresolved, from, to int) {
	for i := from; i < to; i++ {
		head := &d.rows[i]
		if !head.firstOfPerson || head.inForce < 0 {
			continue
		}
		k := head.inForce
		row := &d.rows[k]
		if !u.seeks(d.kana[k], row.birth) {
			continue
		}
		seekers := u.index[resolveKey{birth: row.birth, sex: d.sex(row), kana: d.kana[k]}]
		if len(seekers) == 0 {
			continue
		}
		u.mu.Lock()
		for _, j := range seekers {
			t := u.list[j]
			t.found++
			if t.found == 1 {
				t.insurer, t.person = strings.Clone(d.insurer(row)), strings.Clone(d.person(row))
				t.household, t.hhHash, t.row = strings.Clone(d.household(row)), row.hhHash, k
			}
		}
		u.mu.Unlock()
	}
}

// A Matcher is Match over the member rows of person partitions, one partition at a time
// (the receipts in them are passed over): a person's rows are all in one partition. A
// worker keeps one for partition after partition. Its zero value is ready.
//
// Most persons of a partition have no name and birth date that a receipt set aside
// seeks: the Matcher looks at every member row's first, and puts in its directory only the
// rows of the persons one of whose rows may be sought. The 100M month spent 36 s of CPU, of
// its 446, building the directory of every person of every partition for 0.1% of receipts
// (2026-12-07).
type Matcher struct {
	names  kanaKeyer
	sought map[uint64]struct{} // the persons whose rows go in the directory, by person hash
}

// Partition is Match over part's persons, part being a person partition whole or its tail
// (Spill.ReadTailInto) holding all its member rows. halfDecided is Directory.HalfDecided.
func (mt *Matcher) Partition(part Part, month rules.Month, halfDecided bool, u *Unresolved) error {
	if len(u.list) == 0 {
		return nil
	}
	u.prepare()
	if mt.sought == nil {
		mt.sought = map[uint64]struct{}{}
	}
	clear(mt.sought)
	members := 0
	err := eachRecord(part, func(m *Member) error {
		members++
		if m.NameKana != "" && u.seeks(mt.names.cachedHash(m.NameKana), uint32(packDate(m.Birth))) {
			mt.sought[Hash2(m.InsurerNo, m.PersonID)] = struct{}{}
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	// part may be the partition's tail (Spill.ReadTailInto), whose counts are the whole
	// partition's: a member row routed before a writer's mark would be missed here, and a
	// receipt resolved to the wrong person or to none.
	if members != part.counts[tagMember] {
		return fmt.Errorf("aggregate: resolution read %d of a person partition's %d member rows", members, part.counts[tagMember])
	}
	if len(mt.sought) == 0 {
		return nil
	}
	d := NewDirectory(month, 0)
	d.halfDecided = halfDecided
	sh := d.Shard(0)
	err = eachRecord(part, func(m *Member) error {
		if _, ok := mt.sought[Hash2(m.InsurerNo, m.PersonID)]; !ok {
			return nil
		}
		return sh.Add(m)
	}, nil)
	if err != nil {
		return err
	}
	if err := d.Seal(1); err != nil {
		return err
	}
	return d.Match(u, 1)
}

// Route sends every receipt set aside through out, once the scan is done: the one person
// found's, joined to their household as if claimed under them (and listed in what Route
// returns, in source order); with no person found, refused with the join's reason, the
// detail telling that none was; with several, refused AMBIGUOUS_PERSON with their count.
// A refused receipt goes where the join would have sent it (refusedHousehold).
func (u *Unresolved) Route(out *HouseholdPart, month rules.Month) ([]Resolved, error) {
	var resolved []Resolved
	for _, t := range u.list {
		r := &t.r
		switch t.found {
		case 1:
			res := Resolved{File: r.File, Line: r.Line, ReceiptID: r.ID, ClaimedInsurer: r.InsurerNo, ClaimedPerson: r.PersonID,
				InsurerNo: t.insurer, PersonID: t.person, Household: t.household, Reason: resolvedReason(t.reason),
				NameKana: r.NameKana, BirthDate: r.BirthDate, Sex: r.Sex}
			r.InsurerNo, r.PersonID = t.insurer, t.person
			if err := out.joined(r, t.household, t.hhHash, t.row); err != nil {
				return nil, err
			}
			resolved = append(resolved, res)
			continue
		case 0:
			err := u.refuse(out, r, t.reason, fmt.Sprintf("%s; no person in force in %s has its name_kana, birth date and sex (0 candidates)", t.detail, month))
			if err != nil {
				return nil, err
			}
		default:
			err := u.refuse(out, r, receipt.AmbiguousPerson, fmt.Sprintf("%d persons in force in %s have its name_kana, birth date and sex (%d candidates; claimed under insurer %q, person %q: %s)",
				t.found, month, t.found, r.InsurerNo, r.PersonID, t.detail))
			if err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(resolved, func(a, b Resolved) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.ReceiptID, b.ReceiptID))
	})
	return resolved, nil
}

func (u *Unresolved) refuse(out *HouseholdPart, r *Receipt, reason, detail string) error {
	hh := refusedHousehold(r)
	return out.refused(r, hh, Hash2(r.InsurerNo, hh), reason, detail)
}

// resolvedReason names a join's refusal as resolved.parquet's reason.
func resolvedReason(refusal string) string {
	switch refusal {
	case receipt.UnknownInsurer:
		return ResolvedInsurerUnknown
	case receipt.UnknownPerson:
		return ResolvedPersonUnknown
	}
	return ResolvedNotEligible
}
