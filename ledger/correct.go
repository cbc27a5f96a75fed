package ledger

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// `batch correct`: corrections for any months the ledger holds, read once and routed to
// their service months, applied oldest month first, each month as a rerun of it (one commit
// a month), and one 多数回 cascade from the earliest month touched over the households whose
// counting changed in any of them.
//
// The journal (DIR/journal/) lets the next run finish a run killed between months:
//
//	correct.json            the months, the version each had before, the inputs; written once
//	                        every month's corrections are kept below, removed at the end
//	months/YYYY-MM.parquet  the month's corrections (normalized, with cancel) and, beside them,
//	months/YYYY-MM.sources.parquet  where each came from, for the rejects
//	rejected.parquet        the corrections no month takes (UNKNOWN_MONTH, unreadable rows)
//	done/YYYY-MM/           the month's rejects, report and changed households, written
//	                        before its commit: they stand once the month passed its version
//
// A month whose version is past the one correct.json names was committed, and is not redone.
// The adjustments of every commit are journalled as for any run (pending.go).

// MonthReport reconciles one service month of a correction run: corrections read =
// applied + rejected (a cancel applied counts in applied and in cancelled).
type MonthReport struct {
	ServiceMonth    string           `json:"service_month"`
	RulesVersion    string           `json:"rules_version,omitempty"`
	Read            int64            `json:"corrections_read"`
	Applied         int64            `json:"applied"`
	Rejected        int64            `json:"rejected"`
	Cancelled       int64            `json:"cancelled"`
	RejectsByReason map[string]int64 `json:"rejects_by_reason"`
	Households      int              `json:"households_recomputed"`
	Version         int              `json:"ledger_version"` // the version committed (0: none)
	// Warnings are the month's rerun's (also in the run's warnings).
	Warnings []string `json:"warnings,omitempty"`
	// Recovered: the month was corrected by an interrupted run, finished by this one.
	Recovered bool `json:"recovered,omitempty"`
}

// Correction is what a correction run did, with what it finished for an interrupted one.
type Correction struct {
	RunID       string
	Months      []MonthReport
	Unreadable  int64 // rows rejected before their service month could be read
	Adjustments []output.Adjustment
	Rejects     []receipt.Reject
	Inputs      []output.Input
	Warnings    []string
	// Cascaded are the later months given a new version by the one cascade, with the
	// households recomputed in each.
	Cascaded           []rules.Month
	CascadedHouseholds []int
}

// CorrectTotals sums the months' reconciliations: read = applied + rejected.
type CorrectTotals struct {
	Read      int64 `json:"corrections_read"`
	Applied   int64 `json:"applied"`
	Rejected  int64 `json:"rejected"`
	Cancelled int64 `json:"cancelled"`
	Balanced  bool  `json:"balanced"`
}

// Totals sums the months and the unreadable rows.
func (c *Correction) Totals() CorrectTotals {
	t := CorrectTotals{Read: c.Unreadable, Rejected: c.Unreadable, Balanced: true}
	for _, m := range c.Months {
		t.Read += m.Read
		t.Applied += m.Applied
		t.Rejected += m.Rejected
		t.Cancelled += m.Cancelled
		t.Balanced = t.Balanced && m.Read == m.Applied+m.Rejected
	}
	t.Balanced = t.Balanced && t.Read == t.Applied+t.Rejected
	return t
}

// CorrectManifest is manifest.json of a correction run.
type CorrectManifest struct {
	RunID       string              `json:"run_id"`
	CommandLine []string            `json:"command_line"`
	Inputs      []output.Input      `json:"inputs"`
	Outputs     []output.OutputFile `json:"outputs"`
	Months      []MonthReport       `json:"months"`
	Unreadable  int64               `json:"unreadable"`
	Totals      CorrectTotals       `json:"totals"`
	Cascaded    []string            `json:"cascaded"`
	Adjusted    int64               `json:"households_adjusted"`
	NetDelta    int64               `json:"net_delta"`
	Warnings    []string            `json:"warnings"`
}

type correctJournal struct {
	// RunID and Out name the run directory the run writes last: when it is there, the run
	// finished and only its journal is left to remove.
	RunID      string         `json:"run_id"`
	Out        string         `json:"out"`
	Months     []journalMonth `json:"months"`
	Unknown    []MonthReport  `json:"unknown_months"`
	Unreadable int64          `json:"unreadable"`
	Inputs     []output.Input `json:"inputs"`
	Warnings   []string       `json:"warnings"`
}

