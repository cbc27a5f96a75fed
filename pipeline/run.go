package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Config is one monthly run.
type Config struct {
	Month            rules.Month
	Members          []string // files or directories
	Receipts         []string
	UKE              []string // UKE claim files or directories (.UKE, .CYO)
	History          []string
	Out              string
	Rules            *rules.Set // nil: the embedded tables
	AllowProvisional bool
	// AllowEmpty lets a run that reads no receipt, or whose every receipt is rejected for one
	// reason, succeed; without it such a run fails (EmptyRunError).
	AllowEmpty bool
	// Strict fails a run that has any warning, before anything is committed.
	Strict       bool
	Workers      int   // 0: GOMAXPROCS
	MemoryBudget int64 // bytes; 0: DefaultMemoryBudget
	// SpillDir is where a month too large for the budget spills, in a work directory of
	// the run's own; "": output.WorkRootName beside Out.
	SpillDir    string
	CommandLine []string
	Log         *slog.Logger
	Progress    *Progress
	// RowGroupRows bounds the output row groups (0: 1,000,000).
	RowGroupRows int64
	// KeepMembers also writes members.parquet, the member rows in force in the month.
	KeepMembers bool
	// Corrections accepts the cancel column (a correction run on a ledger).
	Corrections bool
	// UnknownCancels are the receipt ids of a correction run's cancel rows that the month
	// does not hold: such a row is rejected UNKNOWN_RECEIPT instead of counted as a cancel.
	UnknownCancels map[string]struct{}
	// KnownInsurers are insurers known beyond those of the members given: a ledger's rerun
	// is given the members of the households it recomputes only, so that a receipt of a
	// person the month's master lacks is UNKNOWN_PERSON, not UNKNOWN_INSURER.
	KnownInsurers []string
	// Warnings are the caller's, for the manifest beside the run's own (a ledger's gap).
	Warnings []string
	// MembersDecided: the members are the rows in force a ledger kept of the month, whose
	// half_limits_month holds the month's 75歳到達月特例 decision (a rerun or a cascade):
	// nothing is derived from them, since the person's other rows are not among them.
	MembersDecided bool
	// ResolvedReasons, for a rerun on a ledger, are the reasons the receipts of the month were
	// resolved for when they were first read (receipt_id → resolved.parquet's reason): a
	// rerun given the ledger's members in force cannot tell an old card's NOT_ELIGIBLE from
	// an unknown person, and resolved.parquet keeps saying what the claim was.
	ResolvedReasons map[string]string
	// CompressSpill compresses a spill to disk whatever its size; otherwise only a spill too
	// large for the page cache is (see cacheRoom).
	CompressSpill bool
	// PersonPartitions joins receipts to members through person partitions even when the
	// members master would fit in memory: the way of a master too large for the budget,
	// chosen by tests to compare the two ways.
	PersonPartitions bool
	// Unrouted has a master too large for memory joined by person partitions spilled twice
	// (by person, then by household) rather than routed by a person table: the way before
	// the table, kept for a master whose table would not fit, and for tests to compare.
	Unrouted bool
	// Held, when set, is input a ledger holds in memory, read beside the files (see Held).
	Held *Held
	// Written, when set, is given each partition's rows as they go to the files: the ledger
	// indexes a month from them instead of reading its files back.
	Written RowsSink
	// BeforeCommit, when set, runs with the finished but not yet committed output directory;
	// an error abandons the run. The ledger commits the month and adds its adjustments here.
	BeforeCommit func(d *output.Dir, s *Summary) error
}

// cachedPartitionReceipts is the size of a partition whose decoded receipts stay near the
// processor's caches during the household pass (see plan).
const cachedPartitionReceipts = 50_000

// DefaultMemoryBudget is the memory a run plans for unless told otherwise.
const DefaultMemoryBudget = 2 << 30

// Progress is what a run has done so far, for a progress line.
type Progress struct {
	Estimated atomic.Int64 // receipts expected, from the input sizes
	Read      atomic.Int64 // receipts read
	Stage     atomic.Value // string
}

