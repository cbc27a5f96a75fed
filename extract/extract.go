package extract

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Config is one extract.
type Config struct {
	Ledger   *ledger.Ledger
	From, To rules.Month
	// Rules are the tables the ledger's months were computed with (the outpatient limits and
	// the annual cap come from them); nil: the embedded tables.
	Rules       *rules.Set
	Out         string
	CommandLine []string
}

// Summary is what Run wrote.
type Summary struct {
	Months        []rules.Month // the ledger months read, in order
	AnnualPeriods []rules.Month // the Aug–Jul periods of the annual cap table
	Totals        Totals
	Tables        *Tables
	Warnings      []string
}

// Run extracts the tables of the ledger's months in [From, To] into Out (Parquet, CSV,
// report.html and manifest.json), after checking that every table reconciles with the
// household rows read. On error nothing is left at Out.
//
// Memory: the burden deciles hold 16 bytes per household month, and the outpatient and annual
// tables one entry per 70+ patient of the classes with an outpatient limit; everything else
// streams.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	set := cfg.Rules
	if set == nil {
		set = rules.Default()
	}
	if cfg.To < cfg.From {
		return nil, fmt.Errorf("extract: --to %s is before --from %s", cfg.To, cfg.From)
	}
	all, err := cfg.Ledger.Months()
	if err != nil {
		return nil, err
	}
	held := map[rules.Month]bool{}
	sum := &Summary{}
	for _, m := range all {
		held[m] = true
		if m >= cfg.From && m <= cfg.To {
			sum.Months = append(sum.Months, m)
		}
	}
	if len(sum.Months) == 0 {
		return nil, fmt.Errorf("extract: the ledger %s holds no month in %s..%s", cfg.Ledger.Dir(), cfg.From, cfg.To)
	}
	for m := cfg.From; m <= cfg.To; m++ {
		if !held[m] {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("month %s is not in the ledger: the tables leave it out", m))
		}
	}
	x := newExtractor()
	var inputs []MonthInput
	for _, m := range sum.Months {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := cfg.Ledger.Current(m)
		if err != nil {
			return nil, err
		}
		table, err := set.For(m)
		if err != nil {
			return nil, err
		}
		if err := x.month(ctx, v, table); err != nil {
			return nil, fmt.Errorf("extract %s: %w", m, err)
		}
		inputs = append(inputs, MonthInput{Month: m.String(), LedgerVersion: v.Number, RulesVersion: table.Label()})
	}
	for p := cfg.From; p+11 <= cfg.To; p++ {
		if p.Num() != 8 {
			continue
		}
		whole := true
		for m := p; m <= p+11; m++ {
			whole = whole && held[m]
		}
		if !whole {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("annual cap %s..%s: the ledger lacks a month of the period; no annual table for it", p, p+11))
			continue
		}
		if err := x.annual(cfg.Ledger, set, p); err != nil {
			return nil, fmt.Errorf("extract annual %s: %w", p, err)
		}
		sum.AnnualPeriods = append(sum.AnnualPeriods, p)
	}
	sum.Tables = x.tables()
	sum.Totals = x.totals
	sum.Warnings = append(sum.Warnings, x.warnings...)
	if err := reconcile(sum.Tables, sum.Totals); err != nil {
		return nil, err
	}
	return sum, write(cfg, sum, inputs)
}

// extractor sums the months read.
type extractor struct {
	benefit    map[cellKey]*benefitAcc
	persons    map[cellKey]*personAcc
	outpatient map[cellKey]*outpatientAcc
	patients   map[[2]string]*patient
	annualRows []AnnualRow
	burdens    []burden
	months     []MonthRow
	totals     Totals
	warnings   []string
}

type personAcc struct{ persons, personsCash, cash, outPaid, outCash, inPaid int64 }

type outpatientAcc struct{ months, reached, persons, personsReached int64 }

// patient is one 70+ patient of an outpatient-limit class over the months read.
type patient struct {
	typ, class string
	reached    bool
}

// burden is one household month's own burden before and after the benefit.
type burden struct{ before, after int64 }

func newExtractor() *extractor {
	return &extractor{benefit: map[cellKey]*benefitAcc{}, persons: map[cellKey]*personAcc{},
		outpatient: map[cellKey]*outpatientAcc{}, patients: map[[2]string]*patient{}}
}

func getAcc[V any](m map[cellKey]*V, k cellKey) *V {
	a := m[k]
	if a == nil {
		a = new(V)
		m[k] = a
	}
	return a
}

