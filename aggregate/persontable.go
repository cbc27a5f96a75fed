package aggregate

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/kougaku/batch/rules"
)

// A PersonTable is the members master of a month too large for a Directory, reduced to where
// each person's records go: for every person (Hash2(insurer, person)), the household
// partition of the rows that cover the month, or that none does, or that they lie in more
// than one partition. With it, the intake routes every receipt and every member row of a
// person straight to the one partition where the person's household is computed (Router),
// and that partition's join (RoutedJoin) hands its records to the household pass without a
// second spill: the way of person partitions spilled each receipt twice, once by person and
// again by household.
//
// It takes 8 bytes a person once sealed (a 48-bit part of the hash and 16 bits of route, the
// hash's top bits being the bucket's), and some 14 a member row while it is built: for the
// 200M month's master of some 140 million rows, 2 GB at most, where a Directory would take
// 18 GB.
//
// Invariants:
//   - the rows are added by any number of goroutines, each into rows reserved for it (Set),
//     or appended by one (Add); Seal runs alone, after every row is in, and after it the
//     table is read-only;
//   - a person is known by the full 64 bits of its hash: the top bucketBits by its bucket,
//     the low 48 in its entry, and bucketBits ≥ 16;
//   - two persons whose hashes are equal would share an entry and be routed as one. Seal
//     finds them, by a second hash of 15 bits kept with each row (check), and then refuses
//     the table (ErrTableCollision): the run takes the way of person partitions. A pair left
//     unseen (one in 2^15 of the pairs, which arise once in thousands of months) and a
//     receipt whose unknown person shares a known person's hash are caught by RoutedJoin,
//     which finds the person it was routed for missing and stops the run (ErrMisrouted).
type PersonTable struct {
	month rules.Month
	parts int
	// While built: a row's person hash and its route bits (rowPart, rowCovers, check).
	keys []uint64
	vals []uint32
	// Once sealed: entries, sorted, of each person: the hash's low 48 bits, then the route
	// (routeStatus, routePart); index[b] is the first entry of bucket b (the hash's top
	// bucketBits bits), index[len-1] the number of entries.
	entries    []uint64
	index      []uint32
	bucketBits uint
	sealed     bool
}

// The route of a person, in an entry's low 16 bits: the status in the top two, and for a
// person in force the partition in the other 14.
const (
	routeInForce     = 1 << 14 // the covering rows lie in partition routePart
	routeNotEligible = 2 << 14 // no row covers the month
	routeSplit       = 3 << 14 // the covering rows lie in several partitions: they disagree on the household
	routeStatus      = 3 << 14
	routePart        = 1<<14 - 1
)

// A row's bits while the table is built: its household's partition, whether it covers the
// month, and a check hash of the person.
const (
	rowPart    = 1<<14 - 1
	rowCovers  = 1 << 14
	checkShift = 17
)

// MaxTableParts is the most partitions a PersonTable routes to (14 bits of an entry).
const MaxTableParts = routePart + 1

// PersonTableBytes is what a table takes at most while it is built, for a master of rows
// rows: 12 bytes a row, and 8 a bucket while they are sorted (at most one bucket for every
// rowsPerBucket/2 rows, and at least 1<<16 buckets).
func PersonTableBytes(rows int64) int64 { return rows*12 + max(rows*2/rowsPerBucket, 1<<16)*8 }

// rowsPerBucket is the most rows a bucket of the table holds on average: a look-up reads its
// bucket's entries, 8 bytes each, one after the other.
const rowsPerBucket = 8

// ErrTableCollision is Seal's refusal of a master in which two persons share a 64-bit hash.
var ErrTableCollision = errors.New("aggregate: two persons of the members master share a hash")

// ErrMisrouted is a routed partition's refusal of a record the person table sent it for a
// person it does not hold as the table said (see PersonTable).
var ErrMisrouted = errors.New("aggregate: a record routed to a partition that does not hold its person")

