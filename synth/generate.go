package synth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Config says what to generate.
type Config struct {
	Households int         // households to generate
	Month      rules.Month // first service month
	Months     int         // consecutive months (default 1)
	Seed       uint64
	Out        string // directory to write into (created; must be absent or empty)
	// FilesPerMonth is the number of receipts files per month (default: about 2 million
	// receipts per file, at least 1). File j holds a contiguous range of households.
	FilesPerMonth int
	// Faults makes about 0.01% of receipts bad (unknown person, copay and paid above the
	// cost, wrong service month) so that reject paths get exercised. Off by default: the
	// output is then clean apart from the few receipts of persons whose eligibility ended
	// (NOT_ELIGIBLE).
	Faults bool
	// Workers is how many files are written at once (default GOMAXPROCS). The output does
	// not depend on it. Each worker holds at most one row group of one file in memory
	// (measured: about 150 MiB peak for one worker, 260 MiB for two, at any population).
	Workers int
	// Format is "parquet" (the default, also for "") or "uke": then the receipts are ALSO
	// written as UKE files under uke/YYYY-MM/ (see UKEDir), which receipt.ReadUKE reads back
	// into exactly the rows of the Parquet files.
	Format string
	// ResolveShare, when ResolveShareSet, is the share of each month's receipts (0 to 1) that
	// need resolution by name: receipts the join refuses (claimed under a mover's old card,
	// under the all-7 不詳 number, or a lost person's) that carry a name_kana. 0 makes none;
	// the persons, receipts and amounts are those of the same seed without it, only the
	// claimed insurer and person of these receipts and the name of lost persons' receipts
	// (and, with Faults, of unknown-person faults) change (resolve.go). Without it, about
	// 0.4% of the receipts need resolution, as the population makes them.
	ResolveShare    float64
	ResolveShareSet bool
}

// Summary is what Generate wrote.
type Summary struct {
	// Households counts the households drawn; the few members who move to a household of
	// their own (id suffix "-1") are not counted again. Persons counts distinct persons.
	Households, Persons int64
	Receipts            []int64  // per month
	Files               []string // every file written, under Out: members, history, receipts
	// ToResolve, with Config.ResolveShareSet, is the receipts per month chosen to need
	// resolution (before Faults, which may spoil a few of them otherwise).
	ToResolve []int64
}

// Layout of the output directory.
const (
	MembersFile = "members.parquet"
	HistoryFile = "history.parquet"
	ReceiptsDir = "receipts" // receipts/YYYY-MM/part-NNNN.parquet
)

// Config.Format values.
const (
	FormatParquet = "parquet"
	FormatUKE     = "uke"
)

// receiptsPerFile is the default size of a receipts file.
const receiptsPerFile = 2_000_000

// Generate writes a synthetic population and its months of receipts into cfg.Out. The same
// Config gives byte-identical files: every household is drawn from its own random streams,
// derived from (Seed, household index), so the files can be written in parallel.
func Generate(ctx context.Context, cfg Config) (Summary, error) {
	m, err := loadModel()
	if err != nil {
		return Summary{}, err
	}
	g, err := newGenerator(cfg, m)
	if err != nil {
		return Summary{}, err
	}
	if err := prepareOut(g.cfg.Out); err != nil {
		return Summary{}, err
	}
	return g.run(ctx)
}

// generator holds one run's settings; it is read-only while tasks run.
type generator struct {
	cfg         Config
	model       *model
	first, last rules.Month
	months      []monthInfo
	// monthStrs caches YYYY-MM of the months member rows name, from monthStrFrom on.
	monthStrs    []string
	monthStrFrom rules.Month
}

// monthStr formats m, from the cache when it can: member rows name a handful of months.
func (g *generator) monthStr(m rules.Month) string {
	if i := int(m - g.monthStrFrom); i >= 0 && i < len(g.monthStrs) {
		return g.monthStrs[i]
	}
	return monthString(m)
}

