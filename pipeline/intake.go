package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// intakeStats is what the intake read, for the reconciliation. The sums of paid are added
// with addYen.
type intakeStats struct {
	rows, paid               atomic.Int64
	cancelled, paidCancelled atomic.Int64 // rows of a correction run that remove a receipt
}

// addYen adds amount to the run's sum named what, or fails the run when the sum would leave
// int64: a wrapped sum would reconcile, and pay, as if it were right.
func addYen(sum *atomic.Int64, amount int64, what string) error {
	for {
		old := sum.Load()
		s, ok := rules.AddYen(old, amount)
		if !ok {
			return overflowError(what)
		}
		if sum.CompareAndSwap(old, s) {
			return nil
		}
	}
}

// overflowError refuses a run whose sum named what would pass the int64 range of yen.
func overflowError(what string) error {
	return fmt.Errorf("the sum of %s passes the range of a 64-bit integer of yen: the run is refused rather than summed wrong", what)
}

// intakeRouter routes one goroutine's records of the intake: into person partitions
// (personRouter) or, through a person table, into routed partitions (aggregate.Router).
type intakeRouter interface {
	Receipt(x *aggregate.Receipt, hash uint64) error
	Member(m *aggregate.Member) error
	MarkTail() error
	Flush() error
}

// personRouter is an aggregate.PersonPart as an intakeRouter: it hashes the person itself.
type personRouter struct{ *aggregate.PersonPart }

func (p personRouter) Receipt(x *aggregate.Receipt, _ uint64) error { return p.PersonPart.Receipt(x) }

// intake reads every receipts file concurrently into Arrow batches and hands the batches,
// through a bounded channel, to the workers that check each receipt and route it through
// routers[w], worker w's; the members master is routed at the same time through
// routers[r.workers], its reader's. A router that can Warm is given each block's person
// hashes first (routeBatch). With note, the master's insurers are noted in r.insurers.
// more, when not nil, runs beside them (the history of routed partitions).
func (r *run) intake(ctx context.Context, routers []intakeRouter, note bool, more func(ctx context.Context) error) error {
	// The members master is read beside the receipts by a goroutine with a spill writer of
	// its own, its ranges handed out as they are asked for; a receipt worker done with the
	// receipts takes the ranges left, through its own writer. (Read by that goroutine alone,
	// the 100M month's master ran on one core for the last 15 s of the intake. Reading it on
	// every worker from the start means a writer more per worker, so smaller spill chunks:
	// the one 100M run made that way, other work beside it, took 89 s to intake against 80 s.)
	ranges, _, err := r.memberRanges(memberRangesPerFile)
	if err != nil {
		return err
	}
	q := &memberQueue{r: r, ranges: ranges, note: note}
	member := func(route intakeRouter) func(*aggregate.Member, int64) error {
		return func(m *aggregate.Member, _ int64) error { return route.Member(m) }
	}
	g, ctx := errgroup.WithContext(ctx)
	r.routeReceipts(ctx, g, func(w int) (func([]uint64), func(*aggregate.Receipt, uint64) error, func() error) {
		route := routers[w]
		flush := func() error {
			// The member rows this worker routes go after its receipts, apart, for
			// resolution to read them alone (resolveByPartitions).
			if err := route.MarkTail(); err != nil {
				return err
			}
			if err := q.drain(ctx, member(route)); err != nil {
				return err
			}
			return route.Flush()
		}
		var warm func([]uint64)
		if wr, ok := route.(interface{ Warm([]uint64) }); ok {
			warm = wr.Warm
		}
		return warm, route.Receipt, flush
	})
	g.Go(guard(func() error {
		route := routers[r.workers]
		if err := q.drain(ctx, member(route)); err != nil {
			return err
		}
		if err := q.readCSV(ctx, member(route)); err != nil {
			return err
		}
		return route.Flush()
	}))
	if more != nil {
		g.Go(guard(func() error { return more(ctx) }))
	}
	return g.Wait()
}

