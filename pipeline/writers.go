package pipeline

import (
	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/output"
)

// writers are the run's Parquet files of household, receipt and person rows.
type writers struct {
	households *output.Writer[output.HouseholdMonth]
	receipts   *output.Writer[output.ReceiptBenefit]
	persons    *output.Writer[output.PersonMonth]
}

func openWriters(d *output.Dir, opt output.Options) (*writers, error) {
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
	return &w, nil
}

// write appends one partition's rows, the three files encoding at once.
func (w *writers) write(res *partResult) error {
	var g errgroup.Group
	g.Go(func() error { return w.households.Write(res.households) })
	g.Go(func() error { return w.receipts.Write(res.receipts) })
	g.Go(func() error { return w.persons.Write(res.persons) })
	return g.Wait()
}

func (w *writers) close() error {
	var g errgroup.Group
	g.Go(w.households.Close)
	g.Go(w.receipts.Close)
	g.Go(w.persons.Close)
	return g.Wait()
}

func (w *writers) outputs() []output.OutputFile {
	return []output.OutputFile{
		{Name: output.HouseholdMonthFile, Rows: w.households.Rows()},
		{Name: output.ReceiptBenefitFile, Rows: w.receipts.Rows()},
		{Name: output.PersonMonthFile, Rows: w.persons.Rows()},
	}
}
