package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/pqcol"
	"github.com/kougaku/batch/receipt"
)

// layerRows gathers what a layer's index and row stores are made of, row by row in the order
// of the layer's files: from the rows as the pipeline writes them (written: the run's own
// layer, no file read back) or by scanning the files of a layer (scanLayer: compaction, a
// layer of a ledger written before indexes). Both ways give the same index. What the index
// is built from goes to temporary files as it comes (appendFile), so that a run holds none of
// it while it computes; build loads it once the run's memory is garbage.
type layerRows struct {
	hm, rb, mem fileRows
	states      *appendFile[hhState] // per run of hm
	rids, pids  *appendFile[hashRef] // hh: the run's number in rb, mem
	insurers    []string             // of the member rows, in order of first sight
	seenIns     map[string]bool
	lastIns     []byte
	hasMembers  bool
	key         []byte
	// limit bounds the bytes the build will hold (0: none); past it the layer is left
	// unindexed (over).
	limit  int64
	over   bool
	placed bool
	split  bool // a household's rows apart in some file: no index
	// counting are the households that count for 多数回 in the layer, once built.
	counting map[HouseholdKey]struct{}
}

// fileRows are one file's runs of rows of one household, and its row store (none for
// household_month).
type fileRows struct {
	runFile *appendFile[run]
	keyFile *appendFile[byte]
	cur     run // the last run, still growing
	curKey  []byte
	nRuns   int
	keyLen  int
	rows    int64
	store   *blockWriter
}

func newFileRows(dir, name string) (fileRows, error) {
	var f fileRows
	var err error
	if f.runFile, err = newAppendFile[run](dir, name+"-runs"); err == nil {
		f.keyFile, err = newAppendFile[byte](dir, name+"-keys")
	}
	return f, err
}

// add counts a row of the household key and returns its run's number.
func (f *fileRows) add(key []byte) int {
	before := f.nRuns
	r := f.addRun(key, 1)
	if f.nRuns != before && f.store != nil {
		f.store.start() // the row's bytes follow
	}
	return r
}

// addRun counts n rows of the household key and returns their run's number: a new run
// unless the last is of key. (The run's block is the store's caller's to write.)
func (f *fileRows) addRun(key []byte, n int64) int {
	if f.nRuns > 0 && bytes.Equal(f.curKey, key) {
		f.cur.end += n
	} else {
		if f.nRuns > 0 {
			f.runFile.add(f.cur)
		}
		k := uint32(f.keyLen)
		f.keyFile.addAll(key)
		f.keyLen += len(key)
		f.cur = run{key: [2]uint32{k, uint32(f.keyLen)}, start: f.rows, end: f.rows + n}
		f.curKey = append(f.curKey[:0], key...)
		f.nRuns++
	}
	f.rows += n
	return f.nRuns - 1
}

// load reads the file's runs back.
func (f *fileRows) load() (*runs, error) {
	if f.nRuns > 0 {
		f.runFile.add(f.cur)
		f.nRuns = 0
	}
	rs, err := f.runFile.load()
	if err != nil {
		return nil, err
	}
	keys, err := f.keyFile.load()
	if err != nil {
		return nil, err
	}
	if f.keyLen > 1<<32-1 {
		return nil, errNoIndex
	}
	return &runs{keys: keys, runs: rs}, nil
}

func (f *fileRows) drop() {
	for _, a := range []interface{ drop() }{f.runFile, f.keyFile} {
		if a != nil {
			a.drop()
		}
	}
}