func newGenerator(cfg Config, m *model) (*generator, error) {
	if cfg.Months == 0 {
		cfg.Months = 1
	}
	switch {
	case cfg.Households < 0:
		return nil, errors.New("synth: households must not be negative")
	case cfg.Households >= 1e9:
		return nil, errors.New("synth: at most 999,999,999 households (9-digit household ids)")
	case cfg.Months < 0 || cfg.Months > 120:
		return nil, errors.New("synth: months must be 1..120")
	case cfg.Month < rules.MonthOf(1950, 1) || cfg.Month > rules.MonthOf(9000, 1):
		return nil, fmt.Errorf("synth: month %s out of range", cfg.Month)
	case cfg.Out == "":
		return nil, errors.New("synth: no output directory")
	case cfg.FilesPerMonth < 0 || cfg.Workers < 0:
		return nil, errors.New("synth: files per month and workers must not be negative")
	case cfg.Format != "" && cfg.Format != FormatParquet && cfg.Format != FormatUKE:
		return nil, fmt.Errorf("synth: format %q: want %s or %s", cfg.Format, FormatParquet, FormatUKE)
	case cfg.ResolveShareSet && !(cfg.ResolveShare >= 0 && cfg.ResolveShare <= 1):
		return nil, fmt.Errorf("synth: resolve share %g: want 0 to 1", cfg.ResolveShare)
	}
	if cfg.FilesPerMonth == 0 {
		est := float64(cfg.Households) * m.meanPersons * m.d.Targets.PerPersonMonth
		cfg.FilesPerMonth = max(1, int(math.Round(est/receiptsPerFile)))
	}
	cfg.FilesPerMonth = min(cfg.FilesPerMonth, max(1, cfg.Households))
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	g := &generator{cfg: cfg, model: m, first: cfg.Month, last: cfg.Month + rules.Month(cfg.Months-1)}
	set := rules.Default()
	for k := range cfg.Months {
		mo := cfg.Month + rules.Month(k)
		next := monthString(mo + 1)
		mi := monthInfo{m: mo, str: monthString(mo), prev: monthString(mo - 1), claim: next[:4] + next[5:]}
		if t, err := set.For(mo); err == nil {
			mi.table = t
		}
		g.months = append(g.months, mi)
	}
	for i := range 11 {
		g.months[0].prior[i] = monthString(cfg.Month - 11 + rules.Month(i))
	}
	g.monthStrFrom = g.first - rules.Month(m.d.Eligibility.StartBackMax) - 12
	for mo := g.monthStrFrom; mo <= g.last; mo++ {
		g.monthStrs = append(g.monthStrs, monthString(mo))
	}
	return g, nil
}

