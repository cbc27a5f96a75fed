package aggregate

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// A Directory is the members master of a month held in memory, keyed by (insurer, person),
// so that receipts are joined to their member as they are read and go straight into
// household partitions: the person partitions, their spill and their sort are skipped. It is
// the way of a month whose master fits the memory budget (DirectoryBytes tells how much it
// takes); a larger master goes through person partitions, and JoinPartition makes a
// directory of each partition's members. Both ways make the same records, so their outputs
// are the same byte for byte.
//
// Invariants:
//   - rows and the shards' arenas hold no pointers, so the collector never scans them,
//     however many millions of rows the master has;
//   - each shard is filled by one goroutine, the rows it Sets being reserved beforehand;
//     after Seal the directory is read-only, and Join and KnownInsurer may be called from
//     any number of goroutines;
//   - a person's rows are chained from their first row (next), and after Seal that first
//     row holds the decision of the month for the person: the row in force and the
//     75歳到達月特例, made from the person's rows in (from, file, line) order by inForce
//     and halfLimits, whatever the order they were chained in; or, when the rows in force
//     disagree on who the person is (rowsInConflict), none (inForce memberConflict).
type Directory struct {
	month rules.Month
	rows  []dirRow
	// kana is, beside each row, the hash of its name_kana's key (kanaHash; 0 when the row
	// has none): all a directory keeps of names, for resolving receipts (resolve.go). Its
	// pages are touched only by rows that have a name, so a master without names costs
	// nothing here.
	kana       []uint64
	unresolved *Unresolved // when set, the join sets aside the receipts to resolve
	// nameLen, when the directory keeps names (KeepNames), is the length of each row's
	// name_kana, kept in its shard's arena after the row's other strings.
	nameLen   []uint16
	keepNames bool
	shards    []*DirectoryShard
	slots     []int32 // open addressing on the person hash: index+1 of a person's first row
	insurers  map[string]struct{}
	sealed    bool
	// knownInsurer, when set, tells the insurers of the whole master, for a directory of
	// some of its persons (JoinPartition).
	knownInsurer func(string) bool
	// halfDecided: the rows are a ledger's rows in force, whose half_limits_month holds the
	// month's 75歳到達月特例 decision; none is derived (see HalfDecided).
	halfDecided bool
	warmed      atomic.Int32 // see insert
	// files names the members files by their index (Member.File), for the details of
	// MEMBER_CONFLICT; see NameFiles.
	files []string
	// conflicting counts the persons whose rows in force disagree (MEMBER_CONFLICT).
	conflicting atomic.Int64
	// spare is a recycled directory's first shard, for Shard to give again (recycle).
	spare *DirectoryShard
	// routed: the directory is a routed partition's (RoutedJoin), every receipt of which
	// was routed for a person of it in force or in conflict; any other is ErrMisrouted.
	routed bool
}

// memberConflict, in a person's first row's inForce, says that the person's rows in force
// disagree on household, birth date or sex: no row is in force, and every receipt of the
// person is refused as MEMBER_CONFLICT. Negative, like "none in force", so that whatever
// emits or marks rows in force passes the person over.
const memberConflict = -2

// NameFiles gives the paths of the members files, by their index (Member.File), for the
// details of MEMBER_CONFLICT to name the rows that disagree; without them a row is named by
// the file's index.
func (d *Directory) NameFiles(files []string) { d.files = files }

// Conflicting is the number of persons whose rows in force disagree (MEMBER_CONFLICT),
// known once the directory is sealed.
func (d *Directory) Conflicting() int64 { return d.conflicting.Load() }

// KeepNames has the directory keep each row's name_kana as read, for a run that writes the
// members in force out again (a ledger's members file, from which its reruns resolve
// receipts): otherwise it keeps only their hashes. Called before any row is reserved.
func (d *Directory) KeepNames() { d.keepNames = true }

