package extract

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/rules"
)

// ScenarioSummaryFile is the simulation by insurer type, with a "total" row per scenario.
const ScenarioSummaryFile = "scenario_summary"

// TypeTotal names the all-types rows of the summary table.
const TypeTotal = "total"

// SummaryRows sums a simulation's rows by insurer type and scenario, and over every type
// (InsurerType "total"), in table order.
func SummaryRows(sum *SimSummary) []SimRow {
	var out []SimRow
	for _, typ := range append(append([]string(nil), InsurerTypes...), TypeTotal) {
		for i, name := range sum.Scenarios {
			a := newSimAcc(1)
			found := false
			for _, r := range sum.Rows {
				if r.Scenario != name || (typ != TypeTotal && r.InsurerType != typ) {
					continue
				}
				found = true
				a.add(&simAcc{households: r.Households, persons: r.Persons, cost: r.Cost, inKind: r.NowInKind, cash: r.NowCash,
					sInKind: []int64{r.InKind}, sCash: []int64{r.Cash}, affected: []int64{r.AffectedHouseholds}, affectedP: []int64{r.AffectedPersons}})
			}
			if found {
				out = append(out, simRow(cellKey{typ: typ}, name, sum.Labels[i], a, 0))
			}
		}
	}
	return out
}

// WriteSimulation writes the simulation into out: scenario.parquet/.csv (type × age × class
// × scenario), scenario_summary.parquet/.csv (type × scenario, with totals) and manifest.json.
func WriteSimulation(out string, from, to rules.Month, sum *SimSummary, cmdline []string) error {
	d, err := output.Create(out)
	if err != nil {
		return err
	}
	defer d.Abort()
	var outs []output.OutputFile
	add := func(files []output.OutputFile, err error) error {
		outs = append(outs, files...)
		return err
	}
	if err := errors.Join(add(writeTable(d, ScenarioFile, sum.Rows)), add(writeTable(d, ScenarioSummaryFile, SummaryRows(sum)))); err != nil {
		return err
	}
	m := Manifest{Command: "simulate", CommandLine: cmdline, From: from.String(), To: to.String(), Months: sum.Inputs,
		Scenarios: sum.Scenarios, Outputs: outs, Reconciled: sum.Mismatches == 0, Warnings: sum.Warnings}
	for _, r := range sum.Rows {
		if r.Scenario == sum.Scenarios[0] {
			m.Totals.Households += r.Households
			m.Totals.YenInKind += r.NowInKind
			m.Totals.YenCash += r.NowCash
		}
	}
	if m.CommandLine == nil {
		m.CommandLine = []string{}
	}
	if m.Warnings == nil {
		m.Warnings = []string{}
	}
	if err := d.WriteJSON(output.ManifestFile, m); err != nil {
		return err
	}
	return d.Commit()
}

