package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"syscall"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/pqcol"
)

// IndexFile is written into every layer when its version is committed: what a rerun needs to
// find and read the rows of a few households without scanning the month. It holds
//
//   - the layer's households (those of its files, and those households.parquet lists), each
//     with its key, its 多数回 state (benefit_cash, prior_benefit_months, tasukai_applied,
//     counts_for_tasukai: what states and the counting of history read) and the range of its
//     rows in receipt_benefit.parquet and members.parquet (a household's rows are contiguous
//     in every file the pipeline writes);
//   - receipt_id → household, for the receipts of receipt_benefit.parquet;
//   - (insurer_no, person_id) → household, for the rows of members.parquet, and the insurers
//     members.parquet lists.
//
// Households, receipts and persons are sorted by a 64-bit FNV-1a hash of their key, found by
// interpolation then binary search in the file, which is mapped, not read: a look-up touches
// a few pages. A household is confirmed by its key; a receipt or person only by its hash, so
// a collision (of odds 2^-64 a pair) could bring in one household more, recomputed to the
// same results. A layer without an index (a ledger written before indexes, or a layer whose
// households' rows were not contiguous) is read by scanning, as before.
const IndexFile = "index.bin"

// indexMagic begins an index; indexMagicV1 one written before row stores, which it lacks.
var (
	indexMagic   = [8]byte{'K', 'G', 'L', 'I', 'D', 'X', '0', '2'}
	indexMagicV1 = [8]byte{'K', 'G', 'L', 'I', 'D', 'X', '0', '1'}
)

// errNoIndex says a layer cannot be indexed: it is then read by scanning.
var errNoIndex = errors.New("layer not indexable")

// State flags of a household in the index.
const (
	flagCounts  = 1 << iota // counts_for_tasukai
	flagTasukai             // tasukai_applied
	flagRow                 // the household has a row in household_month.parquet
)

// index is a layer's IndexFile, mapped.
type index struct {
	data             []byte
	nH, nR, nP, nIns int
	hasMembers       bool
	// section offsets
	hHash, hCash, hKeyOff, hPrior, hRB, hMem, hFlags, keys, rHash, rHH, pHash, pHH, insOff, ins int
	// the row stores, open (nil in an index written before them), and their sections
	rbStore, memStore *storeFile
	hRBS, hMemS       int
	layer             string
	// paged, in a view for a few look-ups (see pagedViews), reads the pages it needs instead
	// of faulting in the mapping's.
	paged *pagedFile
}

const headerLen = 8 + 7*8

func fnv(parts ...[]byte) uint64 {
	h := uint64(14695981039346656037)
	for i, p := range parts {
		if i > 0 {
			h = (h ^ 0) * 1099511628211
		}
		for _, c := range p {
			h = (h ^ uint64(c)) * 1099511628211
		}
	}
	return h
}

