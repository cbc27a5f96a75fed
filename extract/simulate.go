package extract

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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Scenario is one what-if: its name as given ("+10%", a file's name) and its tables.
type Scenario struct {
	Name  string
	Rules *rules.Set
}

// ParseScenario reads a --scenario argument: "+N%" (or "-N%") raises every limit of base by
// N percent, each rounded half up to a multiple of round yen (rules.Table.Raised); anything
// else is a scenario table file (rules.ParseScenario), a whole table for its months. A month
// the file does not cover is refused rather than computed under the law, which would show a
// scenario changing nothing.
func ParseScenario(arg string, base *rules.Set, round int64) (Scenario, error) {
	if p, ok := strings.CutSuffix(arg, "%"); ok {
		pct, err := decimal.NewFromString(strings.TrimPrefix(p, "+"))
		if err != nil {
			return Scenario{}, fmt.Errorf("scenario %q: want +N%% (a percentage, e.g. +10%% or +7.5%%) or a rule table file", arg)
		}
		if pct.LessThanOrEqual(decimal.NewFromInt(-100)) {
			return Scenario{}, fmt.Errorf("scenario %q: a cut of 100%% or more leaves no limit", arg)
		}
		name := pct.String() + "%"
		if !pct.IsNegative() {
			name = "+" + name
		}
		return Scenario{Name: name, Rules: base.Raised(pct, round)}, nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario: %w", err)
	}
	t, err := rules.ParseScenario(data)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", arg, err)
	}
	set, err := rules.NewSet(t)
	if err != nil {
		return Scenario{}, err
	}
	return Scenario{Name: strings.TrimSuffix(filepath.Base(arg), filepath.Ext(arg)), Rules: set}, nil
}

// SimConfig is one simulation.
type SimConfig struct {
	Ledger   *ledger.Ledger
	From, To rules.Month
	// Rules are the tables the ledger was computed with; nil: the embedded ones. Every
	// household is recomputed under them too, to check that the recomputation is the ledger's.
	Rules        *rules.Set
	Scenarios    []Scenario
	Workers      int    // 0: GOMAXPROCS
	MemoryBudget int64  // bytes; 0: 2 GiB, as a monthly run
	SpillDir     string // where a month too large for the budget spills; "": the system's temp directory
	// Household, when set, is given every household month's outcome, one call at a time, in
	// one order whatever the workers and partitions: month by month, and in a month in the
	// order of the household hash, as a monthly run writes its households. The Outcome is
	// reused after the call.
	Household func(o *Outcome) error
	Log       *slog.Logger
}

// Outcome is one household month recomputed.
type Outcome struct {
	Month                  rules.Month
	InsurerNo, HouseholdID string
	Persons                int // members in force
	// The cell of the scenario table it is counted in (SimRow).
	InsurerType, AgeGroup, IncomeClass string
	Cost                               int64 // 10割 医療費 of its receipts
	InKind, Cash                       int64 // the ledger's
	Recomputed                         int64 // the cash recomputed under SimConfig.Rules
	// Per scenario, in SimConfig.Scenarios order.
	ScenarioInKind, ScenarioCash []int64
}

// SimRow is one cell of the simulation for one scenario: household months of an insurer
// type, age group of the household's patients and income class (as in BenefitRow), summed over
// the months simulated. "now" is the ledger; a household is affected when its benefit (in kind
// + cash) under the scenario differs from the ledger's.
type SimRow struct {
	InsurerType          string  `parquet:"insurer_type"`
	AgeGroup             string  `parquet:"age_group"`
	IncomeClass          string  `parquet:"income_class"`
	Scenario             string  `parquet:"scenario"`
	ScenarioRules        string  `parquet:"scenario_rules"`
	Households           int64   `parquet:"households"`
	Persons              int64   `parquet:"persons"`    // members in force of those households
	Cost                 int64   `parquet:"cost_total"` // 10割 医療費 of their receipts
	NowInKind            int64   `parquet:"now_in_kind"`
	NowCash              int64   `parquet:"now_cash"`
	NowTotal             int64   `parquet:"now_total"`
	InKind               int64   `parquet:"in_kind"`
	Cash                 int64   `parquet:"cash"`
	Total                int64   `parquet:"total"`
	Difference           int64   `parquet:"difference"` // total − now_total
	AffectedHouseholds   int64   `parquet:"affected_households"`
	AffectedPersons      int64   `parquet:"affected_persons"`
	YenPerAffectedPerson int64   `parquet:"yen_per_affected_person"`
	RateChangePoints     float64 `parquet:"effective_rate_change_points"` // difference ÷ cost_total × 100
}