type journalMonth struct {
	Month string `json:"month"`
	Base  int    `json:"base_version"`
	Read  int64  `json:"read"`
}

type sourceRow struct {
	Source string `parquet:"source"`
}

func (l *Ledger) correctPath() string { return filepath.Join(l.journalDir(), "correct.json") }
func (l *Ledger) journalMonthFile(m string) string {
	return filepath.Join(l.journalDir(), "months", m+".parquet")
}
func (l *Ledger) journalSources(m string) string {
	return filepath.Join(l.journalDir(), "months", m+".sources.parquet")
}
func (l *Ledger) doneDir(m string) string { return filepath.Join(l.journalDir(), "done", m) }

func (l *Ledger) readCorrectJournal() (*correctJournal, error) {
	data, err := os.ReadFile(l.correctPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j correctJournal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("ledger: the journal %s is damaged: %v", l.correctPath(), err)
	}
	return &j, nil
}

// clearJournal removes the whole journal, correct.json first (so that what is left of it
// after a kill is ignored).
func (l *Ledger) clearJournal() error {
	if err := os.Remove(l.correctPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := syncDir(l.journalDir()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := l.clearPending(); err != nil {
		return err
	}
	return os.RemoveAll(l.journalDir())
}

// Correct applies the corrections cfg.Receipts and cfg.UKE to the months they belong to and
// writes one run directory at cfg.Out: adjustments.parquet, rejects.parquet, manifest.json.
func (l *Ledger) Correct(ctx context.Context, cfg pipeline.Config) (*Correction, error) {
	l.memoryBudget = cfg.MemoryBudget
	if cfg.Rules == nil {
		cfg.Rules = rules.Default()
	}
	d, err := output.Create(cfg.Out)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			d.Abort()
		}
	}()
	prior, err := l.finishJournal(ctx, cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	j, err := l.route(ctx, cfg)
	if err != nil {
		return nil, err
	}
	step(cfg, start, "ledger: corrections read and routed to their months", "months", len(j.Months))
	if err := l.check(cfg, j); err != nil {
		os.RemoveAll(l.journalDir()) // nothing was applied: the ledger is left as it was
		return nil, err
	}
	data, _ := json.MarshalIndent(j, "", "  ")
	if err := writeSync(l.correctPath()+".tmp", append(data, '\n')); err != nil {
		return nil, err
	}
	if err := os.Rename(l.correctPath()+".tmp", l.correctPath()); err != nil {
		return nil, err
	}
	if err := syncDir(l.journalDir()); err != nil {
		return nil, err
	}
	c, err := l.applyJournal(ctx, cfg, j)
	if err != nil {
		return nil, err
	}
	if prior != nil { // what an interrupted run did comes first
		c.Months = append(prior.Months, c.Months...)
		c.Adjustments = append(prior.Adjustments, c.Adjustments...)
		c.Rejects = append(prior.Rejects, c.Rejects...)
		c.Inputs = append(prior.Inputs, c.Inputs...)
		c.Warnings = append(prior.Warnings, c.Warnings...)
		c.Unreadable += prior.Unreadable
	}
	c.RunID = j.RunID
	if err := writeCorrection(d, cfg, c); err != nil {
		return nil, err
	}
	if err := d.Commit(); err != nil {
		return nil, err
	}
	committed = true
	return c, l.clearJournal()
}

// check refuses, before anything is committed, a correction run that would read nothing or
// reject everything for one reason, a month whose rule table is provisional, and warnings
// under --strict.
func (l *Ledger) check(cfg pipeline.Config, j *correctJournal) error {
	var read int64
	for _, m := range j.Months {
		read += m.Read
		mm, _ := rules.ParseMonth(m.Month)
		t, err := cfg.Rules.For(mm)
		if err != nil {
			return err
		}
		if !t.Enacted() && !cfg.AllowProvisional {
			return &pipeline.ProvisionalError{Table: t}
		}
	}
	if !cfg.AllowEmpty {
		var unknown int64
		for _, m := range j.Unknown {
			unknown += m.Read
		}
		switch {
		case read == 0 && unknown == 0 && j.Unreadable == 0:
			return &pipeline.EmptyRunError{Msg: "read no corrections"}
		case read == 0 && j.Unreadable == 0:
			return &pipeline.EmptyRunError{Msg: fmt.Sprintf("every one of the %d corrections read is for a month the ledger %s does not hold (UNKNOWN_MONTH), nothing is applied", unknown, l.dir)}
		case read == 0 && unknown == 0:
			return &pipeline.EmptyRunError{Msg: fmt.Sprintf("every one of the %d corrections read is unreadable (BAD_RECORD), nothing is applied", j.Unreadable)}
		}
	}
	if cfg.Strict && len(j.Warnings) > 0 {
		return fmt.Errorf("--strict: the run has %d warning(s), nothing is written; the first: %s", len(j.Warnings), slices.Min(j.Warnings))
	}
	return nil
}

// route reads every correction once and keeps each month's in the journal; the corrections
// no month of the ledger takes are rejected there.
func (l *Ledger) route(ctx context.Context, cfg pipeline.Config) (*correctJournal, error) {
	recs, err := receipt.Expand(cfg.Receipts)
	if err != nil {
		return nil, err
	}
	ukes, err := receipt.ExpandUKE(cfg.UKE)
	if err != nil {
		return nil, err
	}
	j := &correctJournal{Warnings: append([]string(nil), cfg.Warnings...)}
	for _, e := range []receipt.Expansion{recs, ukes} {
		for _, s := range e.Skipped {
			j.Warnings = append(j.Warnings, fmt.Sprintf("%s: not read (a directory or not an input file by its name)", s))
		}
	}
	rows := map[string][]receipt.Row{}
	sources := map[string][]sourceRow{}
	var rejected []receipt.Reject
	held := map[rules.Month]bool{}
	has := func(m rules.Month) bool {
		h, ok := held[m]
		if !ok {
			h = l.Has(m)
			held[m] = h
		}
		return h
	}
	read := func(f string, uke bool) error {
		emit := func(b receipt.Batch) error {
			defer b.Record.Release()
			str := func(c int) *array.String { return b.Record.Column(c).(*array.String) }
			i64 := func(c int) *array.Int64 { return b.Record.Column(c).(*array.Int64) }
			cancel := b.Record.Column(receipt.ColCancel).(*array.Boolean)
			for i := 0; i < int(b.Record.NumRows()); i++ {
				s := func(c int) string { return strings.Clone(str(c).Value(i)) }
				r := receipt.Row{ReceiptID: s(receipt.ColReceiptID), ServiceMonth: s(receipt.ColServiceMonth),
					InsurerNo: s(receipt.ColInsurerNo), PersonID: s(receipt.ColPersonID), InstitutionID: s(receipt.ColInstitutionID),
					Kind: s(receipt.ColKind), Setting: s(receipt.ColSetting), PrescriberID: s(receipt.ColPrescriberID),
					Cost: i64(receipt.ColCost).Value(i), Copay: i64(receipt.ColCopay).Value(i), Paid: i64(receipt.ColPaid).Value(i),
					Tokutei: s(receipt.ColTokutei), BirthDate: s(receipt.ColBirthDate), Sex: s(receipt.ColSex), Cancel: cancel.Value(i)}
				src := receipt.Position(f, i64(receipt.ColSourceLine).Value(i))
				m, err := rules.ParseMonth(r.ServiceMonth)
				switch {
				case err != nil:
					rejected = append(rejected, receipt.Reject{Source: src, ReceiptID: r.ReceiptID, InsurerNo: r.InsurerNo,
						PersonID: r.PersonID, Reason: receipt.BadRecord, Detail: "service_month: " + err.Error(), Paid: r.Paid}.Cut())
					j.Unreadable++
				case !has(m):
					rejected = append(rejected, receipt.Reject{Source: src, ReceiptID: r.ReceiptID, InsurerNo: r.InsurerNo,
						PersonID: r.PersonID, Reason: receipt.UnknownMonth, Paid: r.Paid,
						Detail: fmt.Sprintf("service month %s is not in the ledger: a correction applies to a month the ledger holds (run the month first)", m)}.Cut())
					unknownMonth(j, m.String())
				default:
					rows[m.String()] = append(rows[m.String()], r)
					sources[m.String()] = append(sources[m.String()], sourceRow{src})
				}
			}
			return nil
		}
		reject := func(r receipt.Reject) error {
			rejected = append(rejected, r.Cut())
			j.Unreadable++
			return nil
		}
		opt := receipt.ReadOptions{Warn: func(msg string) { j.Warnings = append(j.Warnings, msg) }}
		var st receipt.ReadStats
		if uke {
			st, err = receipt.ReadUKE(ctx, f, opt, emit, reject)
		} else {
			st, err = receipt.ReadReceipts(ctx, f, opt, emit, reject)
		}
		if err != nil {
			return err
		}
		size, sum, err := output.Digest(f)
		if err != nil {
			return err
		}
		j.Inputs = append(j.Inputs, output.Input{Path: f, Size: size, SHA256: sum, Rows: st.Rows})
		return nil
	}
	for _, f := range recs.Files {
		if err := read(f, false); err != nil {
			return nil, err
		}
	}
	for _, f := range ukes.Files {
		if err := read(f, true); err != nil {
			return nil, err
		}
	}
	// What an interrupted routing left is overwritten: correct.json, written last, did not
	// name it.
	if err := os.RemoveAll(l.journalDir()); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(l.journalDir(), "months"), 0o755); err != nil {
		return nil, err
	}
	for m, rs := range rows {
		mm, _ := rules.ParseMonth(m)
		base, err := l.versionNumber(mm)
		if err != nil {
			return nil, err
		}
		j.Months = append(j.Months, journalMonth{Month: m, Base: base, Read: int64(len(rs))})
		if err := writeParquet(l.journalMonthFile(m), func(w *buffered[receipt.Row]) error { w.buf = rs; return nil }); err != nil {
			return nil, err
		}
		if err := writeParquet(l.journalSources(m), func(w *buffered[sourceRow]) error { w.buf = sources[m]; return nil }); err != nil {
			return nil, err
		}
		if gap, err := l.gapWarning(mm); err != nil {
			return nil, err
		} else if gap != "" {
			j.Warnings = append(j.Warnings, gap)
		}
	}
	parts := []string{"correct"}
	for _, in := range j.Inputs {
		parts = append(parts, in.Path, in.SHA256)
	}
	j.RunID = output.RunID(append(parts, cfg.CommandLine...)...)
	if j.Out, err = filepath.Abs(cfg.Out); err != nil {
		return nil, err
	}
	slices.SortFunc(j.Months, func(a, b journalMonth) int { return cmp.Compare(a.Month, b.Month) })
	slices.SortFunc(j.Unknown, func(a, b MonthReport) int { return cmp.Compare(a.ServiceMonth, b.ServiceMonth) })
	if err := writeParquet(filepath.Join(l.journalDir(), "rejected.parquet"), func(w *buffered[receipt.Reject]) error {
		w.buf = rejected
		return nil
	}); err != nil {
		return nil, err
	}
	return j, syncDir(filepath.Join(l.journalDir(), "months"))
}