// openIndex maps the index of a layer; nil (and no error) when the layer has none.
func openIndex(layer string) (*index, error) {
	f, err := os.Open(filepath.Join(layer, IndexFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < headerLen {
		return nil, fmt.Errorf("%s: index cut short", f.Name())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	x := &index{data: data, layer: layer}
	// The mapping goes with the index; a row store's file closes itself once no one holds it
	// (an *os.File's own cleanup), which may be after its index: a reader keeps the file it
	// reads blocks from, not the index.
	runtime.SetFinalizer(x, func(x *index) { syscall.Munmap(x.data) })
	if err := x.layout(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if x.hRBS > 0 {
		if x.rbStore, err = openStore(filepath.Join(layer, ReceiptRowsFile)); err != nil {
			return nil, err
		}
		if x.hasMembers {
			if x.memStore, err = openStore(filepath.Join(layer, MemberRowsFile)); err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}

func (x *index) u64(at int) uint64 { return binary.LittleEndian.Uint64(x.bytes(at, 8)) }
func (x *index) u32(at int) uint32 { return binary.LittleEndian.Uint32(x.bytes(at, 4)) }

// bytes are the n bytes of the index at at: from the mapping, or read for a paged view.
func (x *index) bytes(at, n int) []byte {
	if x.paged == nil {
		return x.data[at : at+n]
	}
	return x.paged.read(at, n)
}

// layout finds the sections from the header and checks that they fill the file.
func (x *index) layout() error {
	stores := bytes.Equal(x.data[:8], indexMagic[:])
	if !stores && !bytes.Equal(x.data[:8], indexMagicV1[:]) {
		return errors.New("not a ledger index")
	}
	h := func(i int) int { return int(x.u64(8 + 8*i)) }
	x.nH, x.nR, x.nP, x.nIns = h(0), h(1), h(2), h(3)
	keyLen, insLen := h(4), h(5)
	x.hasMembers = h(6) != 0
	at := headerLen
	next := func(n int) int { s := at; at += n; return s }
	x.hHash, x.hCash = next(8*x.nH), next(8*x.nH)
	x.hKeyOff, x.hPrior = next(4*(x.nH+1)), next(4*x.nH)
	x.hRB, x.hMem = next(8*x.nH), next(8*x.nH)
	if stores {
		x.hRBS, x.hMemS = next(12*x.nH), next(12*x.nH)
	}
	x.hFlags, x.keys = next(x.nH), next(keyLen)
	x.rHash, x.rHH = next(8*x.nR), next(4*x.nR)
	x.pHash, x.pHH = next(8*x.nP), next(4*x.nP)
	x.insOff, x.ins = next(4*(x.nIns+1)), next(insLen)
	if at != len(x.data) || x.nH < 0 || x.nR < 0 || x.nP < 0 || x.nIns < 0 {
		return errors.New("index sections do not fill the file: damaged")
	}
	return nil
}

// find returns the first of the n sorted hashes at base equal to h (n if none), starting
// from the place a uniform hash would have.
func (x *index) find(base, n int, h uint64) int {
	if n == 0 {
		return 0
	}
	guess := int((h >> 32) * uint64(n) >> 32)
	lo, hi := guess, guess+1
	for step := 1; lo > 0 && x.u64(base+8*lo) >= h; step *= 2 {
		lo = max(0, lo-step)
	}
	for step := 1; hi < n && x.u64(base+8*(hi-1)) < h; step *= 2 {
		hi = min(n, hi+step)
	}
	i := lo + sort.Search(hi-lo, func(i int) bool { return x.u64(base+8*(lo+i)) >= h })
	if i < n && x.u64(base+8*i) == h {
		return i
	}
	return n
}

// A cursor looks hashes up in one sorted section of an index in ascending order, as keys in
// byHash order come: each look-up starts where the last one ended. When the keys are dense
// beside the section (a correction's ten thousand households in a layer of ten thousand),
// the next hash is a few entries on, found in the cache line at hand, where find would have
// searched around a guess; when they are sparse, it is find.
type cursor struct {
	at     int
	gallop bool
}

// cursorFor is a cursor for keys look-ups in a section of n hashes.
func cursorFor(n, keys int) cursor { return cursor{gallop: n <= 64*keys} }

// seek returns the first of the n sorted hashes at base equal to h (n if none), as find does;
// h must not be less than the hash of c's previous seek.
func (x *index) seek(c *cursor, base, n int, h uint64) int {
	if !c.gallop {
		return x.find(base, n, h)
	}
	lo := c.at
	if lo < n && x.u64(base+8*lo) < h {
		hi := lo + 1 // x[lo] < h: gallop on until x[hi] >= h, then search between
		for step := 1; hi < n && x.u64(base+8*hi) < h; step *= 2 {
			lo, hi = hi, hi+step
		}
		hi = min(hi, n)
		lo += 1 + sort.Search(hi-lo-1, func(i int) bool { return x.u64(base+8*(lo+1+i)) >= h })
	}
	c.at = lo
	if lo < n && x.u64(base+8*lo) == h {
		return lo
	}
	return n
}

// household finds the household of key (insurer_no NUL household_id) in the layer.
func (x *index) household(key []byte) (int, bool) { return x.householdHashed(key, fnv(key)) }

// householdHashed is household with the key's hash, fnv(key), made once for all the layers
// a key is looked up in.
func (x *index) householdHashed(key []byte, h uint64) (int, bool) {
	return x.householdAt(x.find(x.hHash, x.nH, h), key, h)
}

// householdSeek is householdHashed through c, for keys in byHash order.
func (x *index) householdSeek(c *cursor, key []byte, h uint64) (int, bool) {
	return x.householdAt(x.seek(c, x.hHash, x.nH, h), key, h)
}

// householdAt is the household of key among those from i on whose hash is h.
func (x *index) householdAt(i int, key []byte, h uint64) (int, bool) {
	for ; i < x.nH && x.u64(x.hHash+8*i) == h; i++ {
		if bytes.Equal(x.key(i), key) {
			return i, true
		}
	}
	return 0, false
}

func (x *index) key(i int) []byte {
	from, to := int(x.u32(x.hKeyOff+4*i)), int(x.u32(x.hKeyOff+4*i+4))
	return x.bytes(x.keys+from, to-from)
}

func (x *index) flags(i int) uint8 { return x.bytes(x.hFlags+i, 1)[0] }

// state is household i's state, and whether it has a row in household_month.parquet.
func (x *index) state(i int) (hhState, bool) {
	f := x.flags(i)
	return hhState{cash: int64(x.u64(x.hCash + 8*i)), prior: int32(x.u32(x.hPrior + 4*i)),
		counts: f&flagCounts != 0, tasukai: f&flagTasukai != 0}, f&flagRow != 0
}

// rows is the range of household i's rows in receipt_benefit.parquet (members false) or
// members.parquet.
func (x *index) rows(i int, members bool) [2]int64 {
	at := x.hRB
	if members {
		at = x.hMem
	}
	start, n := int64(x.u32(at+8*i)), int64(x.u32(at+8*i+4))
	return [2]int64{start, start + n}
}

// hasStores reports whether the layer has row stores.
func (x *index) hasStores() bool { return x.hRBS > 0 }

// receiptBlock is household i's block of receipt rows in the layer's row store.
func (x *index) receiptBlock(i int) (*storeFile, storeRef) {
	return x.rbStore, storeRef{off: x.u64(x.hRBS + 12*i), n: x.u32(x.hRBS + 12*i + 8)}
}

// memberBlock is household i's block of member rows.
func (x *index) memberBlock(i int) (*storeFile, storeRef) {
	return x.memStore, storeRef{off: x.u64(x.hMemS + 12*i), n: x.u32(x.hMemS + 12*i + 8)}
}

// eachOf calls fn with the household of every entry of the table (receipts or persons)
// whose hash is h.
func (x *index) eachOf(c *cursor, hashes, hh, n int, h uint64, fn func(int)) {
	for i := x.seek(c, hashes, n, h); i < n && x.u64(hashes+8*i) == h; i++ {
		fn(int(x.u32(hh + 4*i)))
	}
}

func (x *index) insurers() []string {
	out := make([]string, x.nIns)
	for i := range out {
		from, to := int(x.u32(x.insOff+4*i)), int(x.u32(x.insOff+4*i+4))
		out[i] = string(x.bytes(x.ins+from, to-from))
	}
	return out
}

// useIndex lets tests compare the indexed reads with the scans they replace.
var useIndex = true

// indexes maps the indexes of every layer of v; nil when some layer has none (v is then read
// by scanning).
func (v *Version) indexes() ([]*index, error) {
	if !useIndex {
		return nil, nil
	}
	v.indexOnce.Do(func() {
		xs := make([]*index, len(v.Layers))
		for i, layer := range v.Layers {
			x, err := openIndex(layer)
			if err != nil {
				v.indexErr = &DamagedError{v.Month, err.Error()}
				return
			}
			if x == nil {
				return
			}
			xs[i] = x
		}
		v.index = xs
	})
	return v.index, v.indexErr
}

// newest finds household key in the newest layer that holds it: the layer, the household's
// place in its index, and false when no layer does.
func newest(xs []*index, key []byte) (layer, i int, ok bool) {
	h := fnv(key)
	for l := len(xs) - 1; l >= 0; l-- {
		if i, ok := xs[l].householdHashed(key, h); ok {
			return l, i, true
		}
	}
	return 0, 0, false
}

// eachState calls fn with the state of every household of keys that the version has a
// household_month row of: found in the newest layer that holds the household.
func eachState(xs []*index, keys *keySet, fn func(key []byte, st hhState)) error {
	return eachNewest(xs, keys, func(x *index, i int, key []byte) {
		if st, row := x.state(i); row {
			fn(key, st)
		}
	})
}

// eachCounting calls fn with every household of keys that counts for 多数回 in the version,
// as eachState would find it, reading the flags of its state alone.
func eachCounting(xs []*index, keys *keySet, fn func(key []byte)) error {
	return eachNewest(xs, keys, func(x *index, i int, key []byte) {
		if f := x.flags(i); f&flagRow != 0 && f&flagCounts != 0 {
			fn(key)
		}
	})
}

// eachNewest calls fn with each household of keys the version holds, as household i of the
// newest layer's index x that holds it (a paged view for a few keys, valid during the call).
func eachNewest(xs []*index, keys *keySet, fn func(x *index, i int, key []byte)) error {
	xs, done := pagedViews(xs, keys)
	defer done()
	for _, key := range byHash(keys) {
		if l, i, ok := newest(xs, key); ok {
			fn(xs[l], i, key)
		}
	}
	return viewsErr(xs)
}

// indexedAffected is affectedHouseholds from the layers' indexes: the households that hold
// the corrections' receipt ids, and those of the persons they name, each in the newest layer
// that holds the household (the older layers' rows of it are hidden, as scans hide them);
// and the corrections' insurers the members files list.
func indexedAffected(xs []*index, corr map[string]correction, n int) (map[HouseholdKey]struct{}, []string) {
	ids, persons := make([]string, 0, len(corr)), make([]string, 0, len(corr))
	for id, c := range corr {
		ids = append(ids, id)
		persons = append(persons, HouseholdKey{c.insurer, c.person}.String())
	}
	var idHashes, personHashes []uint64
	var wg sync.WaitGroup // the two made at once
	wg.Add(1)
	go func() {
		defer wg.Done()
		idHashes = sortedHashes(ids)
	}()
	personHashes = sortedHashes(persons)
	wg.Wait()
	n = max(1, min(n, len(idHashes)/4096)) // a goroutine's start costs more than a few look-ups
	found := make([][]string, n)
	for p := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			share := func(hs []uint64) []uint64 { return hs[len(hs)*p/n : len(hs)*(p+1)/n] }
			found[p] = affectedSome(xs, share(idHashes), share(personHashes))
		}()
	}
	wg.Wait()
	out := make(map[HouseholdKey]struct{}, len(found[0])*n)
	for _, keys := range found {
		for _, k := range keys {
			out[parseKeyString(k)] = struct{}{}
		}
	}
	named := map[string]bool{}
	for _, x := range xs {
		if x.hasMembers {
			for _, ins := range x.insurers() {
				named[ins] = true
			}
		}
	}
	var insurers []string
	seen := map[string]bool{}
	for _, c := range corr {
		if named[c.insurer] && !seen[c.insurer] {
			seen[c.insurer] = true
			insurers = append(insurers, c.insurer)
		}
	}
	sort.Strings(insurers)
	return out, insurers
}

// affectedSome is one goroutine's share of indexedAffected: the households of the receipt ids
// and the persons whose hashes are listed, each in ascending order.
func affectedSome(xs []*index, idHashes, personHashes []uint64) []string {
	visible := func(l, i int, members bool) bool {
		if l == len(xs)-1 {
			return true
		}
		key := xs[l].key(i)
		h := fnv(key)
		for n := l + 1; n < len(xs); n++ {
			if members && !xs[n].hasMembers {
				continue // a layer without the file hides nothing of it
			}
			if _, ok := xs[n].householdHashed(key, h); ok {
				return false
			}
		}
		return true
	}
	// What is found is noted as layer, household and kind (bit 0: by a person), then sorted
	// and made unique: a household's receipts and persons find it many times, and a map of
	// its key, probed each time, had been a cache miss each.
	var refs []uint64
	add := func(l int, members bool) func(int) {
		kind := uint64(0)
		if members {
			kind = 1
		}
		return func(i int) { refs = append(refs, uint64(l)<<33|uint64(i)<<1|kind) }
	}
	for l, x := range xs {
		byReceipt, byPerson := add(l, false), add(l, true)
		c := cursorFor(x.nR, len(idHashes))
		for _, h := range idHashes {
			x.eachOf(&c, x.rHash, x.rHH, x.nR, h, byReceipt)
		}
		if x.hasMembers {
			c := cursorFor(x.nP, len(personHashes))
			for _, h := range personHashes {
				x.eachOf(&c, x.pHash, x.pHH, x.nP, h, byPerson)
			}
		}
	}
	slices.Sort(refs)
	var out []string
	last := uint64(1<<64 - 1) // the household (refs without the kind bit) last taken
	for k, r := range refs {
		if (k > 0 && refs[k-1] == r) || r>>1 == last {
			continue
		}
		l, i := int(r>>33), int(r>>1&(1<<32-1))
		if visible(l, i, r&1 == 1) {
			out = append(out, string(xs[l].key(i)))
			last = r >> 1
		}
	}
	return out
}

// byHash lists the keys of a set in the order of their hash, which is the order of the
// indexes' tables: looked up in this order, every table is walked forward, page after page,
// instead of faulting in a page of the mapping for each key.
func byHash(keys *keySet) [][]byte {
	keys.mu.Lock()
	defer keys.mu.Unlock()
	if keys.ordered == nil {
		keys.ordered = hashOrder(keys)
	}
	return keys.ordered
}

// sortedHashes are the distinct hashes of keys, ascending: the order of the indexes' receipt
// and person tables, which are looked up by hash alone (a key given twice is looked up once).
func sortedHashes(keys []string) []uint64 {
	hs := make([]uint64, len(keys))
	for i, k := range keys {
		hs[i] = fnv([]byte(k))
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}

func hashOrder(keys *keySet) [][]byte {
	refs := make([]hashRef, 0, len(keys.m))
	list := make([][]byte, 0, len(keys.m))
	for k := range keys.m {
		refs = append(refs, hashRef{fnv([]byte(k)), uint32(len(list))})
		list = append(list, []byte(k))
	}
	out := make([][]byte, len(list))
	for i, r := range sortByHash(refs) {
		out[i] = list[r.hh]
	}
	return out
}

// --- building ---

// hhBuild is a household while its layer's index is built.
type hhBuild struct {
	hash    uint64
	key     [2]uint32 // in the builder's key bytes
	cash    int64
	prior   int32
	flags   uint8
	rb, mem [2]uint32 // start, count
	// the household's blocks in the row stores
	rbStore, memStore storeRef
	rbSeen            bool
	memSeen           bool
	assigned          bool
}

type hashRef struct {
	hash uint64
	hh   uint32
}

type indexBuilder struct {
	keys       []byte
	hh         []hhBuild
	byHash     map[uint64]uint32 // nil while households are numbered in order
	order      []hashRef         // the households sorted by hash
	receipts   []hashRef
	persons    []hashRef
	insurers   []string
	hasMembers bool
	stores     bool // the layer has row stores: the index has their sections
}

func (b *indexBuilder) keyOf(n uint32) []byte { return b.keys[b.hh[n].key[0]:b.hh[n].key[1]] }

// householdOf returns the number of the household of key, adding it when new.
func (b *indexBuilder) householdOf(key []byte) (uint32, error) {
	h := fnv(key)
	if b.byHash == nil { // numbered in order: a key not found in order is a new household
		return b.add(h, key), nil
	}
	if n, ok := b.byHash[h]; ok {
		if k := b.hh[n].key; bytes.Equal(b.keys[k[0]:k[1]], key) {
			return n, nil
		}
		return 0, errNoIndex // two households of one hash: the layer is read by scanning
	}
	n := b.add(h, key)
	b.byHash[h] = n
	return n, nil
}

func (b *indexBuilder) add(h uint64, key []byte) uint32 {
	start := uint32(len(b.keys))
	b.keys = append(b.keys, key...)
	b.hh = append(b.hh, hhBuild{hash: h, key: [2]uint32{start, uint32(len(b.keys))}})
	return uint32(len(b.hh) - 1)
}

// run is a stretch of rows of one household in a file, its key in the file's runs' keys.
type run struct {
	key        [2]uint32
	start, end int64
}

// runs are a file's runs of rows of one household, in row order.
type runs struct {
	keys []byte
	runs []run
}

func (rs *runs) key(i int) []byte { return rs.keys[rs.runs[i].key[0]:rs.runs[i].key[1]] }

// Bytes the index builder holds while it builds a layer's index, a row of receipt_benefit or
// members and a household: about 0.93 GB for the 10M month (10M receipts, 2.65M households,
// 7M member rows).
const (
	indexBytesPerRow       = 16
	indexBytesPerHousehold = 250
)

// indexFits tells whether building layer's index stays within half the run's memory budget,
// which it must not pass whatever the month's size: a layer too large gets no index and is
// read by scanning, as a ledger written before indexes is.
func (l *Ledger) indexFits(layer string) bool {
	budget := l.budget()
	rows := func(file string) int64 {
		n, _ := pqcol.NumRows(filepath.Join(layer, file)) // a file that cannot be read fails elsewhere
		return n
	}
	need := indexBytesPerRow*(rows(output.ReceiptBenefitFile)+rows(pipeline.MembersFile)) +
		indexBytesPerHousehold*rows(output.HouseholdMonthFile)
	return need <= budget/2
}

// budget is the run's memory budget.
func (l *Ledger) budget() int64 {
	if l.memoryBudget > 0 {
		return l.memoryBudget
	}
	return pipeline.DefaultMemoryBudget
}

// withinBudget runs build, which makes a layer's index, with the collector held to limit
// bytes, as the pipeline holds it while it runs: the month's run has just ended, its heap is
// garbage, and without the limit the collector would let the builder's gigabyte come on top
// of it (peak RSS 2.3 GB instead of the run's 1.2 on the 10M month).
func withinBudget(limit int64, build func() error) error {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	runtime.GC()
	return build()
}

// writeIndex writes the index of a layer directory (see IndexFile) and its row stores, from
// its files. A layer that cannot be indexed gets neither and is read by scanning.
func writeIndex(ctx context.Context, layer string) error {
	c, b, err := scanIndex(ctx, layer, layer)
	if errors.Is(err, errNoIndex) {
		return nil
	}
	if err == nil {
		err = writeIndexFile(layer, b)
	}
	if err != nil && c != nil {
		c.discard()
	}
	return err
}

// scanIndex builds the index of a layer directory from its files, its row stores written
// into storeDir (closed and synced). On errNoIndex they are removed.
func scanIndex(ctx context.Context, layer, storeDir string) (*layerRows, *indexBuilder, error) {
	c, err := newLayerRows(storeDir, fileExists(filepath.Join(layer, pipeline.MembersFile)))
	if err != nil {
		return nil, nil, err
	}
	var listed []HouseholdKey
	if err = scanLayer(ctx, layer, c); err == nil {
		if p := filepath.Join(layer, HouseholdsFile); fileExists(p) {
			err = output.Each(p, func(keys []HouseholdKey) error {
				listed = append(listed, keys...)
				return nil
			})
		}
	}
	if err == nil {
		err = c.closeStores()
	}
	var b *indexBuilder
	if err == nil {
		b, err = c.build(listed)
	}
	if err != nil {
		c.discard()
		return nil, nil, err
	}
	return c, b, nil
}

// writeIndexFile writes b as layer's index, synced.
func writeIndexFile(layer string, b *indexBuilder) error {
	return writeFileSync(filepath.Join(layer, IndexFile), func(f *os.File) error {
		return b.encode(output.NewWritebackFile(f))
	})
}

// numberInOrder lets tests take the map's way on every layer.
var numberInOrder = true

// resolveHouseholds numbers the households of the layer's runs: in order (each run the next
// household of household_month, or a new one) or through a map of every household.
func resolveHouseholds(inOrder bool, hmRuns, rbRuns, memRuns *runs, states []hhState, listed []HouseholdKey) (b *indexBuilder, rbNums, memNums []uint32, err error) {
	most := len(hmRuns.runs) + len(memRuns.runs) + len(listed)
	b = &indexBuilder{hh: make([]hhBuild, 0, most), keys: make([]byte, 0, len(hmRuns.keys)+len(memRuns.keys)+20*len(listed))}
	if !inOrder || len(listed) > 0 {
		b.byHash = make(map[uint64]uint32, most)
	}
	for i, r := range hmRuns.runs {
		n, err := b.householdOf(hmRuns.key(i))
		if err != nil {
			return nil, nil, nil, err
		}
		if r.end-r.start != 1 || b.hh[n].flags&flagRow != 0 {
			return nil, nil, nil, errNoIndex
		}
		s := states[i]
		h := &b.hh[n]
		h.cash, h.prior, h.flags = s.cash, s.prior, flagRow
		if s.counts {
			h.flags |= flagCounts
		}
		if s.tasukai {
			h.flags |= flagTasukai
		}
	}
	households := uint32(len(b.hh))
	resolve := func(rs *runs, members bool) ([]uint32, error) {
		nums := make([]uint32, len(rs.runs))
		next := uint32(0) // the household of household_month the next run is most likely of
		for i, r := range rs.runs {
			n := next
			if next < households && bytes.Equal(b.keyOf(next), rs.key(i)) {
				next++
			} else {
				var err error
				if n, err = b.householdOf(rs.key(i)); err != nil {
					return nil, err
				}
			}
			h := &b.hh[n]
			seen, rng := &h.rbSeen, &h.rb
			if members {
				seen, rng = &h.memSeen, &h.mem
			}
			if *seen || r.start > 1<<32-1 || r.end-r.start > 1<<32-1 {
				return nil, errNoIndex // rows of a household apart: found by scanning
			}
			*seen, *rng = true, [2]uint32{uint32(r.start), uint32(r.end - r.start)}
			nums[i] = n
		}
		return nums, nil
	}
	if rbNums, err = resolve(rbRuns, false); err != nil {
		return nil, nil, nil, err
	}
	if memNums, err = resolve(memRuns, true); err != nil {
		return nil, nil, nil, err
	}
	var key []byte
	for _, k := range listed {
		key = appendKey(key, []byte(k.InsurerNo), []byte(k.HouseholdID))
		if _, err := b.householdOf(key); err != nil {
			return nil, nil, nil, err
		}
	}
	b.order = make([]hashRef, len(b.hh))
	for i, h := range b.hh {
		b.order[i] = hashRef{h.hash, uint32(i)}
	}
	b.order = sortByHash(b.order)
	return b, rbNums, memNums, nil
}

// twice reports whether a household was numbered twice (b.order holds its numbers sorted by
// hash, so that the same key sits side by side).
func (b *indexBuilder) twice() bool {
	for i := 1; i < len(b.order); i++ {
		if b.order[i].hash == b.order[i-1].hash && bytes.Equal(b.keyOf(b.order[i].hh), b.keyOf(b.order[i-1].hh)) {
			return true
		}
	}
	return false
}

// sortByHash sorts refs by hash, then household: a counting pass on the top bits of the
// hash, some eight refs a bucket, then each bucket by insertion.
func sortByHash(refs []hashRef) []hashRef {
	bits := 8
	for bits < 24 && len(refs)>>bits > 8 {
		bits++
	}
	shift := 64 - bits
	count := make([]int, 1<<bits+1)
	for _, r := range refs {
		count[r.hash>>shift+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	out := make([]hashRef, len(refs))
	pos := slices.Clone(count)
	for _, r := range refs {
		out[pos[r.hash>>shift]] = r
		pos[r.hash>>shift]++
	}
	less := func(a, b hashRef) bool { return a.hash < b.hash || a.hash == b.hash && a.hh < b.hh }
	for i := range 1 << bits {
		bucket := out[count[i]:count[i+1]]
		for j := 1; j < len(bucket); j++ {
			for k := j; k > 0 && less(bucket[k], bucket[k-1]); k-- {
				bucket[k], bucket[k-1] = bucket[k-1], bucket[k]
			}
		}
	}
	return out
}

// encode writes the index to w as layout reads it.
func (b *indexBuilder) encode(w io.Writer) error {
	// Households in hash order (moved once, so that each section below is one pass in
	// order); the receipts and persons renumbered to it.
	order := b.order
	place := make([]uint32, len(b.hh))
	hh := make([]hhBuild, len(b.hh))
	for i, o := range order {
		place[o.hh] = uint32(i)
		hh[i] = b.hh[o.hh]
	}
	b.hh, b.order = nil, nil
	renumber := func(refs []hashRef) []hashRef {
		for i := range refs {
			refs[i].hh = place[refs[i].hh]
		}
		return sortByHash(refs)
	}
	receipts, persons := renumber(b.receipts), renumber(b.persons)
	b.receipts, b.persons = nil, nil
	insLen := 0
	for _, s := range b.insurers {
		insLen += len(s)
	}
	bw := &sectionWriter{w: w, buf: make([]byte, 0, 1<<20+64)}
	if b.stores {
		bw.bytes(indexMagic[:])
	} else {
		bw.bytes(indexMagicV1[:])
	}
	for _, v := range []int{len(hh), len(receipts), len(persons), len(b.insurers), len(b.keys), insLen, boolInt(b.hasMembers)} {
		bw.u64(uint64(v))
	}
	for i := range hh {
		bw.u64(hh[i].hash)
	}
	for i := range hh {
		bw.u64(uint64(hh[i].cash))
	}
	bw.u32(0)
	n := uint32(0)
	for i := range hh {
		n += hh[i].key[1] - hh[i].key[0]
		bw.u32(n)
	}
	for i := range hh {
		bw.u32(uint32(hh[i].prior))
	}
	for i := range hh {
		bw.u32(hh[i].rb[0])
		bw.u32(hh[i].rb[1])
	}
	for i := range hh {
		bw.u32(hh[i].mem[0])
		bw.u32(hh[i].mem[1])
	}
	if b.stores {
		for _, store := range []func(*hhBuild) storeRef{
			func(h *hhBuild) storeRef { return h.rbStore }, func(h *hhBuild) storeRef { return h.memStore }} {
			for i := range hh {
				ref := store(&hh[i])
				bw.u64(ref.off)
				bw.u32(ref.n)
			}
		}
	}
	for i := range hh {
		bw.bytes([]byte{hh[i].flags})
	}
	for i := range hh {
		bw.bytes(b.keys[hh[i].key[0]:hh[i].key[1]])
	}
	for _, table := range [][]hashRef{receipts, persons} {
		for _, r := range table {
			bw.u64(r.hash)
		}
		for _, r := range table {
			bw.u32(r.hh)
		}
	}
	bw.u32(0)
	n = 0
	for _, s := range b.insurers {
		n += uint32(len(s))
		bw.u32(n)
	}
	for _, s := range b.insurers {
		bw.bytes([]byte(s))
	}
	bw.flush()
	return bw.err
}

// sectionWriter encodes into a buffer written out a megabyte at a time: an index's sections,
// a row store's rows, a history index.
type sectionWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func (s *sectionWriter) u64(v uint64) {
	s.buf = binary.LittleEndian.AppendUint64(s.buf, v)
	if len(s.buf) >= 1<<20 {
		s.flush()
	}
}

func (s *sectionWriter) u32(v uint32) {
	s.buf = binary.LittleEndian.AppendUint32(s.buf, v)
	if len(s.buf) >= 1<<20 {
		s.flush()
	}
}

func (s *sectionWriter) bytes(v []byte) {
	s.buf = append(s.buf, v...)
	if len(s.buf) >= 1<<20 {
		s.flush()
	}
}

func (s *sectionWriter) flush() {
	if s.err == nil && len(s.buf) > 0 {
		_, s.err = s.w.Write(s.buf)
	}
	s.buf = s.buf[:0]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