// PrintSimulation prints the simulation as the 機械的なモデル試算 is laid out: one column per
// scenario, and rows of benefit spending, its change, the households and persons affected and
// the change per affected person, by insurer type; then the change by age group and class.
func PrintSimulation(w io.Writer, sum *SimSummary) {
	months := make([]string, len(sum.Months))
	for i, m := range sum.Months {
		months[i] = m.String()
	}
	fmt.Fprintf(w, "simulation of %s: %s household months, %s receipts, %d scenario(s) in %.1fs\n",
		strings.Join(months, ", "), Group(sum.Households), Group(sum.Receipts), len(sum.Scenarios), sum.Elapsed.Seconds())
	for i, name := range sum.Scenarios {
		fmt.Fprintf(w, "  %-8s rules %s\n", name, sum.Labels[i])
	}
	if sum.Mismatches == 0 {
		fmt.Fprintln(w, "recomputed under the ledger's tables, every household's cash is the ledger's")
	}
	for _, warn := range sum.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	rows := SummaryRows(sum)
	type measure struct {
		title string
		now   func(r *SimRow) string
		val   func(r *SimRow) string
	}
	grouped := func(f func(r *SimRow) int64) func(r *SimRow) string {
		return func(r *SimRow) string { return Group(f(r)) }
	}
	measures := []measure{
		{"benefit spending (高額療養費, in kind + cash), yen", grouped(func(r *SimRow) int64 { return r.NowTotal }), grouped(func(r *SimRow) int64 { return r.Total })},
		{"difference from now, yen", nil, grouped(func(r *SimRow) int64 { return r.Difference })},
		{"households whose benefit changes", nil, grouped(func(r *SimRow) int64 { return r.AffectedHouseholds })},
		{"persons in those households", nil, grouped(func(r *SimRow) int64 { return r.AffectedPersons })},
		{"difference per affected person, yen", nil, grouped(func(r *SimRow) int64 { return r.YenPerAffectedPerson })},
		{"effective benefit rate change (difference ÷ 10割 cost), points", nil, func(r *SimRow) string { return fmt.Sprintf("%.4f", r.RateChangePoints) }},
	}
	for _, ms := range measures {
		fmt.Fprintf(w, "\n%s\n", ms.title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "insurer type\t")
		if ms.now != nil {
			fmt.Fprint(tw, "now (ledger)\t")
		}
		for _, name := range sum.Scenarios {
			fmt.Fprintf(tw, "%s\t", name)
		}
		fmt.Fprintln(tw)
		for k := 0; k < len(rows); k += len(sum.Scenarios) {
			fmt.Fprintf(tw, "%s\t", rows[k].InsurerType)
			if ms.now != nil {
				fmt.Fprintf(tw, "%s\t", ms.now(&rows[k]))
			}
			for i := range sum.Scenarios {
				fmt.Fprintf(tw, "%s\t", ms.val(&rows[k+i]))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	// By age group and class, over every type.
	type key struct{ age, class string }
	acc := map[key]*simAcc{}
	var keys []key
	for _, r := range sum.Rows {
		k := key{r.AgeGroup, r.IncomeClass}
		a := acc[k]
		if a == nil {
			a = newSimAcc(len(sum.Scenarios))
			acc[k] = a
			keys = append(keys, k)
		}
		i := indexOf(sum.Scenarios, r.Scenario)
		if i == 0 {
			a.inKind += r.NowInKind
			a.cash += r.NowCash
			a.households += r.Households
		}
		a.sInKind[i] += r.InKind
		a.sCash[i] += r.Cash
	}
	sortKeys(keys, func(k key) cellKey { return cellKey{"", k.age, k.class} })
	fmt.Fprintf(w, "\ndifference from now by age group (of the household's patients) and class, yen\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "age group\tclass\thouseholds\tnow (ledger)\t")
	for _, name := range sum.Scenarios {
		fmt.Fprintf(tw, "%s\t", name)
	}
	fmt.Fprintln(tw)
	for _, k := range keys {
		a := acc[k]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t", k.age, k.class, Group(a.households), Group(a.inKind+a.cash))
		for i := range sum.Scenarios {
			fmt.Fprintf(tw, "%s\t", Group(a.sInKind[i]+a.sCash[i]-a.inKind-a.cash))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// HouseholdScenarioRow is one household month under one scenario, as `simulate --households`
// writes it: the ledger's benefit ("now"), the cash recomputed under the ledger's tables, and
// the benefit under the scenario. The columns are SimRow's for one household; summed by
// scenario they give scenario_summary's totals.
type HouseholdScenarioRow struct {
	InsurerNo      string `parquet:"insurer_no"`
	HouseholdID    string `parquet:"household_id"`
	ServiceMonth   string `parquet:"service_month"`
	Scenario       string `parquet:"scenario"`
	InsurerType    string `parquet:"insurer_type"`
	AgeGroup       string `parquet:"age_group"`
	IncomeClass    string `parquet:"income_class"`
	Persons        int64  `parquet:"persons"`
	Cost           int64  `parquet:"cost_total"`
	NowInKind      int64  `parquet:"now_in_kind"`
	NowCash        int64  `parquet:"now_cash"`
	NowTotal       int64  `parquet:"now_total"`
	RecomputedCash int64  `parquet:"recomputed_cash"` // under the ledger's tables: now_cash unless the tables differ
	InKind         int64  `parquet:"in_kind"`
	Cash           int64  `parquet:"cash"`
	Total          int64  `parquet:"total"`
	Difference     int64  `parquet:"difference"` // total − now_total
}

// HouseholdsWriter writes a simulation's outcomes (SimConfig.Household) to one Parquet file,
// a row per household month and scenario, which appears at its path only on Commit.
type HouseholdsWriter struct {
	file      *output.File
	w         *output.Writer[HouseholdScenarioRow]
	scenarios []string
	buf       []HouseholdScenarioRow
}

// householdsBatch is how many rows are handed to the writer at once.
const householdsBatch = 4096

// CreateHouseholds prepares path (which must not exist) for the outcomes of a simulation of
// the scenarios named. Defer Abort.
func CreateHouseholds(path string, scenarios []string) (*HouseholdsWriter, error) {
	f, err := output.CreateFile(path)
	if err != nil {
		return nil, err
	}
	w, err := output.NewWriter[HouseholdScenarioRow](f.Dir(), f.Name(), output.Options{})
	if err != nil {
		f.Abort()
		return nil, err
	}
	return &HouseholdsWriter{file: f, w: w, scenarios: scenarios, buf: make([]HouseholdScenarioRow, 0, householdsBatch)}, nil
}

// Add writes an outcome's rows, one per scenario; it is a SimConfig.Household.
func (hw *HouseholdsWriter) Add(o *Outcome) error {
	month := o.Month.String()
	now := o.InKind + o.Cash
	for i, name := range hw.scenarios {
		total := o.ScenarioInKind[i] + o.ScenarioCash[i]
		hw.buf = append(hw.buf, HouseholdScenarioRow{InsurerNo: o.InsurerNo, HouseholdID: o.HouseholdID, ServiceMonth: month,
			Scenario: name, InsurerType: o.InsurerType, AgeGroup: o.AgeGroup, IncomeClass: o.IncomeClass,
			Persons: int64(o.Persons), Cost: o.Cost, NowInKind: o.InKind, NowCash: o.Cash, NowTotal: now, RecomputedCash: o.Recomputed,
			InKind: o.ScenarioInKind[i], Cash: o.ScenarioCash[i], Total: total, Difference: total - now})
	}
	if len(hw.buf) >= householdsBatch {
		return hw.flush()
	}
	return nil
}

// flush writes the rows held; the writer copies what it keeps, so the buffer is reused.
func (hw *HouseholdsWriter) flush() error {
	err := hw.w.Write(hw.buf)
	clear(hw.buf) // drop the partition's strings
	hw.buf = hw.buf[:0]
	return err
}

// Rows is the number of rows added.
func (hw *HouseholdsWriter) Rows() int64 { return hw.w.Rows() + int64(len(hw.buf)) }

// Commit writes the last rows, closes the file (fsynced) and renames it into place.
func (hw *HouseholdsWriter) Commit() error {
	if err := hw.flush(); err != nil {
		return err
	}
	if err := hw.w.Close(); err != nil {
		return err
	}
	return hw.file.Commit()
}

// Abort removes an uncommitted file; a no-op after Commit.
func (hw *HouseholdsWriter) Abort() error {
	hw.w.Close() // the file is being deleted; its close error says nothing useful
	return hw.file.Abort()
}