// memberRangesPerFile is how many ranges the intake of person partitions cuts each Parquet
// members file into: enough that the readers finish within a range of one another.
const memberRangesPerFile = 32

// routeReceipts starts in g the readers of every receipts file, which hand their batches
// through a bounded channel to r.workers workers; worker w checks each receipt and hands it
// to the route that newRoute(w) gives (with warm, see routeBatch), and calls flush when the
// batches are done.
func (r *run) routeReceipts(ctx context.Context, g *errgroup.Group, newRoute func(w int) (warm func(hashes []uint64), route func(*aggregate.Receipt, uint64) error, flush func() error)) {
	batches := make(chan fileBatch, 2*r.workers)
	readers, rctx := errgroup.WithContext(ctx)
	readers.SetLimit(r.workers)
	g.Go(func() error {
		defer close(batches)
		for i, f := range r.receiptFiles {
			fi := int32(i)
			readers.Go(guard(func() error { return r.readFile(rctx, fi, f, batches) }))
		}
		return readers.Wait()
	})
	for w := 0; w < r.workers; w++ {
		warm, route, flush := newRoute(w)
		g.Go(guard(func() error {
			for b := range batches {
				err := r.routeBatch(ctx, b, warm, route)
				b.rec.Release()
				if err != nil {
					for b := range batches { // drain, releasing, so readers can finish
						b.rec.Release()
					}
					return err
				}
			}
			return flush()
		}))
	}
}

// fileBatch is a record batch and the index of the file it came from.
type fileBatch struct {
	rec  arrow.Record
	file int32
}

func (r *run) readFile(ctx context.Context, fi int32, file string, out chan<- fileBatch) error {
	read := receipt.ReadReceipts
	if isUKE(file) {
		read = receipt.ReadUKE
	}
	opt := receipt.ReadOptions{BatchRows: r.batchRows, Alloc: &r.batches, Warn: func(msg string) {
		r.warnings.add(msg)
		r.log.Warn(msg, "file", file)
	}}
	if r.isHeld(file) {
		read = r.readHeldReceipts
	}
	st, err := read(ctx, file, opt,
		func(b receipt.Batch) error {
			select {
			case out <- fileBatch{rec: b.Record, file: fi}:
				return nil
			case <-ctx.Done():
				b.Record.Release()
				return ctx.Err()
			}
		},
		func(rj receipt.Reject) error {
			r.rejects.add(fi, lineOf(rj.Source), rj)
			return nil
		})
	r.read.rows.Add(st.Rows)
	r.progress.Read.Add(st.Rows)
	if err != nil {
		return err
	}
	if err := addYen(&r.read.paid, st.PaidRead, "paid read"); err != nil {
		return err
	}
	r.fileRows[fi] = st.Rows
	return nil
}

// lineOf takes the line (or row) number back out of a reader's "FILE:LINE" or "FILE:row N".
func lineOf(source string) int64 {
	i := strings.LastIndexAny(source, ": ")
	n, _ := strconv.ParseInt(source[i+1:], 10, 64)
	return n
}