// HalfDecided tells the directory that its rows are the rows in force that a ledger kept
// of the month, with the month's 75歳到達月特例 decision in their half_limits_month: the
// person's other rows, which the derivation looks at (does eligibility begin or end in the
// month?), are not among them, so nothing is derived. Called before Seal.
func (d *Directory) HalfDecided() { d.halfDecided = true }

// dirRow is one member row: 64 bytes, a cache line (a test holds it to that size).
type dirRow struct {
	hash           uint64 // Hash2(insurer, person)
	hhHash         uint64 // Hash2(insurer, household): the household partition's key
	line           uint32
	off            uint32 // the row's strings in its shard's arena: insurer, person, household, sex
	insLen, perLen uint16
	hhLen          uint16
	sexLen         uint8
	shard          uint8
	u70            rules.ClassU70
	o70            rules.Class70
	firstOfPerson  bool
	halfNow        bool // on a person's first row: the 75歳到達月特例 applies this month
	birth          uint32
	from, to, half rules.Month
	file           int32
	next           int32 // the person's next row, -1 at the end
	inForce        int32 // on a person's first row: their row in force, -1 when none
}

// DirectoryBytes is what a directory of rows member rows takes at most, its strings
// included (idBytes per row on average): the caller compares it with its memory budget.
func DirectoryBytes(rows, idBytes int64) int64 {
	return rows * (int64(unsafe.Sizeof(dirRow{})) + 8 + 4*4 + idBytes) // row, name hash, slots, ids
}

// NewDirectory returns an empty directory for service month month, with room for rows
// rows (0 if unknown). The room is taken at once and left to be touched by the shards that
// fill it: zeroing half a gigabyte up front, on one goroutine, cost a second.
//
// The rows are not asked for huge pages, though the join reads them at random: the kernel
// finds 2 MiB pages for half a gigabyte by compacting memory as the shards first touch it,
// which took the members phase of the 10M month from 1.8 s to 2.1 s when the page cache was
// full of earlier runs' files, more than the join gained (four pairs of runs, 2026-11-30).
// The slots, an eighth of the size, still are (Seal).
func NewDirectory(month rules.Month, rows int) *Directory {
	return &Directory{month: month, rows: make([]dirRow, 0, rows), kana: make([]uint64, 0, rows), insurers: map[string]struct{}{}}
}

// recycle empties the directory for another partition's rows (joinScratch), keeping its
// memory: its rows, slots and first shard's arena.
func (d *Directory) recycle(month rules.Month) {
	var spare *DirectoryShard
	if len(d.shards) > 0 {
		spare = d.shards[0]
	}
	*d = Directory{month: month, rows: d.rows[:0], kana: d.kana[:0], nameLen: d.nameLen[:0], slots: d.slots, insurers: d.insurers, spare: spare}
	clear(d.insurers)
}

// Reserve makes room for n rows and returns the index of the first, for shards to Set: the
// rows of a Parquet file, whose count its footer gives, are filled by several shards at once.
// It is called before the shards that fill the rows start.
func (d *Directory) Reserve(n int) int {
	base := len(d.rows)
	if base+n <= cap(d.rows) {
		d.rows = d.rows[:base+n] // zero, or a recycled directory's rows, which Set overwrites whole
	} else {
		d.rows = append(d.rows, make([]dirRow, n)...)
	}
	if base+n <= cap(d.kana) {
		d.kana = d.kana[:base+n]
	} else {
		d.kana = append(d.kana, make([]uint64, n)...)
	}
	if d.keepNames {
		d.nameLen = append(d.nameLen, make([]uint16, n)...)
	}
	return base
}

// MaxShards is the most shards a directory has (a row names its shard in a byte).
const MaxShards = 256