// newLayerRows starts gathering a layer, its row stores and temporary files written into
// dir.
func newLayerRows(dir string, members bool) (c *layerRows, err error) {
	c = &layerRows{hasMembers: members, seenIns: map[string]bool{}}
	defer func() {
		if err != nil {
			c.abandon()
		}
	}()
	for name, f := range map[string]*fileRows{"hm": &c.hm, "rb": &c.rb, "mem": &c.mem} {
		if *f, err = newFileRows(dir, name); err != nil {
			return nil, err
		}
	}
	if c.states, err = newAppendFile[hhState](dir, "states"); err != nil {
		return nil, err
	}
	if c.rids, err = newAppendFile[hashRef](dir, "rids"); err != nil {
		return nil, err
	}
	if c.pids, err = newAppendFile[hashRef](dir, "pids"); err != nil {
		return nil, err
	}
	if c.rb.store, err = newBlockWriter(filepath.Join(dir, ReceiptRowsFile)); err != nil {
		return nil, err
	}
	if members {
		if c.mem.store, err = newBlockWriter(filepath.Join(dir, MemberRowsFile)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// bytes is about what building the index will hold, by the measure of indexFits.
func (c *layerRows) bytes() int64 {
	return indexBytesPerRow*(c.rb.rows+c.mem.rows) + indexBytesPerHousehold*int64(c.hm.nRuns)
}

// abandon drops what c gathered: the layer gets no index and is read by scanning.
func (c *layerRows) abandon() {
	c.over = true
	c.discard()
}

// discard removes the temporary files, and the row stores unless they are placed in a layer.
func (c *layerRows) discard() {
	c.dropTemp()
	if c.placed {
		return
	}
	for _, s := range []*blockWriter{c.rb.store, c.mem.store} {
		if s != nil {
			s.close(true)
		}
	}
}

// dropTemp removes the temporary files.
func (c *layerRows) dropTemp() {
	c.hm.drop()
	c.rb.drop()
	c.mem.drop()
	for _, a := range []*appendFile[hashRef]{c.rids, c.pids} {
		if a != nil {
			a.drop()
		}
	}
	c.states.drop()
}

// partRows is one partition's rows encoded for its layer's index and row stores by the
// worker that computed it (Encode), for Append to add in the files' order: the encoding,
// most of the work, is spread over the workers instead of holding up the writer.
type partRows struct {
	keys              []byte
	hm, rb, mem       []partRun
	states            []hhState
	rids, pids        []hashRef // hh: the run's number in the partition's rb, mem
	insurers          []string
	rbStore, memStore []byte
}

// partRun is a run of rows of one household in a partition: its key in keys, its block in
// the partition's store, and its rows.
type partRun struct {
	key, block [2]uint32
	rows       uint32
}

var partRowsPool = sync.Pool{New: func() any { return new(partRows) }}

// run returns the number of the run of key in runs, a new one unless it is the last; a new
// one's block begins at the end of store.
func (p *partRows) run(runs *[]partRun, key []byte, store []byte) int {
	rs := *runs
	if n := len(rs); n > 0 && bytes.Equal(p.keys[rs[n-1].key[0]:rs[n-1].key[1]], key) {
		rs[n-1].rows++
		return n - 1
	}
	k := uint32(len(p.keys))
	p.keys = append(p.keys, key...)
	at := uint32(len(store))
	*runs = append(rs, partRun{key: [2]uint32{k, uint32(len(p.keys))}, block: [2]uint32{at, at}, rows: 1})
	return len(*runs) - 1
}

// Encode encodes a partition's rows (pipeline.RowsSink).
func (c *layerRows) Encode(w *pipeline.Written) (any, error) {
	p := partRowsPool.Get().(*partRows)
	p.keys, p.hm, p.rb, p.mem = p.keys[:0], p.hm[:0], p.rb[:0], p.mem[:0]
	p.states, p.rids, p.pids, p.insurers = p.states[:0], p.rids[:0], p.pids[:0], p.insurers[:0]
	p.rbStore, p.memStore = p.rbStore[:0], p.memStore[:0]
	var key []byte
	for i := range w.Households {
		h := &w.Households[i]
		key = appendKeyString(key, h.InsurerNo, h.HouseholdID)
		p.run(&p.hm, key, nil)
		p.states = append(p.states, hhState{cash: h.BenefitCash, counts: h.CountsForTasukai, prior: h.PriorBenefitMonths, tasukai: h.TasukaiApplied})
	}
	b := w.Receipts
	var strs [9]output.StringColumn
	for i, name := range []string{"insurer_no", "household_id", "receipt_id", "person_id", "institution_id", "kind",
		"setting", "prescriber_id", "tokutei"} {
		var err error
		if strs[i], err = b.StringColumn(name); err != nil {
			return nil, err
		}
	}
	var ints [3]output.IntColumn
	for i, name := range []string{"cost", "copay", "paid"} {
		var err error
		if ints[i], err = b.IntColumn(name); err != nil {
			return nil, err
		}
	}
	for j := range b.Len() {
		key = appendKeyString(key, strs[0].At(j), strs[1].At(j))
		run := p.run(&p.rb, key, p.rbStore)
		id := strs[2].At(j)
		p.rids = append(p.rids, hashRef{fnvString(id), uint32(run)})
		p.rbStore = appendReceipt(p.rbStore, strs[1].At(j), id, strs[3].At(j), strs[4].At(j), strs[5].At(j), strs[6].At(j), strs[7].At(j),
			strs[8].At(j), ints[0].At(j), ints[1].At(j), ints[2].At(j))
		p.rb[run].block[1] = uint32(len(p.rbStore))
	}
	last := ""
	for i := range w.Members {
		m := &w.Members[i]
		key = appendKeyString(key, m.InsurerNo, m.HouseholdID)
		run := p.run(&p.mem, key, p.memStore)
		if m.InsurerNo != last {
			last = m.InsurerNo
			if !slices.Contains(p.insurers, last) {
				p.insurers = append(p.insurers, strings.Clone(last))
			}
		}
		p.pids = append(p.pids, hashRef{fnv(unsafeBytes(m.InsurerNo), unsafeBytes(m.PersonID)), uint32(run)})
		p.memStore = appendMember(p.memStore, m)
		p.mem[run].block[1] = uint32(len(p.memStore))
	}
	if len(p.rbStore) > 1<<31 || len(p.memStore) > 1<<31 || len(p.keys) > 1<<31 {
		return nil, fmt.Errorf("ledger: a partition of more than 2 GiB of rows")
	}
	return p, nil
}

// Append adds a partition Encode encoded, in the files' order (pipeline.RowsSink).
func (c *layerRows) Append(encoded any) error {
	p := encoded.(*partRows)
	defer partRowsPool.Put(p)
	if c.over {
		return nil
	}
	add := func(f *fileRows, runs []partRun, store []byte) (base int) {
		base = f.nRuns
		for _, r := range runs {
			before := f.nRuns
			f.addRun(p.keys[r.key[0]:r.key[1]], int64(r.rows))
			if f.nRuns == before {
				c.split = true // a household in two partitions: the layer is read by scanning
			}
			if f.store != nil {
				f.store.starts = append(f.store.starts, f.store.size+uint64(r.block[0]))
			}
		}
		if f.store != nil {
			f.store.writeAll(store) // the runs' blocks, back to back
		}
		return base
	}
	add(&c.hm, p.hm, nil)
	c.states.addAll(p.states)
	rbBase := uint32(add(&c.rb, p.rb, p.rbStore))
	for i := range p.rids {
		p.rids[i].hh += rbBase
	}
	c.rids.addAll(p.rids)
	memBase := uint32(add(&c.mem, p.mem, p.memStore))
	for i := range p.pids {
		p.pids[i].hh += memBase
	}
	c.pids.addAll(p.pids)
	for _, ins := range p.insurers {
		if !c.seenIns[ins] {
			c.seenIns[ins] = true
			c.insurers = append(c.insurers, ins)
		}
	}
	if c.limit > 0 && c.bytes() > c.limit {
		c.abandon()
	}
	return c.storeErr()
}

// member takes a member row.
func (c *layerRows) member(m *receipt.MemberRow) {
	c.key = appendKeyString(c.key, m.InsurerNo, m.HouseholdID)
	run := c.mem.add(c.key)
	if m.InsurerNo != string(c.lastIns) {
		c.lastIns = append(c.lastIns[:0], m.InsurerNo...)
		if !c.seenIns[m.InsurerNo] {
			ins := strings.Clone(m.InsurerNo) // m's strings are the scan's, valid during the call only
			c.seenIns[ins] = true
			c.insurers = append(c.insurers, ins)
		}
	}
	c.pids.add(hashRef{fnv(unsafeBytes(m.InsurerNo), unsafeBytes(m.PersonID)), uint32(run)})
	c.mem.store.member(m)
}

func (c *layerRows) storeErr() error {
	for _, s := range []*blockWriter{c.rb.store, c.mem.store} {
		if s != nil && s.err != nil {
			return s.err
		}
	}
	for _, err := range []error{c.states.err, c.rids.err, c.pids.err, c.hm.runFile.err, c.hm.keyFile.err,
		c.rb.runFile.err, c.rb.keyFile.err, c.mem.runFile.err, c.mem.keyFile.err} {
		if err != nil {
			return err
		}
	}
	return nil
}

// scanLayer gathers the rows of a layer's files into c.
func scanLayer(ctx context.Context, layer string, c *layerRows) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return scanKeyed(gctx, filepath.Join(layer, output.HouseholdMonthFile), stateCols, func(b *pqcol.Batch, j int, key []byte) {
			c.hm.add(key)
			c.states.add(hhState{cash: b.Int64s(5).At(j), counts: b.Bools(4).At(j),
				prior: int32(b.Int64s(2).At(j)), tasukai: b.Bools(3).At(j)})
		})
	})
	g.Go(func() error {
		return scanKeyed(gctx, filepath.Join(layer, output.ReceiptBenefitFile), receiptCols, func(b *pqcol.Batch, j int, key []byte) {
			run := c.rb.add(key)
			id := b.Bytes(2).At(j)
			c.rids.add(hashRef{fnv(id), uint32(run)})
			str := func(col int) string { return unsafeString(b.Bytes(col).At(j)) }
			c.rb.store.receipt(str(1), str(2), str(3), str(4), str(5), str(6), str(7), str(11),
				b.Int64s(8).At(j), b.Int64s(9).At(j), b.Int64s(10).At(j))
		})
	})
	if c.hasMembers {
		path := filepath.Join(layer, pipeline.MembersFile)
		cols := memberCols
		names := fileHas(path, "name_kana") // not in a ledger of an earlier version
		if names {
			cols = append(cols[:len(cols):len(cols)], "name_kana")
		}
		g.Go(func() error {
			return scanKeyed(gctx, path, cols, func(b *pqcol.Batch, j int, _ []byte) {
				str := func(col int) string { return unsafeString(b.Bytes(col).At(j)) }
				m := memberRow(str, names)
				c.member(&m)
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return c.storeErr()
}

// scanKeyed reads the columns cols (insurer_no and household_id first) of a file, calling
// row with each row and its household key.
func scanKeyed(ctx context.Context, path string, cols []string, row func(b *pqcol.Batch, j int, key []byte)) error {
	r, err := pqcol.Open(path, cols...)
	if err != nil {
		return err
	}
	defer r.Close()
	var key []byte
	return r.Scan(ctx, func(b *pqcol.Batch) error {
		ins, hh := b.Bytes(0), b.Bytes(1)
		for j := range b.Len {
			key = appendKey(key, ins.At(j), hh.At(j))
			row(b, j, key)
		}
		return nil
	})
}

// fileHas reports whether the Parquet file at path has column col.
func fileHas(path, col string) bool {
	r, err := pqcol.Open(path)
	if err != nil {
		return false
	}
	defer r.Close()
	_, ok := r.Type(col)
	return ok
}

// finish writes the index of the gathered layer and its row stores into the directory layer,
// whose households.parquet (when it has one) lists the households listed. A layer that
// cannot be indexed (errNoIndex, or past the limit) gets neither and is read by scanning.
func (c *layerRows) finish(layer string, listed []HouseholdKey) error {
	if c.over || c.split {
		c.discard()
		return nil
	}
	// The stores' last writes and fsyncs go on while the index is built.
	var g errgroup.Group
	g.Go(c.closeStores)
	b, err := c.build(listed)
	if serr := g.Wait(); err == nil {
		err = serr
	}
	if errors.Is(err, errNoIndex) {
		c.discard()
		return nil
	}
	if err == nil {
		err = c.place(layer)
	}
	if err == nil {
		err = writeIndexFile(layer, b)
	}
	if err != nil {
		c.discard()
	}
	return err
}

// closeStores flushes and syncs the row stores.
func (c *layerRows) closeStores() error {
	for _, s := range []*blockWriter{c.rb.store, c.mem.store} {
		if s != nil {
			if err := s.close(false); err != nil {
				return err
			}
		}
	}
	return nil
}

// place moves the row stores into layer (where scanLayer already wrote them, nothing moves).
func (c *layerRows) place(layer string) error {
	for _, s := range []*blockWriter{c.rb.store, c.mem.store} {
		if s == nil {
			continue
		}
		dst := filepath.Join(layer, filepath.Base(s.path))
		if dst == s.path {
			continue
		}
		if err := os.Rename(s.path, dst); err != nil {
			return err
		}
		s.path = dst
	}
	c.placed = true
	return nil
}

// build loads what c gathered, numbers its households and gives each its rows and blocks.
func (c *layerRows) build(listed []HouseholdKey) (*indexBuilder, error) {
	defer c.dropTemp()
	var loaded [3]*runs
	for i, f := range []*fileRows{&c.hm, &c.rb, &c.mem} {
		var err error
		if loaded[i], err = f.load(); err != nil {
			return nil, err
		}
	}
	hmRuns, rbRuns, memRuns := loaded[0], loaded[1], loaded[2]
	states, err := c.states.load()
	if err != nil {
		return nil, err
	}
	rids, err := c.rids.load()
	if err != nil {
		return nil, err
	}
	pids, err := c.pids.load()
	if err != nil {
		return nil, err
	}
	// First in the pipeline's order: a household's rows come in the same order in every
	// file (members.parquet adds the households without receipts among them), so that each
	// run is the next household of household_month or a new one, with no map. Should a
	// household then come twice (the files in another order), the map finds them instead.
	c.counting = map[HouseholdKey]struct{}{}
	for i, st := range states {
		if st.counts {
			c.counting[parseKey(hmRuns.key(i))] = struct{}{}
		}
	}
	b, rbNums, memNums, err := resolveHouseholds(numberInOrder, hmRuns, rbRuns, memRuns, states, listed)
	if err == nil && b.twice() {
		b, rbNums, memNums, err = resolveHouseholds(false, hmRuns, rbRuns, memRuns, states, listed)
	}
	if err != nil {
		return nil, err
	}
	b.hasMembers, b.stores = c.hasMembers, true
	for run, n := range rbNums {
		b.hh[n].rbStore = c.rb.store.block(run)
	}
	for run, n := range memNums {
		b.hh[n].memStore = c.mem.store.block(run)
	}
	for i := range rids {
		rids[i].hh = rbNums[rids[i].hh]
	}
	for i := range pids {
		pids[i].hh = memNums[pids[i].hh]
	}
	b.receipts, b.persons = rids, pids
	ins := append([]string(nil), c.insurers...)
	sort.Strings(ins)
	b.insurers = ins
	return b, nil
}

func appendKeyString(buf []byte, a, b string) []byte {
	return append(append(append(buf[:0], a...), 0), b...)
}

func fnvString(s string) uint64 { return fnv(unsafeBytes(s)) }
