package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/aggregate"
	"github.com/kougaku/batch/output"
)

// Receipts the claimed insurer cannot take are set aside by the join and resolved once every
// receipt is joined (aggregate.Unresolved): matched against the persons in force, then routed
// into the household partitions through out, joined or refused. The receipts it resolved wait
// in r.resolved for the household pass, which may still reject one (a duplicate, a household
// without a class): resolved.parquet lists those it accepted.
func (r *run) resolve(match func() error, out *aggregate.HouseholdPart) error {
	if r.unresolved.Len() == 0 {
		return nil
	}
	t0 := time.Now()
	if err := match(); err != nil {
		return err
	}
	resolved, err := r.unresolved.Route(out, r.month)
	if err != nil {
		return err
	}
	r.resolved = resolved
	r.log.Info("receipts resolved by name, birth date and sex", "set_aside", r.unresolved.Len(), "resolved", len(resolved),
		"seconds", time.Since(t0).Seconds())
	return out.Flush()
}

// resolveByPartitions resolves the receipts the join of person partitions set aside: every
// partition is read again (the spill kept them, KeepOnRead) for its member rows, which the
// intake's writers put after their receipts (PersonPart.MarkTail): the tails alone are
// read.
func (r *run) resolveByPartitions(ctx context.Context, persons, households *aggregate.Spill) error {
	return r.resolve(func() error {
		g, ctx := errgroup.WithContext(ctx)
		var next atomic.Int64
		for range r.workers {
			g.Go(guard(func() error {
				var buf []byte // the matcher keeps nothing of a partition's bytes
				var matcher aggregate.Matcher
				for {
					if err := ctx.Err(); err != nil {
						return err
					}
					p := int(next.Add(1) - 1)
					if p >= persons.Parts() {
						return nil
					}
					data, b, err := persons.ReadTailInto(p, buf)
					if err != nil {
						return err
					}
					buf = b
					if err := matcher.Partition(data, r.month, r.MembersDecided, r.unresolved); err != nil {
						return err
					}
				}
			}))
		}
		return g.Wait()
	}, r.householdPart(households, 0))
}

// acceptedResolved are the resolved receipts the household pass accepted, with the counts
// by reason for the manifest.
func (r *run) acceptedResolved() ([]output.ResolvedReceipt, map[string]int64) {
	byReason := map[string]int64{}
	if len(r.resolved) == 0 {
		return nil, byReason
	}
	type at struct {
		file int32
		line int64
	}
	rejected := map[at]bool{}
	want := make(map[at]bool, len(r.resolved))
	for _, x := range r.resolved {
		want[at{x.File, x.Line}] = true
	}
	for _, rj := range r.rejects.rows {
		if k := (at{rj.file, rj.line}); want[k] {
			rejected[k] = true
		}
	}
	var rows []output.ResolvedReceipt
	month := r.month.String()
	for _, x := range r.resolved {
		if rejected[at{x.File, x.Line}] {
			continue
		}
		if why, ok := r.ResolvedReasons[x.ReceiptID]; ok {
			x.Reason = why
		}
		rows = append(rows, output.ResolvedReceipt{ReceiptID: x.ReceiptID, ServiceMonth: month,
			ClaimedInsurerNo: x.ClaimedInsurer, ClaimedPersonID: x.ClaimedPerson, InsurerNo: x.InsurerNo,
			PersonID: x.PersonID, HouseholdID: x.Household, Reason: x.Reason, Method: aggregate.ResolvedByKana,
			NameKana: x.NameKana, BirthDate: x.BirthDate, Sex: x.Sex})
		byReason[x.Reason]++
	}
	return rows, byReason
}

// writeResolved writes resolved.parquet, every run (empty when nothing was resolved), in the
// source order of the receipts.
func (r *run) writeResolved(dir *output.Dir, rows []output.ResolvedReceipt) (int64, error) {
	w, err := output.NewWriter[output.ResolvedReceipt](dir, output.ResolvedFile, output.Options{MaxRowsPerRowGroup: r.RowGroupRows})
	if err != nil {
		return 0, err
	}
	if err := w.Write(rows); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return w.Rows(), nil
}