// Shard returns a new shard, for one goroutine, with room for about idBytes bytes of ids; it
// panics past MaxShards shards.
func (d *Directory) Shard(idBytes int) *DirectoryShard {
	if len(d.shards) == MaxShards {
		panic("aggregate: directory: more than MaxShards shards")
	}
	if s := d.spare; s != nil { // a recycled directory's first shard
		d.spare = nil
		*s = DirectoryShard{d: d, arena: s.arena[:0], names: s.names}
		d.shards = append(d.shards, s)
		return s
	}
	s := &DirectoryShard{d: d, id: uint8(len(d.shards)), arena: make([]byte, 0, idBytes)}
	d.shards = append(d.shards, s)
	return s
}

// A DirectoryShard fills rows of a directory from one goroutine: it keeps the strings of the
// rows it fills in an arena of its own, and the insurers it saw.
type DirectoryShard struct {
	d        *Directory
	id       uint8
	arena    []byte
	insurers interner // each insurer's one copy
	// lastInsurer spares a look-up per row when the master comes grouped by insurer.
	lastInsurer string
	names       kanaKeyer
}

// Set fills reserved row i with m (the shard copies its strings).
func (s *DirectoryShard) Set(i int, m *Member) error {
	if s.d.sealed {
		return fmt.Errorf("aggregate: directory: a row set after Seal")
	}
	if len(m.InsurerNo) > math.MaxUint16 || len(m.PersonID) > math.MaxUint16 || len(m.HouseholdID) > math.MaxUint16 || len(m.Sex) > math.MaxUint8 || len(m.NameKana) > math.MaxUint16 {
		return fmt.Errorf("aggregate: directory: an id longer than 65,535 bytes")
	}
	if len(s.arena)+len(m.InsurerNo)+len(m.PersonID)+len(m.HouseholdID)+len(m.Sex)+len(m.NameKana) > math.MaxUint32 || i >= math.MaxInt32-1 || m.Line > math.MaxUint32 {
		return fmt.Errorf("aggregate: directory: more than 4 GiB of ids or 2^31 rows: run with a smaller --memory to take the way of partitions")
	}
	if m.InsurerNo != s.lastInsurer {
		s.lastInsurer = s.insurers.intern(m.InsurerNo)
	}
	s.d.rows[i] = dirRow{hash: Hash2(m.InsurerNo, m.PersonID), hhHash: Hash2(m.InsurerNo, m.HouseholdID), off: uint32(len(s.arena)), shard: s.id,
		insLen: uint16(len(m.InsurerNo)), perLen: uint16(len(m.PersonID)), hhLen: uint16(len(m.HouseholdID)), sexLen: uint8(len(m.Sex)),
		u70: m.ClassU70, o70: m.Class70, birth: uint32(packDate(m.Birth)), from: m.From, to: m.To, half: m.HalfMonth,
		file: m.File, line: uint32(m.Line), next: -1, inForce: -1}
	s.d.kana[i] = 0 // a recycled directory's rows are not zero
	if m.NameKana != "" {
		s.d.kana[i] = s.names.cachedHash(m.NameKana)
	}
	s.arena = append(s.arena, m.InsurerNo...)
	s.arena = append(s.arena, m.PersonID...)
	s.arena = append(s.arena, m.HouseholdID...)
	s.arena = append(s.arena, m.Sex...)
	if s.d.keepNames {
		s.d.nameLen[i] = uint16(len(m.NameKana))
		s.arena = append(s.arena, m.NameKana...)
	}
	return nil
}

// Add appends a row: for a master whose row count is not known beforehand (CSV), read by
// one goroutine while no other shard fills reserved rows.
func (s *DirectoryShard) Add(m *Member) error { return s.Set(s.d.Reserve(1), m) }

// Rows is the number of member rows added.
func (d *Directory) Rows() int { return len(d.rows) }

