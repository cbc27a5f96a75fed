package ledger

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"

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
	if f.nRuns > 0 && bytes.Equal(f.curKey, key) {
		f.cur.end++
	} else {
		if f.nRuns > 0 {
			f.runFile.add(f.cur)
		}
		k := uint32(f.keyLen)
		f.keyFile.addAll(key)
		f.keyLen += len(key)
		f.cur = run{key: [2]uint32{k, uint32(f.keyLen)}, start: f.rows, end: f.rows + 1}
		f.curKey = append(f.curKey[:0], key...)
		f.nRuns++
		if f.store != nil {
			f.store.start()
		}
	}
	f.rows++
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

// bytes is about what building the index will hold.
func (c *layerRows) bytes() int64 {
	n := int64(c.states.n)*24 + int64(c.rids.n+c.pids.n)*16
	for _, f := range []*fileRows{&c.hm, &c.rb, &c.mem} {
		n += int64(f.nRuns)*(24+8) + int64(f.keyLen)
	}
	return n
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

// written takes one partition's rows as the pipeline writes them (pipeline.Config.Written).
func (c *layerRows) written(w *pipeline.Written) error {
	if c.over {
		return nil
	}
	for i := range w.Households {
		h := &w.Households[i]
		c.key = appendKeyString(c.key, h.InsurerNo, h.HouseholdID)
		c.hm.add(c.key)
		c.states.add(hhState{cash: h.BenefitCash, counts: h.CountsForTasukai, prior: h.PriorBenefitMonths, tasukai: h.TasukaiApplied})
	}
	if err := c.writtenReceipts(w.Receipts); err != nil {
		return err
	}
	for i := range w.Members {
		c.member(&w.Members[i])
	}
	if c.limit > 0 && c.bytes() > c.limit {
		c.abandon()
	}
	return c.storeErr()
}

func (c *layerRows) writtenReceipts(b *output.Columns[output.ReceiptBenefit]) error {
	var strs [10]output.StringColumn
	for i, name := range []string{"insurer_no", "household_id", "receipt_id", "person_id", "institution_id", "kind",
		"setting", "prescriber_id", "tokutei"} {
		var err error
		if strs[i], err = b.StringColumn(name); err != nil {
			return err
		}
	}
	var ints [3]output.IntColumn
	for i, name := range []string{"cost", "copay", "paid"} {
		var err error
		if ints[i], err = b.IntColumn(name); err != nil {
			return err
		}
	}
	for j := range b.Len() {
		c.key = appendKeyString(c.key, strs[0].At(j), strs[1].At(j))
		run := c.rb.add(c.key)
		id := strs[2].At(j)
		c.rids.add(hashRef{fnvString(id), uint32(run)})
		c.rb.store.receipt(id, strs[3].At(j), strs[4].At(j), strs[5].At(j), strs[6].At(j), strs[7].At(j), strs[8].At(j),
			ints[0].At(j), ints[1].At(j), ints[2].At(j))
	}
	return nil
}

// member takes a member row.
func (c *layerRows) member(m *receipt.MemberRow) {
	c.key = appendKeyString(c.key, m.InsurerNo, m.HouseholdID)
	run := c.mem.add(c.key)
	if m.InsurerNo != string(c.lastIns) {
		c.lastIns = append(c.lastIns[:0], m.InsurerNo...)
		if !c.seenIns[m.InsurerNo] {
			c.seenIns[m.InsurerNo] = true
			c.insurers = append(c.insurers, m.InsurerNo)
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
			c.rb.store.receipt(str(2), str(3), str(4), str(5), str(6), str(7), str(11),
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
				m := receipt.MemberRow{InsurerNo: str(0), HouseholdID: str(1), PersonID: str(2),
					BirthDate: str(3), Sex: str(4), ValidFrom: str(5), ValidTo: str(6), CategoryU70: str(7),
					Category70: str(8), HalfLimitsMonth: str(9)}
				if names {
					m.NameKana = str(10)
				}
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
	if c.over {
		return nil
	}
	if err := c.closeStores(); err != nil {
		c.discard()
		return err
	}
	b, err := c.build(listed)
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
