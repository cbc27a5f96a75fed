package aggregate

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"

	"github.com/kougaku/batch/rules"
)

// Receipt is a receipt on its way through the partitions: as read, then joined to its member.
type Receipt struct {
	File                                                 int32 // index of the input file
	Line                                                 int64 // line or row in that file
	ID, InsurerNo, PersonID, InstitutionID, PrescriberID string
	Kind                                                 rules.Kind
	Setting                                              rules.Setting
	Tokutei                                              rules.Tokutei
	Cost, Copay, Paid                                    int64
	BirthDate, Sex                                       string // as the receipt gives them; may be empty
	NameKana                                             string // as claimed; only for resolving (resolve.go)
	Cancel                                               bool

	// Set by the join. (The member's birth date and halving reach the rules from the
	// member row in force, not from the receipt.)
	HouseholdID string
	// Refused and Detail are set on a receipt the join refused: the household pass rejects
	// it with this reason, or as a duplicate.
	Refused, Detail string
}

// OpenEnd is the valid_to of an open eligibility row.
const OpenEnd = rules.Month(math.MaxInt32)

// Member is one eligibility row of the members master.
type Member struct {
	InsurerNo, PersonID, HouseholdID string
	Birth                            rules.Date
	Sex                              string
	NameKana                         string      // may be empty; a directory keeps only its hash
	From, To                         rules.Month // To is OpenEnd when open
	ClassU70                         rules.ClassU70
	Class70                          rules.Class70
	HalfMonth                        rules.Month // 0: none
	// File and Line tell where the row was read: the index of the members file and the
	// line (CSV) or row (Parquet) in it.
	File int32
	Line int64
	// HalfNow is set by the join on the row in force: the 75歳到達月特例 applies this month.
	HalfNow bool
}

// Covers reports whether the row is in force in month m.
func (m *Member) Covers(month rules.Month) bool { return m.From <= month && month <= m.To }

// History is one prior counting month of a household, or (Months > 0) how many of the 11
// months before the run's month counted, as a ledger's month already holds the count.
type History struct {
	InsurerNo, HouseholdID string
	Month                  rules.Month
	Months                 int32
}

const (
	tagReceipt byte = 1 + iota
	tagMember
	tagHistory
	tagJoined
	tagRefused
	tagLeanMember // a member row in a household partition, without what only the members file needs
	numTags
)

func packDate(d rules.Date) uint64 { return uint64(d.Year*10000 + d.Month*100 + d.Day) }
func unpackDate(v uint64) rules.Date {
	return rules.Date{Year: int(v / 10000), Month: int(v / 100 % 100), Day: int(v % 100)}
}

// A receipt record in a person partition is its fields (receiptFields) followed by the
// birth date and sex the join checks and the kana name a resolution looks up (resolve.go);
// past the join, in a household partition, a receipt is its fields alone, behind its
// household (and a refusal's reason).

func (e *enc) receipt(r *Receipt) {
	e.byte1(tagReceipt)
	e.receiptFields(r, "")
	e.s(r.BirthDate)
	e.s(r.Sex)
	e.s(r.NameKana)
}

func (d *dec) receipt(r *Receipt) {
	d.receiptFields(r)
	r.BirthDate = d.s()
	r.Sex = d.s()
	r.NameKana = d.s()
}

// receiptFields writes what of a receipt is read after the join: whose it is (household hh,
// empty before the join, and person), where it came from, its institution and id, its
// amounts and codes.
func (e *enc) receiptFields(r *Receipt, hh string) {
	e.pair(hh, r.PersonID)
	e.u(uint64(r.File))
	e.u(uint64(r.Line))
	e.s(r.InsurerNo)
	e.pair(r.InstitutionID, r.ID)
	e.i(r.Paid)
	e.s(r.PrescriberID)
	e.byte1(byte(r.Kind))
	e.byte1(byte(r.Setting))
	e.byte1(byte(r.Tokutei))
	e.i(r.Cost)
	e.i(r.Copay)
	e.bool1(r.Cancel)
}

// receiptBytes is the most receiptFields can take for r.
func receiptBytes(r *Receipt) int {
	return len(r.InsurerNo) + len(r.PersonID) + len(r.ID) + len(r.InstitutionID) + len(r.PrescriberID) +
		10*binary.MaxVarintLen64 + 4
}

// receiptFields reads what enc.receiptFields wrote, the household into r.HouseholdID.
func (d *dec) receiptFields(r *Receipt) {
	r.HouseholdID, r.PersonID = d.pair()
	r.File = int32(d.u())
	r.Line = int64(d.u())
	r.InsurerNo = d.s()
	r.InstitutionID, r.ID = d.pair()
	r.Paid = d.i()
	r.PrescriberID = d.s()
	r.Kind = rules.Kind(d.byte1())
	r.Setting = rules.Setting(d.byte1())
	r.Tokutei = rules.Tokutei(d.byte1())
	r.Cost = d.i()
	r.Copay = d.i()
	r.Cancel = d.bool1()
}

// A joined receipt is its fields, its member's household among them; a refused one
// (tagRefused) has the reason and detail of the refusal before them.