// Seal groups the rows by person and decides each person's row in force for the month, on
// workers goroutines. Which of a person's rows heads the group depends on the scheduling;
// nothing else does: a person's rows are put in order before the decision is made.
func (d *Directory) Seal(workers int) error {
	d.sealed = true
	for _, sh := range d.shards {
		sh.insurers.each(func(ins string) { d.insurers[ins] = struct{}{} })
	}
	size := 1
	for size < 2*len(d.rows) {
		size <<= 1
	}
	if len(d.slots) == size { // a recycled directory's
		clear(d.slots)
	} else {
		d.slots = make([]int32, size)
	}
	// Read at random too, by insert and by the join.
	hugePages(unsafe.Pointer(unsafe.SliceData(d.slots)), uintptr(size)*4)
	workers = max(workers, 1)
	if err := d.inParallel(workers, d.insert); err != nil {
		return err
	}
	return d.inParallel(workers, d.decide)
}

// inParallel runs fn over [0, len(rows)) cut in workers ranges, one goroutine each; a
// goroutine's panic comes back as an error, as a worker's does in the pipeline.
func (d *Directory) inParallel(workers int, fn func(from, to int)) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	n := len(d.rows)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					failed = errors.Join(failed, fmt.Errorf("aggregate: directory: internal error: %v\n%s", p, debug.Stack()))
					mu.Unlock()
				}
			}()
			fn(n*w/workers, n*(w+1)/workers)
		}()
	}
	wg.Wait()
	return failed
}

// insert puts rows [from, to) into the slots: the first row of a person claims an empty
// slot, any other is chained after it. Goroutines insert at once, so slots and next are
// claimed and linked with compare-and-swap; everything else of a row is only read.
//
// The slots are read a block of rows ahead (warmSlots): each is a look-up at random in a
// table of tens of megabytes, a wait for main memory when made one after the other.
func (d *Directory) insert(from, to int) {
	mask := uint64(len(d.slots) - 1)
	var warmed int32
	for i := from; i < to; i++ {
		if (i-from)%WarmBlock == 0 {
			warmed ^= d.warmSlots(d.rows[i:min(i+WarmBlock, to)])
		}
		r := &d.rows[i]
		ins, per := d.insurer(r), d.person(r)
		for k := r.hash & mask; ; {
			s := atomic.LoadInt32(&d.slots[k])
			if s == 0 {
				if atomic.CompareAndSwapInt32(&d.slots[k], 0, int32(i+1)) {
					r.firstOfPerson = true
					break
				}
				continue // taken meanwhile: look at the same slot again
			}
			if head := &d.rows[s-1]; head.hash == r.hash && d.insurer(head) == ins && d.person(head) == per {
				d.chain(head, int32(i))
				break
			}
			k = (k + 1) & mask
		}
	}
	d.warmed.Add(warmed)
}

// warmSlots loads into the caches the slots of the given rows' hashes, in one tight loop so
// that the processor has them all in flight at once; it returns what it read, for the caller
// to keep, so that the compiler keeps the loads.
func (d *Directory) warmSlots(rows []dirRow) int32 {
	mask := uint64(len(d.slots) - 1)
	var sink int32
	for i := range rows {
		// Atomic, as other goroutines are claiming slots meanwhile (on amd64 a plain load).
		sink ^= atomic.LoadInt32(&d.slots[rows[i].hash&mask])
	}
	return sink
}

// chain links row i after a person's first row.
func (d *Directory) chain(head *dirRow, i int32) {
	for {
		next := atomic.LoadInt32(&head.next)
		d.rows[i].next = next
		if atomic.CompareAndSwapInt32(&head.next, next, i) {
			return
		}
	}
}