// needsCost: some outpatient limit of the table depends on the cost (the 一般Ⅱ 配慮措置), so
// the month's receipts are read for each 70+ patient's outpatient cost.
func needsCost(t *rules.Table) bool {
	for c := range t.O70 {
		if l := t.O70[c]; l.Present && l.HasOutpatient && l.Outpatient.RateNum != 0 {
			return true
		}
	}
	return false
}

// month reads one ledger month: its household rows, and beside them (same household order)
// its person rows and, when an outpatient limit needs the cost, its receipts.
func (x *extractor) month(ctx context.Context, v *ledger.Version, table *rules.Table) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	persons := follow(ctx, "person", v.Persons, personKey)
	var receipts *follower[output.ReceiptBenefit]
	if needsCost(table) {
		receipts = follow(ctx, "receipt", v.Receipts, receiptKey)
	}
	mr := MonthRow{ServiceMonth: v.Month.String(), LedgerVersion: int32(v.Number), RulesVersion: table.Label()}
	otherRules := map[string]bool{}
	err := v.HouseholdMonths(func(h *output.HouseholdMonth) error {
		k := householdKey(h)
		ps, err := persons.next(k)
		if err != nil {
			return err
		}
		var rs []output.ReceiptBenefit
		if receipts != nil {
			if rs, err = receipts.next(k); err != nil {
				return err
			}
		}
		if h.RulesVersion != table.Label() {
			otherRules[h.RulesVersion] = true
		}
		x.household(&mr, table, h, ps, rs)
		return nil
	})
	if err == nil {
		err = persons.end()
	}
	if err == nil && receipts != nil {
		err = receipts.end()
	}
	if err != nil {
		return err
	}
	for _, r := range slices.Sorted(maps.Keys(otherRules)) {
		x.warnings = append(x.warnings, fmt.Sprintf("month %s: some households were computed with rules %s, not %s: the outpatient limits are %s's", v.Month, r, table.Label(), table.Label()))
	}
	x.months = append(x.months, mr)
	x.totals.Households += mr.Households
	x.totals.Cases += mr.Cases
	x.totals.YenInKind += mr.YenInKind
	x.totals.YenCash += mr.YenCash
	return nil
}

// household adds one household month, with its person rows and (when read) its receipts.
func (x *extractor) household(mr *MonthRow, table *rules.Table, h *output.HouseholdMonth, ps []output.PersonMonth, rs []output.ReceiptBenefit) {
	typ := InsurerType(h.InsurerNo)
	var young, old bool
	for i := range ps {
		if ps[i].AgeGroup == output.AgeGroup70Plus {
			old = true
		} else {
			young = true
		}
	}
	age := householdAge(young, old)
	a := getAcc(x.benefit, cellKey{typ, age, incomeClass(age, h.CategoryU70, h.Category70)})
	benefit := h.BenefitInKind + h.BenefitCash
	a.households++
	a.copay += h.CopayTotal
	a.paid += h.PaidTotal
	a.inKind += h.BenefitInKind
	a.cash += h.BenefitCash
	mr.Households++
	mr.YenInKind += h.BenefitInKind
	mr.YenCash += h.BenefitCash
	if benefit > 0 {
		a.cases++
		mr.Cases++
		if h.BenefitInKind > 0 {
			a.casesInKind++
		}
		if h.BenefitCash > 0 {
			a.casesCash++
		}
		if h.TasukaiApplied {
			a.tasukaiCases++
			a.tasukaiInKind += h.BenefitInKind
			a.tasukaiCash += h.BenefitCash
			mr.TasukaiCases++
		}
	}
	x.burdens = append(x.burdens, burden{before: h.CopayTotal, after: h.PaidTotal - h.BenefitCash})

	for i := range ps {
		p := &ps[i]
		pa := getAcc(x.persons, cellKey{typ, p.AgeGroup, incomeClass(p.AgeGroup, h.CategoryU70, h.Category70)})
		pa.persons++
		pa.cash += p.BenefitCash
		pa.outPaid += p.OutpatientPaid
		pa.outCash += p.OutpatientBenefitCash
		pa.inPaid += p.InpatientPaid
		if p.BenefitCash > 0 {
			pa.personsCash++
		}
		mr.Persons++
		mr.PersonsCash += p.BenefitCash
		if p.AgeGroup == output.AgeGroup70Plus && p.OutpatientPaid > 0 && annualClass(h.Category70) {
			x.outpatientMonth(table, typ, h.Category70, p, rs)
		}
	}
}

