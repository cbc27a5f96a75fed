package ledger

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// AnnualSummary is what the annual outpatient cap paid.
type AnnualSummary struct {
	Period        rules.Month
	Persons       int64 // persons with a counted month
	PersonsPaid   int64
	Payout        int64
	RulesVersion  string
	MonthsVersion map[string]int // the ledger version of each month used
}

// annualClass: the 70+ classes whose outpatient limit the annual cap extends (CONTRACT.md §3.6).
func annualClass(c string) bool { return c == "IPPAN" || c == "IPPAN2" || c == "TEI2" || c == "TEI1" }

type annualPerson struct {
	household string
	months    int
	net       int64
}

// Annual computes the annual outpatient cap (外来年間合算) for the period of twelve months
// starting with period (an August) into the run directory out: every person who is 70+ and in
// 一般, 一般Ⅱ or 低所得 in July at the period's end, with the sum over the period's months in
// which they were 70+ in one of those classes of outpatient paid − the cash apportioned to their
// outpatient receipts; the payout is what exceeds the cap of July's rule table.
//
// The persons of July are held in memory (about 100 bytes each).
func (l *Ledger) Annual(period rules.Month, set *rules.Set, out string, cmdline []string) (*AnnualSummary, error) {
	if period.Num() != 8 {
		return nil, fmt.Errorf("annual period %s: the period starts in August (YYYY-08)", period)
	}
	if m, ok, err := l.Pending(); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("annual: a rerun of %s was interrupted before its 多数回 cascade finished; run any month on the ledger to finish it first", m)
	}
	july := period + 11
	versions := make([]*Version, 12)
	for i := range versions {
		m := period + rules.Month(i)
		if !l.Has(m) {
			return nil, fmt.Errorf("annual outpatient cap for %s..%s: month %s is not in the ledger %s; run it first", period, july, m, l.dir)
		}
		v, err := l.Current(m)
		if err != nil {
			return nil, err
		}
		versions[i] = v
	}
	if set == nil {
		set = rules.Default()
	}
	table, err := set.For(july)
	if err != nil {
		return nil, err
	}
	persons, err := julyPersons(versions[11], july)
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if err := addMonth(v, persons); err != nil {
			return nil, err
		}
	}
	sum := &AnnualSummary{Period: period, RulesVersion: table.Label(), MonthsVersion: map[string]int{}}
	for _, v := range versions {
		sum.MonthsVersion[v.Month.String()] = v.Number
	}
	rows := make([]output.AnnualOutpatient, 0, len(persons))
	for k, p := range persons {
		if p.months == 0 {
			continue
		}
		row := output.AnnualOutpatient{InsurerNo: k[0], PersonID: k[1], HouseholdID: p.household, PeriodStart: period.String(),
			MonthsCounted: p.months, OutpatientNetSum: p.net, Payout: max(0, p.net-table.AnnualOutpatientCap)}
		rows = append(rows, row)
		sum.Persons++
		sum.Payout += row.Payout
		if row.Payout > 0 {
			sum.PersonsPaid++
		}
	}
	slices.SortFunc(rows, func(a, b output.AnnualOutpatient) int {
		return cmp.Or(cmp.Compare(a.InsurerNo, b.InsurerNo), cmp.Compare(a.PersonID, b.PersonID))
	})
	return sum, writeAnnual(out, rows, sum, cmdline)
}

// julyPersons: the persons who are 70+ in an annual class in July.
func julyPersons(v *Version, july rules.Month) (map[[2]string]*annualPerson, error) {
	out := map[[2]string]*annualPerson{}
	err := v.Members(func(m *receipt.MemberRow) error {
		if !annualClass(m.Category70) {
			return nil
		}
		birth, err := rules.ParseDate(m.BirthDate)
		if err != nil {
			return err
		}
		if rules.IsElderly(birth, july) {
			out[[2]string{m.InsurerNo, m.PersonID}] = &annualPerson{household: m.HouseholdID}
		}
		return nil
	})
	return out, err
}

// addMonth adds one month's outpatient net amounts of the persons who were 70+ in an annual
// class that month.
func addMonth(v *Version, persons map[[2]string]*annualPerson) error {
	classOf := map[HouseholdKey]string{}
	if err := v.HouseholdMonths(func(h *output.HouseholdMonth) error {
		if annualClass(h.Category70) {
			classOf[HouseholdKey{h.InsurerNo, h.HouseholdID}] = h.Category70
		}
		return nil
	}); err != nil {
		return err
	}
	return v.Persons(func(p *output.PersonMonth) error {
		ap, ok := persons[[2]string{p.InsurerNo, p.PersonID}]
		if !ok || p.AgeGroup != output.AgeGroup70Plus {
			return nil
		}
		if _, ok := classOf[HouseholdKey{p.InsurerNo, p.HouseholdID}]; !ok {
			return nil
		}
		ap.months++
		ap.net += p.OutpatientPaid - p.OutpatientBenefitCash
		return nil
	})
}

func writeAnnual(out string, rows []output.AnnualOutpatient, sum *AnnualSummary, cmdline []string) error {
	d, err := output.Create(out)
	if err != nil {
		return err
	}
	defer d.Abort()
	w, err := output.NewWriter[output.AnnualOutpatient](d, output.AnnualOutpatientFile, output.Options{})
	if err != nil {
		return err
	}
	if err := w.Write(rows); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	m := output.Manifest{RunID: output.RunID(append([]string{"annual", sum.Period.String()}, cmdline...)...), CommandLine: cmdline,
		RulesVersion: sum.RulesVersion, ServiceMonth: sum.Period.String(),
		Outputs: []output.OutputFile{{Name: output.AnnualOutpatientFile, Rows: w.Rows()}}}
	for month, n := range sum.MonthsVersion {
		m.Inputs = append(m.Inputs, output.Input{Path: fmt.Sprintf("ledger month %s version %d", month, n)})
	}
	slices.SortFunc(m.Inputs, func(a, b output.Input) int { return cmp.Compare(a.Path, b.Path) })
	if err := d.WriteJSON(output.ManifestFile, m); err != nil {
		return err
	}
	return d.Commit()
}