func unknownMonth(j *correctJournal, m string) {
	for i := range j.Unknown {
		if j.Unknown[i].ServiceMonth == m {
			j.Unknown[i].Read++
			j.Unknown[i].Rejected++
			j.Unknown[i].RejectsByReason[receipt.UnknownMonth]++
			return
		}
	}
	j.Unknown = append(j.Unknown, MonthReport{ServiceMonth: m, Read: 1, Rejected: 1,
		RejectsByReason: map[string]int64{receipt.UnknownMonth: 1}})
}

// applyJournal corrects the months of j not yet committed, oldest first, then runs the one
// cascade from the earliest month over every household whose counting changed, and returns
// what the whole correction did.
func (l *Ledger) applyJournal(ctx context.Context, cfg pipeline.Config, j *correctJournal) (*Correction, error) {
	// stale: the households whose counting changed in the months corrected so far, whose
	// states in the later months wait for the cascade.
	stale := map[HouseholdKey]struct{}{}
	for i, jm := range j.Months {
		if i > 0 {
			if err := readChanged(l.doneDir(j.Months[i-1].Month), stale); err != nil {
				return nil, err
			}
		}
		m, err := rules.ParseMonth(jm.Month)
		if err != nil {
			return nil, fmt.Errorf("ledger: the journal names %q: %w", jm.Month, err)
		}
		n, err := l.versionNumber(m)
		if err != nil {
			return nil, err
		}
		if n > jm.Base {
			continue // committed by an interrupted run
		}
		start := time.Now()
		if err := l.correctMonth(ctx, cfg, m, jm, stale); err != nil {
			return nil, fmt.Errorf("correcting %s: %w", m, err)
		}
		step(cfg, start, "ledger: month corrected", "month", m.String(), "corrections", jm.Read)
	}
	c := &Correction{RunID: j.RunID, Unreadable: j.Unreadable, Inputs: j.Inputs, Warnings: slices.Clone(j.Warnings)}
	changed := map[HouseholdKey]struct{}{}
	for _, jm := range j.Months {
		rep, rejects, err := l.readDone(jm.Month, changed)
		if err != nil {
			return nil, err
		}
		c.Months = append(c.Months, rep)
		c.Rejects = append(c.Rejects, rejects...)
		for _, w := range rep.Warnings {
			if !slices.Contains(c.Warnings, w) {
				c.Warnings = append(c.Warnings, w)
			}
		}
	}
	c.Months = append(c.Months, j.Unknown...)
	slices.SortStableFunc(c.Months, func(a, b MonthReport) int { return cmp.Compare(a.ServiceMonth, b.ServiceMonth) })
	rejected, err := output.ReadAll[receipt.Reject](filepath.Join(l.journalDir(), "rejected.parquet"))
	if err != nil {
		return nil, fmt.Errorf("ledger: the journal's rejects cannot be read: %w", err)
	}
	c.Rejects = append(c.Rejects, rejected...)
	if len(j.Months) > 0 {
		from, _ := rules.ParseMonth(j.Months[0].Month)
		if err := l.writePending(from, changed); err != nil {
			return nil, err
		}
		res := &Result{}
		if _, err := l.cascade(ctx, cfg, from, changed, res); err != nil {
			return nil, err
		}
		c.Cascaded, c.CascadedHouseholds = res.Cascaded, res.CascadedHouseholds
	}
	if c.Adjustments, err = l.journalledAdjustments(); err != nil {
		return nil, err
	}
	return c, nil
}