// prepareOut creates the output directory, refusing one with files in it: stale part files
// of an earlier run would be read as this run's receipts.
func prepareOut(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer d.Close()
	if _, err := d.Readdirnames(1); err != io.EOF {
		if err == nil {
			return fmt.Errorf("synth: output directory %s is not empty", dir)
		}
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// part is one receipts file: households [lo, hi) in month k, the j-th of the month.
type part struct {
	k, j   int
	lo, hi int64
	path   string
}

func (g *generator) parts() []part {
	var ps []part
	n, f := int64(g.cfg.Households), int64(g.cfg.FilesPerMonth)
	for k, mi := range g.months {
		dir := filepath.Join(g.cfg.Out, ReceiptsDir, mi.str)
		for j := range f {
			name := fmt.Sprintf("part-%04d.parquet", j)
			ps = append(ps, part{k: k, j: int(j), lo: j * n / f, hi: (j + 1) * n / f, path: filepath.Join(dir, name)})
		}
	}
	return ps
}

func (g *generator) run(ctx context.Context) (Summary, error) {
	ps := g.parts()
	sum := Summary{Households: int64(g.cfg.Households), Receipts: make([]int64, g.cfg.Months)}
	sum.Files = append(sum.Files, filepath.Join(g.cfg.Out, MembersFile), filepath.Join(g.cfg.Out, HistoryFile))
	for _, mi := range g.months {
		if err := os.MkdirAll(filepath.Join(g.cfg.Out, ReceiptsDir, mi.str), 0o777); err != nil {
			return Summary{}, fmt.Errorf("synth: %w", err)
		}
		if g.cfg.Format == FormatUKE {
			if err := os.MkdirAll(filepath.Join(g.cfg.Out, UKEDir, mi.str), 0o777); err != nil {
				return Summary{}, fmt.Errorf("synth: %w", err)
			}
		}
	}
	counts, toResolve := make([]int64, len(ps)), make([]int64, len(ps))
	ukeFiles := make([][]string, len(ps))
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(g.cfg.Workers)
	// The members task is the longest single one: start it first.
	membersPath, historyPath := sum.Files[0], sum.Files[1] // the loop below appends to sum.Files
	eg.Go(func() error {
		var err error
		sum.Persons, err = g.writeMembers(ctx, membersPath, historyPath)
		return err
	})
	for i, p := range ps {
		sum.Files = append(sum.Files, p.path)
		eg.Go(func() error {
			var err error
			counts[i], toResolve[i], ukeFiles[i], err = g.writeReceipts(ctx, p)
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}
	for _, fs := range ukeFiles {
		sum.Files = append(sum.Files, fs...)
	}
	if g.cfg.ResolveShareSet {
		sum.ToResolve = make([]int64, g.cfg.Months)
	}
	for i, p := range ps {
		sum.Receipts[p.k] += counts[i]
		if sum.ToResolve != nil {
			sum.ToResolve[p.k] += toResolve[i]
		}
	}
	return sum, nil
}

// worker is one task's scratch: a household rebuilt in place, and its random streams.
type worker struct {
	g   *generator
	h   household
	src *rand.PCG
	r   *rand.Rand
}

func (g *generator) newWorker() *worker {
	src := rand.NewPCG(0, 0)
	return &worker{g: g, src: src, r: rand.New(src)}
}

// load rebuilds household i and points the random stream at purpose tag.
func (w *worker) load(i int64, tag uint64) {
	stream(w.src, w.g.cfg.Seed, i, tagBuild)
	w.g.build(&w.h, i, w.r)
	stream(w.src, w.g.cfg.Seed, i, tag)
}

// cancelEvery is how many households pass between looks at the context.
const cancelEvery = 4096

func (g *generator) writeMembers(ctx context.Context, membersPath, historyPath string) (int64, error) {
	mf, err := createFile[receipt.MemberRow](membersPath)
	if err != nil {
		return 0, err
	}
	defer mf.abort()
	hf, err := createFile[receipt.HistoryRow](historyPath)
	if err != nil {
		return 0, err
	}
	defer hf.abort()
	w := g.newWorker()
	var persons int64
	for i := range int64(g.cfg.Households) {
		if i%cancelEvery == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		w.load(i, tagHistory)
		persons += int64(w.h.n)
		g.memberRows(&w.h, &mf.sink)
		g.historyRows(&w.h, g.historyMonths(&w.h, w.r), &hf.sink)
		if err := errors.Join(mf.flushIfFull(), hf.flushIfFull()); err != nil {
			return 0, err
		}
	}
	return persons, errors.Join(mf.commit(), hf.commit())
}

// writeReceipts writes part p's Parquet file and, for Format "uke", its UKE files, returning
// the receipts written, those of them chosen to resolve (Config.ResolveShare) and the UKE files.
func (g *generator) writeReceipts(ctx context.Context, p part) (int64, int64, []string, error) {
	f, err := createFile[receipt.Row](p.path)
	if err != nil {
		return 0, 0, nil, err
	}
	defer f.abort()
	w := g.newWorker()
	rg := &receiptGen{g: g, mi: &g.months[p.k], out: &f.sink, r: w.r, id: make([]byte, 0, 40)}
	if g.cfg.Format == FormatUKE {
		rg.uke = newUKESet(filepath.Join(g.cfg.Out, UKEDir, rg.mi.str), int64(p.j), rg.mi)
		defer rg.uke.abort()
	}
	if g.cfg.Faults {
		rg.fault = g.model.d.Faults.Share
	}
	tag := tagMonth0 + uint64(p.k)
	if g.cfg.ResolveShareSet {
		rg.res = &resolver{share: g.cfg.ResolveShare}
	}
	for i := p.lo; i < p.hi; i++ {
		if (i-p.lo)%cancelEvery == 0 && ctx.Err() != nil {
			return 0, 0, nil, ctx.Err()
		}
		if rg.res != nil && (i == p.lo || i%resolveBlock == 0) {
			rg.startBlock(w, i, tag)
		}
		w.load(i, tag)
		rg.household(&w.h)
		if err := f.flushIfFull(); err != nil {
			return 0, 0, nil, err
		}
		if rg.uke != nil && rg.uke.err != nil {
			return 0, 0, nil, rg.uke.err
		}
	}
	var ukeFiles []string
	if rg.uke != nil {
		if ukeFiles, err = rg.uke.commit(); err != nil {
			return 0, 0, nil, err
		}
	}
	if err := f.commit(); err != nil {
		return 0, 0, nil, err
	}
	return f.rows, rg.chosen, ukeFiles, nil
}