// Summary is what a finished run reports.
type Summary struct {
	Manifest       output.Manifest
	Households     int64
	HouseholdsPaid int64
	BenefitCash    int64
	BenefitInKind  int64
	Partitions     int
	Spilled        bool
	// SpillCompressed: the spill to disk was compressed (see cacheRoom).
	SpillCompressed bool
	// MembersInMemory tells the way of the join: the members master held in memory
	// (aggregate.Directory), or person partitions.
	MembersInMemory bool
	// Routed: a master too large for memory was joined by routed partitions (a person
	// table), not by person partitions spilled twice.
	Routed  bool
	Elapsed time.Duration
}

// ProvisionalError refuses a month whose rule table is not enacted.
type ProvisionalError struct{ Table *rules.Table }

func (e *ProvisionalError) Error() string {
	return fmt.Sprintf("the rule table %s for this month is %s, not enacted: rerun with --allow-provisional to compute with it anyway", e.Table.Version, e.Table.Status)
}

type run struct {
	Config
	month       rules.Month
	rules       *rules.Set
	table       *rules.Table
	workers     int
	batchRows   int
	batches     batchPool // the receipt readers' Arrow allocator
	corrections bool
	// compressSpill: the spill goes to disk compressed (plan, then execute).
	compressSpill bool

	receiptFiles, memberFiles, historyFiles []string
	held                                    map[string]heldFile // the names of Config.Held's parts
	fileRows                                []int64
	memberRows, historyRows                 map[string]int64
	insurers                                map[string]struct{}
	rejects                                 *rejectSet
	warnings                                warnings
	read                                    intakeStats
	joinRefusals                            int64        // receipts the join refused, for the log (their rejects are made later)
	routedRefusals                          atomic.Int64 // those the household pass's joins refused (routed partitions)
	memberRowsEstimate                      int64        // the master's rows, counted or (CSV) bounded from its size (directoryFits)
	tableBudget                             int64        // the least budget that builds the run's person table
	unresolved                              *aggregate.Unresolved
	resolved                                []aggregate.Resolved // receipts resolved by the join, until the household pass says which it accepted
	namesSeen                               atomic.Bool          // some receipt read has a name_kana
	membersConflicting                      atomic.Int64         // persons whose rows in force disagree (MEMBER_CONFLICT)
	progress                                *Progress
	log                                     *slog.Logger
	cleanup                                 sync.WaitGroup // removals left to finish before the run returns
}

// Run computes one service month into cfg.Out. On error nothing is left at cfg.Out.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	start := time.Now()
	r, err := newRun(cfg)
	if err != nil {
		return nil, err
	}
	dir, err := output.Create(cfg.Out)
	if err != nil {
		return nil, err
	}
	r.sweep(dir)
	committed := false
	defer func() {
		if !committed {
			dir.Abort()
		}
	}()
	sum, err := r.execute(ctx, dir)
	if err != nil {
		return nil, err
	}
	if cfg.BeforeCommit != nil {
		if err := cfg.BeforeCommit(dir, sum); err != nil {
			return nil, err
		}
	}
	if err := dir.WriteJSON(output.ManifestFile, sum.Manifest); err != nil {
		return nil, err
	}
	if err := dir.Commit(); err != nil {
		return nil, err
	}
	committed = true
	sum.Elapsed = time.Since(start)
	return sum, nil
}