// outpatientMonth counts one 70+ patient's month against the class's outpatient limit. The
// limit at the counter brings paid down to the limit exactly and a cash benefit is paid above
// it, so "reached" is paid ≥ limit. (A person in the month of their 75th birthday has halved
// limits, which the ledger does not record per person: such a month counts against the whole
// limit.)
func (x *extractor) outpatientMonth(table *rules.Table, typ, class string, p *output.PersonMonth, rs []output.ReceiptBenefit) {
	c, err := rules.ParseClass70(class)
	if err != nil || !table.O70[c].HasOutpatient {
		return
	}
	f := table.O70[c].Outpatient
	var cost int64
	if f.RateNum != 0 {
		for i := range rs {
			if rs[i].PersonID == p.PersonID && rs[i].Setting == rules.Outpatient.String() {
				cost += rs[i].Cost
			}
		}
	}
	reached := p.OutpatientPaid >= f.Limit(cost)
	oa := getAcc(x.outpatient, cellKey{typ, Age70Plus, class})
	oa.months++
	pt := x.patients[[2]string{p.InsurerNo, p.PersonID}]
	if pt == nil {
		pt = &patient{}
		x.patients[[2]string{p.InsurerNo, p.PersonID}] = pt
	}
	pt.typ, pt.class = typ, class // the last month's class
	if reached {
		oa.reached++
		pt.reached = true
	}
}

