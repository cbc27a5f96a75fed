package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/parquet-go/parquet-go"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Result is what a run on the ledger did beyond the month's own outputs.
type Result struct {
	Summary     *pipeline.Summary
	Rerun       bool // the month was in the ledger already
	Households  int  // households recomputed (all of the month on a first run)
	Adjustments []output.Adjustment
	Cascaded    []rules.Month // later months given a new version by the 多数回 cascade
	// Recovered are the adjustments of a cascade an earlier, killed run left unfinished, which
	// this run finished before its own work (they are in its adjustments.parquet too).
	Recovered []output.Adjustment
}

// Run computes cfg.Month into cfg.Out and makes it the ledger's current version of the month.
//
// A month not yet in the ledger is computed whole from cfg's inputs, with 多数回 history from
// the ledger's 11 months before it (and cfg.History for months before the ledger begins).
// A month already in the ledger is rerun: cfg.Receipts are corrections (a receipt_id already in
// the month replaces it, cancel=true removes it, a new id adds a receipt), and only the
// households they touch are recomputed, with the members kept by the ledger. Either way, the
// later months of the ledger whose 多数回 status changes for some household are recomputed for
// those households. Every household whose cash changed is written to adjustments.parquet.
func (l *Ledger) Run(ctx context.Context, cfg pipeline.Config) (*Result, error) {
	finished, err := l.finishPending(ctx, cfg)
	if err != nil {
		return nil, err
	}
	l.recovered = finished
	var res *Result
	if l.Has(cfg.Month) {
		res, err = l.rerun(ctx, cfg)
	} else {
		res, err = l.first(ctx, cfg)
	}
	if res != nil && len(finished) > 0 {
		res.Recovered = finished
	}
	return res, err
}

