package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// partResult is the output rows of one household partition. Its strings alias the scratch
// the partition was read and decoded in, which therefore goes with the rows to the writer
// and, once they are written, comes back with them to be used for another partition.
type partResult struct {
	households []output.HouseholdMonth
	// receipts are the receipt rows column by column, as the household pass makes them: the
	// writer takes each column at once instead of reading 190-byte rows back from memory (on
	// the 10M month, two gigabytes written and read again). Its plain strings are copies; its
	// dictionary columns' values are the scratch's insurer numbers and constant names.
	receipts *output.Columns[output.ReceiptBenefit]
	rc       receiptColumns // receipts' columns, appended to directly
	persons  []output.PersonMonth
	members  []receipt.MemberRow // with Config.KeepMembers
	// text holds the rows' ids, copied while the household pass has them in the caches: the
	// writers read them in row order from here, instead of each from its record in the
	// partition's memory, which the caches have lost by the time a writer takes the rows.
	text []byte
	totals
	scratch aggregate.Scratch
	routed  aggregate.RoutedJoin // the way of routed partitions: the join's memory (see readPart)
	encoded any                  // Config.Written's encoding of the rows
}

// receiptColumns are the columns of output.ReceiptBenefit, which the household pass appends
// a receipt's values to one by one instead of building its row (output.Columns).
type receiptColumns struct {
	receiptID, insurerNo, householdID, personID, serviceMonth, kind, setting output.StringColumn
	institutionID, prescriberID, tokutei                                     output.StringColumn
	cost, copay, paid, benefitCash                                           output.IntColumn
	included                                                                 output.BoolColumn
}

// receiptColumnsOf finds the columns of b. The names are ReceiptBenefit's tags, so an error
// is a mistake in this file: it panics, and every run would show it.
func receiptColumnsOf(b *output.Columns[output.ReceiptBenefit]) receiptColumns {
	var errs []error
	str := func(name string) output.StringColumn {
		c, err := b.StringColumn(name)
		errs = append(errs, err)
		return c
	}
	num := func(name string) output.IntColumn {
		c, err := b.IntColumn(name)
		errs = append(errs, err)
		return c
	}
	included, err := b.BoolColumn("included")
	rc := receiptColumns{
		receiptID: str("receipt_id"), insurerNo: str("insurer_no"), householdID: str("household_id"),
		personID: str("person_id"), serviceMonth: str("service_month"), kind: str("kind"), setting: str("setting"),
		institutionID: str("institution_id"), prescriberID: str("prescriber_id"), tokutei: str("tokutei"),
		cost: num("cost"), copay: num("copay"), paid: num("paid"), benefitCash: num("benefit_cash"), included: included,
	}
	if err := errors.Join(append(errs, err)...); err != nil {
		panic(err)
	}
	return rc
}

// totals are the sums the manifest reconciles.
type totals struct {
	accepted, paidAccepted             int64
	cashHouseholds, cashReceipts       int64
	cashPersons                        int64
	householdsPaid, inKind, copayTotal int64
}

// add adds a partition's sums to the run's. Sums of yen are checked: within a partition
// they cannot wrap (every accepted amount is within rules.MaxAmount, and compute refuses a
// partition of more than rules.MaxSummed receipts), but over the partitions of a run they
// could, and a wrapped total would be paid as it stood.
func (t *totals) add(o *totals) error {
	t.accepted += o.accepted
	t.householdsPaid += o.householdsPaid
	for _, y := range [...]struct {
		name   string
		sum    *int64
		amount int64
	}{{"paid accepted", &t.paidAccepted, o.paidAccepted}, {"benefit_cash over households", &t.cashHouseholds, o.cashHouseholds},
		{"benefit_cash over receipts", &t.cashReceipts, o.cashReceipts}, {"benefit_cash over persons", &t.cashPersons, o.cashPersons},
		{"benefit_in_kind", &t.inKind, o.inKind}, {"copay", &t.copayTotal, o.copayTotal}} {
		s, ok := rules.AddYen(*y.sum, y.amount)
		if !ok {
			return overflowError(y.name)
		}
		*y.sum = s
	}
	return nil
}

// computer turns households into rows; one per worker.
type computer struct {
	r     *run
	calc  *rules.Calculator
	res   rules.Result
	month string
	label string
	out   *partResult
	used  []bool // per member of the current household: has a receipt
}