// annual runs the ledger's annual outpatient cap for the period into a scratch directory and
// counts its persons by type and July class.
func (x *extractor) annual(l *ledger.Ledger, set *rules.Set, period rules.Month) error {
	tmp, err := os.MkdirTemp("", "batch-extract-annual-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "annual")
	if _, err := l.Annual(period, set, out, nil); err != nil {
		return err
	}
	rows, err := output.ReadAll[output.AnnualOutpatient](filepath.Join(out, output.AnnualOutpatientFile))
	if err != nil {
		return err
	}
	july := period + 11
	table, err := set.For(july)
	if err != nil {
		return err
	}
	class := make(map[[2]string]string, len(rows))
	for _, r := range rows {
		class[[2]string{r.InsurerNo, r.PersonID}] = ""
	}
	v, err := l.Current(july)
	if err != nil {
		return err
	}
	if err := v.Members(func(m *receipt.MemberRow) error {
		k := [2]string{m.InsurerNo, m.PersonID}
		if _, ok := class[k]; ok {
			class[k] = m.Category70
		}
		return nil
	}); err != nil {
		return err
	}
	acc := map[cellKey]*AnnualRow{}
	for _, r := range rows {
		k := cellKey{InsurerType(r.InsurerNo), "", class[[2]string{r.InsurerNo, r.PersonID}]}
		a := acc[k]
		if a == nil {
			a = &AnnualRow{PeriodStart: period.String(), InsurerType: k.typ, IncomeClass: k.class, Cap: table.AnnualOutpatientCap}
			acc[k] = a
		}
		a.Persons++
		a.PayoutYen += r.Payout
		if r.Payout > 0 {
			a.PersonsReached++
		}
	}
	for _, k := range sortedCells(acc) {
		a := acc[k]
		a.Share = share(a.PersonsReached, a.Persons)
		x.annualRows = append(x.annualRows, *a)
	}
	return nil
}

// tables turns the sums into rows, in table order.
func (x *extractor) tables() *Tables {
	t := &Tables{Months: x.months, Annual: x.annualRows}
	for _, k := range sortedCells(x.benefit) {
		t.Benefit = append(t.Benefit, x.benefit[k].row(k))
	}
	for _, k := range sortedCells(x.persons) {
		a := x.persons[k]
		t.Persons = append(t.Persons, PersonRow{InsurerType: k.typ, AgeGroup: k.age, IncomeClass: k.class,
			Persons: a.persons, PersonsCash: a.personsCash, YenCash: a.cash, OutpatientPaid: a.outPaid,
			OutpatientCash: a.outCash, InpatientPaid: a.inPaid})
	}
	for _, p := range x.patients {
		oa := getAcc(x.outpatient, cellKey{p.typ, Age70Plus, p.class})
		oa.persons++
		if p.reached {
			oa.personsReached++
		}
	}
	for _, k := range sortedCells(x.outpatient) {
		a := x.outpatient[k]
		t.Outpatient = append(t.Outpatient, OutpatientRow{InsurerType: k.typ, IncomeClass: k.class,
			PersonMonths: a.months, PersonMonthsReached: a.reached, ShareMonths: share(a.reached, a.months),
			Persons: a.persons, PersonsReached: a.personsReached, SharePersons: share(a.personsReached, a.persons)})
	}
	t.Deciles = deciles(x.burdens)
	return t
}

// deciles ranks the household months by each measure and cuts them into tenths by rank
// (decile d holds ranks [n·d/10, n·(d+1)/10)); ties are ordered by the other measure so that
// the cut, and therefore each decile's sums, do not depend on the order of reading.
func deciles(b []burden) []DecileRow {
	var out []DecileRow
	n := len(b)
	for _, ranking := range []string{"before", "after"} {
		by := func(x burden) (int64, int64) { return x.before, x.after }
		if ranking == "after" {
			by = func(x burden) (int64, int64) { return x.after, x.before }
		}
		slices.SortFunc(b, func(p, q burden) int {
			p1, p2 := by(p)
			q1, q2 := by(q)
			return cmp.Or(cmp.Compare(p1, q1), cmp.Compare(p2, q2))
		})
		for d := 0; d < 10; d++ {
			lo, hi := n*d/10, n*(d+1)/10
			r := DecileRow{Ranking: ranking, Decile: int32(d + 1), Households: int64(hi - lo)}
			for i := lo; i < hi; i++ {
				r.YenBefore += b[i].before
				r.YenAfter += b[i].after
			}
			if hi > lo {
				r.Min, _ = by(b[lo])
				r.Max, _ = by(b[hi-1])
			}
			r.YenBenefit = r.YenBefore - r.YenAfter
			r.MeanBefore, r.MeanAfter = perCase(r.YenBefore, r.Households), perCase(r.YenAfter, r.Households)
			out = append(out, r)
		}
	}
	return out
}

// reconcile checks every table's yen against the household rows read: the household table's
// in kind and cash, the person table's cash (the ledger apportions every yen of cash to a
// person) and the deciles' benefit in each ranking.
func reconcile(t *Tables, tot Totals) error {
	var errs []error
	eq := func(what string, got, want int64) {
		if got != want {
			errs = append(errs, fmt.Errorf("extract: %s: %d, but the ledger's household rows hold %d", what, got, want))
		}
	}
	var inKind, cash, households, cases, pcash int64
	for _, r := range t.Benefit {
		inKind += r.YenInKind
		cash += r.YenCash
		households += r.Households
		cases += r.Cases
	}
	for _, r := range t.Persons {
		pcash += r.YenCash
	}
	eq(BenefitFile+" yen_in_kind", inKind, tot.YenInKind)
	eq(BenefitFile+" yen_cash", cash, tot.YenCash)
	eq(BenefitFile+" households", households, tot.Households)
	eq(BenefitFile+" cases", cases, tot.Cases)
	eq(PersonFile+" yen_cash", pcash, tot.YenCash)
	for _, ranking := range []string{"before", "after"} {
		var benefit, n int64
		for _, r := range t.Deciles {
			if r.Ranking == ranking {
				benefit += r.YenBenefit
				n += r.Households
			}
		}
		eq(DecileFile+" "+ranking+" benefit_yen", benefit, tot.YenInKind+tot.YenCash)
		eq(DecileFile+" "+ranking+" households", n, tot.Households)
	}
	return errors.Join(errs...)
}

// write publishes the tables, the report and the manifest in one directory.
func write(cfg Config, sum *Summary, inputs []MonthInput) error {
	d, err := output.Create(cfg.Out)
	if err != nil {
		return err
	}
	defer d.Abort()
	var outs []output.OutputFile
	add := func(files []output.OutputFile, err error) error {
		outs = append(outs, files...)
		return err
	}
	t := sum.Tables
	if err := errors.Join(
		add(writeTable(d, BenefitFile, t.Benefit)),
		add(writeTable(d, PersonFile, t.Persons)),
		add(writeTable(d, OutpatientFile, t.Outpatient)),
		add(writeTable(d, AnnualFile, t.Annual)),
		add(writeTable(d, DecileFile, t.Deciles)),
		add(writeTable(d, MonthFile, t.Months)),
	); err != nil {
		return err
	}
	html, err := renderReport(cfg, sum)
	if err != nil {
		return err
	}
	if err := writeFile(d, ReportFile, html); err != nil {
		return err
	}
	outs = append(outs, output.OutputFile{Name: ReportFile})
	m := Manifest{Command: "extract", CommandLine: cfg.CommandLine, From: cfg.From.String(), To: cfg.To.String(),
		Months: inputs, Outputs: outs, Totals: sum.Totals, Reconciled: true, Warnings: sum.Warnings}
	for _, p := range sum.AnnualPeriods {
		m.AnnualPeriods = append(m.AnnualPeriods, p.String())
	}
	if m.Warnings == nil {
		m.Warnings = []string{}
	}
	if m.CommandLine == nil {
		m.CommandLine = []string{}
	}
	if err := d.WriteJSON(output.ManifestFile, m); err != nil {
		return err
	}
	return d.Commit()
}