// correctMonth reruns month m with its corrections from the journal, its cascade deferred.
func (l *Ledger) correctMonth(ctx context.Context, cfg pipeline.Config, m rules.Month, jm journalMonth, stale map[HouseholdKey]struct{}) error {
	if err := os.RemoveAll(l.doneDir(jm.Month)); err != nil { // an attempt killed before its commit
		return err
	}
	tmp, err := l.tempDir("correct-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	run := cfg
	run.Month, run.Receipts, run.UKE, run.Members, run.History = m, []string{l.journalMonthFile(jm.Month)}, nil, nil, nil
	run.Out, run.AllowEmpty, run.Strict, run.Warnings = filepath.Join(tmp, "out"), true, false, nil
	run.CommandLine = append(append([]string(nil), cfg.CommandLine...), "(correct "+jm.Month+")")
	if gap, err := l.gapWarning(m); err != nil {
		return err
	} else if gap != "" {
		run.Warnings = []string{gap}
	}
	l.deferred = &deferral{file: run.Receipts[0], sources: l.journalSources(jm.Month), read: jm.Read, stale: stale}
	defer func() { l.deferred = nil }()
	_, err = l.rerun(ctx, run)
	return err
}

// deferral is a month of a correction run being rerun: its commit records the month's
// report, rejects and changed households in the journal instead of cascading.
type deferral struct {
	file    string // the month's corrections, as the run names them in its rejects
	sources string // where each row of file came from
	read    int64
	// stale are the households whose counting changed in a month corrected before this one
	// by the same run: the cascade that brings their states up to date comes after.
	stale map[HouseholdKey]struct{}
}

// staleCounting is, while `batch correct` reruns one of its months, the households whose
// states in it may not count the months corrected before it yet (nil otherwise).
func (l *Ledger) staleCounting() map[HouseholdKey]struct{} {
	if l.deferred == nil {
		return nil
	}
	return l.deferred.stale
}

// record writes the month's done record (see correct.go's journal), before its commit.
func (f *deferral) record(l *Ledger, m rules.Month, d *output.Dir, s *pipeline.Summary, changed map[HouseholdKey]struct{}, res *Result) error {
	sources, err := output.ReadAll[sourceRow](f.sources)
	if err != nil {
		return err
	}
	rejects, err := output.ReadAll[receipt.Reject](filepath.Join(d.TempPath(), output.RejectsFile))
	if err != nil {
		return err
	}
	n, err := l.versionNumber(m)
	if err != nil {
		return err
	}
	rep := MonthReport{ServiceMonth: m.String(), RulesVersion: s.Manifest.RulesVersion, Read: f.read,
		Cancelled: s.Manifest.Reconciliation.ReceiptsCancelled, RejectsByReason: map[string]int64{},
		Households: res.Households, Version: n + 1, Warnings: s.Manifest.Warnings}
	prefix := f.file + ":row "
	for i := range rejects {
		row, ok := strings.CutPrefix(rejects[i].Source, prefix)
		if !ok {
			continue // a receipt the ledger held: not a correction
		}
		if k, err := strconv.Atoi(row); err == nil && k >= 1 && k <= len(sources) {
			rejects[i].Source = sources[k-1].Source
		}
		rep.Rejected++
		rep.RejectsByReason[rejects[i].Reason]++
	}
	rep.Applied = rep.Read - rep.Rejected
	tmp, err := l.tempDir("done-")
	if err != nil {
		return err
	}
	if err := writeKeys(filepath.Join(tmp, "changed.parquet"), sortedKeys(changed)); err != nil {
		return err
	}
	if err := writeParquet(filepath.Join(tmp, output.RejectsFile), func(w *buffered[receipt.Reject]) error { w.buf = rejects; return nil }); err != nil {
		return err
	}
	data, _ := json.Marshal(rep)
	if err := writeSync(filepath.Join(tmp, "report.json"), data); err != nil {
		return err
	}
	done := l.doneDir(m.String())
	if err := os.MkdirAll(filepath.Dir(done), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, done); err != nil {
		return err
	}
	return syncDir(filepath.Dir(done))
}

// readDone reads a committed month's done record, adding its changed households to changed.
func (l *Ledger) readDone(m string, changed map[HouseholdKey]struct{}) (MonthReport, []receipt.Reject, error) {
	var rep MonthReport
	dir := l.doneDir(m)
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return rep, nil, fmt.Errorf("ledger: the journal's record of %s cannot be read: %w", m, err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return rep, nil, fmt.Errorf("ledger: the journal's record of %s is damaged: %w", m, err)
	}
	rejects, err := output.ReadAll[receipt.Reject](filepath.Join(dir, output.RejectsFile))
	if err != nil {
		return rep, nil, err
	}
	return rep, rejects, readChanged(dir, changed)
}

// readChanged adds to changed the households a month's done record says changed counting.
func readChanged(dir string, changed map[HouseholdKey]struct{}) error {
	return output.Each(filepath.Join(dir, "changed.parquet"), func(keys []HouseholdKey) error {
		for _, k := range keys {
			changed[k] = struct{}{}
		}
		return nil
	})
}

// writeCorrection writes the run directory's files.
func writeCorrection(d *output.Dir, cfg pipeline.Config, c *Correction) error {
	aw, err := output.NewWriter[output.Adjustment](d, output.AdjustmentsFile, output.Options{})
	if err != nil {
		return err
	}
	if err := aw.Write(c.Adjustments); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	rw, err := output.NewWriter[receipt.Reject](d, output.RejectsFile, output.Options{})
	if err != nil {
		return err
	}
	if err := rw.Write(c.Rejects); err != nil {
		return err
	}
	if err := rw.Close(); err != nil {
		return err
	}
	m := CorrectManifest{CommandLine: orEmpty(cfg.CommandLine), Inputs: orEmpty(c.Inputs), Months: orEmpty(c.Months),
		Unreadable: c.Unreadable, Totals: c.Totals(), Cascaded: []string{}, Warnings: orEmpty(c.Warnings),
		Outputs: []output.OutputFile{{Name: output.AdjustmentsFile, Rows: aw.Rows()}, {Name: output.RejectsFile, Rows: rw.Rows()}}}
	slices.Sort(m.Warnings)
	for _, x := range c.Cascaded {
		m.Cascaded = append(m.Cascaded, x.String())
	}
	adjusted := map[string]struct{}{}
	for _, a := range c.Adjustments {
		m.NetDelta += a.Delta
		adjusted[a.ServiceMonth+"\x00"+HouseholdKey{a.InsurerNo, a.HouseholdID}.String()] = struct{}{}
	}
	m.Adjusted = int64(len(adjusted))
	m.RunID = c.RunID
	if !m.Totals.Balanced {
		return fmt.Errorf("the correction run does not reconcile, nothing is written: %+v", m.Totals)
	}
	return d.WriteJSON(output.ManifestFile, m)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// finished reports whether the run directory of j was written: its manifest names j's run.
func (j *correctJournal) finished() bool {
	data, err := os.ReadFile(filepath.Join(j.Out, output.ManifestFile))
	if err != nil {
		return false
	}
	var m struct {
		RunID string `json:"run_id"`
	}
	return json.Unmarshal(data, &m) == nil && m.RunID == j.RunID && j.RunID != ""
}
