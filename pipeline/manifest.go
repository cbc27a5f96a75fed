package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
)

// startDigests hashes every input file in the background, while the run reads them; the
// returned function waits for the digests.
func (r *run) startDigests(ctx context.Context) func() ([]output.Input, error) {
	files := append(append(append([]string(nil), r.memberFiles...), r.receiptFiles...), r.historyFiles...)
	inputs := make([]output.Input, len(files))
	var g errgroup.Group
	g.SetLimit(2)
	// g.Go waits for a free slot: the loop runs on its own goroutine, or the run would wait
	// for all but two files to be hashed before it began (4 s on the 100M month).
	started := make(chan struct{})
	go func() {
		defer close(started)
		for i, f := range files {
			g.Go(func() error {
				if r.isHeld(f) {
					inputs[i] = output.Input{Path: f} // in memory: no file to digest
					return nil
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				size, sum, err := output.Digest(f)
				if err != nil {
					return fmt.Errorf("digest of %s: %w", f, err)
				}
				inputs[i] = output.Input{Path: f, Size: size, SHA256: sum}
				return nil
			})
		}
	}()
	return func() ([]output.Input, error) {
		<-started
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for i := range inputs {
			f := inputs[i].Path
			switch {
			case i < len(r.memberFiles):
				inputs[i].Rows = r.memberRows[f]
			case i < len(r.memberFiles)+len(r.receiptFiles):
				inputs[i].Rows = r.fileRows[i-len(r.memberFiles)]
			default:
				inputs[i].Rows = r.historyRows[f]
			}
		}
		return inputs, nil
	}
}

// writeRejects writes the rejects file, every reject of the run in order, and returns its
// rows.
func (r *run) writeRejects(dir *output.Dir) (int64, error) {
	rw, err := output.NewWriter[receipt.Reject](dir, output.RejectsFile, output.Options{MaxRowsPerRowGroup: r.RowGroupRows})
	if err != nil {
		return 0, err
	}
	if err := rw.Write(r.rejects.sorted()); err != nil {
		return 0, err
	}
	if err := rw.Close(); err != nil {
		return 0, err
	}
	return rw.Rows(), nil
}

// refuseEmpty fails a run that read no receipt, or whose every receipt was rejected for one
// reason, unless AllowEmpty: such a run is an operator's mistake far more often than a month
// without claims, and paying (or recording in a ledger) an empty month would hide it.
func (r *run) refuseEmpty(rec output.Reconciliation) error {
	if r.AllowEmpty || rec.ReceiptsAccepted > 0 {
		return nil
	}
	if rec.ReceiptsRead == 0 {
		files := make([]string, len(r.receiptFiles))
		for i, f := range r.receiptFiles {
			files[i] = fmt.Sprintf("%s (%d rows)", f, r.fileRows[i])
		}
		return &EmptyRunError{Msg: "read no receipts: " + strings.Join(files, ", ")}
	}
	if len(r.rejects.byReason) != 1 || rec.ReceiptsCancelled > 0 {
		return nil
	}
	first := r.rejects.rows[0] // in source order: writeRejects sorted them
	return &EmptyRunError{Msg: fmt.Sprintf("every one of the %d receipts read was rejected %s, nothing is written; the first, %s: %s",
		rec.ReceiptsRejected, first.Reason, first.Source, first.Detail)}
}

// finish writes the rejects and the manifest, after checking that every receipt read is
// accounted for and the three benefit sums agree. An unbalanced run fails: its outputs are
// not committed.
func (r *run) finish(w *writers, tot totals, inputs []output.Input, rejectRows int64, parts int, spilled bool) (*Summary, error) {
	if err := r.rejects.overflow; err != nil {
		return nil, err
	}
	rec := output.Reconciliation{
		ReceiptsRead: r.read.rows.Load(), ReceiptsAccepted: tot.accepted, ReceiptsRejected: rejectRows,
		PaidRead: r.read.paid.Load(), PaidAccepted: tot.paidAccepted, PaidRejected: r.rejects.paid,
		ReceiptsCancelled: r.read.cancelled.Load(), PaidCancelled: r.read.paidCancelled.Load(),
		BenefitCashHouseholds: tot.cashHouseholds, BenefitCashReceipts: tot.cashReceipts, BenefitCashPersons: tot.cashPersons,
	}
	if err := rec.Settle(); err != nil {
		return nil, fmt.Errorf("the run does not reconcile, nothing is written: %w", err)
	}
	if err := r.refuseEmpty(rec); err != nil {
		return nil, err
	}
	if r.Strict && len(r.warnings.list) > 0 {
		return nil, fmt.Errorf("--strict: the run has %d warning(s), nothing is written; the first: %s", len(r.warnings.list), slices.Min(r.warnings.list))
	}
	outs := append(w.outputs(), output.OutputFile{Name: output.RejectsFile, Rows: rejectRows})
	parts2 := []string{r.month.String(), r.table.Label()}
	for _, in := range inputs {
		parts2 = append(parts2, in.Path, in.SHA256)
	}
	m := output.Manifest{
		RunID: output.RunID(append(parts2, r.CommandLine...)...), CommandLine: r.CommandLine,
		RulesVersion: r.table.Label(), ServiceMonth: r.month.String(), Inputs: inputs, Outputs: outs,
		Reconciliation: rec, RejectsByReason: r.rejects.byReason, MembersConflicting: r.membersConflicting.Load(),
		Warnings: r.warnings.list,
	}
	return &Summary{Manifest: m, Households: w.households.Rows(), HouseholdsPaid: tot.householdsPaid,
		BenefitCash: tot.cashHouseholds, BenefitInKind: tot.inKind, Partitions: parts, Spilled: spilled}, nil
}
