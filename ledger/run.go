package ledger

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/pqcol"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Result is what a run on the ledger did beyond the month's own outputs.
type Result struct {
	Summary     *pipeline.Summary
	Rerun       bool // the month was in the ledger already
	NewMembers  bool // a rerun with a new members master, which recomputes every household
	Households  int  // households of the month recomputed (all of them on a first run)
	Adjustments []output.Adjustment
	Cascaded    []rules.Month // later months given a new version by the 多数回 cascade
	// CascadedHouseholds are the households recomputed in each month of Cascaded.
	CascadedHouseholds []int
	// Recovered are the adjustments of a cascade an earlier, killed run left unfinished, which
	// this run finished before its own work (they are in its adjustments.parquet too).
	Recovered []output.Adjustment
}

// Run computes cfg.Month into cfg.Out and makes it the ledger's current version of the month.
//
// A month not yet in the ledger is computed whole from cfg's inputs, with 多数回 history from
// the ledger's 11 months before it (and cfg.History for months before the ledger begins).
// A month already in the ledger is rerun: cfg.Receipts are corrections (a receipt_id already in
// the month replaces it, cancel=true removes it, a new id adds a receipt), and only the
// households they touch are recomputed, with the members kept by the ledger (a rerun given
// cfg.Members recomputes the whole month with them). Either way, the later months of the
// ledger in which some household's count of 多数回 months changes are recomputed for those
// households. Every household whose cash changed is written to adjustments.parquet. A month
// missing between the ledger's first month and cfg.Month is warned of in the manifest.
func (l *Ledger) Run(ctx context.Context, cfg pipeline.Config) (*Result, error) {
	l.memoryBudget = cfg.MemoryBudget
	done, err := l.finishJournal(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var finished []output.Adjustment
	if done != nil {
		finished = done.Adjustments
	}
	l.recovered = finished
	gap, err := l.gapWarning(cfg.Month)
	if err != nil {
		return nil, err
	}
	if gap != "" {
		cfg.Warnings = append(append([]string(nil), cfg.Warnings...), gap)
	}
	var res *Result
	if l.Has(cfg.Month) {
		res, err = l.rerun(ctx, cfg)
	} else {
		res, err = l.first(ctx, cfg)
	}
	if res != nil && len(finished) > 0 {
		res.Recovered = finished
	}
	return res, err
}

func (l *Ledger) first(ctx context.Context, cfg pipeline.Config) (*Result, error) {
	tmp, err := l.tempDir("run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// Until now the later months (if any: a month filled in behind them) counted this month as
	// the history says (before); what the month's results say instead is the change to cascade.
	before := map[HouseholdKey]hhState{}
	res := &Result{}
	given := cfg.History
	v, err := l.versionNumber(cfg.Month)
	if err != nil {
		return nil, err
	}
	cfg.Held = &pipeline.Held{Name: fmt.Sprintf("ledger history before %s version %d", cfg.Month, v),
		History: l.historyFeed(cfg.Month, nil, given, before)}
	cfg.History = nil
	cfg.KeepMembers = true
	rows, err := l.gather(&cfg, tmp)
	if err != nil {
		return nil, err
	}
	defer rows.discard() // what a failed run gathered; nothing once the layer has its stores
	cfg.BeforeCommit = func(d *output.Dir, s *pipeline.Summary) error {
		res.Summary, res.Households = s, int(s.Households)
		if err := l.keepHistory(given); err != nil {
			return err
		}
		adj, err := l.settle(ctx, cfg, d, s, rows, nil, false, before, nil, res)
		res.Adjustments = adj
		return err
	}
	if _, err := pipeline.Run(ctx, cfg); err != nil {
		return nil, err
	}
	return res, nil
}

// gather has the run of cfg gather the rows of the layer it writes (cfg.Written), so that
// the layer's index and row stores are made from them instead of from its files read back;
// the stores are written into dir until they are placed in the layer.
func (l *Ledger) gather(cfg *pipeline.Config, dir string) (*layerRows, error) {
	rows, err := newLayerRows(dir, cfg.KeepMembers)
	if err != nil {
		return nil, err
	}
	rows.limit = l.budget() / 2
	cfg.Written = rows
	return rows, nil
}

// workersOf is the number of workers the run of cfg has.
func workersOf(cfg pipeline.Config) int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// step logs, at info level, a stage of a ledger run with its duration: what an operator
// watching a long rerun wants to see moving.
func step(cfg pipeline.Config, start time.Time, msg string, args ...any) {
	if cfg.Log != nil {
		cfg.Log.Info(msg, append(args, "seconds", time.Since(start).Seconds())...)
	}
}

// debugStep logs a step of a ledger run at debug level.
func debugStep(cfg pipeline.Config, start time.Time, msg string, args ...any) {
	if cfg.Log != nil {
		cfg.Log.Debug(msg, append(args, "seconds", time.Since(start).Seconds())...)
	}
}

// hhState is what an adjustment and the cascade compare of a household month.
type hhState struct {
	cash    int64
	counts  bool
	prior   int32
	tasukai bool
}

// stateCols are the columns of household_month.parquet the ledger compares, read alone.
var stateCols = []string{"insurer_no", "household_id", "prior_benefit_months", "tasukai_applied", "counts_for_tasukai", "benefit_cash"}

// states reads the cash and 多数回 status of the households of a version (only those of keys
// unless it is nil).
func states(ctx context.Context, v *Version, keys *keySet) (map[HouseholdKey]hhState, error) {
	out := map[HouseholdKey]hhState{}
	if keys != nil {
		xs, err := v.indexes()
		if err != nil {
			return nil, err
		}
		if xs != nil {
			err := eachState(xs, keys, func(key []byte, st hhState) { out[parseKey(key)] = st })
			return out, err
		}
	}
	err := scanColumns(ctx, v, output.HouseholdMonthFile, stateCols, keys, func(b *pqcol.Batch, i int, key []byte) error {
		out[parseKey(key)] = hhState{cash: b.Int64s(5).At(i), counts: b.Bools(4).At(i),
			prior: int32(b.Int64s(2).At(i)), tasukai: b.Bools(3).At(i)}
		return nil
	})
	return out, err
}

// runStates reads the states of a run directory's households.
func runStates(ctx context.Context, m rules.Month, dir string) (map[HouseholdKey]hhState, error) {
	return states(ctx, &Version{Month: m, Layers: []string{dir}}, nil)
}

// adjustments lists the affected households (in order) whose cash changed.
func adjustments(m rules.Month, affected []HouseholdKey, before, after map[HouseholdKey]hhState, cause string) []output.Adjustment {
	return compareStates(m, affected, before, after, cause, nil)
}

// compareStates is adjustments, and adds to changed (unless nil) the households whose 多数回
// counting changed: each household's two states looked up once for both (two map probes of a
// two-string key each, a cache miss apiece: 400,000 of them had been 60 ms of a 1% correction).
func compareStates(m rules.Month, affected []HouseholdKey, before, after map[HouseholdKey]hhState, cause string, changed map[HouseholdKey]struct{}) []output.Adjustment {
	var out []output.Adjustment
	month := m.String()
	for _, k := range affected {
		b, a := before[k], after[k]
		if a.cash != b.cash {
			out = append(out, output.Adjustment{InsurerNo: k.InsurerNo, HouseholdID: k.HouseholdID, ServiceMonth: month,
				PreviousCash: b.cash, NewCash: a.cash, Delta: a.cash - b.cash, Cause: cause})
		}
		if changed != nil && a.counts != b.counts {
			changed[k] = struct{}{}
		}
	}
	return out
}

func (l *Ledger) rerun(ctx context.Context, cfg pipeline.Config) (*Result, error) {
	v, err := l.Current(cfg.Month)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	corr, err := readCorrections(ctx, cfg.Receipts)
	if err != nil {
		return nil, err
	}
	step(cfg, start, "ledger: corrections read", "rows", len(corr))
	tmp, err := l.tempDir("rerun-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	full := len(cfg.Members) > 0 // a new members master: the whole month is recomputed
	var (
		affected map[HouseholdKey]struct{} // nil: every household of the month
		insurers []string
	)
	if !full {
		start = time.Now()
		if affected, insurers, err = affectedHouseholds(ctx, v, corr, workersOf(cfg)); err != nil {
			return nil, err
		}
		step(cfg, start, "ledger: households the corrections touch", "households", len(affected))
	}
	// The month's households are found in its indexes, once each for their blocks and their
	// states, on every core; the pipeline reads their rows as it goes.
	start = time.Now()
	held, facts, err := l.heldInputs(ctx, v, affected, corr, !full, true, workersOf(cfg))
	if err != nil {
		return nil, err
	}
	previous := facts.states
	if full || len(cfg.History) > 0 { // every household, or history that may count anew: looked up
		held.History = l.historyFeed(cfg.Month, newKeySet(affected), cfg.History, nil)
	} else {
		held.History = l.rerunHistory(cfg.Month, affected, previous, l.staleCounting())
	}
	if full {
		affected = map[HouseholdKey]struct{}{}
		for k := range previous {
			affected[k] = struct{}{}
		}
	}
	step(cfg, start, "ledger: the month's rows and states found")
	// The households are put in order while the pipeline runs (sorting 99,000 keys took a
	// tenth of a second of the commit), the few it brings into the month merged in after.
	var sorted []HouseholdKey
	sortedDone := make(chan struct{})
	go func() {
		defer close(sortedDone)
		sorted = sortedKeys(affected)
	}()
	res := &Result{Rerun: true, NewMembers: full}
	run := cfg
	run.Held = held
	if !full {
		run.Members, run.MembersDecided, run.KnownInsurers = nil, true, insurers
	}
	run.History = nil
	run.Corrections, run.KeepMembers = true, full
	rows, err := l.gather(&run, tmp)
	if err != nil {
		return nil, err
	}
	defer rows.discard() // what a failed run gathered; nothing once the layer has its stores
	run.UnknownCancels = unknownCancels(corr, facts.cancels)
	run.ResolvedReasons = facts.reasons
	run.BeforeCommit = func(d *output.Dir, s *pipeline.Summary) error {
		res.Summary = s
		start := time.Now()
		if err := l.keepHistory(cfg.History); err != nil {
			return err
		}
		now, err := runStates(ctx, cfg.Month, d.TempPath())
		if err != nil {
			return err
		}
		debugStep(cfg, start, "ledger: the run's states read", "households", len(now))
		<-sortedDone // affected is the sorter's until then
		order := sorted
		var brought map[HouseholdKey]struct{}
		for k := range now { // a correction can bring a household into the month
			if _, ok := affected[k]; !ok {
				if brought == nil {
					brought = map[HouseholdKey]struct{}{}
				}
				brought[k] = struct{}{}
			}
		}
		if len(brought) > 0 {
			maps.Copy(affected, brought)
			order = mergeSorted(order, sortedKeys(brought), compareKeys)
		}
		res.Households = len(affected)
		debugStep(cfg, start, "ledger: the households put in order")
		adj, err := l.settle(ctx, cfg, d, s, rows, order, !full, previous, now, res)
		res.Adjustments = adj
		return err
	}
	if _, err := pipeline.Run(ctx, run); err != nil {
		return nil, err
	}
	return res, nil
}

// settle commits the month's new layer (the run directory's files, linked) and cascades into
// the later months, then writes adjustments.parquet into the run directory. affected are the
// households compared with previous for adjustments, in order (nil on a first run, where
// there is nothing to adjust and previous says how the history counted the month: the
// households whose counting differs from it are news to the later months); with partial set
// they are the households the new layer holds, else it is the whole month, replacing every
// layer. now are the states of the run directory's households, read by the caller (nil on a
// first run).
func (l *Ledger) settle(ctx context.Context, cfg pipeline.Config, d *output.Dir, s *pipeline.Summary, rows *layerRows,
	affected []HouseholdKey, partial bool, previous, now map[HouseholdKey]hhState, res *Result) ([]output.Adjustment, error) {
	start := time.Now()
	var adj []output.Adjustment
	changed := map[HouseholdKey]struct{}{}
	compared := make(chan struct{})
	defer func() { <-compared }() // the comparison never outlives settle
	// A rerun's households are compared while the layer is written and indexed (99,000
	// households: 60 ms).
	if affected != nil {
		go func() {
			defer close(compared)
			adj = compareStates(cfg.Month, affected, previous, now, output.CauseCorrectedReceipts, changed)
		}()
	} else {
		close(compared)
	}
	layer, err := l.tempDir("layer-")
	if err != nil {
		return nil, err
	}
	if err := linkFiles(d.TempPath(), layer); err != nil {
		return nil, err
	}
	var listed []HouseholdKey // the households the layer holds, in order (none: all)
	if partial {
		listed = affected
		if err := writeKeys(filepath.Join(layer, HouseholdsFile), listed); err != nil {
			return nil, err
		}
	}
	// Room under the budget for what is not heap: the gathered rows are loaded now.
	if err := withinBudget(l.budget()*7/8, func() error { return rows.finish(layer, listed) }); err != nil {
		return nil, fmt.Errorf("ledger: indexing the new layer of %s: %w", cfg.Month, err)
	}
	debugStep(cfg, start, "ledger: the new layer indexed")
	if affected == nil { // a first run: previous is how the history counted the month
		if changed, err = countingChanged(ctx, cfg.Month, layer, rows, previous); err != nil {
			return nil, err
		}
	}
	<-compared
	debugStep(cfg, start, "ledger: the changes of 多数回 counting found")
	if err := writeAdjustments(layer, adj); err != nil {
		return nil, err
	}
	if err := writeManifest(layer, s.Manifest); err != nil {
		return nil, err
	}
	// The journal goes down before the month changes, and is removed after the cascade: a run
	// killed in between leaves it, and the next run finishes the cascade first. A month of
	// `batch correct` leaves its cascade to the run's one cascade (see correct.go).
	if l.deferred != nil {
		err = l.deferred.record(l, cfg.Month, d, s, changed, res)
	} else {
		err = l.writePending(cfg.Month, changed)
	}
	if err != nil {
		return nil, err
	}
	if err := l.journalAdjustments(cfg.Month, adj); err != nil {
		return nil, err
	}
	if _, err := l.commit(cfg.Month, layer, !partial); err != nil {
		return nil, err
	}
	debugStep(cfg, start, "ledger: the month committed")
	if l.deferred == nil {
		more, err := l.cascade(ctx, cfg, cfg.Month, changed, res)
		if err != nil {
			return nil, err
		}
		if err := l.clearPending(); err != nil {
			return nil, err
		}
		adj = append(append(l.recovered, adj...), more...)
		l.recovered = nil
	}
	w, err := output.NewWriter[output.Adjustment](d, output.AdjustmentsFile, output.Options{})
	if err != nil {
		return nil, err
	}
	if err := w.Write(adj); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	s.Manifest.Outputs = append(s.Manifest.Outputs, output.OutputFile{Name: output.AdjustmentsFile, Rows: w.Rows()})
	return adj, nil
}

// countingChanged returns the households whose 多数回 counting in the month of a first run's
// layer differs from how the history counted it (before): from the households the layer's
// index was built with (rows), instead of a map of every household's state read back from
// household_month.parquet (two seconds of the 10M month); by that read when the layer was
// not indexed.
func countingChanged(ctx context.Context, m rules.Month, layer string, rows *layerRows, before map[HouseholdKey]hhState) (map[HouseholdKey]struct{}, error) {
	changed := map[HouseholdKey]struct{}{}
	now := rows.counting
	if now == nil {
		states, err := runStates(ctx, m, layer)
		if err != nil {
			return nil, err
		}
		now = map[HouseholdKey]struct{}{}
		for k, st := range states {
			if st.counts {
				now[k] = struct{}{}
			}
		}
	}
	for k := range now {
		if !before[k].counts {
			changed[k] = struct{}{}
		}
	}
	for k, st := range before {
		if _, ok := now[k]; st.counts && !ok {
			changed[k] = struct{}{}
		}
	}
	return changed, nil
}

// cascade carries a change of 多数回 counting in month from into the later months: for every
// household of changed it recounts the counting months before each later month, and
// recomputes, month by month and in order, the households whose count there is not the one
// their results were computed with; a month gets a layer only when some result changed. Their
// counting status in turn enters the recount of the months after. A count that changes
// without crossing the 多数回 line leaves the cash as it was (no adjustment) but is still
// written: the ledger's files say what is true.
func (l *Ledger) cascade(ctx context.Context, cfg pipeline.Config, from rules.Month, changed map[HouseholdKey]struct{}, res *Result) ([]output.Adjustment, error) {
	if len(changed) == 0 {
		return nil, nil
	}
	start := time.Now()
	months, err := l.Months()
	if err != nil {
		return nil, err
	}
	var later []rules.Month
	for _, m := range months {
		if m > from {
			later = append(later, m)
		}
	}
	if len(later) == 0 {
		return nil, nil // no later month: the usual monthly run, nothing to carry
	}
	keys := newKeySet(changed)
	// The states the later months hold now, read monthReaders months at a time; the counting
	// months of every window they look at are read meanwhile.
	held := make([]map[HouseholdKey]hhState, len(later))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(monthReaders)
	for i, m := range later {
		g.Go(func() error {
			v, err := l.Current(m)
			if err == nil {
				held[i], err = states(gctx, v, keys)
			}
			return err
		})
	}
	// The months up to from are counted meanwhile; the later ones' counting is in their states
	// (and a month between them the ledger lacks, in the kept history).
	counts := countingMonths{}
	count := func(k HouseholdKey, m rules.Month) error {
		counts.set(k, m, true)
		return nil
	}
	cerr := l.eachCountingMonth(ctx, from-10, from+1, keys, nil, count)
	if cerr == nil {
		cerr = l.eachHistory(ctx, from+1, later[len(later)-1], keys, nil, count)
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	for i, m := range later {
		for k, st := range held[i] {
			if st.counts {
				counts.set(k, m, true)
			}
		}
	}
	step(cfg, start, "ledger: cascade: counting months read", "households", len(changed))
	var adj []output.Adjustment
	for i, m := range later {
		hit := map[HouseholdKey]struct{}{}
		for k, st := range held[i] {
			if counts.prior(k, m) != st.prior {
				hit[k] = struct{}{}
			}
		}
		if len(hit) == 0 {
			continue
		}
		v, err := l.Current(m)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		more, now, err := l.recompute(ctx, cfg, v, hit, counts, held[i])
		if err != nil {
			return nil, err
		}
		step(cfg, start, "ledger: cascade: month recomputed", "month", m.String(), "households", len(hit), "adjusted", len(more))
		adj = append(adj, more...)
		if now != nil {
			res.Cascaded = append(res.Cascaded, m)
			res.CascadedHouseholds = append(res.CascadedHouseholds, len(hit))
			for k := range hit {
				counts.set(k, m, now[k].counts)
			}
		}
	}
	return adj, nil
}

// monthReaders is how many months a cascade reads at once, the few households it follows
// looked up in each. The look-ups take little processor and wait on the disk when the ledger
// is not cached (the twelve months' counting of a 1% correction's 262 households: 0.81 s two
// at a time from a cold page cache, 0.06 s cached), so more months are read at once than
// there are cores.
const monthReaders = 6

// countingMonths holds, per month, the households that count for 多数回 in it.
type countingMonths map[rules.Month]map[HouseholdKey]bool

func (c countingMonths) set(k HouseholdKey, m rules.Month, counts bool) {
	if c[m] == nil {
		c[m] = map[HouseholdKey]bool{}
	}
	c[m][k] = counts
}

// prior is household k's count of counting months among the 11 before month m.
func (c countingMonths) prior(k HouseholdKey, m rules.Month) int32 {
	n := int32(0)
	for x := m - 11; x < m; x++ {
		if c[x][k] {
			n++
		}
	}
	return n
}

// recompute reruns the households hit of month version v from the ledger alone, with their
// 多数回 history from counts, and commits a layer for them when a result changed. before is
// what the month held of them. It returns their adjustments and their new states (nil when
// nothing changed).
func (l *Ledger) recompute(ctx context.Context, cfg pipeline.Config, v *Version, hit map[HouseholdKey]struct{},
	counts countingMonths, before map[HouseholdKey]hhState) ([]output.Adjustment, map[HouseholdKey]hhState, error) {
	tmp, err := l.tempDir("cascade-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	order := sortedKeys(hit)
	held, facts, err := l.heldInputs(ctx, v, hit, nil, true, false, workersOf(cfg))
	if err != nil {
		return nil, nil, err
	}
	held.History = func(_ context.Context, fn func(pipeline.HeldHistory) error) error {
		for k := range hit {
			for x := v.Month - 11; x < v.Month; x++ {
				if counts[x][k] {
					if err := fn(pipeline.HeldHistory{InsurerNo: k.InsurerNo, HouseholdID: k.HouseholdID, Month: x}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	out := filepath.Join(tmp, "out")
	var rows *layerRows
	run := pipeline.Config{Month: v.Month, Held: held, MembersDecided: true,
		Out: out, Rules: cfg.Rules, ResolvedReasons: facts.reasons,
		AllowProvisional: cfg.AllowProvisional, Workers: cfg.Workers, MemoryBudget: cfg.MemoryBudget,
		CommandLine: append(append([]string(nil), cfg.CommandLine...), "(cascade "+v.Month.String()+")"), Log: cfg.Log,
		BeforeCommit: func(d *output.Dir, _ *pipeline.Summary) error {
			if err := writeKeys(filepath.Join(d.TempPath(), HouseholdsFile), order); err != nil {
				return err
			}
			return rows.finish(d.TempPath(), order)
		}}
	if rows, err = l.gather(&run, tmp); err != nil {
		return nil, nil, err
	}
	defer rows.discard() // what a failed run gathered; nothing once the layer has its stores
	if _, err := pipeline.Run(ctx, run); err != nil {
		return nil, nil, fmt.Errorf("cascade into %s: %w", v.Month, err)
	}
	now, err := runStates(ctx, v.Month, out)
	if err != nil {
		return nil, nil, err
	}
	moved := false
	for k := range hit {
		moved = moved || before[k] != now[k]
	}
	if !moved {
		return nil, nil, nil
	}
	adj := adjustments(v.Month, order, before, now, output.CauseTasukaiCascade)
	if err := writeAdjustments(out, adj); err != nil {
		return nil, nil, err
	}
	if err := l.journalAdjustments(v.Month, adj); err != nil {
		return nil, nil, err
	}
	if _, err := l.commit(v.Month, out, false); err != nil {
		return nil, nil, err
	}
	return adj, now, nil
}

// correction is what the ledger needs to know of a correction row before the run.
type correction struct {
	insurer, person string
	cancel          bool
}

// readCorrections reads the ids and owners of the correction rows (rows the reader cannot
// parse are left to the run, which rejects them with their line).
func readCorrections(ctx context.Context, paths []string) (map[string]correction, error) {
	files, err := receipt.ExpandPaths(paths)
	if err != nil {
		return nil, err
	}
	out := map[string]correction{}
	for _, f := range files {
		_, err := receipt.ReadReceipts(ctx, f, receipt.ReadOptions{}, func(b receipt.Batch) error {
			defer b.Record.Release()
			ids := b.Record.Column(receipt.ColReceiptID).(*array.String)
			ins := b.Record.Column(receipt.ColInsurerNo).(*array.String)
			per := b.Record.Column(receipt.ColPersonID).(*array.String)
			cancel := b.Record.Column(receipt.ColCancel).(*array.Boolean)
			for i := 0; i < int(b.Record.NumRows()); i++ {
				id := ids.Value(i)
				// A cancel of the id is a cancel whatever other rows of it say (see unknownCancels).
				out[id] = correction{ins.Value(i), per.Value(i), cancel.Value(i) || out[id].cancel}
			}
			return nil
		}, nil)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// unknownCancels are the ids of the cancel rows among corr that the month does not hold
// (held: the ids of corr it holds).
func unknownCancels(corr map[string]correction, held map[string]struct{}) map[string]struct{} {
	out := map[string]struct{}{}
	for id, c := range corr {
		if _, ok := held[id]; c.cancel && !ok {
			out[id] = struct{}{}
		}
	}
	return out
}

// affectedHouseholds: the households of the corrected receipts as the ledger has them, and
// the households of the persons the corrections name; and those of the corrections' insurers
// the month's members master knows (the rerun is given the members of these households
// only, and must still tell a person the master lacks from an insurer it lacks). The indexes'
// look-ups are shared out over up to workers goroutines.
func affectedHouseholds(ctx context.Context, v *Version, corr map[string]correction, workers int) (map[HouseholdKey]struct{}, []string, error) {
	xs, err := v.indexes()
	if err != nil {
		return nil, nil, err
	}
	if xs != nil {
		byReceipt, insurers := indexedAffected(xs, corr, workers)
		return byReceipt, insurers, nil
	}
	ids, persons := newKeysFor(len(corr)), newKeysFor(len(corr))
	named := map[string]bool{} // the corrections' insurers: found in the master
	for id, c := range corr {
		ids.add(id)
		persons.add(HouseholdKey{c.insurer, c.person}.String())
		named[c.insurer] = false
	}
	byReceipt, byPerson := map[HouseholdKey]struct{}{}, map[HouseholdKey]struct{}{}
	var g errgroup.Group // both files are read at once, on both cores
	g.Go(func() error {
		return scanColumns(ctx, v, output.ReceiptBenefitFile, []string{"insurer_no", "household_id", "receipt_id"}, nil,
			func(b *pqcol.Batch, i int, key []byte) error {
				if ids.has(b.Bytes(2).At(i)) {
					byReceipt[parseKey(key)] = struct{}{}
				}
				return nil
			})
	})
	g.Go(func() error {
		var person, last []byte
		return scanColumns(ctx, v, pipeline.MembersFile, []string{"insurer_no", "household_id", "person_id"}, nil,
			func(b *pqcol.Batch, i int, key []byte) error {
				ins := b.Bytes(0).At(i)
				if !bytes.Equal(ins, last) { // a master lists an insurer's members together
					last = append(last[:0], ins...)
					if found, ok := named[string(ins)]; ok && !found {
						named[string(ins)] = true
					}
				}
				person = appendKey(person, ins, b.Bytes(2).At(i))
				if persons.has(person) {
					byPerson[parseKey(key)] = struct{}{}
				}
				return nil
			})
	})
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for k := range byPerson {
		byReceipt[k] = struct{}{}
	}
	var insurers []string
	for ins, found := range named {
		if found {
			insurers = append(insurers, ins)
		}
	}
	sort.Strings(insurers)
	return byReceipt, insurers, nil
}

// receiptCols are the columns of receipt_benefit.parquet a recomputation reads back.
var receiptCols = []string{"insurer_no", "household_id", "receipt_id", "person_id", "institution_id", "kind",
	"setting", "prescriber_id", "cost", "copay", "paid", "tokutei"}

// memberCols are the columns of members.parquet, insurer_no and household_id first.
var memberCols = []string{"insurer_no", "household_id", "person_id", "birth_date", "sex", "valid_from",
	"valid_to", "category_u70", "category_70", "half_limits_month"}

// memberRow is a member row from its columns as memberCols lists them (str(c) the value of
// column c), and name_kana after them when names.
func memberRow(str func(c int) string, names bool) receipt.MemberRow {
	m := receipt.MemberRow{InsurerNo: str(0), HouseholdID: str(1), PersonID: str(2),
		BirthDate: str(3), Sex: str(4), ValidFrom: str(5), ValidTo: str(6), CategoryU70: str(7),
		Category70: str(8), HalfLimitsMonth: str(9)}
	if names {
		m.NameKana = str(10)
	}
	return m
}

// resolvedCols are the columns of resolved.parquet a recomputation reads back: what a
// resolved receipt claimed, so that the rerun looks it up again (with a new members master,
// it may find no one, or several).
var resolvedCols = []string{"insurer_no", "household_id", "receipt_id", "claimed_insurer_no", "claimed_person_id",
	"name_kana", "birth_date", "sex", "reason"}

// claim is a resolved receipt's claim, as resolved.parquet keeps it.
type claim struct{ insurer, person, kana, birth, sex string }

// layersHave reports whether the file of every layer of v that has it has column col.
func layersHave(v *Version, file, col string) bool {
	for _, layer := range v.Layers {
		path := filepath.Join(layer, file)
		if _, err := os.Stat(path); err != nil {
			continue // a layer without the file
		}
		if !fileHas(path, col) {
			return false // or it cannot be read: the scan that follows says what is wrong
		}
	}
	return true
}

// eachCountingMonth calls fn for the months in [lo, hi) in which a household of keys (all
// when nil) counts for 多数回: a month the ledger holds as its current version says, a month
// before it as the kept history and the files given say (see history.go). A household month
// of the history may come more than once. Every path that computes a month (a first run, a
// rerun, a cascade) counts by it.
func (l *Ledger) eachCountingMonth(ctx context.Context, lo, hi rules.Month, keys *keySet, given []string, fn func(k HouseholdKey, m rules.Month) error) error {
	if err := l.eachHistory(ctx, lo, hi, keys, given, fn); err != nil {
		return err
	}
	var months []rules.Month
	for m := lo; m < hi; m++ {
		if l.Has(m) {
			months = append(months, m)
		}
	}
	if keys == nil { // every household: month after month, never a month's list in memory
		for _, m := range months {
			if err := l.countingIn(ctx, m, nil, func(k HouseholdKey) error { return fn(k, m) }); err != nil {
				return err
			}
		}
		return nil
	}
	// Some households: the months are read monthReaders at a time, and given in order.
	counting := make([][]HouseholdKey, len(months))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(monthReaders)
	for i, m := range months {
		g.Go(func() error {
			return l.countingIn(gctx, m, keys, func(k HouseholdKey) error {
				counting[i] = append(counting[i], k)
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, m := range months {
		for _, k := range counting[i] {
			if err := fn(k, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// countingIn calls fn for the households of keys (all when nil) that count for 多数回 in
// month m as the ledger's current version of it says.
func (l *Ledger) countingIn(ctx context.Context, m rules.Month, keys *keySet, fn func(k HouseholdKey) error) error {
	v, err := l.Current(m)
	if err != nil {
		return err
	}
	xs, err := v.indexes()
	if err != nil {
		return err
	}
	if xs != nil && keys != nil {
		var ferr error
		err := eachCounting(xs, keys, func(key []byte) {
			if ferr == nil {
				ferr = fn(parseKey(key))
			}
		})
		return cmp.Or(ferr, err)
	}
	return scanColumns(ctx, v, output.HouseholdMonthFile, []string{"insurer_no", "household_id", "counts_for_tasukai"}, keys,
		func(b *pqcol.Batch, i int, key []byte) error {
			if !b.Bools(2).At(i) {
				return nil
			}
			return fn(parseKey(key))
		})
}

// gapWarning says which of the 11 months before month the ledger lacks while it holds an
// earlier one (empty when none): the 多数回 of month counts them only as far as the kept
// history does, until they are run.
func (l *Ledger) gapWarning(month rules.Month) (string, error) {
	months, err := l.Months()
	if err != nil || len(months) == 0 || months[0] >= month-1 {
		return "", err
	}
	var missing []string
	for m := max(months[0]+1, month-11); m < month; m++ {
		if !l.Has(m) {
			missing = append(missing, m.String())
		}
	}
	if len(missing) == 0 {
		return "", nil
	}
	return fmt.Sprintf("the ledger lacks %s, after its first month %s: 多数回 of %s counts them only as far as the history says, "+
		"and will be recomputed for these households when they are run", strings.Join(missing, ", "), months[0], month), nil
}

// buffered writes rows to a Parquet writer in chunks.
type buffered[T any] struct {
	w   *parquet.GenericWriter[T]
	buf []T
}

func (b *buffered[T]) add(row T) error {
	b.buf = append(b.buf, row)
	if len(b.buf) < 4096 {
		return nil
	}
	return b.flush()
}

func (b *buffered[T]) flush() error {
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

func writeParquet[T any](path string, fill func(w *buffered[T]) error) error {
	return writeFileSync(path, func(f *os.File) error {
		w := &buffered[T]{w: parquet.NewGenericWriter[T](f)}
		if err := fill(w); err != nil {
			return err
		}
		if err := w.flush(); err != nil {
			return err
		}
		return w.w.Close()
	})
}

func writeKeys(path string, keys []HouseholdKey) error {
	return writeParquet(path, func(w *buffered[HouseholdKey]) error {
		w.buf = keys
		return nil
	})
}

func writeAdjustments(dir string, adj []output.Adjustment) error {
	return writeAdjustmentsFile(filepath.Join(dir, output.AdjustmentsFile), adj)
}

func writeAdjustmentsFile(path string, adj []output.Adjustment) error {
	return writeParquet(path, func(w *buffered[output.Adjustment]) error {
		w.buf = append(w.buf, adj...)
		return nil
	})
}

func writeManifest(dir string, m output.Manifest) error {
	data, err := m.MarshalJSON()
	if err != nil {
		return err
	}
	return writeSync(filepath.Join(dir, output.ManifestFile), append(data, '\n'))
}

// linkFiles hard-links every file of src into dst (same file system), copying where links
// are not possible.
func linkFiles(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if err := os.Link(from, to); err != nil {
			data, rerr := os.ReadFile(from)
			if rerr != nil {
				return rerr
			}
			if err := writeSync(to, data); err != nil {
				return err
			}
		}
	}
	return syncDir(dst)
}
