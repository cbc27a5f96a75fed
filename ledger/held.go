package ledger

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/pqcol"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// What a run on the ledger is given of the months it holds goes to the pipeline in memory
// (pipeline.Held), read as the run reads it: the rows of the households it recomputes and
// their 多数回 history. Nothing is written to files only to be read back.

// heldFacts is what the run must know of a version's rows before it reads them.
type heldFacts struct {
	// cancels are the ids of the corrections' cancels whose receipt the month holds (a
	// cancel of a receipt it lacks is rejected: pipeline.Config.UnknownCancels).
	cancels map[string]struct{}
	// reasons are the receipts the month resolved by name (resolved.parquet), by id, with the
	// reason they needed it (pipeline.Config.ResolvedReasons).
	reasons map[string]string
	// states are the households' states (asked with withStates), as states reads them.
	states map[HouseholdKey]hhState
}

// heldInputs gives the run of version v, for the households keys (all when nil), the
// ledger's receipts (less those the corrections replace or cancel) and, with members set,
// their member rows. A receipt the month resolved by name is given as it was claimed, to be
// resolved again. The rows are read when the run asks for them, in parts (up to parts of
// each kind) read at once; the row stores' blocks are found now, which also counts the rows
// for the run's plan. With withStates the facts hold the households' states, found in the same
// look-ups.
func (l *Ledger) heldInputs(ctx context.Context, v *Version, keys map[HouseholdKey]struct{}, corr map[string]correction, members, withStates bool, parts int) (*pipeline.Held, heldFacts, error) {
	month := v.Month.String()
	want := newKeySet(keys)
	facts := heldFacts{reasons: map[string]string{}}
	xs, err := v.indexes()
	if err != nil {
		return nil, facts, err
	}
	stored := keys != nil && xs != nil // every layer indexed: the households' rows are read from the row stores
	for _, x := range xs {
		stored = stored && x.hasStores()
	}
	claims := map[string]claim{}
	err = scanColumns(ctx, v, output.ResolvedFile, resolvedCols, want, func(b *pqcol.Batch, i int, key []byte) error {
		str := func(c int) string { return string(b.Bytes(c).At(i)) }
		claims[str(2)] = claim{insurer: str(3), person: str(4), kana: str(5), birth: str(6), sex: str(7)}
		facts.reasons[str(2)] = str(8)
		return nil
	})
	if err != nil {
		return nil, facts, err
	}
	if facts.cancels, err = cancelsHeld(ctx, v, xs, stored, want, corr); err != nil {
		return nil, facts, err
	}
	h := &pipeline.Held{Name: fmt.Sprintf("ledger month %s version %d", month, v.Number)}
	// Most receipts a rerun holds are not corrected: a filter of the corrections' ids turns
	// those away before the corrections' map, whose probe is a cache miss (0.13 s of CPU for
	// the 490,000 held receipts of a 1% correction of the 10M month).
	corrected := newFilter(len(corr))
	for id := range corr {
		corrected.add(id)
	}
	given := func(fn func(*receipt.Row) error) func(*receipt.Row) error {
		return func(row *receipt.Row) error {
			if corrected.mayHaveString(row.ReceiptID) {
				if _, ok := corr[row.ReceiptID]; ok {
					return nil // replaced or cancelled by the correction
				}
			}
			if len(claims) == 0 {
				return fn(row)
			}
			if c, ok := claims[row.ReceiptID]; ok {
				row.InsurerNo, row.PersonID, row.NameKana, row.BirthDate, row.Sex = c.insurer, c.person, c.kana, c.birth, c.sex
			}
			return fn(row)
		}
	}
	if stored {
		f, err := findHouseholds(xs, want, members, withStates, parts)
		if err != nil {
			return nil, facts, err
		}
		facts.states = f.states
		for _, part := range f.receipts.parts(parts) {
			h.Receipts = append(h.Receipts, pipeline.HeldPart[receipt.Row]{Rows: part.rows,
				Each: func(ctx context.Context, fn func(*receipt.Row) error) error {
					add := given(fn)
					var row receipt.Row // one for the part: the pipeline copies what it keeps
					return part.each(ctx, func(key HouseholdKey, r *blockReader) error {
						row = receipt.Row{ServiceMonth: month, InsurerNo: key.InsurerNo}
						r.receipt(&row)
						return add(&row)
					})
				}})
		}
		if members {
			for _, part := range f.members.parts(parts) {
				h.Members = append(h.Members, pipeline.HeldPart[receipt.MemberRow]{Rows: part.rows, Exact: true,
					Each: func(ctx context.Context, fn func(*receipt.MemberRow) error) error {
						var row receipt.MemberRow // one for the part: the pipeline copies what it keeps
						return part.each(ctx, func(key HouseholdKey, r *blockReader) error {
							row = receipt.MemberRow{InsurerNo: key.InsurerNo, HouseholdID: key.HouseholdID}
							r.member(&row)
							return fn(&row)
						})
					}})
			}
		}
		return h, facts, nil
	}
	if withStates {
		if facts.states, err = states(ctx, v, want); err != nil {
			return nil, facts, err
		}
	}
	rows, err := rowsOver(v, output.ReceiptBenefitFile)
	if err != nil {
		return nil, facts, err
	}
	h.Receipts = []pipeline.HeldPart[receipt.Row]{{Rows: rows, Each: func(ctx context.Context, fn func(*receipt.Row) error) error {
		add := given(fn)
		return scanColumns(ctx, v, output.ReceiptBenefitFile, receiptCols, want, func(b *pqcol.Batch, i int, key []byte) error {
			str := func(c int) string { return string(b.Bytes(c).At(i)) }
			return add(&receipt.Row{ReceiptID: str(2), ServiceMonth: month, InsurerNo: str(0),
				PersonID: str(3), InstitutionID: str(4), Kind: str(5), Setting: str(6), PrescriberID: str(7),
				Cost: b.Int64s(8).At(i), Copay: b.Int64s(9).At(i), Paid: b.Int64s(10).At(i), Tokutei: str(11)})
		})
	}}}
	if !members {
		return h, facts, nil
	}
	if rows, err = rowsOver(v, pipeline.MembersFile); err != nil {
		return nil, facts, err
	}
	cols := memberCols
	names := layersHave(v, pipeline.MembersFile, "name_kana") // not in a ledger of an earlier version
	if names {
		cols = append(cols[:len(cols):len(cols)], "name_kana")
	}
	h.Members = []pipeline.HeldPart[receipt.MemberRow]{{Rows: rows, Each: func(ctx context.Context, fn func(*receipt.MemberRow) error) error {
		return scanColumns(ctx, v, pipeline.MembersFile, cols, want, func(b *pqcol.Batch, i int, key []byte) error {
			str := func(c int) string { return string(b.Bytes(c).At(i)) }
			row := memberRow(str, names)
			return fn(&row)
		})
	}}}
	return h, facts, nil
}