// NewPersonTable returns a table of the persons of a master for service month month,
// routing to parts partitions, with rows rows reserved for Set.
func NewPersonTable(month rules.Month, parts, rows int) (*PersonTable, error) {
	if parts > MaxTableParts {
		return nil, fmt.Errorf("aggregate: person table: %d partitions, more than %d", parts, MaxTableParts)
	}
	t := &PersonTable{month: month, parts: parts, keys: make([]uint64, rows), vals: make([]uint32, rows)}
	// The look-ups read the entries, which take the keys' memory, at random: without huge
	// pages each is a miss in the TLB too, its page walk a wait for memory of its own.
	hugePages(unsafe.Pointer(unsafe.SliceData(t.keys)), uintptr(rows)*8)
	return t, nil
}

// Set fills reserved row i with member row m.
func (t *PersonTable) Set(i int, m *Member) { t.keys[i], t.vals[i] = t.row(m) }

// Add appends member row m: for a master whose rows are not counted beforehand (CSV), by
// one goroutine while no other adds or sets rows.
func (t *PersonTable) Add(m *Member) {
	k, v := t.row(m)
	t.keys, t.vals = append(t.keys, k), append(t.vals, v)
}

func (t *PersonTable) row(m *Member) (uint64, uint32) {
	v := uint32(PartOf(Hash2(m.InsurerNo, m.HouseholdID), t.parts))
	if m.Covers(t.month) {
		v |= rowCovers
	}
	return Hash2(m.InsurerNo, m.PersonID), v | uint32(checkHash(m.InsurerNo, m.PersonID))<<checkShift
}

// checkHash is a second hash of a person, independent of Hash2's, in 15 bits.
func checkHash(ins, per string) uint64 {
	return hashString(hashString(0x243f6a8885a308d3, ins), per) >> 49
}

// Seal sorts the rows by person, on workers goroutines, and makes each person's entry, in
// place: the rows' memory becomes the entries'. It returns ErrTableCollision when two persons share a hash.
func (t *PersonTable) Seal(workers int) error {
	if t.sealed {
		return errors.New("aggregate: person table sealed twice")
	}
	t.sealed = true
	n := len(t.keys)
	t.bucketBits = 16
	for t.bucketBits < 32 && n>>t.bucketBits > rowsPerBucket {
		t.bucketBits++
	}
	t.index = t.bucketSort(workers)
	collided := false
	w := 0
	start := int(t.index[0])
	for b := range len(t.index) - 1 {
		end := int(t.index[b+1])
		t.index[b] = uint32(w)
		t.sortBucket(start, end)
		for i := start; i < end; {
			j := i + 1
			for j < end && t.keys[j] == t.keys[i] {
				j++
			}
			route, ok := t.route(i, j)
			collided = collided || !ok
			t.keys[w] = t.keys[i]<<16 | uint64(route) // i ≥ w: the entry takes the memory of a row already read
			w++
			i = j
		}
		start = end
	}
	t.index[len(t.index)-1] = uint32(w)
	t.entries = slices.Clip(t.keys[:w])
	t.keys, t.vals = nil, nil
	if collided {
		return ErrTableCollision
	}
	return nil
}

// Persons is the number of persons of a sealed table.
func (t *PersonTable) Persons() int { return len(t.entries) }

// Bytes is what a sealed table holds.
func (t *PersonTable) Bytes() int64 { return int64(cap(t.entries))*8 + int64(len(t.index))*4 }

// route decides the route of the person of rows [i, j), which share a hash; ok is false when
// their check hashes say they are two persons.
func (t *PersonTable) route(i, j int) (route uint16, ok bool) {
	check := t.vals[i] >> checkShift
	part := -1
	split := false
	for k := i; k < j; k++ {
		v := t.vals[k]
		if v>>checkShift != check {
			return 0, false
		}
		if v&rowCovers == 0 {
			continue
		}
		p := int(v & rowPart)
		if part >= 0 && p != part {
			split = true
		}
		part = p
	}
	switch {
	case split:
		return routeSplit, true
	case part < 0:
		return routeNotEligible, true
	}
	return routeInForce | uint16(part), true
}