func (c *computer) household(h *aggregate.Household) error {
	if c.r.KeepMembers {
		for _, m := range h.Rows {
			c.out.members = append(c.out.members, memberRow(m, c.r.month))
		}
	}
	if len(h.Receipts) == 0 {
		return nil
	}
	if h.Conflict != "" {
		m := h.ConflictRow
		c.rejectAll(h, "CATEGORY_CONFLICT", h.Conflict+" ("+receipt.Position(c.r.memberFiles[m.File], m.Line)+")")
		return nil
	}
	if err := c.calc.Compute(&h.Rules, &c.res); err != nil {
		var ie *rules.InputError
		if errors.As(err, &ie) {
			c.rejectAll(h, ie.Code, ie.Error())
			return nil
		}
		return err
	}
	res, out := &c.res, c.out
	hh := out.keep(h.HouseholdID)
	out.households = append(out.households, output.HouseholdMonth{
		InsurerNo: h.InsurerNo, HouseholdID: hh, ServiceMonth: c.month,
		CategoryU70: h.ClassU70.String(), Category70: h.Class70.String(),
		PriorBenefitMonths: int32(h.Rules.PriorMonths), TasukaiApplied: res.TasukaiApplied,
		CountsForTasukai: res.CountsForTasukai, Receipts: len(h.Receipts),
		CopayTotal: res.CopayTotal, PaidTotal: res.PaidTotal, BenefitInKind: res.InKind,
		BenefitCash: res.Cash, StageA: res.StageA, StageB: res.StageB, StageC: res.StageC,
		StageTokutei: res.StageTokutei, RulesVersion: c.label,
	})
	out.cashHouseholds += res.Cash
	out.inKind += res.InKind
	out.copayTotal += res.CopayTotal
	if res.Cash > 0 {
		out.householdsPaid++
	}
	// The household's persons are made in place at the end of out.persons, and those without
	// a receipt taken out again below: a row made aside and copied over cost a copy of every
	// row (0.1 s of the 10M month).
	first := len(out.persons)
	for k, p := range h.Persons {
		age := output.AgeGroupU70
		if res.Elderly[k] {
			age = output.AgeGroup70Plus
		}
		out.persons = append(out.persons, output.PersonMonth{InsurerNo: h.InsurerNo, HouseholdID: hh,
			PersonID: out.keep(p), ServiceMonth: c.month, AgeGroup: age})
	}
	persons := out.persons[first:]
	if cap(c.used) < len(h.Persons) {
		c.used = make([]bool, 2*len(h.Persons))
	}
	used := c.used[:len(h.Persons)]
	clear(used)
	for i, rc := range h.Receipts {
		rr := res.Receipts[i]
		k := h.Rules.Receipts[i].Member
		pm := &persons[k]
		cols := &out.rc
		cols.receiptID.Append(rc.ID)
		cols.insurerNo.Append(h.InsurerNo)
		cols.householdID.Append(hh)
		cols.personID.Append(pm.PersonID)
		cols.serviceMonth.Append(c.month)
		cols.kind.Append(rc.Kind.String())
		cols.setting.Append(rc.Setting.String())
		cols.cost.Append(rc.Cost)
		cols.copay.Append(rc.Copay)
		cols.paid.Append(rc.Paid)
		cols.included.Append(rr.Included)
		cols.benefitCash.Append(rr.Cash)
		cols.institutionID.Append(rc.InstitutionID)
		cols.prescriberID.Append(rc.PrescriberID)
		cols.tokutei.Append(rc.Tokutei.String())
		out.receipts.EndRow()
		out.accepted++
		out.paidAccepted += rc.Paid
		out.cashReceipts += rr.Cash
		used[k] = true
		pm.BenefitCash += rr.Cash
		if rc.Setting == rules.Outpatient {
			pm.OutpatientPaid += rc.Paid
			pm.OutpatientBenefitCash += rr.Cash
		} else {
			pm.InpatientPaid += rc.Paid
		}
	}
	kept := first
	for k := range persons {
		if used[k] { // one row per person with a receipt
			out.persons[kept] = persons[k]
			out.cashPersons += persons[k].BenefitCash
			kept++
		}
	}
	clear(out.persons[kept:]) // no references kept past the end
	out.persons = out.persons[:kept]
	return nil
}

func (c *computer) rejectAll(h *aggregate.Household, reason, detail string) {
	for _, rc := range h.Receipts {
		c.r.rejects.receipt(rc, reason, detail)
	}
}

// compute runs pass 3: workers compute the household partitions, lowest first, and one writer
// writes their rows in partition order. A worker takes a slot before it takes a partition, so
// at most `slots` partitions' rows are held at once and the lowest one outstanding always has
// a slot: the writer can always make progress.
//
// afterReads is started on its own goroutine once no worker reads parts any more.
func (r *run) compute(ctx context.Context, parts *aggregate.Spill, w *writers, afterReads func()) (totals, error) {
	return r.computeFrom(ctx, parts.Parts(), func(res *partResult, q int) (aggregate.Part, error) { return res.scratch.Read(parts, q) }, w, afterReads)
}