// decide makes the month's decision for the persons whose first row is in [from, to).
func (d *Directory) decide(from, to int) {
	var group []Member
	var index []int32
	var conflicting int64
	for i := from; i < to; i++ {
		if !d.rows[i].firstOfPerson {
			continue
		}
		group, index = d.personRows(int32(i), group[:0], index[:0])
		head := &d.rows[i]
		if a, _ := rowsInConflict(group, d.month); a >= 0 {
			head.inForce = memberConflict
			conflicting++
			continue
		}
		if m := inForce(group, d.month); m != nil {
			for j := range group {
				if &group[j] == m {
					head.inForce = index[j]
				}
			}
			if d.halfDecided {
				head.halfNow = m.HalfMonth == d.month
			} else {
				head.halfNow = halfLimits(group, m, d.month)
			}
		}
	}
	d.conflicting.Add(conflicting)
}

// personRows appends to group the rows of the person whose first row is first, in
// (from, file, line) order (sortRows), and their indexes to index.
func (d *Directory) personRows(first int32, group []Member, index []int32) ([]Member, []int32) {
	for k := first; k >= 0; k = d.rows[k].next {
		group, index = append(group, d.member(k)), append(index, k)
	}
	sortRows(group, index)
	return group, index
}

// rowsInConflict finds, among one person's rows in (from, file, line) order, two rows in
// force in month that disagree on who the person is (disagreement): the first row in force,
// a, and the first after it that disagrees with it, b; -1, -1 when they all agree. Two rows
// that disagree with each other cannot both agree with a, so comparing with a is enough.
func rowsInConflict(rows []Member, month rules.Month) (a, b int) {
	a = -1
	for k := range rows {
		switch {
		case !rows[k].Covers(month):
		case a < 0:
			a = k
		case disagreement(&rows[a], &rows[k]) != "":
			return a, k
		}
	}
	return -1, -1
}

// disagreement names the first column on which two rows of a person disagree among those
// that must agree between rows in force at once (which household pays, and the birth date
// and sex that receipts are checked against), or "". Rows that agree on them may overlap:
// the later-starting row's classes win (inForce).
func disagreement(x, y *Member) string {
	switch {
	case x.HouseholdID != y.HouseholdID:
		return "household_id"
	case x.Birth != y.Birth:
		return "birth_date"
	case x.Sex != y.Sex:
		return "sex"
	}
	return ""
}

// conflictDetail names the two rows in force of the person whose first row is first that
// disagree, and what they disagree on: the reject's detail of MEMBER_CONFLICT. Made afresh
// for every refused receipt, which only the persons in conflict have.
func (d *Directory) conflictDetail(first int32) string {
	group, _ := d.personRows(first, nil, nil)
	a, b := rowsInConflict(group, d.month)
	if a < 0 {
		return "" // not reached: the person was decided in conflict
	}
	x, y := &group[a], &group[b]
	field := disagreement(x, y)
	value := func(m *Member) string {
		switch field {
		case "household_id":
			return m.HouseholdID
		case "birth_date":
			return m.Birth.String()
		}
		return m.Sex
	}
	return fmt.Sprintf("member rows in force in %s disagree on %s: %q at %s, %q at %s",
		d.month, field, value(x), d.position(x), value(y), d.position(y))
}

// position is where a member row was read, as rejects and errors name places.
func (d *Directory) position(m *Member) string {
	if int(m.File) < len(d.files) {
		return receipt.Position(d.files[m.File], m.Line)
	}
	return fmt.Sprintf("members file %d line %d", m.File, m.Line)
}

// sortRows puts one person's rows in (from, file, line) order, which decides inForce's
// choice between rows that start in the same month. index moves along.
func sortRows(group []Member, index []int32) {
	if len(group) > 16 { // a person with many rows: n log n, not the insertion sort's n²
		sort.Sort(rowsByStart{group, index})
		return
	}
	for i := 1; i < len(group); i++ {
		for j := i; j > 0 && startsBefore(&group[j], &group[j-1]); j-- {
			group[j], group[j-1] = group[j-1], group[j]
			index[j], index[j-1] = index[j-1], index[j]
		}
	}
}

// startsBefore orders rows by (from, file, line): a total order, file and line being unique.
func startsBefore(a, b *Member) bool {
	if a.From != b.From {
		return a.From < b.From
	}
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Line < b.Line
}