func newRun(cfg Config) (*run, error) {
	r := &run{Config: cfg, month: cfg.Month, rules: cfg.Rules, workers: cfg.Workers,
		batchRows: receipt.DefaultBatchRows, memberRows: map[string]int64{}, historyRows: map[string]int64{},
		insurers: map[string]struct{}{}, progress: cfg.Progress, log: cfg.Log, corrections: cfg.Corrections,
		unresolved: aggregate.NewUnresolved()}
	r.batches.poison = poisonFreedBatches
	for _, ins := range cfg.KnownInsurers {
		r.insurers[ins] = struct{}{}
	}
	if r.rules == nil {
		r.rules = rules.Default()
	}
	r.defaults()
	var err error
	if r.table, err = r.rules.For(r.month); err != nil {
		return nil, err
	}
	if !r.table.Enacted() && !cfg.AllowProvisional {
		return nil, &ProvisionalError{Table: r.table}
	}
	if len(cfg.Members) == 0 && (cfg.Held == nil || len(cfg.Held.Members) == 0) {
		return nil, errors.New("no members master given (--members)")
	}
	if err := r.expandInputs(); err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		r.warnings.add(w)
		r.log.Warn(w)
	}
	r.fileRows = make([]int64, len(r.receiptFiles))
	r.rejects = newRejectSet(r.receiptFiles)
	return r, nil
}