func (d *dec) joined(r *Receipt) {
	d.receiptFields(r)
}

func (d *dec) refused(r *Receipt) {
	r.Refused = d.s()
	r.Detail = d.s()
	d.receiptFields(r)
}

func (e *enc) member(m *Member) {
	e.byte1(tagMember)
	e.memberFields(m, true)
}

// A lean member row (tagLeanMember) is what the household pass reads of a member row in
// force: whose it is, the birth date, the classes, whether its limits are halved this month,
// and where it was read. Its sex, months of eligibility and half_limits_month are left out
// (zero when read), which only the members file of a run that keeps one needs
// (HouseholdPart.KeepMemberRows): a tenth of a household partition's bytes on the 10M month.

func (e *enc) leanMember(m *Member) {
	e.byte1(tagLeanMember)
	e.memberFields(m, false)
}

// memberFields writes a member row, whole or lean.
func (e *enc) memberFields(m *Member, whole bool) {
	e.s(m.InsurerNo)
	e.pair(m.HouseholdID, m.PersonID)
	e.u(packDate(m.Birth))
	if whole {
		e.s(m.Sex)
		e.s(m.NameKana)
		e.u(uint64(m.From))
		e.u(uint64(m.To))
	}
	e.byte1(byte(m.ClassU70))
	e.byte1(byte(m.Class70))
	if whole {
		e.u(uint64(m.HalfMonth))
	}
	e.u(uint64(m.File))
	e.u(uint64(m.Line))
	e.bool1(m.HalfNow)
}

func (d *dec) member(m *Member)     { d.memberFields(m, true) }
func (d *dec) leanMember(m *Member) { d.memberFields(m, false) }

// memberFields reads what enc.memberFields wrote; a lean row leaves the fields it lacks zero.
func (d *dec) memberFields(m *Member, whole bool) {
	*m = Member{}
	m.InsurerNo = d.s()
	m.HouseholdID, m.PersonID = d.pair()
	m.Birth = unpackDate(d.u())
	if whole {
		m.Sex = d.s()
		m.NameKana = d.s()
		m.From = rules.Month(d.u())
		m.To = rules.Month(d.u())
	}
	m.ClassU70 = rules.ClassU70(d.byte1())
	m.Class70 = rules.Class70(d.byte1())
	if whole {
		m.HalfMonth = rules.Month(d.u())
	}
	m.File = int32(d.u())
	m.Line = int64(d.u())
	m.HalfNow = d.bool1()
}

func (e *enc) history(h *History) {
	e.byte1(tagHistory)
	e.s(h.InsurerNo)
	e.s(h.HouseholdID)
	e.u(uint64(h.Month))
	e.u(uint64(h.Months))
}

func (d *dec) history(h *History) {
	h.InsurerNo = d.s()
	h.HouseholdID = d.s()
	h.Month = rules.Month(d.u())
	h.Months = int32(d.u())
}

// Hash2 hashes two strings, the partition key of a person (insurer, person) or of a
// household (insurer, household), eight bytes at a time with folded 64-bit multiplications
// (as wyhash does), each string's length mixed in after it so that ("ab", "c") and ("a",
// "bc") differ. Fixed, so partitions and the order of outputs are the same in every run of a
// given version, on any machine.
//
// It replaced FNV-1a, a multiplication per byte in a chain, which on a month's ids (some 20
// bytes a key, hashed some 50 million times) took a second of CPU. Equal hashes of different
// keys are allowed everywhere: the strings are compared after the hashes.
func Hash2(a, b string) uint64 {
	h := hashString(hashSeed, a)
	h = hashString(h, b)
	// A 64-bit avalanche, so that range partitioning on the top bits spreads evenly.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

const (
	hashSeed = 0xa0761d6478bd642f
	hashMul  = 0xe7037ed1a0b428db
	hashLen  = 0x8ebc6af09c88c6e3
)

// hashString mixes s into h: whole 8-byte words, then the last 8 bytes (overlapping the words
// already mixed when the length is not a multiple of 8), or for a short string its bytes
// packed into one word.
func hashString(h uint64, s string) uint64 {
	n := len(s)
	b := unsafe.Slice(unsafe.StringData(s), n)
	switch {
	case n > 8:
		for i := 0; i+8 < n; i += 8 {
			h = fold(h^binary.LittleEndian.Uint64(b[i:]), hashMul)
		}
		h = fold(h^binary.LittleEndian.Uint64(b[n-8:]), hashMul)
	case n == 8:
		h = fold(h^binary.LittleEndian.Uint64(b), hashMul)
	case n >= 4:
		h = fold(h^(uint64(binary.LittleEndian.Uint32(b))<<32|uint64(binary.LittleEndian.Uint32(b[n-4:]))), hashMul)
	case n > 0:
		h = fold(h^(uint64(b[0])<<16|uint64(b[n>>1])<<8|uint64(b[n-1])), hashMul)
	}
	return fold(h^uint64(n), hashLen)
}

// fold multiplies a and b to 128 bits and folds the halves together.
func fold(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