// rowsByStart sorts a person's rows and their indexes together.
type rowsByStart struct {
	group []Member
	index []int32
}

func (s rowsByStart) Len() int           { return len(s.group) }
func (s rowsByStart) Less(i, j int) bool { return startsBefore(&s.group[i], &s.group[j]) }
func (s rowsByStart) Swap(i, j int) {
	s.group[i], s.group[j] = s.group[j], s.group[i]
	s.index[i], s.index[j] = s.index[j], s.index[i]
}

// member builds row k as a Member whose strings alias the arena.
func (d *Directory) member(k int32) Member {
	r := &d.rows[k]
	m := Member{InsurerNo: d.insurer(r), PersonID: d.person(r), HouseholdID: d.household(r), Birth: unpackDate(uint64(r.birth)),
		Sex: d.sex(r), From: r.from, To: r.to, ClassU70: r.u70, Class70: r.o70, HalfMonth: r.half, File: r.file, Line: int64(r.line)}
	if d.keepNames {
		m.NameKana = d.str(r, uint32(r.insLen)+uint32(r.perLen)+uint32(r.hhLen)+uint32(r.sexLen), d.nameLen[k])
	}
	return m
}

func (d *Directory) str(r *dirRow, off uint32, n uint16) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&d.shards[r.shard].arena[r.off+off], int(n))
}

func (d *Directory) insurer(r *dirRow) string { return d.str(r, 0, r.insLen) }
func (d *Directory) person(r *dirRow) string  { return d.str(r, uint32(r.insLen), r.perLen) }
func (d *Directory) household(r *dirRow) string {
	return d.str(r, uint32(r.insLen)+uint32(r.perLen), r.hhLen)
}
func (d *Directory) sex(r *dirRow) string {
	return d.str(r, uint32(r.insLen)+uint32(r.perLen)+uint32(r.hhLen), uint16(r.sexLen))
}

// KnowInsurers adds insurers the master has no row of to those KnownInsurer reports: a
// ledger's rerun joins to the members of some households only, while the month's master
// knows more insurers. Called before the join.
func (d *Directory) KnowInsurers(insurers []string) {
	for _, ins := range insurers {
		d.insurers[ins] = struct{}{}
	}
}

// KnownInsurer reports whether the master has any row of the insurer.
func (d *Directory) KnownInsurer(ins string) bool {
	if d.knownInsurer != nil {
		return d.knownInsurer(ins)
	}
	_, ok := d.insurers[ins]
	return ok
}

// EmitInForce appends the row in force of every person who has one to its household's
// partition, with the month's 75歳到達月特例 decided; with marks, only those of the marked
// households. Worker w of n takes the w-th of n ranges of rows (persons whose first row is
// in it): a range each, not every n-th row, so that each worker reads only its share of the
// rows' cache lines.
//
// The households' marks are read at random, a wait for memory per person; they are loaded
// a block of rows ahead (warmMarks), as Warm loads the slots, so that the waits overlap.
func (d *Directory) EmitInForce(out *HouseholdPart, w, n int, marks *HouseholdMarks) error {
	from, to := len(d.rows)*w/n, len(d.rows)*(w+1)/n
	for i := from; i < to; i++ {
		if marks != nil && (i-from)%WarmBlock == 0 {
			out.warmed ^= d.warmMarks(marks, i, min(i+WarmBlock, to))
		}
		head := &d.rows[i]
		if !head.firstOfPerson || head.inForce < 0 {
			continue
		}
		hhHash := d.rows[head.inForce].hhHash
		// A person's own marked row says that the household is marked, without a look-up
		// at random in the households' marks.
		if marks != nil && !marks.hasRow(head.inForce) && !marks.has(hhHash) {
			continue
		}
		m := d.inForceRow(head)
		if err := out.member(&m, hhHash); err != nil {
			return err
		}
	}
	return nil
}