// routeBatch checks every receipt of a batch and routes it, or rejects it. With warm, the
// rows are taken in blocks: the person hashes of a block are computed and given to warm
// first, then each row is routed with its hash; without, route gets 0.
func (r *run) routeBatch(ctx context.Context, b fileBatch, warm func(hashes []uint64), route func(x *aggregate.Receipt, hash uint64) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, rec := b.file, b.rec
	str := func(c int) *array.String { return rec.Column(c).(*array.String) }
	i64 := func(c int) *array.Int64 { return rec.Column(c).(*array.Int64) }
	ids, months, insurers, persons := str(receipt.ColReceiptID), str(receipt.ColServiceMonth), str(receipt.ColInsurerNo), str(receipt.ColPersonID)
	insts, kinds, settings, prescribers := str(receipt.ColInstitutionID), str(receipt.ColKind), str(receipt.ColSetting), str(receipt.ColPrescriberID)
	costs, copays, paids, lines := i64(receipt.ColCost), i64(receipt.ColCopay), i64(receipt.ColPaid), i64(receipt.ColSourceLine)
	tokuteis, births, sexes, names := str(receipt.ColTokutei), str(receipt.ColBirthDate), str(receipt.ColSex), str(receipt.ColNameKana)
	if offs := names.ValueOffsets(); len(offs) > 0 && offs[len(offs)-1] != offs[0] && !r.namesSeen.Load() {
		r.namesSeen.Store(true) // some receipt may need resolving: see resolveByPartitions
	}
	cancels := rec.Column(receipt.ColCancel).(*array.Boolean)
	month := r.month.String()
	var x aggregate.Receipt
	var hashes [aggregate.WarmBlock]uint64
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		if i%aggregate.WarmBlock == 0 && warm != nil {
			end := min(i+aggregate.WarmBlock, n)
			for j := i; j < end; j++ {
				hashes[j-i] = aggregate.Hash2(insurers.Value(j), persons.Value(j))
			}
			warm(hashes[:end-i])
		}
		hash := hashes[i%aggregate.WarmBlock]
		x = aggregate.Receipt{File: fi, Line: lines.Value(i), ID: ids.Value(i), InsurerNo: insurers.Value(i),
			PersonID: persons.Value(i), InstitutionID: insts.Value(i), PrescriberID: prescribers.Value(i),
			Cost: costs.Value(i), Copay: copays.Value(i), Paid: paids.Value(i),
			BirthDate: births.Value(i), Sex: sexes.Value(i), NameKana: names.Value(i), Cancel: cancels.Value(i)}
		if x.Cancel && r.corrections {
			if _, unknown := r.UnknownCancels[x.ID]; unknown {
				r.rejects.receipt(&x, receipt.UnknownReceipt, fmt.Sprintf("a cancel of receipt %s, which month %s does not hold", x.ID, month))
				continue
			}
			r.read.cancelled.Add(1)
			if err := addYen(&r.read.paidCancelled, rules.CountedPaid(x.Paid), "paid cancelled"); err != nil {
				return err
			}
			continue
		}
		reason, detail := r.check(&x, months.Value(i), month, kinds.Value(i), settings.Value(i), tokuteis.Value(i))
		if reason != "" {
			r.rejects.receipt(&x, reason, detail)
			continue
		}
		if err := route(&x, hash); err != nil {
			return err
		}
	}
	return nil
}

// check is the per-receipt part of validation: what can be judged from the receipt alone.
func (r *run) check(x *aggregate.Receipt, month, runMonth, kind, setting, tokutei string) (reason, detail string) {
	var err error
	if x.Kind, err = rules.ParseKind(kind); err != nil {
		return receipt.BadRecord, err.Error()
	}
	if x.Setting, err = rules.ParseSetting(setting); err != nil {
		return receipt.BadRecord, err.Error()
	}
	if x.Tokutei, err = rules.ParseTokutei(tokutei); err != nil {
		return receipt.BadRecord, err.Error()
	}
	if x.Kind == rules.Pharmacy && x.Setting != rules.Outpatient {
		return receipt.BadRecord, "a pharmacy receipt is always outpatient"
	}
	if x.BirthDate != "" { // optional, but a claim that is not a date is no claim to check
		if _, err := rules.ParseDate(x.BirthDate); err != nil {
			return receipt.BadRecord, "birth_date: " + err.Error()
		}
	}
	if month != runMonth {
		return receipt.MonthMismatch, fmt.Sprintf("service_month %s in a run for %s", month, runMonth)
	}
	if d := rules.ValidateAmounts(x.Cost, x.Copay, x.Paid); d != "" {
		return receipt.AmountInvalid, d
	}
	if x.Cancel && !r.corrections {
		return receipt.BadRecord, "cancel is set, but this is not a correction run on a ledger"
	}
	return "", ""
}
