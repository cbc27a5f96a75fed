package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/rules"
)

// Feed is a month given as records that were accepted once already, the ledger's, rather
// than as input files: what extract's simulation recomputes. Its households are built
// exactly as a monthly run builds them, by the run's own partitions and join (Households).
type Feed struct {
	Month rules.Month
	// Receipts is how many receipts ReadReceipts gives, or an estimate: it sizes the
	// partitions, never a result.
	Receipts int64
	// ReadReceipts, ReadMembers and ReadHistory give the month's records, each on a goroutine
	// of its own, all three at once. A record is copied before emit returns. ReadHistory may
	// be nil.
	ReadReceipts func(ctx context.Context, emit func(*aggregate.Receipt) error) error
	ReadMembers  func(ctx context.Context, emit func(*aggregate.Member) error) error
	ReadHistory  func(ctx context.Context, emit func(*aggregate.History) error) error
	// MembersDecided: as Config.MembersDecided (the ledger's rows in force carry the
	// month's 75歳到達月特例 decision).
	MembersDecided bool
	Workers        int    // 0: GOMAXPROCS
	MemoryBudget   int64  // bytes; 0: DefaultMemoryBudget
	SpillDir       string // where a month too large for the budget spills; "": the system's temp directory
	Log            *slog.Logger
}

// FeedWorker computes the households of one goroutine of Households.
type FeedWorker interface {
	// Household is given each household of a partition in hash order; h is reused after
	// the call, and its strings alias the partition's memory until Done returns.
	Household(h *aggregate.Household) error
	// Done is called once the worker has given every household of partition q, in the
	// order of the partitions, one call at a time: partitions are ranges of the hash space,
	// so what Done hands on comes in one order whatever the workers and partitions.
	Done(q int) error
}

// Households builds every household of f's month, as a monthly run with a members master
// too large for memory does (person partitions, the join, household partitions), and gives
// them to the workers that newWorker makes, one per goroutine, a partition at a time in
// the order they take the partitions. A receipt the join refuses is an error: a fed record
// was accepted once, so a refusal means the feed is not what it claims to be.
func Households(ctx context.Context, f Feed, newWorker func() FeedWorker) error {
	cfg := Config{Month: f.Month, Workers: f.Workers, MemoryBudget: f.MemoryBudget, Log: f.Log, MembersDecided: f.MembersDecided}
	r := &run{Config: cfg, month: f.Month, workers: cfg.Workers, insurers: map[string]struct{}{}, log: cfg.Log,
		unresolved: aggregate.NewUnresolved()}
	r.defaults()
	t0 := time.Now()
	parts, spill := r.partitions(f.Receipts)
	spillDir := ""
	if spill {
		var err error
		if spillDir, err = os.MkdirTemp(f.SpillDir, "batch-feed-spill-"); err != nil {
			return err
		}
		defer os.RemoveAll(spillDir)
	}
	r.compressSpill = r.compressSpill && spillDir != ""
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(r.MemoryBudget)) // as a run (execute)
	persons, err := r.newSpill(sub(spillDir, "persons"), parts, 2)
	if err != nil {
		return err
	}
	defer persons.Close()
	households, err := r.newSpill(sub(spillDir, "households"), parts, r.workers+1)
	if err != nil {
		return err
	}
	defer households.Close()
	if err := r.intakeFeed(ctx, &f, persons); err != nil {
		return err
	}
	r.log.Debug("feed intake done", "month", f.Month.String(), "partitions", parts, "spill", spill, "seconds", time.Since(t0).Seconds())
	history := func(ctx context.Context, route *aggregate.HouseholdPart) error {
		if f.ReadHistory != nil {
			if err := f.ReadHistory(ctx, func(h *aggregate.History) error { return route.History(h) }); err != nil {
				return err
			}
		}
		return route.Flush()
	}
	if err := r.join(ctx, persons, households, history); err != nil {
		return err
	}
	if r.joinRefusals > 0 || r.unresolved.Len() > 0 {
		return fmt.Errorf("the join refused %d of the fed receipts and set %d aside: the feed does not hold the members of its receipts", r.joinRefusals, r.unresolved.Len())
	}
	persons.Close()
	return r.feedHouseholds(ctx, households, newWorker)
}

// intakeFeed routes the fed receipts and member rows into person partitions, noting the
// members' insurers for the join.
func (r *run) intakeFeed(ctx context.Context, f *Feed, persons *aggregate.Spill) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(guard(func() error {
		route := aggregate.NewPersonPart(persons, 0)
		if err := f.ReadReceipts(ctx, route.Receipt); err != nil {
			return err
		}
		return route.Flush()
	}))
	g.Go(guard(func() error {
		route := aggregate.NewPersonPart(persons, 1)
		err := f.ReadMembers(ctx, func(m *aggregate.Member) error {
			r.insurers[m.InsurerNo] = struct{}{} // read by the join only, after g.Wait
			return route.Member(m)
		})
		if err != nil {
			return err
		}
		return route.Flush()
	}))
	return g.Wait()
}

// feedHouseholds is the household pass of Households: each worker takes the next
// partition, gives its households, then waits for the partition's turn to say it is done.
// turns[q] is closed once every partition below q is done.
func (r *run) feedHouseholds(ctx context.Context, households *aggregate.Spill, newWorker func() FeedWorker) error {
	turns := make([]chan struct{}, households.Parts()+1)
	for q := range turns {
		turns[q] = make(chan struct{})
	}
	close(turns[0])
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for wk := 0; wk < r.workers; wk++ {
		w := newWorker()
		g.Go(guard(func() error {
			var scratch aggregate.Scratch
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				q := int(next.Add(1) - 1)
				if q >= households.Parts() {
					return nil
				}
				data, err := scratch.Read(households, q)
				if err != nil {
					return err
				}
				if err := scratch.Households(data, r.month, false, nil, w.Household); err != nil {
					return err
				}
				select {
				case <-turns[q]:
				case <-ctx.Done():
					return ctx.Err()
				}
				err = w.Done(q)
				close(turns[q+1])
				if err != nil {
					return err
				}
			}
		}))
	}
	return g.Wait()
}