// warmMarks loads the words of the households' marks that EmitInForce will read for rows
// [from, to), and returns them folded, for the caller to keep (so that the compiler keeps
// the loads).
func (d *Directory) warmMarks(marks *HouseholdMarks, from, to int) int32 {
	var sink uint64
	for i := from; i < to; i++ {
		if head := &d.rows[i]; head.firstOfPerson && head.inForce >= 0 && !marks.hasRow(head.inForce) {
			sink ^= marks.bits[(d.rows[head.inForce].hhHash>>marks.shift)>>6]
		}
	}
	return int32(sink)
}

// SettleMarks marks in m the households of the rows in force that the join marked, for
// worker w of n (the w-th of n ranges of rows). Every range is settled before EmitInForce
// reads the marks.
func (d *Directory) SettleMarks(m *HouseholdMarks, w, n int) {
	from, to := len(m.rows)*w/n, len(m.rows)*(w+1)/n
	for k, word := range m.rows[from:to] {
		for word != 0 {
			i := (from+k)*64 + bits.TrailingZeros64(word)
			word &= word - 1
			m.mark(d.rows[i].hhHash)
		}
	}
}

// inForceRow is a person's row in force as a Member.
func (d *Directory) inForceRow(head *dirRow) Member {
	m := d.member(head.inForce)
	m.HalfNow = head.halfNow
	return m
}

// Warm loads into the caches the slots and the first rows that the look-ups of the given
// person hashes will read. The look-ups were a tenth of the intake's time, nearly all of it
// waiting for scattered cache lines one after the other; here every slot is asked for in
// one tight loop, then every row, so the processor has many of them in flight at once.
// out is the partition writer of the goroutine: what was loaded is folded into it, so that
// the compiler keeps the loads.
func (d *Directory) Warm(hashes []uint64, out *HouseholdPart) {
	if len(d.slots) == 0 || len(hashes) > WarmBlock {
		return
	}
	var slots [WarmBlock]int32
	mask := uint64(len(d.slots) - 1)
	for i, h := range hashes {
		slots[i] = d.slots[h&mask]
	}
	var sink int32
	for _, s := range slots[:len(hashes)] {
		if s > 0 {
			sink ^= d.rows[s-1].inForce
		}
	}
	out.warmed ^= sink
}

// WarmBlock is the most hashes one Warm takes, and how many a caller gives at once.
const WarmBlock = 32

// find returns the index of the first row of (insurer, person), or -1.
func (d *Directory) find(hash uint64, ins, per string) int32 {
	if len(d.slots) == 0 {
		return -1
	}
	mask := uint64(len(d.slots) - 1)
	for k := hash & mask; ; k = (k + 1) & mask {
		s := d.slots[k]
		if s == 0 {
			return -1
		}
		r := &d.rows[s-1]
		if r.hash == hash && d.insurer(r) == ins && d.person(r) == per {
			return s - 1
		}
	}
}

// Join joins one receipt to its member and appends it to its household's partition. A
// receipt the join refuses (UNKNOWN_INSURER, UNKNOWN_PERSON, MEMBER_CONFLICT, NOT_ELIGIBLE,
// BIRTHDATE_MISMATCH, SEX_MISMATCH, checked in that order) goes there too, with its reason:
// the household pass rejects it, unless it repeats a receipt read before it, which makes it
// DUPLICATE_RECEIPT whatever became of the first (the rule of CONTRACT.md §4, judged among
// all the receipts of a person). A refused receipt of a person in force goes to the
// household of the row in force, beside the person's other receipts; any other to a
// household of its own person, refusedHousehold.
func (d *Directory) Join(r *Receipt, out *HouseholdPart) error {
	return d.JoinHashed(r, Hash2(r.InsurerNo, r.PersonID), out)
}