// defaults fills in what the Config left zero: the workers, the budget, the progress and
// the log (newRun, Households).
func (r *run) defaults() {
	if r.workers <= 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	if r.MemoryBudget <= 0 {
		r.MemoryBudget = DefaultMemoryBudget
	}
	if r.progress == nil {
		r.progress = &Progress{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
}

// expandInputs lists the files the run reads. A run with no members file, or no receipts
// file unless AllowEmpty, fails with what it found at each path; the directories' other
// entries, passed over, are warnings.
func (r *run) expandInputs() error {
	members, err := receipt.Expand(r.Members)
	if err != nil {
		return err
	}
	receipts, err := receipt.Expand(r.Receipts)
	if err != nil {
		return err
	}
	uke, err := receipt.ExpandUKE(r.UKE)
	if err != nil {
		return err
	}
	history, err := receipt.Expand(r.History)
	if err != nil {
		return err
	}
	r.memberFiles, r.historyFiles = members.Files, history.Files
	r.receiptFiles = append(receipts.Files, uke.Files...)
	r.addHeld()
	if len(r.memberFiles) == 0 {
		return fmt.Errorf("no members file found: %s", members.Describe(r.Members))
	}
	if len(r.receiptFiles) == 0 && !r.AllowEmpty {
		var found []string
		if len(r.Receipts) > 0 {
			found = append(found, receipts.Describe(r.Receipts))
		}
		if len(r.UKE) > 0 {
			found = append(found, uke.Describe(r.UKE))
		}
		return &EmptyRunError{Msg: "no receipt files to read: " + strings.Join(found, "; ")}
	}
	read := map[string]bool{} // a file one kind passes over may be another kind's (--receipts d --uke d)
	for _, f := range append(r.receiptFiles, append(r.memberFiles, r.historyFiles...)...) {
		read[f] = true
	}
	for _, e := range []receipt.Expansion{members, receipts, uke, history} {
		for _, s := range e.Skipped {
			if !read[s.Path] {
				r.warnings.add(fmt.Sprintf("%s: not read (%s)", s, skipReason(s)))
			}
		}
	}
	return nil
}

func skipReason(s receipt.Skipped) string {
	if s.IsDir {
		return "a directory: directories are not read recursively"
	}
	return "not an input file by its name: .csv, .parquet, .UKE or .CYO"
}

// EmptyRunError is a run that would pay from nothing: it read no receipt, or rejected every
// receipt it read for one reason (a wrong --month, a master of another insurer). It is
// refused unless Config.AllowEmpty says that is expected.
type EmptyRunError struct{ Msg string }

func (e *EmptyRunError) Error() string {
	return e.Msg + " (--allow-empty lets such a run succeed)"
}

// sweep removes what dead runs left where this one works: their temporary run directories
// (dir's Create did) and their work directories, in both work roots a run writing Out may
// have used.
func (r *run) sweep(dir *output.Dir) {
	removed := dir.Swept()
	removed = append(removed, output.SweepWork(output.WorkRoot(r.Out, ""))...)
	if r.SpillDir != "" {
		removed = append(removed, output.SweepWork(r.SpillDir)...)
	}
	if len(removed) > 0 {
		r.log.Info("removed what runs that died left behind", "paths", removed)
	}
}

// plan sizes the partitions from the input: a household partition's working set must fit the
// budget share of one worker, and the spill stays in memory only when the whole month fits
// comfortably.
func (r *run) plan() (parts int, spill bool, err error) {
	var bytes int64
	for _, f := range r.receiptFiles {
		if r.isHeld(f) {
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return 0, false, err
		}
		bytes += st.Size()
	}
	est := estimateReceipts(r.receiptFiles, bytes)
	for _, f := range r.receiptFiles {
		if r.isHeld(f) {
			est += r.held[f].receipts.Rows
		}
	}
	r.progress.Estimated.Store(est)
	parts, spill = r.partitions(est)
	return parts, spill, nil
}

// partitions sizes the partitions for an estimated est receipts, and says whether the spill
// goes to disk (and, in r.compressSpill, whether compressed).
func (r *run) partitions(est int64) (parts int, spill bool) {
	const (
		spillBytesPerReceipt   = 300  // encoded, in both spills at once during the join, with members
		workingBytesPerReceipt = 2500 // decoded receipt, sort key and output rows in pass 3, and the GC's headroom over them
	)
	// Pass 3 holds up to workers+1 partitions at once; give them 60% of the budget and leave
	// the rest to the readers, the writers' row groups and the collector's headroom.
	perPart := r.MemoryBudget * 6 / 10 / int64(r.workers+1) / workingBytesPerReceipt
	// A partition of some 50,000 receipts keeps its decoded records (10 MB) near the
	// processor's caches while it is sorted and walked: on the 10M month, 224 partitions
	// instead of the budget's 56 took the household pass from 9.3 s to 8.3 s. Smaller ones
	// help it a little more, but the spill's chunks shrink with them and its system time
	// grows: 384 partitions ran 17.6 s on average against 16.9 s for 192 (three runs each,
	// back to back), 896 slower still. Up to 512 partitions for that.
	cached := min(est/cachedPartitionReceipts, 512)
	// At most 2,000 partitions: every spill writer holds a chunk for each, so more would
	// shrink the chunks toward their 4 KiB floor and the spill's writes with them.
	parts = min(max(int(est/max(perPart, 1))+1, int(cached)), 2000)
	spillBytes := est * spillBytesPerReceipt
	r.compressSpill = r.CompressSpill || spillBytes > cacheRoom(r.MemoryBudget)
	return parts, spillBytes > r.MemoryBudget/3
}

// cacheRoom is what the page cache can hold of a spill: the memory the kernel says is
// available (Linux's MemAvailable), less the run's own budget, never below 0; unbounded
// (nothing is compressed) when it cannot tell.
//
// A spill that fits it is written and read back without touching the disk, and compressing
// it would only add the compressor's CPU: on the 10M month (0.97 GB of household
// partitions) S2 took three runs 0.1–1.6 s longer. One that does not fit goes to the disk
// and back, and halving its bytes pays: the 100M month's 26.7 GB became 13.9 GB, and
// the run took 210 and 220 s against 238 and 239 s in two pairs (2026-12-07). The 200M
// month spilled 28 GB, where plain it would have needed some 53 GB, more than the disk had
// free.
func cacheRoom(budget int64) int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return math.MaxInt64
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return math.MaxInt64
			}
			return max(kb<<10-budget, 0)
		}
	}
	return math.MaxInt64
}

// estimateReceipts guesses the receipts from the file sizes: about 24 bytes a receipt in
// zstd Parquet, 110 in CSV. Only the partition count depends on it, never a result.
func estimateReceipts(files []string, _ int64) int64 {
	var n int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		switch {
		case isParquet(f):
			n += st.Size() / 24
		case isUKE(f):
			n += st.Size() / 500
		default:
			n += st.Size() / 110
		}
	}
	return n
}

func isParquet(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".parquet") }

func isUKE(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".uke") || strings.HasSuffix(n, ".cyo")
}