// rowsOver counts the rows of a file over the layers of v that have it: what a scan of it
// reads at most.
func rowsOver(v *Version, file string) (int64, error) {
	var n int64
	for _, layer := range v.Layers {
		path := filepath.Join(layer, file)
		if _, err := os.Stat(path); err != nil {
			continue // a layer without the file
		}
		rows, err := pqcol.NumRows(path)
		if err != nil {
			return 0, &DamagedError{v.Month, err.Error()}
		}
		n += rows
	}
	return n, nil
}

// cancelsHeld returns the ids of the corrections' cancels that version v holds: from the
// row stores, each cancel's receipt found by its hash and confirmed in the block of its
// household in force; by a scan of the receipts of the households want otherwise.
func cancelsHeld(ctx context.Context, v *Version, xs []*index, stored bool, want *keySet, corr map[string]correction) (map[string]struct{}, error) {
	out := map[string]struct{}{}
	cancel := func(id string) {
		if c, ok := corr[id]; ok && c.cancel {
			out[strings.Clone(id)] = struct{}{} // id may be a view of a block read
		}
	}
	var ids []string
	for id, c := range corr {
		if c.cancel {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	if !stored {
		return out, scanColumns(ctx, v, output.ReceiptBenefitFile, []string{"insurer_no", "household_id", "receipt_id"}, want,
			func(b *pqcol.Batch, i int, _ []byte) error {
				cancel(string(b.Bytes(2).At(i)))
				return nil
			})
	}
	found := newKeys()
	for _, x := range xs {
		for _, id := range ids {
			x.eachOf(&cursor{}, x.rHash, x.rHH, x.nR, fnv([]byte(id)), func(i int) { found.add(string(x.key(i))) })
		}
	}
	bs, err := findBlocks(xs, found, false)
	if err != nil {
		return nil, err
	}
	return out, bs.each(ctx, func(_ HouseholdKey, r *blockReader) error {
		var row receipt.Row
		r.receipt(&row)
		cancel(row.ReceiptID)
		return nil
	})
}

// blocks are the row store blocks of some households, in the order of their files.
type blocks struct {
	list []block
	rows int64 // the rows they hold
}

type block struct {
	layer int
	file  *storeFile
	ref   storeRef
	key   []byte
	rows  uint32 // the household's rows in the layer's file
}

// findBlocks finds the row store block of each household of keys, of receipts or (members
// set) of member rows: in the newest layer that holds the household (among those with
// members.parquet, for members), as scanColumns passes its rows on.
func findBlocks(xs []*index, keys *keySet, members bool) (blocks, error) {
	f, err := findHouseholds(xs, keys, members, false, 1)
	if members {
		return f.members, err
	}
	return f.receipts, err
}

// found is what findHouseholds finds of a set of households in a version's layers.
type found struct {
	receipts, members blocks                   // members: empty unless asked
	states            map[HouseholdKey]hhState // nil unless asked
	err               error
}

// findHouseholds looks each household of keys up once in the layers' indexes, newest first,
// and takes from the layer that holds it what findBlocks and eachState would find one look-up
// each: the block of its receipts, with members set the block of its member rows, and with
// states set its state. The keys are shared out over up to n goroutines, each with its own
// views of the indexes; the blocks come out in the order of their files whatever n.
func findHouseholds(xs []*index, keys *keySet, members, states bool, n int) (found, error) {
	order := byHash(keys)
	n = max(1, min(n, len(order)/4096)) // a goroutine's start costs more than a few look-ups
	parts := make([]found, n)
	g := errgroup.Group{}
	for p := range n {
		g.Go(func() error {
			parts[p] = findSome(xs, keys, order[len(order)*p/n:len(order)*(p+1)/n], members, states)
			return parts[p].err
		})
	}
	err := g.Wait()
	out := parts[0]
	for _, f := range parts[1:] { // each part's lists in file order: merged, still in order
		out.receipts.list = mergeSorted(out.receipts.list, f.receipts.list, inFileOrder)
		out.receipts.rows += f.receipts.rows
		out.members.list = mergeSorted(out.members.list, f.members.list, inFileOrder)
		out.members.rows += f.members.rows
		maps.Copy(out.states, f.states)
	}
	return out, err
}

// inFileOrder orders blocks by layer, then place in the layer's store: the order they are
// read in, each store front to back.
func inFileOrder(a, b block) int {
	return cmp.Or(cmp.Compare(a.layer, b.layer), cmp.Compare(a.ref.off, b.ref.off))
}

// findSome is one goroutine's share of findHouseholds: the households of keys listed in order.
func findSome(xs []*index, keys *keySet, order [][]byte, members, states bool) (f found) {
	xs, done := pagedViews(xs, keys)
	defer done()
	if states {
		f.states = make(map[HouseholdKey]hhState, len(order))
	}
	f.receipts.list = make([]block, 0, len(order))
	if members {
		f.members.list = make([]block, 0, len(order))
	}
	take := func(bs *blocks, l int, file *storeFile, ref storeRef, key []byte, r [2]int64) {
		bs.list = append(bs.list, block{l, file, ref, key, uint32(r[1] - r[0])})
		bs.rows += r[1] - r[0]
	}
	cursors := make([]cursor, len(xs)) // order is in hash order
	for l, x := range xs {
		cursors[l] = cursorFor(x.nH, len(order))
	}
	for _, key := range order {
		gotReceipts, gotMembers, gotState := false, !members, !states
		h := fnv(key)
		for l := len(xs) - 1; l >= 0 && !(gotReceipts && gotMembers && gotState); l-- {
			x := xs[l]
			i, ok := x.householdSeek(&cursors[l], key, h)
			if !ok {
				continue
			}
			if !gotState {
				if st, row := x.state(i); row {
					f.states[parseKey(key)] = st
				}
				gotState = true
			}
			if !gotReceipts {
				file, ref := x.receiptBlock(i)
				take(&f.receipts, l, file, ref, key, x.rows(i, false))
				gotReceipts = true
			}
			if !gotMembers && x.hasMembers { // a layer without the file hides nothing of it
				file, ref := x.memberBlock(i)
				take(&f.members, l, file, ref, key, x.rows(i, true))
				gotMembers = true
			}
		}
	}
	f.err = viewsErr(xs)
	slices.SortFunc(f.receipts.list, inFileOrder) // each worker its own: merged in order after
	slices.SortFunc(f.members.list, inFileOrder)
	return f
}

// parts cuts the blocks into up to n parts of about as many blocks, each in file order.
func (bs blocks) parts(n int) []blocks {
	n = max(1, min(n, len(bs.list)))
	out := make([]blocks, 0, n)
	for p := range n {
		part := blocks{list: bs.list[len(bs.list)*p/n : len(bs.list)*(p+1)/n]}
		for _, b := range part.list {
			part.rows += int64(b.rows)
		}
		out = append(out, part)
	}
	return out
}

// Blocks near one another are read together, into one buffer used again: a read of a cached
// page costs a system call of two to three microseconds (measured), about the time a copy of
// spanGap bytes takes. A 1% correction of the 10M month reads blocks some 4 to 5 KB apart,
// which makes its reads long reads of the stores. (Read into new memory each time, the
// long reads had cost more than the system calls they spared: its page faults.)
const (
	spanGap = 8 << 10
	spanMax = 1 << 20
)

// each calls fn with a reader at each row of the blocks, read in the order of the files. The
// strings the reader gives are valid until fn returns: what is kept is copied.
func (bs blocks) each(ctx context.Context, fn func(key HouseholdKey, r *blockReader) error) error {
	var (
		buf []byte
		r   blockReader // one for every block, its scratch memory kept
	)
	spans := bs.spans()
	// The spans' reads are announced to the kernel first, by a goroutine of their own: from a
	// ledger out of the page cache each read had waited on the disk alone, one after the
	// other (a 1% correction's 11,000 spans: 1.5 s of its members and intake, against 0.35 s
	// cached); announced, they are read at once, and the reads below find them.
	announced := make(chan struct{})
	defer func() { <-announced }()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(announced)
		for _, s := range spans {
			select {
			case <-stop:
				return
			default:
			}
			first := bs.list[s.from]
			willNeed(first.file.File, int64(first.ref.off), int64(s.end-first.ref.off))
		}
	}()
	for _, s := range spans {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		i, j, first, end := s.from, s.to, bs.list[s.from], s.end
		span, err := first.file.readSpan(buf, first.ref.off, end-first.ref.off)
		if err != nil {
			return err
		}
		buf = span
		for _, b := range bs.list[i:j] {
			at := b.ref.off - first.ref.off
			k := parseKey(b.key)
			for r.reset(span[at:at+uint64(b.ref.n):at+uint64(b.ref.n)], k.HouseholdID); r.more(); {
				if err := fn(k, &r); err != nil {
					return err
				}
				if r.err != nil {
					return fmt.Errorf("%s: %w", b.file.Name(), r.err)
				}
			}
		}
	}
	return nil
}

// span is the blocks list[from:to] of one store file, read at once: from the first's offset
// to end.
type span struct {
	from, to int
	end      uint64
}

// spans cuts the blocks, in file order, into the spans each reads: blocks of one file no
// more than spanGap apart, up to spanMax bytes.
func (bs blocks) spans() []span {
	var out []span
	for i := 0; i < len(bs.list); {
		first := bs.list[i]
		end := first.ref.off + uint64(first.ref.n)
		j := i + 1
		for ; j < len(bs.list); j++ {
			b := bs.list[j]
			if b.file != first.file || b.ref.off < end || b.ref.off-end > spanGap || b.ref.off+uint64(b.ref.n)-first.ref.off > spanMax {
				break
			}
			end = b.ref.off + uint64(b.ref.n)
		}
		out = append(out, span{i, j, end})
		i = j
	}
	return out
}

// historyFeed gives a run of month the counting months among the 11 before it of the
// households keys (all when nil), as eachCountingMonth finds them. With before set (a first
// run), the same read fills it with the households the history counts in month itself.
func (l *Ledger) historyFeed(month rules.Month, keys *keySet, given []string, before map[HouseholdKey]hhState) func(context.Context, func(pipeline.HeldHistory) error) error {
	end := month
	if before != nil {
		end = month + 1
	}
	return func(ctx context.Context, fn func(pipeline.HeldHistory) error) error {
		return l.eachCountingMonth(ctx, month-11, end, keys, given, func(k HouseholdKey, m rules.Month) error {
			if m == month {
				before[k] = hhState{counts: true}
				return nil
			}
			return fn(pipeline.HeldHistory{InsurerNo: k.InsurerNo, HouseholdID: k.HouseholdID, Month: m})
		})
	}
}

// rerunHistory gives the rerun of month the 多数回 history of the households keys: those the
// month holds a state of take the count of counting months it holds (the cascade keeps it
// equal to what the ledger counts), which spares looking them up in eleven months; the
// others are looked up, and so are those of stale, whose counting changed in a month that
// the same `batch correct` corrected before this one, its cascade yet to come.
func (l *Ledger) rerunHistory(month rules.Month, keys map[HouseholdKey]struct{}, previous map[HouseholdKey]hhState, stale map[HouseholdKey]struct{}) func(context.Context, func(pipeline.HeldHistory) error) error {
	look := map[HouseholdKey]struct{}{}
	var counted []HouseholdKey
	for k := range keys {
		_, isStale := stale[k]
		if st, ok := previous[k]; ok && !isStale {
			if st.prior > 0 {
				counted = append(counted, k)
			}
			continue
		}
		look[k] = struct{}{}
	}
	lookUp := l.historyFeed(month, newKeySet(look), nil, nil)
	return func(ctx context.Context, fn func(pipeline.HeldHistory) error) error {
		for _, k := range counted {
			if err := fn(pipeline.HeldHistory{InsurerNo: k.InsurerNo, HouseholdID: k.HouseholdID, Months: previous[k].prior}); err != nil {
				return err
			}
		}
		if len(look) == 0 {
			return nil
		}
		return lookUp(ctx, fn)
	}
}