// JoinHashed is Join with the person hash already computed, Hash2(r.InsurerNo, r.PersonID).
func (d *Directory) JoinHashed(r *Receipt, hash uint64, out *HouseholdPart) error {
	k, reason, detail := d.check(r, hash)
	switch {
	case reason == "":
		m := &d.rows[k]
		return out.joined(r, d.household(m), m.hhHash, k)
	case d.routed && k < 0 && reason != receipt.MemberConflict:
		return fmt.Errorf("%w: receipt %s of insurer %s, person %q, was routed for a person in force, and the partition's members say %s: %s",
			ErrMisrouted, r.ID, r.InsurerNo, r.PersonID, reason, detail)
	case k >= 0:
		m := &d.rows[k]
		return out.refused(r, d.household(m), m.hhHash, reason, detail)
	case d.unresolved != nil && d.unresolved.take(r, reason, detail):
		return nil // routed once every receipt is in (Unresolved.Route)
	default:
		hh := refusedHousehold(r)
		return out.refused(r, hh, Hash2(r.InsurerNo, hh), reason, detail)
	}
}

// check finds the receipt's row in force, by its index in d.rows, and says why the receipt
// cannot be joined, or "". The index is -1 when the person is unknown or not in force.
func (d *Directory) check(r *Receipt, hash uint64) (k int32, reason, detail string) {
	// A person found is a person of a known insurer: the insurers are looked up only for
	// the receipts of persons the master lacks.
	first := int32(-1)
	if strings.Trim(r.InsurerNo, "7") != "" {
		first = d.find(hash, r.InsurerNo, r.PersonID)
	}
	if first < 0 {
		reason, detail = personMissing(r, d.KnownInsurer)
		return -1, reason, detail
	}
	head := &d.rows[first]
	if head.inForce < 0 {
		if head.inForce == memberConflict {
			return -1, receipt.MemberConflict, d.conflictDetail(first)
		}
		reason, detail = notEligible(r, d.month)
		return -1, reason, detail
	}
	k = head.inForce
	m := &d.rows[k]
	if r.BirthDate != "" && !samePackedDate(r.BirthDate, m.birth) {
		return k, receipt.BirthdateMismatch, fmt.Sprintf("receipt birth_date %s, members master %s", r.BirthDate, unpackDate(uint64(m.birth)))
	}
	if sex := d.sex(m); r.Sex != "" && sex != "" && r.Sex != sex {
		return k, receipt.SexMismatch, fmt.Sprintf("receipt sex %s, members master %s", r.Sex, sex)
	}
	return k, "", ""
}

// personMissing is the refusal of a receipt whose person the master lacks: UNKNOWN_INSURER
// when its insurer is all 7s (不詳) or the master's insurers do not include it (known),
// UNKNOWN_PERSON otherwise.
func personMissing(r *Receipt, known func(string) bool) (reason, detail string) {
	if strings.Trim(r.InsurerNo, "7") == "" || !known(r.InsurerNo) {
		return receipt.UnknownInsurer, fmt.Sprintf("insurer %q is not in the members master", r.InsurerNo)
	}
	return receipt.UnknownPerson, fmt.Sprintf("person %q has no row in the members master of insurer %s", r.PersonID, r.InsurerNo)
}

// notEligible is the refusal of a receipt of a person no row of whom covers month.
func notEligible(r *Receipt, month rules.Month) (reason, detail string) {
	return receipt.NotEligible, fmt.Sprintf("no eligibility row of person %q covers %s", r.PersonID, month)
}

// refusedHousehold is the household a refused receipt of a person not in force goes to: one
// of its person's own, so that the copies of a receipt meet in the household pass. It begins
// with a NUL byte, which no household id of a members master is expected to (nothing refuses
// one that does, and its receipts would then share that household's pass: harmless, since
// these receipts are all rejected before the household is built).
func refusedHousehold(r *Receipt) string { return "\x00" + r.PersonID }
