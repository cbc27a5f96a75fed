package pipeline

import (
	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
)

// writers are the run's Parquet files of household, receipt and person rows.
type writers struct {
	households *output.Writer[output.HouseholdMonth]
	receipts   *output.Writer[output.ReceiptBenefit]
	persons    *output.Writer[output.PersonMonth]
	members    *output.Writer[receipt.MemberRow] // nil unless Config.KeepMembers
	written    RowsSink                          // Config.Written
}

// RowsSink takes the rows of every partition of a run (Config.Written): Encode in the worker
// that made them, while other partitions are computed (it must not keep the rows, whose
// memory is reused), then Append with what Encode returned, in the files' order, while the
// writers encode the same rows.
type RowsSink interface {
	Encode(*Written) (any, error)
	Append(encoded any) error
}

// Written is one partition's rows in the order the files get them (Config.Written). A
// household's rows are contiguous in each file, and households come in the same order in
// every file. Its strings are valid during the call only.
type Written struct {
	Households []output.HouseholdMonth
	Receipts   *output.Columns[output.ReceiptBenefit]
	Members    []receipt.MemberRow // with Config.KeepMembers
}

// MembersFile holds, with Config.KeepMembers, the member rows in force in the month: what the
// ledger needs to recompute the month later without the members master.
const MembersFile = "members.parquet"

func openWriters(d *output.Dir, opt output.Options, members bool) (*writers, error) {
	var w writers
	var err error
	if w.households, err = output.NewWriter[output.HouseholdMonth](d, output.HouseholdMonthFile, opt); err != nil {
		return nil, err
	}
	if w.receipts, err = output.NewWriter[output.ReceiptBenefit](d, output.ReceiptBenefitFile, opt); err != nil {
		return nil, err
	}
	if w.persons, err = output.NewWriter[output.PersonMonth](d, output.PersonMonthFile, opt); err != nil {
		return nil, err
	}
	if members {
		if w.members, err = output.NewWriter[receipt.MemberRow](d, MembersFile, opt); err != nil {
			return nil, err
		}
	}
	return &w, nil
}

// write appends one partition's rows, the three files encoding at once.
func (w *writers) write(res *partResult) error {
	var g errgroup.Group
	g.Go(func() error { return w.households.Write(res.households) })
	g.Go(func() error { return w.receipts.WriteColumns(res.receipts) })
	g.Go(func() error { return w.persons.Write(res.persons) })
	if w.members != nil {
		g.Go(func() error { return w.members.Write(res.members) })
	}
	if w.written != nil {
		g.Go(func() error { return w.written.Append(res.encoded) })
	}
	return g.Wait()
}

func (w *writers) close() error {
	var g errgroup.Group
	g.Go(w.households.Close)
	g.Go(w.receipts.Close)
	g.Go(w.persons.Close)
	if w.members != nil {
		g.Go(w.members.Close)
	}
	return g.Wait()
}

func (w *writers) outputs() []output.OutputFile {
	outs := []output.OutputFile{
		{Name: output.HouseholdMonthFile, Rows: w.households.Rows()},
		{Name: output.ReceiptBenefitFile, Rows: w.receipts.Rows()},
		{Name: output.PersonMonthFile, Rows: w.persons.Rows()},
	}
	if w.members != nil {
		outs = append(outs, output.OutputFile{Name: MembersFile, Rows: w.members.Rows()})
	}
	return outs
}