func (l *Ledger) first(ctx context.Context, cfg pipeline.Config) (*Result, error) {
	tmp, err := l.tempDir("run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	hist, err := l.writeHistory(cfg.Month, nil, filepath.Join(tmp, "history.parquet"))
	if err != nil {
		return nil, err
	}
	res := &Result{}
	cfg.History = append(append([]string(nil), cfg.History...), hist)
	cfg.KeepMembers = true
	cfg.BeforeCommit = func(d *output.Dir, s *pipeline.Summary) error {
		res.Summary, res.Households = s, int(s.Households)
		adj, err := l.settle(ctx, cfg, d, s, nil, nil, nil, res)
		res.Adjustments = adj
		return err
	}
	if _, err := pipeline.Run(ctx, cfg); err != nil {
		return nil, err
	}
	return res, nil
}

// hhState is what an adjustment and the cascade compare of a household month.
type hhState struct {
	cash    int64
	counts  bool
	prior   int32
	tasukai bool
}

// stateRow is the part of household_month.parquet the ledger compares: reading only these
// columns is several times cheaper than reading whole rows.
type stateRow struct {
	InsurerNo          string `parquet:"insurer_no"`
	HouseholdID        string `parquet:"household_id"`
	PriorBenefitMonths int32  `parquet:"prior_benefit_months"`
	TasukaiApplied     bool   `parquet:"tasukai_applied"`
	CountsForTasukai   bool   `parquet:"counts_for_tasukai"`
	BenefitCash        int64  `parquet:"benefit_cash"`
}

func (r *stateRow) key() HouseholdKey { return HouseholdKey{r.InsurerNo, r.HouseholdID} }

func stateOf(r *stateRow) hhState {
	return hhState{r.BenefitCash, r.CountsForTasukai, r.PriorBenefitMonths, r.TasukaiApplied}
}

func readStates(path string) (map[HouseholdKey]hhState, error) {
	out := map[HouseholdKey]hhState{}
	err := output.Each(path, func(rows []stateRow) error {
		for i := range rows {
			out[rows[i].key()] = stateOf(&rows[i])
		}
		return nil
	})
	return out, err
}

// adjustments lists the affected households whose cash changed, in a stable order.
func adjustments(m rules.Month, affected map[HouseholdKey]struct{}, before, after map[HouseholdKey]hhState, cause string) []output.Adjustment {
	var out []output.Adjustment
	for _, k := range sortedKeys(affected) {
		b, a := before[k].cash, after[k].cash
		if a != b {
			out = append(out, output.Adjustment{InsurerNo: k.InsurerNo, HouseholdID: k.HouseholdID, ServiceMonth: m.String(),
				PreviousCash: b, NewCash: a, Delta: a - b, Cause: cause})
		}
	}
	return out
}

func (l *Ledger) rerun(ctx context.Context, cfg pipeline.Config) (*Result, error) {
	v, err := l.Current(cfg.Month)
	if err != nil {
		return nil, err
	}
	corr, err := readCorrections(ctx, cfg.Receipts)
	if err != nil {
		return nil, err
	}
	tmp, err := l.tempDir("rerun-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	full := len(cfg.Members) > 0 // a new members master: the whole month is recomputed
	var affected map[HouseholdKey]struct{}
	if !full {
		if affected, err = affectedHouseholds(v, corr); err != nil {
			return nil, err
		}
	}
	in, err := l.writeInputs(v, affected, corr, tmp, !full)
	if err != nil {
		return nil, err
	}
	previous, err := versionStates(v, affected)
	if err != nil {
		return nil, err
	}
	if full {
		affected = map[HouseholdKey]struct{}{}
		for k := range previous {
			affected[k] = struct{}{}
		}
	}
	hist, err := l.writeHistory(cfg.Month, affected, filepath.Join(tmp, "history.parquet"))
	if err != nil {
		return nil, err
	}
	res := &Result{Rerun: true, Households: len(affected)}
	run := cfg
	run.Receipts = append([]string{in.receipts}, cfg.Receipts...)
	if !full {
		run.Members = []string{in.members}
	}
	run.History = append(append([]string(nil), cfg.History...), hist)
	run.Corrections, run.KeepMembers = true, full
	run.BeforeCommit = func(d *output.Dir, s *pipeline.Summary) error {
		res.Summary = s
		now, err := readStates(filepath.Join(d.TempPath(), output.HouseholdMonthFile))
		if err != nil {
			return err
		}
		for k := range now { // a correction can bring a household into the month
			affected[k] = struct{}{}
		}
		var aff map[HouseholdKey]struct{}
		if !full {
			aff = affected
		}
		adj, err := l.settle(ctx, cfg, d, s, aff, affected, previous, res)
		res.Adjustments = adj
		return err
	}
	if _, err := pipeline.Run(ctx, run); err != nil {
		return nil, err
	}
	return res, nil
}

// settle commits the month's new layer (the run directory's files, linked) and cascades into
// the later months, then writes adjustments.parquet into the run directory. layerKeys lists
// the households the new layer holds (nil: it is the whole month, replacing every layer).
// affected are the households compared with previous for adjustments (nil on a first run,
// where there is nothing to adjust and every counting household is news to the later months).
func (l *Ledger) settle(ctx context.Context, cfg pipeline.Config, d *output.Dir, s *pipeline.Summary,
	layerKeys, affected map[HouseholdKey]struct{}, previous map[HouseholdKey]hhState, res *Result) ([]output.Adjustment, error) {
	now, err := readStates(filepath.Join(d.TempPath(), output.HouseholdMonthFile))
	if err != nil {
		return nil, err
	}
	var adj []output.Adjustment
	changed := map[HouseholdKey]struct{}{}
	if affected == nil {
		for k, st := range now {
			if st.counts {
				changed[k] = struct{}{}
			}
		}
	} else {
		adj = adjustments(cfg.Month, affected, previous, now, output.CauseCorrectedReceipts)
		for k := range affected {
			if previous[k].counts != now[k].counts {
				changed[k] = struct{}{}
			}
		}
	}
	layer, err := l.tempDir("layer-")
	if err != nil {
		return nil, err
	}
	if err := linkFiles(d.TempPath(), layer); err != nil {
		return nil, err
	}
	if layerKeys != nil {
		if err := writeKeys(filepath.Join(layer, HouseholdsFile), layerKeys); err != nil {
			return nil, err
		}
	}
	if err := writeAdjustments(layer, adj); err != nil {
		return nil, err
	}
	if err := writeManifest(layer, s.Manifest); err != nil {
		return nil, err
	}
	// The journal goes down before the month changes, and is removed after the cascade: a run
	// killed in between leaves it, and the next run finishes the cascade first.
	if err := l.writePending(cfg.Month, changed); err != nil {
		return nil, err
	}
	if _, err := l.commit(cfg.Month, layer, layerKeys == nil); err != nil {
		return nil, err
	}
	more, err := l.cascade(ctx, cfg, cfg.Month, changed, res)
	if err != nil {
		return nil, err
	}
	if err := l.clearPending(); err != nil {
		return nil, err
	}
	adj = append(append(l.recovered, adj...), more...)
	l.recovered = nil
	w, err := output.NewWriter[output.Adjustment](d, output.AdjustmentsFile, output.Options{})
	if err != nil {
		return nil, err
	}
	if err := w.Write(adj); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	s.Manifest.Outputs = append(s.Manifest.Outputs, output.OutputFile{Name: output.AdjustmentsFile, Rows: w.Rows()})
	return adj, nil
}

// cascade carries a change of 多数回 counting in month from into the later months: for every
// household of changed it recounts the counting months before each later month, and
// recomputes, month by month and in order, the households whose 多数回 status (whether the
// 多数回 amounts apply) flips there; a month gets a layer only when some result changed. Their
// counting status in turn enters the recount of the months after. Households whose count
// changes without crossing the line keep their results (and the count they were computed
// with): their benefit is the same.
func (l *Ledger) cascade(ctx context.Context, cfg pipeline.Config, from rules.Month, changed map[HouseholdKey]struct{}, res *Result) ([]output.Adjustment, error) {
	if len(changed) == 0 {
		return nil, nil
	}
	months, err := l.Months()
	if err != nil {
		return nil, err
	}
	// counting[m][k]: household k counted for 多数回 in month m (only households of changed).
	counting := map[rules.Month]map[HouseholdKey]hhState{}
	for _, m := range months {
		v, err := l.Current(m)
		if err != nil {
			return nil, err
		}
		if counting[m], err = versionStates(v, changed); err != nil {
			return nil, err
		}
	}
	var adj []output.Adjustment
	for _, m := range months {
		if m <= from {
			continue
		}
		hit := map[HouseholdKey]struct{}{}
		for k, st := range counting[m] {
			prior := int32(0)
			for x := m - 11; x < m; x++ {
				if counting[x][k].counts {
					prior++
				}
			}
			if (prior >= 3) != (st.prior >= 3) {
				hit[k] = struct{}{}
			}
		}
		if len(hit) == 0 {
			continue
		}
		v, err := l.Current(m)
		if err != nil {
			return nil, err
		}
		more, now, err := l.recompute(ctx, cfg, v, hit, counting)
		if err != nil {
			return nil, err
		}
		adj = append(adj, more...)
		if now != nil {
			res.Cascaded = append(res.Cascaded, m)
			for k := range hit {
				counting[m][k] = now[k]
			}
		}
	}
	return adj, nil
}

// recompute reruns the households hit of month version v from the ledger alone, with their
// 多数回 history from counting, and commits a layer for them when a result changed. It returns
// their adjustments and their new states (nil when nothing changed).
func (l *Ledger) recompute(ctx context.Context, cfg pipeline.Config, v *Version, hit map[HouseholdKey]struct{},
	counting map[rules.Month]map[HouseholdKey]hhState) ([]output.Adjustment, map[HouseholdKey]hhState, error) {
	tmp, err := l.tempDir("cascade-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	in, err := l.writeInputs(v, hit, nil, tmp, true)
	if err != nil {
		return nil, nil, err
	}
	hist := filepath.Join(tmp, "history.parquet")
	if err := writeParquet(hist, func(w *parquet.GenericWriter[receipt.HistoryRow]) error {
		for _, k := range sortedKeys(hit) {
			for x := v.Month - 11; x < v.Month; x++ {
				if counting[x][k].counts {
					if _, err := w.Write([]receipt.HistoryRow{{InsurerNo: k.InsurerNo, HouseholdID: k.HouseholdID, ServiceMonth: x.String()}}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	out := filepath.Join(tmp, "out")
	run := pipeline.Config{Month: v.Month, Members: []string{in.members}, Receipts: []string{in.receipts},
		History: append(append([]string(nil), cfg.History...), hist), Out: out, Rules: cfg.Rules,
		AllowProvisional: cfg.AllowProvisional, Workers: cfg.Workers, MemoryBudget: cfg.MemoryBudget,
		CommandLine: append(append([]string(nil), cfg.CommandLine...), "(cascade "+v.Month.String()+")"), Log: cfg.Log,
		BeforeCommit: func(d *output.Dir, _ *pipeline.Summary) error {
			return writeKeys(filepath.Join(d.TempPath(), HouseholdsFile), hit)
		}}
	if _, err := pipeline.Run(ctx, run); err != nil {
		return nil, nil, fmt.Errorf("cascade into %s: %w", v.Month, err)
	}
	now, err := readStates(filepath.Join(out, output.HouseholdMonthFile))
	if err != nil {
		return nil, nil, err
	}
	before := counting[v.Month]
	moved := false
	for k := range hit {
		moved = moved || before[k] != now[k]
	}
	if !moved {
		return nil, nil, nil
	}
	adj := adjustments(v.Month, hit, before, now, output.CauseTasukaiCascade)
	if err := writeAdjustments(out, adj); err != nil {
		return nil, nil, err
	}
	if _, err := l.commit(v.Month, out, false); err != nil {
		return nil, nil, err
	}
	return adj, now, nil
}

// versionStates reads the cash and counting status of the households of a version (only the
// listed ones unless keys is nil).
func versionStates(v *Version, keys map[HouseholdKey]struct{}) (map[HouseholdKey]hhState, error) {
	out := map[HouseholdKey]hhState{}
	err := scan(v, output.HouseholdMonthFile, (*stateRow).key, func(r *stateRow) error {
		k := r.key()
		if keys != nil {
			if _, ok := keys[k]; !ok {
				return nil
			}
		}
		out[k] = stateOf(r)
		return nil
	})
	return out, err
}

// correction is what the ledger needs to know of a correction row before the run.
type correction struct {
	insurer, person string
}

// readCorrections reads the ids and owners of the correction rows (rows the reader cannot
// parse are left to the run, which rejects them with their line).
func readCorrections(ctx context.Context, paths []string) (map[string]correction, error) {
	files, err := receipt.ExpandPaths(paths)
	if err != nil {
		return nil, err
	}
	out := map[string]correction{}
	for _, f := range files {
		_, err := receipt.ReadReceipts(ctx, f, receipt.ReadOptions{}, func(b receipt.Batch) error {
			defer b.Record.Release()
			ids := b.Record.Column(receipt.ColReceiptID).(*array.String)
			ins := b.Record.Column(receipt.ColInsurerNo).(*array.String)
			per := b.Record.Column(receipt.ColPersonID).(*array.String)
			for i := 0; i < int(b.Record.NumRows()); i++ {
				out[ids.Value(i)] = correction{ins.Value(i), per.Value(i)}
			}
			return nil
		}, nil)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// affectedHouseholds: the households of the corrected receipts as the ledger has them, and
// the households of the persons the corrections name.
func affectedHouseholds(v *Version, corr map[string]correction) (map[HouseholdKey]struct{}, error) {
	type idHousehold struct {
		ReceiptID   string `parquet:"receipt_id"`
		InsurerNo   string `parquet:"insurer_no"`
		HouseholdID string `parquet:"household_id"`
	}
	out := map[HouseholdKey]struct{}{}
	persons := map[[2]string]struct{}{}
	for _, c := range corr {
		persons[[2]string{c.insurer, c.person}] = struct{}{}
	}
	if err := scan(v, output.ReceiptBenefitFile, func(r *idHousehold) HouseholdKey { return HouseholdKey{r.InsurerNo, r.HouseholdID} },
		func(r *idHousehold) error {
			if _, ok := corr[r.ReceiptID]; ok {
				out[HouseholdKey{r.InsurerNo, r.HouseholdID}] = struct{}{}
			}
			return nil
		}); err != nil {
		return nil, err
	}
	type personHousehold struct {
		InsurerNo   string `parquet:"insurer_no"`
		PersonID    string `parquet:"person_id"`
		HouseholdID string `parquet:"household_id"`
	}
	err := scan(v, pipeline.MembersFile, func(m *personHousehold) HouseholdKey { return HouseholdKey{m.InsurerNo, m.HouseholdID} },
		func(m *personHousehold) error {
			if _, ok := persons[[2]string{m.InsurerNo, m.PersonID}]; ok {
				out[HouseholdKey{m.InsurerNo, m.HouseholdID}] = struct{}{}
			}
			return nil
		})
	return out, err
}

type inputs struct{ receipts, members string }

// seekLimit: up to this many households, their rows are read by seeking to them; beyond it a
// whole read of the month is cheaper, since every seek decodes a page of every column.
var seekLimit = 2000 // a variable so that tests can take both ways

// writeInputs writes, for the households keys (all when nil), the ledger's receipts (less
// those the corrections replace or cancel) and, with members set, their member rows, as
// normalized Parquet inputs of a run.
func (l *Ledger) writeInputs(v *Version, keys map[HouseholdKey]struct{}, corr map[string]correction, dir string, members bool) (inputs, error) {
	in := inputs{receipts: filepath.Join(dir, "ledger-receipts.parquet"), members: filepath.Join(dir, "ledger-members.parquet")}
	month := v.Month.String()
	err := writeParquet(in.receipts, func(w *parquet.GenericWriter[receipt.Row]) error {
		buf := make([]receipt.Row, 0, 4096)
		each := v.Receipts
		if keys != nil && len(keys) <= seekLimit {
			each = func(fn func(*output.ReceiptBenefit) error) error {
				return scanKeys(v, output.ReceiptBenefitFile, keys, fn)
			}
		}
		err := each(func(r *output.ReceiptBenefit) error {
			if keys != nil {
				if _, ok := keys[HouseholdKey{r.InsurerNo, r.HouseholdID}]; !ok {
					return nil
				}
			}
			if _, ok := corr[r.ReceiptID]; ok {
				return nil
			}
			buf = append(buf, receipt.Row{ReceiptID: r.ReceiptID, ServiceMonth: month, InsurerNo: r.InsurerNo,
				PersonID: r.PersonID, InstitutionID: r.InstitutionID, Kind: r.Kind, Setting: r.Setting,
				PrescriberID: r.PrescriberID, Cost: r.Cost, Copay: r.Copay, Paid: r.Paid, Tokutei: r.Tokutei})
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
			return nil
		})
		if err != nil {
			return err
		}
		_, err = w.Write(buf)
		return err
	})
	if err != nil || !members {
		return in, err
	}
	err = writeParquet(in.members, func(w *parquet.GenericWriter[receipt.MemberRow]) error {
		write := func(m *receipt.MemberRow) error {
			_, err := w.Write([]receipt.MemberRow{*m})
			return err
		}
		if keys == nil || len(keys) > seekLimit {
			return v.Members(func(m *receipt.MemberRow) error {
				if keys != nil {
					if _, ok := keys[HouseholdKey{m.InsurerNo, m.HouseholdID}]; !ok {
						return nil
					}
				}
				return write(m)
			})
		}
		return scanKeys(v, pipeline.MembersFile, keys, write)
	})
	return in, err
}

// writeHistory writes the counting months the ledger holds among the 11 before month (for
// the households keys, all when nil) as a history input.
func (l *Ledger) writeHistory(month rules.Month, keys map[HouseholdKey]struct{}, path string) (string, error) {
	return path, writeParquet(path, func(w *parquet.GenericWriter[receipt.HistoryRow]) error {
		for m := month - 11; m < month; m++ {
			if !l.Has(m) {
				continue
			}
			v, err := l.Current(m)
			if err != nil {
				return err
			}
			err = scan(v, output.HouseholdMonthFile, (*stateRow).key, func(r *stateRow) error {
				if !r.CountsForTasukai {
					return nil
				}
				if keys != nil {
					if _, ok := keys[HouseholdKey{r.InsurerNo, r.HouseholdID}]; !ok {
						return nil
					}
				}
				_, err := w.Write([]receipt.HistoryRow{{InsurerNo: r.InsurerNo, HouseholdID: r.HouseholdID, ServiceMonth: m.String()}})
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func writeParquet[T any](path string, fill func(w *parquet.GenericWriter[T]) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := parquet.NewGenericWriter[T](f)
	if err := fill(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeKeys(path string, keys map[HouseholdKey]struct{}) error {
	return writeParquet(path, func(w *parquet.GenericWriter[HouseholdKey]) error {
		_, err := w.Write(sortedKeys(keys))
		return err
	})
}

func writeAdjustments(dir string, adj []output.Adjustment) error {
	return writeParquet(filepath.Join(dir, output.AdjustmentsFile), func(w *parquet.GenericWriter[output.Adjustment]) error {
		_, err := w.Write(adj)
		return err
	})
}

func writeManifest(dir string, m output.Manifest) error {
	data, err := m.MarshalJSON()
	if err != nil {
		return err
	}
	return writeSync(filepath.Join(dir, output.ManifestFile), append(data, '\n'))
}

// linkFiles hard-links every file of src into dst (same file system), copying where links
// are not possible.
func linkFiles(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if err := os.Link(from, to); err != nil {
			data, rerr := os.ReadFile(from)
			if rerr != nil {
				return rerr
			}
			if err := writeSync(to, data); err != nil {
				return err
			}
		}
	}
	return syncDir(dst)
}