// warnings collects what a run reports without failing (a UKE file whose GO count disagrees).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) add(msg string) {
	w.mu.Lock()
	w.list = append(w.list, msg)
	w.mu.Unlock()
}

func (r *run) execute(ctx context.Context, dir *output.Dir) (*Summary, error) {
	parts, spill, err := r.plan()
	if err != nil {
		return nil, err
	}
	var work *output.WorkDir
	spillDir := "" // "": the partitions stay in memory
	if spill {
		if work, err = output.CreateWorkDir(output.WorkRoot(r.Out, r.SpillDir), r.SpillDir == ""); err != nil {
			return nil, err
		}
		spillDir = work.Path()
	}
	r.compressSpill = r.compressSpill && spillDir != "" // a spill in memory is never compressed
	// removeSpill deletes the spill files, which takes the kernel a tenth of a second per
	// gigabyte. It runs as soon as the last partition has been read, beside the writers'
	// last row groups and fsyncs, and again (a no-op then) on the way out.
	var households, routed *aggregate.Spill
	removeSpill := sync.OnceFunc(func() {
		if households != nil {
			households.Close()
		}
		if routed != nil {
			routed.Close()
		}
		r.cleanup.Wait() // before the spill directory goes
		if work != nil {
			work.Remove()
		}
	})
	defer removeSpill()
	// Hold the collector to the budget: past it the GC works harder rather than let the heap
	// double, which is what keeps the peak flat when a partition is larger than planned.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(r.MemoryBudget))
	// Below the limit the collector keeps the pace GOGC sets (100 unless the environment says
	// otherwise). Collecting rarely (GOGC 400, once the heap was mostly partition data full
	// of pointers) now only let the garbage of the reading stages take fresh memory, which
	// the kernel must fault in and zero: the large tables (the directory, the marks, the
	// spill's bytes) hold no pointers, so a cycle costs little. On the 10M month: peak RSS
	// 1.56 GiB instead of 1.79, and five pairs 11.93 s against 12.24 s on average.
	r.log.Info("run planned", "month", r.month.String(), "rules", r.table.Label(), "receipt_files", len(r.receiptFiles),
		"estimated_receipts", r.progress.Estimated.Load(), "partitions", parts, "spill", spillDir != "",
		"spill_compressed", r.compressSpill, "workers", r.workers)
	digests := r.startDigests(ctx)

	inMemory := r.directoryFits()
	var table *aggregate.PersonTable
	if !inMemory {
		if table, err = r.personTable(ctx, parts); err != nil {
			return nil, err
		}
	}
	households, err = r.newSpill(sub(spillDir, "households"), parts, r.workers+2)
	if err != nil {
		return nil, err
	}
	var way *routedWay // the way of routed partitions: households is its side spill
	switch {
	case inMemory:
		err = r.joinInMemory(ctx, households)
	case table != nil:
		way = &routedWay{side: households}
		if way.routed, err = r.newSpill(sub(spillDir, "routed"), parts, r.workers+1); err != nil {
			return nil, err
		}
		routed = way.routed
		err = r.joinRouted(ctx, table, way)
		table = nil // the household pass does without it
	default:
		err = r.joinByPartitions(ctx, parts, spillDir, households)
	}
	if err != nil {
		return nil, err
	}

	r.batches.drain() // every batch is released: the pool's buffers go back to the collector
	// The directory (or the person partitions) and the batches are garbage now, but the heap
	// has not grown enough since the last cycle for the collector to notice before the pass
	// takes fresh memory of its own. Collecting here lets the pass reuse theirs: on the 10M
	// month, peak RSS 1.25 GiB instead of 1.47 and 55,000 fewer page faults, in the same time
	// (four pairs, 11.18 s against 11.22 s on average). A small run (a cascade month of a few
	// hundred households) has little garbage to give back, and the cycle cost it 5–15 ms of
	// its 30: the collector's own pace does.
	if r.progress.Estimated.Load() >= smallRun {
		runtime.GC()
	}
	r.stage("compute")
	if routed != nil {
		r.log.Info("routed partitions", "partitions", routed.Parts(), "spilled_bytes", routed.DiskBytes())
	}
	r.log.Info("household partitions", "partitions", households.Parts(), "spilled_bytes", households.DiskBytes())
	w, err := openWriters(dir, output.Options{MaxRowsPerRowGroup: r.RowGroupRows}, r.KeepMembers)
	if err != nil {
		return nil, err
	}
	w.written = r.Written
	var tot totals
	if way != nil {
		tot, err = r.computeFrom(ctx, parts, r.readPart(way), w, removeSpill)
		r.joinRefusals += r.routedRefusals.Load()
	} else {
		tot, err = r.compute(ctx, households, w, removeSpill)
	}
	if err != nil {
		return nil, err
	}
	// The writers' last row groups and fsyncs, and the rejects, which are all known now,
	// are written at once: the tail of a run is mostly waiting on the disk.
	var rejectRows, resolvedRows int64
	resolved, resolvedByReason := r.acceptedResolved() // before writeRejects sorts the rejects
	var g errgroup.Group
	g.Go(w.close)
	g.Go(func() (err error) {
		rejectRows, err = r.writeRejects(dir)
		return err
	})
	g.Go(func() (err error) {
		resolvedRows, err = r.writeResolved(dir, resolved)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.log.Info("compute done", "households", w.households.Rows())
	r.stage("finish")
	inputs, err := digests()
	if err != nil {
		return nil, err
	}
	sum, err := r.finish(w, tot, inputs, rejectRows, parts, spillDir != "")
	if sum != nil {
		sum.Manifest.Outputs = append(sum.Manifest.Outputs, output.OutputFile{Name: output.ResolvedFile, Rows: resolvedRows})
		sum.Manifest.ResolvedByReason = resolvedByReason
	}
	if sum != nil {
		sum.MembersInMemory = inMemory
		sum.Routed = way != nil
		sum.SpillCompressed = r.compressSpill
	}
	return sum, err
}

// householdPart is worker w's router into the household partitions, writing member rows
// whole when the run keeps them (Config.KeepMembers) and lean otherwise.
func (r *run) householdPart(households *aggregate.Spill, w int) *aggregate.HouseholdPart {
	p := aggregate.NewHouseholdPart(households, w)
	if r.KeepMembers {
		p.KeepMemberRows()
	}
	return p
}

// smallRun is the estimated receipts below which a run is not worth a collection of its own
// between the intake and the household pass.
const smallRun = 100_000

func (r *run) stage(s string) {
	r.progress.Stage.Store(s)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.log.Debug("stage", "stage", s, "heap_inuse_mib", ms.HeapInuse>>20, "heap_sys_mib", ms.HeapSys>>20, "gc_cycles", ms.NumGC)
}

// newSpill makes a spill of parts partitions for writers writers, under dir or in memory
// when dir is "", its chunks sized to the budget (chunkSize) and compressed when the plan
// says so.
func (r *run) newSpill(dir string, parts, writers int) (*aggregate.Spill, error) {
	s, err := aggregate.NewSpill(dir, parts, writers)
	if err != nil {
		return nil, err
	}
	s.SetChunkSize(r.chunkSize(parts, writers))
	if r.compressSpill {
		s.Compress()
	}
	return s, nil
}

// chunkSize keeps the buffers of a spill's writers, writers × parts chunks, within a
// sixteenth of the budget (the two spills of the partitions way are written at once).
func (r *run) chunkSize(parts, writers int) int {
	return int(min(int64(aggregate.ChunkSize), r.MemoryBudget/16/int64(writers*parts)))
}

func sub(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}

// joinInMemory reads the members master into a directory, then the receipts, joined as
// they come, into the household partitions.
func (r *run) joinInMemory(ctx context.Context, households *aggregate.Spill) error {
	r.stage("members")
	t0 := time.Now()
	d, err := r.loadDirectory(ctx)
	if err != nil {
		return err
	}
	r.membersConflicting.Store(d.Conflicting())
	r.log.Info("members master in memory", "rows", d.Rows(), "conflicting_persons", d.Conflicting(), "seconds", time.Since(t0).Seconds())
	r.stage("intake")
	if err := r.intakeDirect(ctx, d, households); err != nil {
		return err
	}
	r.log.Info("intake and join done", "receipts_read", r.read.rows.Load(), "rejected", int64(len(r.rejects.rows))+r.joinRefusals,
		"rejected_at_intake", len(r.rejects.rows), "refused_by_join", r.joinRefusals)
	return nil
}

// joinByPartitions routes receipts and member rows into person partitions (pass 1), then
// joins each partition into the household partitions (pass 2).
func (r *run) joinByPartitions(ctx context.Context, parts int, spillDir string, households *aggregate.Spill) error {
	r.stage("intake")
	persons, err := r.newSpill(sub(spillDir, "persons"), parts, r.workers+1) // the receipts' writers and the members'
	if err != nil {
		return err
	}
	closing := false
	defer func() {
		if !closing {
			persons.Close()
		}
	}()
	routers := make([]intakeRouter, r.workers+1) // the receipts' workers and the members' reader
	for w := range routers {
		routers[w] = personRouter{aggregate.NewPersonPart(persons, w)}
	}
	if err := r.intake(ctx, routers, true, nil); err != nil {
		return err
	}
	if r.namesSeen.Load() {
		persons.KeepOnRead() // read again for their members if some receipt is to resolve
	}
	r.log.Info("intake done", "receipts_read", r.read.rows.Load(), "rejected", len(r.rejects.rows))
	r.stage("join")
	if err := r.join(ctx, persons, households, r.readHistory); err != nil {
		return err
	}
	if err := r.resolveByPartitions(ctx, persons, households); err != nil {
		return err
	}
	r.log.Info("join done", "rejected", int64(len(r.rejects.rows))+r.joinRefusals,
		"rejected_at_intake", len(r.rejects.rows), "refused_by_join", r.joinRefusals,
		"person_partitions_spilled_bytes", persons.DiskBytes())
	// Removing the person partitions' files kept the household pass waiting 2 s on the 100M
	// month (the kernel freeing some ten gigabytes on one core): it starts meanwhile.
	closing = true
	r.cleanup.Add(1)
	go func() {
		defer r.cleanup.Done()
		persons.Close()
	}()
	return nil
}

// join runs pass 2 over the person partitions, and routes the history alongside (history
// flushes its route).
func (r *run) join(ctx context.Context, persons, households *aggregate.Spill, history func(context.Context, *aggregate.HouseholdPart) error) error {
	g, ctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	parts := make([]*aggregate.HouseholdPart, r.workers)
	for wk := 0; wk < r.workers; wk++ {
		out := r.householdPart(households, wk)
		parts[wk] = out
		g.Go(guard(func() error {
			var buf []byte // JoinPartition keeps nothing of a partition's bytes
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				p := int(next.Add(1) - 1)
				if p >= persons.Parts() {
					return out.Flush()
				}
				t0 := time.Now()
				data, b, err := persons.ReadInto(p, buf)
				if err != nil {
					return err
				}
				buf = b
				conflicting, err := aggregate.JoinPartition(data, r.month, r.knownInsurer, r.MembersDecided, r.memberFiles, r.unresolved, out)
				if err != nil {
					return err
				}
				r.membersConflicting.Add(conflicting)
				r.log.Debug("partition joined", "partition", p, "seconds", time.Since(t0).Seconds())
			}
		}))
	}
	g.Go(guard(func() error { return history(ctx, r.householdPart(households, r.workers)) }))
	err := g.Wait()
	for _, p := range parts {
		r.joinRefusals += p.Refusals()
	}
	return err
}

// guard turns a worker's panic into an error, so that one bad worker stops the run cleanly
// instead of crashing it.
func guard(f func() error) func() error {
	return func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("internal error: %v\n%s", p, debug.Stack())
			}
		}()
		return f()
	}
}