// SimSummary is what Simulate found.
type SimSummary struct {
	Months     []rules.Month
	Inputs     []MonthInput // the ledger versions read
	Scenarios  []string
	Labels     []string // per scenario: the tables used, e.g. "2025-10+10%+scenario"
	Rows       []SimRow
	Households int64
	Receipts   int64
	// Mismatches counts the household months whose cash recomputed under the ledger's tables
	// differs from the ledger's, and MismatchYen the sum of the differences' sizes: both 0
	// unless the ledger was computed with other tables (see SimConfig.Rules).
	Mismatches, MismatchYen int64
	Warnings                []string
	Elapsed                 time.Duration
}

// Simulate recomputes the ledger's months in [From, To] under every scenario. Each month is
// read from the ledger once (receipts, members, and the household rows for their 多数回
// history), routed through the pipeline's household partitions (package aggregate, so the
// households are built exactly as a monthly run builds them), and every household is computed
// under the ledger's tables and under each scenario in the same pass.
//
// 多数回 is taken as the ledger has it: each household month keeps its stored
// prior_benefit_months. A scenario that removes some benefit months would, in later months,
// also remove some 多数回; the simulation leaves that second-order effect out (as a static
// 機械的試算 does), so over a range of months it slightly understates the saving.
func Simulate(ctx context.Context, cfg SimConfig) (*SimSummary, error) {
	start := time.Now()
	if len(cfg.Scenarios) == 0 {
		return nil, fmt.Errorf("simulate: no scenario")
	}
	s := &simulation{cfg: cfg, base: cfg.Rules, workers: cfg.Workers, budget: cfg.MemoryBudget, log: cfg.Log,
		cells: map[cellKey]*simAcc{}, labels: make([]map[string]bool, len(cfg.Scenarios))}
	if s.base == nil {
		s.base = rules.Default()
	}
	if s.workers <= 0 {
		s.workers = runtime.GOMAXPROCS(0)
	}
	if s.budget <= 0 {
		s.budget = 2 << 30
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for i := range s.labels {
		s.labels[i] = map[string]bool{}
	}
	all, err := cfg.Ledger.Months()
	if err != nil {
		return nil, err
	}
	sum := &SimSummary{}
	for _, m := range all {
		if m >= cfg.From && m <= cfg.To {
			sum.Months = append(sum.Months, m)
		}
	}
	if len(sum.Months) == 0 {
		return nil, fmt.Errorf("simulate: the ledger %s holds no month in %s..%s", cfg.Ledger.Dir(), cfg.From, cfg.To)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	for _, m := range sum.Months {
		in, err := s.month(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("simulate %s: %w", m, err)
		}
		sum.Inputs = append(sum.Inputs, in)
	}
	for i, sc := range cfg.Scenarios {
		sum.Scenarios = append(sum.Scenarios, sc.Name)
		sum.Labels = append(sum.Labels, joinKeys(s.labels[i]))
	}
	sum.Rows = s.rows(sum.Scenarios, sum.Labels)
	sum.Households, sum.Receipts = s.households, s.receipts
	sum.Mismatches, sum.MismatchYen = s.mismatches, s.mismatchYen
	if s.mismatches > 0 {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%d household months recomputed under the ledger's tables differ from the ledger (by ¥%d in all): were the months computed with another rule table (--rules)? Differences are against the ledger, so they include this gap",
			s.mismatches, s.mismatchYen))
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

func joinKeys(m map[string]bool) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}

// simulation is one Simulate call's state.
type simulation struct {
	cfg     SimConfig
	base    *rules.Set
	workers int
	budget  int64
	log     *slog.Logger
	labels  []map[string]bool

	mu                      sync.Mutex // guards what follows, merged from the workers
	cells                   map[cellKey]*simAcc
	households, receipts    int64
	mismatches, mismatchYen int64
}

// simAcc sums one cell; the slices are per scenario.
type simAcc struct {
	households, persons, cost, inKind, cash int64
	sInKind, sCash, affected, affectedP     []int64
}

func newSimAcc(n int) *simAcc {
	return &simAcc{sInKind: make([]int64, n), sCash: make([]int64, n), affected: make([]int64, n), affectedP: make([]int64, n)}
}

func (a *simAcc) add(b *simAcc) {
	a.households += b.households
	a.persons += b.persons
	a.cost += b.cost
	a.inKind += b.inKind
	a.cash += b.cash
	for i := range a.sInKind {
		a.sInKind[i] += b.sInKind[i]
		a.sCash[i] += b.sCash[i]
		a.affected[i] += b.affected[i]
		a.affectedP[i] += b.affectedP[i]
	}
}

// receiptRows counts a version's receipt rows from the Parquet footers (rows hidden by a
// newer layer included: it only sizes the partitions).
func receiptRows(v *ledger.Version) int64 {
	var n int64
	for _, layer := range v.Layers {
		groups, err := output.RowGroups(filepath.Join(layer, output.ReceiptBenefitFile))
		if err != nil {
			continue
		}
		for _, g := range groups {
			n += g
		}
	}
	return n
}

// month simulates one month, its households built by the pipeline as a monthly run builds them.
func (s *simulation) month(ctx context.Context, m rules.Month) (MonthInput, error) {
	t0 := time.Now()
	v, err := s.cfg.Ledger.Current(m)
	if err != nil {
		return MonthInput{}, err
	}
	tables := make([]*rules.Table, len(s.cfg.Scenarios))
	base, err := s.base.For(m)
	if err != nil {
		return MonthInput{}, err
	}
	for i, sc := range s.cfg.Scenarios {
		if tables[i], err = sc.Rules.For(m); err != nil {
			var nt *rules.NoTableError
			if errors.As(err, &nt) {
				return MonthInput{}, fmt.Errorf("scenario %s has no table for service month %s (its tables cover %s)", sc.Name, m, nt.Covered)
			}
			return MonthInput{}, err
		}
		s.labels[i][tables[i].Label()] = true
	}
	var read atomic.Int64
	var workers []*simWorker
	err = pipeline.Households(ctx, pipeline.Feed{Month: m, Receipts: receiptRows(v), MembersDecided: true,
		Workers: s.workers, MemoryBudget: s.budget, SpillDir: s.cfg.SpillDir, Log: s.log,
		ReadReceipts: func(ctx context.Context, emit func(*aggregate.Receipt) error) error {
			return feedReceipts(ctx, v, emit, &read)
		},
		ReadMembers: func(_ context.Context, emit func(*aggregate.Member) error) error { return feedMembers(v, emit) },
		ReadHistory: func(ctx context.Context, emit func(*aggregate.History) error) error { return feedHistory(ctx, v, emit) },
	}, func() pipeline.FeedWorker {
		w := s.newWorker(m, base, tables)
		workers = append(workers, w) // newWorker is called on this goroutine
		return w
	})
	if err != nil {
		return MonthInput{}, err
	}
	for _, w := range workers {
		s.merge(w)
	}
	s.log.Info("month simulated", "month", m.String(), "receipts", read.Load(), "scenarios", len(tables), "seconds", time.Since(t0).Seconds())
	return MonthInput{Month: m.String(), LedgerVersion: v.Number, RulesVersion: base.Label()}, nil
}

// feedReceipts gives the ledger's receipts to the pipeline. A receipt carries its
// ledger cash to the household in aggregate.Receipt.Line: Line only names a receipt's place
// in an input file for a reject message, and a receipt of the ledger has no such place (nor,
// having been accepted once, a reason to be rejected: Join failing is an error here), so the
// household gets its ledger cash with its receipts, without a lookup.
func feedReceipts(ctx context.Context, v *ledger.Version, emit func(*aggregate.Receipt) error, read *atomic.Int64) error {
	var x aggregate.Receipt
	n := 0
	return v.Receipts(func(r *output.ReceiptBenefit) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var err1, err2, err3 error
		x = aggregate.Receipt{ID: r.ReceiptID, InsurerNo: r.InsurerNo, PersonID: r.PersonID,
			InstitutionID: r.InstitutionID, PrescriberID: r.PrescriberID, Cost: r.Cost, Copay: r.Copay, Paid: r.Paid,
			Line: r.BenefitCash}
		x.Kind, err1 = rules.ParseKind(r.Kind)
		x.Setting, err2 = rules.ParseSetting(r.Setting)
		x.Tokutei, err3 = rules.ParseTokutei(r.Tokutei)
		if err := firstErr(err1, err2, err3); err != nil {
			return fmt.Errorf("the ledger's receipt %s: %w", r.ReceiptID, err)
		}
		read.Add(1)
		return emit(&x)
	})
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// feedMembers gives the ledger's member rows (those in force in the month, kept by its
// first run) to the pipeline.
func feedMembers(v *ledger.Version, emit func(*aggregate.Member) error) error {
	var row int64
	return v.Members(func(m *receipt.MemberRow) error {
		row++
		x := aggregate.Member{InsurerNo: m.InsurerNo, PersonID: m.PersonID, HouseholdID: m.HouseholdID,
			Sex: m.Sex, To: aggregate.OpenEnd, Line: row}
		var errs [6]error
		x.Birth, errs[0] = rules.ParseDate(m.BirthDate)
		x.From, errs[1] = rules.ParseMonth(m.ValidFrom)
		if m.ValidTo != "" {
			x.To, errs[2] = rules.ParseMonth(m.ValidTo)
		}
		if m.HalfLimitsMonth != "" {
			x.HalfMonth, errs[3] = rules.ParseMonth(m.HalfLimitsMonth)
		}
		x.ClassU70, errs[4] = rules.ParseClassU70(m.CategoryU70)
		x.Class70, errs[5] = rules.ParseClass70(m.Category70)
		if err := firstErr(errs[:]...); err != nil {
			return fmt.Errorf("the ledger's member row of %s/%s: %w", m.InsurerNo, m.PersonID, err)
		}
		return emit(&x)
	})
}

// feedHistory gives every household its stored 多数回 count: prior_benefit_months becomes
// that many distinct counting months among the 11 before, which is all the computation reads
// of the history (aggregate counts distinct months).
func feedHistory(ctx context.Context, v *ledger.Version, emit func(*aggregate.History) error) error {
	err := v.HouseholdMonths(func(h *output.HouseholdMonth) error {
		for k := 1; k <= int(min(h.PriorBenefitMonths, 11)); k++ {
			if err := emit(&aggregate.History{InsurerNo: h.InsurerNo, HouseholdID: h.HouseholdID, Month: v.Month - rules.Month(k)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}

// simWorker computes households for one goroutine.
type simWorker struct {
	s      *simulation
	month  rules.Month
	base   *rules.Table
	tables []*rules.Table
	calc0  *rules.Calculator
	calcs  []*rules.Calculator
	r0, r  rules.Result
	scen   rules.Household
	buf    []rules.Receipt
	cells  map[cellKey]*simAcc
	// The outcomes of the partition being computed, kept for its turn (Done), their
	// scenario amounts in vals: in kind then cash, len(tables) each, per outcome.
	outcomes []Outcome
	vals     []int64
	n, recs  int64
	mismatch int64
	gap      int64
}

func (s *simulation) newWorker(m rules.Month, base *rules.Table, tables []*rules.Table) *simWorker {
	w := &simWorker{s: s, month: m, base: base, tables: tables, cells: map[cellKey]*simAcc{},
		calc0: rules.NewCalculator(s.base)}
	for _, sc := range s.cfg.Scenarios {
		w.calcs = append(w.calcs, rules.NewCalculator(sc.Rules))
	}
	return w
}

func (w *simWorker) Household(h *aggregate.Household) error {
	if h.Conflict != "" {
		return fmt.Errorf("household %s of insurer %s: %s", h.HouseholdID, h.InsurerNo, h.Conflict)
	}
	var ledgerCash, inKind, cost int64
	for _, r := range h.Receipts {
		ledgerCash += r.Line
	}
	for i := range h.Rules.Receipts {
		rc := &h.Rules.Receipts[i]
		inKind += rc.Copay - rc.Paid
		cost += rc.Cost
	}
	if err := w.calc0.Compute(&h.Rules, &w.r0); err != nil {
		return fmt.Errorf("household %s of insurer %s: %w", h.HouseholdID, h.InsurerNo, err)
	}
	if w.r0.Cash != ledgerCash {
		w.mismatch++
		w.gap += max(w.r0.Cash-ledgerCash, ledgerCash-w.r0.Cash)
	}
	var young, old bool
	for i := range h.Rules.Receipts {
		if w.r0.Elderly[h.Rules.Receipts[i].Member] {
			old = true
		} else {
			young = true
		}
	}
	age := householdAge(young, old)
	k := cellKey{InsurerType(h.InsurerNo), age, incomeClass(age, h.ClassU70.String(), h.Class70.String())}
	a := w.cells[k]
	if a == nil {
		a = newSimAcc(len(w.tables))
		w.cells[k] = a
	}
	a.households++
	a.persons += int64(len(h.Persons))
	a.cost += cost
	a.inKind += inKind
	a.cash += ledgerCash
	w.n++
	w.recs += int64(len(h.Receipts))
	now := inKind + ledgerCash
	keep := w.s.cfg.Household != nil
	var vals []int64 // this outcome's scenario amounts, when kept
	if keep {
		at, n := len(w.vals), len(w.tables)
		w.vals = slices.Grow(w.vals, 2*n)[:at+2*n]
		vals = w.vals[at:]
	}
	for i, calc := range w.calcs {
		// The scenario's household: h's, with its own copy of the receipts (paid moves).
		w.buf = append(w.buf[:0], h.Rules.Receipts...)
		w.scen = h.Rules
		w.scen.Receipts = w.buf
		for j := range w.scen.Receipts {
			rc := &w.scen.Receipts[j]
			rc.Paid = counterPaid(w.base, w.tables[i], &h.Rules, rc, w.r0.Elderly[rc.Member], h.Rules.Members[rc.Member].HalfLimits)
		}
		if err := calc.Compute(&w.scen, &w.r); err != nil {
			return fmt.Errorf("household %s of insurer %s under scenario %s: %w", h.HouseholdID, h.InsurerNo, w.s.cfg.Scenarios[i].Name, err)
		}
		a.sInKind[i] += w.r.InKind
		a.sCash[i] += w.r.Cash
		if w.r.InKind+w.r.Cash != now {
			a.affected[i]++
			a.affectedP[i] += int64(len(h.Persons))
		}
		if keep {
			vals[i], vals[len(w.tables)+i] = w.r.InKind, w.r.Cash
		}
	}
	if keep {
		w.outcomes = append(w.outcomes, Outcome{Month: w.month, InsurerNo: h.InsurerNo, HouseholdID: h.HouseholdID,
			Persons: len(h.Persons), InsurerType: k.typ, AgeGroup: k.age, IncomeClass: k.class, Cost: cost,
			InKind: inKind, Cash: ledgerCash, Recomputed: w.r0.Cash})
	}
	return nil
}

// Done gives the outcomes of partition q, just computed, to SimConfig.Household (the
// pipeline calls it in partition order, so the outcomes come in one order). The outcomes'
// strings alias the partition's data, which the worker keeps until it reads the next.
func (w *simWorker) Done(q int) error {
	if w.s.cfg.Household == nil {
		return nil
	}
	n := len(w.tables)
	var err error
	for i := range w.outcomes {
		o := &w.outcomes[i]
		v := w.vals[2*n*i : 2*n*(i+1)]
		o.ScenarioInKind, o.ScenarioCash = v[:n:n], v[n:]
		if err = w.s.cfg.Household(o); err != nil {
			break
		}
	}
	clear(w.outcomes) // drop the partition's strings
	w.outcomes, w.vals = w.outcomes[:0], w.vals[:0]
	return err
}

// merge adds a finished worker's sums.
func (s *simulation) merge(w *simWorker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, a := range w.cells {
		if s.cells[k] == nil {
			s.cells[k] = newSimAcc(len(a.sCash))
		}
		s.cells[k].add(a)
	}
	s.households += w.n
	s.receipts += w.recs
	s.mismatches += w.mismatch
	s.mismatchYen += w.gap
}

// rows lays the sums out, cell by cell in table order, the scenarios in the order given.
func (s *simulation) rows(names, labels []string) []SimRow {
	var out []SimRow
	for _, k := range sortedCells(s.cells) {
		a := s.cells[k]
		for i, name := range names {
			out = append(out, simRow(k, name, labels[i], a, i))
		}
	}
	return out
}

func simRow(k cellKey, name, label string, a *simAcc, i int) SimRow {
	r := SimRow{InsurerType: k.typ, AgeGroup: k.age, IncomeClass: k.class, Scenario: name, ScenarioRules: label,
		Households: a.households, Persons: a.persons, Cost: a.cost, NowInKind: a.inKind, NowCash: a.cash,
		NowTotal: a.inKind + a.cash, InKind: a.sInKind[i], Cash: a.sCash[i], Total: a.sInKind[i] + a.sCash[i],
		AffectedHouseholds: a.affected[i], AffectedPersons: a.affectedP[i]}
	r.Difference = r.Total - r.NowTotal
	r.YenPerAffectedPerson = perCase(r.Difference, r.AffectedPersons)
	if r.Cost > 0 {
		r.RateChangePoints = float64(r.Difference) / float64(r.Cost) * 100
		r.RateChangePoints = math.Round(r.RateChangePoints*1e6) / 1e6
	}
	return r
}
