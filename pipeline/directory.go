package pipeline

import (
	"context"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/pqcol"
)

// The members master of a month that fits the memory budget is held in memory (an
// aggregate.Directory) and receipts are joined to it as they are read: the intake writes
// household partitions directly, and the person partitions with their spill, sort and merge
// are skipped. A larger master takes the way of person partitions (intake, then join). Both
// ways write the same records into the household partitions, so the outputs are the same.

const (
	// directoryShare is the part of the memory budget a directory may take: the intake's
	// readers, batches and partition buffers (some 0.3 GB on the 10M month) and the
	// collector's headroom need the rest while it is held. It is freed before the
	// household pass.
	directoryShare = 0.5
	// memberIDBytes is what the ids of a member row (insurer, person, household, sex) take
	// on average, for the estimate; a generated master has about 30.
	memberIDBytes = 40
	// csvMemberRowBytes is the least a CSV member row takes, to bound the row count of a CSV
	// master from its size.
	csvMemberRowBytes = 40
)

// directoryFits tells whether the members master fits a directory within the budget: the
// row count from the Parquet footers, or a generous count from the size of a CSV.
func (r *run) directoryFits() bool {
	if r.PersonPartitions {
		return false
	}
	var rows int64
	for _, f := range r.memberFiles {
		if p := r.heldMembers(f); p != nil {
			rows += p.Rows
			continue
		}
		if isParquet(f) {
			n, err := pqcol.NumRows(f)
			if err != nil {
				return false // the read proper will report it
			}
			rows += n
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return false
		}
		rows += st.Size()/csvMemberRowBytes + 1
	}
	r.memberRowsEstimate = rows
	need := aggregate.DirectoryBytes(rows, memberIDBytes)
	fits := float64(need) <= directoryShare*float64(r.MemoryBudget)
	r.log.Info("join planned", "members_in_memory", fits, "member_rows", rows, "directory_bytes", need,
		"directory_budget", int64(directoryShare*float64(r.MemoryBudget)))
	return fits
}

// loadDirectory reads the members master into a sealed directory on every worker: the rows
// of the Parquet files are reserved from their footers' counts and filled in place, CSV rows
// are appended.
func (r *run) loadDirectory(ctx context.Context) (*aggregate.Directory, error) {
	readers := min(r.workers, aggregate.MaxShards)
	ranges, total, err := r.memberRanges(readers)
	if err != nil {
		return nil, err
	}
	d := aggregate.NewDirectory(r.month, int(total))
	if r.MembersDecided {
		d.HalfDecided()
	}
	if r.KeepMembers {
		d.KeepNames()
	}
	d.NameFiles(r.memberFiles)
	d.Reserve(int(total))
	shards := make([]*aggregate.DirectoryShard, readers)
	for w := range shards {
		shards[w] = d.Shard(int(total) * memberIDBytes / len(shards))
	}
	t0 := time.Now()
	err = r.readMembers(ctx, ranges, readers, false, false, func(w int) (func(*aggregate.Member, int64) error, func() error) {
		sh := shards[w]
		return func(m *aggregate.Member, index int64) error {
			if index < 0 {
				return sh.Add(m)
			}
			return sh.Set(int(index), m)
		}, func() error { return nil }
	})
	if err != nil {
		return nil, err
	}
	r.log.Debug("members read", "seconds", time.Since(t0).Seconds())
	t0 = time.Now()
	if err := d.Seal(r.workers); err != nil {
		return nil, err
	}
	d.KnowInsurers(r.KnownInsurers)
	r.log.Debug("members directory sealed", "seconds", time.Since(t0).Seconds())
	return d, nil
}

// intakeDirect reads the receipts and joins each to the directory as it comes, writing the
// household partitions: joined receipts from the workers, the history from a writer of its
// own, and the member rows in force. Those go beside the receipts when every household is
// wanted (Config.KeepMembers); otherwise they go after them, from every worker, only for
// the households that joined receipts went to (aggregate.HouseholdMarks): on a generated
// month a third of the households have no receipt, and their members would only pass
// through the spill.
func (r *run) intakeDirect(ctx context.Context, d *aggregate.Directory, households *aggregate.Spill) error {
	all := r.KeepMembers
	var marks *aggregate.HouseholdMarks
	if !all {
		marks = aggregate.NewHouseholdMarks(d.Rows())
	}
	d.SetAside(r.unresolved)
	g, gctx := errgroup.WithContext(ctx)
	parts := make([]*aggregate.HouseholdPart, r.workers)
	r.routeReceipts(gctx, g, func(w int) (func([]uint64), func(*aggregate.Receipt, uint64) error, func() error) {
		out := r.householdPart(households, w)
		parts[w] = out
		if marks != nil {
			out.MarkInto(marks)
		}
		warm := func(hashes []uint64) { d.Warm(hashes, out) }
		return warm, func(x *aggregate.Receipt, hash uint64) error { return d.JoinHashed(x, hash, out) }, out.Flush
	})
	if all {
		g.Go(guard(func() error { return r.emitInForce(d, households, r.workers, 0, 1, nil) }))
	}
	g.Go(guard(func() error { return r.readHistory(gctx, r.householdPart(households, r.workers+1)) }))
	err := g.Wait()
	if err == nil {
		// Worker 0's writer again (its receipts are flushed), before the marks are settled:
		// a resolved receipt marks its household.
		err = r.resolve(func() error { return d.Match(r.unresolved, r.workers) }, parts[0])
	}
	for _, p := range parts {
		r.joinRefusals += p.Refusals()
	}
	if err != nil || all {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var settle errgroup.Group
	for w := range r.workers {
		settle.Go(guard(func() error { d.SettleMarks(marks, w, r.workers); return nil }))
	}
	if err := settle.Wait(); err != nil {
		return err
	}
	var emit errgroup.Group
	for w := range r.workers {
		// Worker w's writer again: its receipts are flushed.
		emit.Go(guard(func() error { return r.emitInForce(d, households, w, w, r.workers, marks) }))
	}
	return emit.Wait()
}

// emitInForce writes worker w of n's share of the rows in force (of the marked households,
// with marks) through writer wr of the household partitions.
func (r *run) emitInForce(d *aggregate.Directory, households *aggregate.Spill, wr, w, n int, marks *aggregate.HouseholdMarks) error {
	out := r.householdPart(households, wr)
	if err := d.EmitInForce(out, w, n, marks); err != nil {
		return err
	}
	return out.Flush()
}