// computeFrom is compute over n partitions that read gives, into a result's memory.
func (r *run) computeFrom(ctx context.Context, n int, read func(res *partResult, q int) (aggregate.Part, error), w *writers, afterReads func()) (totals, error) {
	results := make([]chan *partResult, n)
	for q := range results {
		results[q] = make(chan *partResult, 1)
	}
	slots := make(chan struct{}, r.workers+1)
	// Results are reused (a worker takes one from free after its slot, or makes one), but only
	// once nothing refers to their scratch: the writers hold up to a page check's rows of a
	// partition until the next partition's rows come (output.Writer), so the writer gives back
	// a partition's result after it has written the next one. At most one result per slot,
	// and that one, exist.
	free := make(chan *partResult, r.workers+2)
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	var reading sync.WaitGroup
	reading.Add(r.workers)
	go func() {
		reading.Wait()
		afterReads()
	}()
	for wk := 0; wk < r.workers; wk++ {
		c := &computer{r: r, calc: rules.NewCalculator(r.rules), month: r.month.String(), label: r.table.Label()}
		g.Go(guard(func() error {
			defer reading.Done()
			for {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				q := int(next.Add(1) - 1)
				if q >= n {
					<-slots
					return nil
				}
				var res *partResult
				select {
				case res = <-free:
				default:
					res = new(partResult)
				}
				data, err := read(res, q)
				if err != nil {
					return err
				}
				if int64(data.Receipts()) > rules.MaxSummed { // see totals.add
					return fmt.Errorf("partition %d holds %d receipts, more than a sum of yen can hold without wrapping", q, data.Receipts())
				}
				res.reset(data.Receipts())
				c.out = res
				if err := res.scratch.Households(data, r.month, r.KeepMembers, func(x *aggregate.Receipt, reason, detail string) error {
					r.rejects.receipt(x, reason, detail)
					return nil
				}, c.household); err != nil {
					return err
				}
				if r.Written != nil {
					if res.encoded, err = r.Written.Encode(&Written{Households: res.households, Receipts: res.receipts, Members: res.members}); err != nil {
						return err
					}
				}
				results[q] <- c.out
			}
		}))
	}
	var sum totals
	g.Go(guard(func() error {
		var written *partResult // the last partition's result, not yet given back
		for q := 0; q < n; q++ {
			var res *partResult
			select {
			case res = <-results[q]:
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := w.write(res); err != nil {
				return err
			}
			if err := sum.add(&res.totals); err != nil {
				return err
			}
			if written != nil {
				free <- written
			}
			written = res
			<-slots
			if q%50 == 49 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				r.log.Debug("partitions written", "written", q+1, "of", n, "heap_inuse_mib", ms.HeapInuse>>20)
			}
		}
		return nil
	}))
	return sum, g.Wait()
}

// reset empties the rows and totals for a partition of this many receipts, growing the rows'
// capacity once (households and persons by the usual ratios; appends grow them further if a
// partition is unusual).
func (res *partResult) reset(receipts int) {
	res.households = aggregate.Room(res.households, receipts/2+1)
	if res.receipts == nil {
		res.receipts, _ = output.NewColumns[output.ReceiptBenefit]() // a flat row type: no error
		res.rc = receiptColumnsOf(res.receipts)
	}
	res.receipts.Reset()
	res.receipts.Reserve(receipts)
	res.persons = aggregate.Room(res.persons, receipts*3/4+1)
	res.members = res.members[:0]
	res.text = res.text[:0]
	res.totals = totals{}
}

// keep copies s into the result's text and returns the copy. A full text is left to the rows
// that point into it, and a larger one begun; the next partition reuses the last.
func (res *partResult) keep(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(res.text)+len(s) > cap(res.text) {
		res.text = make([]byte, 0, max(2*cap(res.text), 1<<20, len(s)))
	}
	n := len(res.text)
	res.text = append(res.text, s...)
	return unsafe.String(&res.text[n], len(s))
}

// memberRow turns a member row in force back into the members table's columns.
//
// Its half_limits_month is the month when the 75歳到達月特例 applies in it, whether the
// master said so or the run derived it, and otherwise the master's: the decision of the
// month, which a rerun from the kept rows alone could not derive again (Config.MembersDecided).
func memberRow(m *aggregate.Member, month rules.Month) receipt.MemberRow {
	row := receipt.MemberRow{InsurerNo: m.InsurerNo, PersonID: m.PersonID, HouseholdID: m.HouseholdID,
		BirthDate: m.Birth.String(), Sex: m.Sex, NameKana: m.NameKana, ValidFrom: m.From.String(),
		CategoryU70: m.ClassU70.String(), Category70: m.Class70.String()}
	if m.To != aggregate.OpenEnd {
		row.ValidTo = m.To.String()
	}
	switch {
	case m.HalfNow:
		row.HalfLimitsMonth = month.String()
	case m.HalfMonth != 0 && m.HalfMonth != month:
		row.HalfLimitsMonth = m.HalfMonth.String()
	}
	return row
}