// bucketSort puts the rows in order of their buckets (the hash's top bucketBits bits), in
// place, and returns where each bucket begins, with the row count last. It is an American
// flag sort in two passes: the top 8 bits over all the rows, then the rest of the bucket's
// bits within each of those 256 ranges, on workers goroutines. A single pass over every
// bucket at once cost a wait for memory per row (2.3 s for the 10M month's 7 million rows):
// writing to 256 places at once, the first pass stays in the caches, and each range of the
// second is small.
func (t *PersonTable) bucketSort(workers int) []uint32 {
	const topBits = 8
	top := make([]uint32, 1<<topBits+1)
	flagSort(t.keys, t.vals, 64-topBits, 1<<topBits-1, top, make([]uint32, 1<<topBits))
	sub := 1 << (t.bucketBits - topBits)
	index := make([]uint32, 1<<t.bucketBits+1)
	hugePages(unsafe.Pointer(unsafe.SliceData(index)), uintptr(len(index))*4)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			starts, scratch := make([]uint32, sub+1), make([]uint32, sub)
			for b := int(next.Add(1) - 1); b < 1<<topBits; b = int(next.Add(1) - 1) {
				from, to := top[b], top[b+1]
				flagSort(t.keys[from:to], t.vals[from:to], 64-t.bucketBits, uint64(sub-1), starts, scratch)
				for i := range sub {
					index[b*sub+i] = from + starts[i]
				}
			}
		}()
	}
	wg.Wait()
	index[len(index)-1] = uint32(len(t.keys))
	return index
}

// flagSort puts keys (vals along) in order of (key >> shift) & mask, in place, and sets
// starts[b] to where place b begins (starts[mask+1] to the count); next is scratch of mask+1.
// Each row is swapped straight to the next free slot of its place, taking the row there
// along (an American flag sort's one pass).
func flagSort(keys []uint64, vals []uint32, shift uint, mask uint64, starts, next []uint32) {
	clear(starts)
	for _, k := range keys {
		starts[(k>>shift)&mask+1]++
	}
	for b := range mask + 1 {
		starts[b+1] += starts[b]
	}
	copy(next, starts[:mask+1])
	for b := range uint32(mask + 1) {
		end := starts[b+1]
		for i := next[b]; i < end; i = next[b] {
			k, v := keys[i], vals[i]
			to := uint32((k >> shift) & mask)
			for to != b { // carry the row to its place, taking the one there along
				j := next[to]
				next[to]++
				k, keys[j] = keys[j], k
				v, vals[j] = vals[j], v
				to = uint32((k >> shift) & mask)
			}
			keys[i], vals[i] = k, v
			next[b]++
		}
	}
}

// sortBucket sorts rows [from, to) by hash, their bits along.
func (t *PersonTable) sortBucket(from, to int) {
	if to-from > 32 {
		sort.Sort(rowsByHash{t.keys[from:to], t.vals[from:to]})
		return
	}
	for i := from + 1; i < to; i++ {
		for j := i; j > from && t.keys[j] < t.keys[j-1]; j-- {
			t.keys[j], t.keys[j-1] = t.keys[j-1], t.keys[j]
			t.vals[j], t.vals[j-1] = t.vals[j-1], t.vals[j]
		}
	}
}

type rowsByHash struct {
	keys []uint64
	vals []uint32
}

func (s rowsByHash) Len() int           { return len(s.keys) }
func (s rowsByHash) Less(i, j int) bool { return s.keys[i] < s.keys[j] }
func (s rowsByHash) Swap(i, j int) {
	s.keys[i], s.keys[j] = s.keys[j], s.keys[i]
	s.vals[i], s.vals[j] = s.vals[j], s.vals[i]
}

// lookup returns the route of the person of hash, and whether the table has them.
func (t *PersonTable) lookup(hash uint64) (uint16, bool) {
	b := hash >> (64 - t.bucketBits)
	want := hash << 16
	for _, e := range t.entries[t.index[b]:t.index[b+1]] {
		if e&^0xffff == want {
			return uint16(e), true
		}
	}
	return 0, false
}

// warm loads into the caches the buckets and entries that the look-ups of hashes will read
// (see Directory.Warm), and returns what it read, for the caller to keep.
func (t *PersonTable) warm(hashes []uint64) uint64 {
	var at [WarmBlock]uint32
	for i, h := range hashes {
		at[i] = t.index[h>>(64-t.bucketBits)]
	}
	var sink uint64
	for _, i := range at[:len(hashes)] {
		if int(i) < len(t.entries) {
			sink ^= t.entries[i]
		}
	}
	return sink
}
