package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/kougaku/batch/extract"
	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/rules"
)

// cmdExtract writes the actuarial tables and report.html of a range of the ledger's months.
func cmdExtract(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("extract", "extract --ledger DIR --from YYYY-MM --to YYYY-MM --out DIR [--rules FILE]")
	ledgerDir := fs.String("ledger", "", "ledger directory")
	from := fs.String("from", "", "first service month, YYYY-MM")
	to := fs.String("to", "", "last service month, YYYY-MM")
	out := fs.String("out", "", "output directory (must not exist, or be empty)")
	rulesFile := fs.String("rules", "", "rule table file the ledger's months were computed with, laid over the embedded tables")
	if err := cl.parse(fs, args); err != nil {
		return err
	}
	stdout, log := cl.stdout, cl.log
	if *ledgerDir == "" || *from == "" || *to == "" || *out == "" {
		return &usageError{"extract needs --ledger, --from, --to and --out"}
	}
	f, t, err := monthRange(*from, *to)
	if err != nil {
		return err
	}
	set, err := ruleSet(*rulesFile)
	if err != nil {
		return err
	}
	l, err := ledger.Open(*ledgerDir)
	if err != nil {
		return err
	}
	defer l.Close()
	sum, err := extract.Run(ctx, extract.Config{Ledger: l, From: f, To: t, Rules: set, Out: *out,
		CommandLine: append([]string{"batch", "extract"}, args...)})
	if err != nil {
		return err
	}
	tot := sum.Totals
	fmt.Fprintf(stdout, "extract %s..%s   %d ledger month(s)\n", f, t, len(sum.Months))
	fmt.Fprintf(stdout, "household months  %s\n", group(tot.Households))
	fmt.Fprintf(stdout, "benefit cases     %s\n", group(tot.Cases))
	fmt.Fprintf(stdout, "benefit in kind   ¥%s\n", group(tot.YenInKind))
	fmt.Fprintf(stdout, "benefit cash      ¥%s\n", group(tot.YenCash))
	for _, p := range sum.AnnualPeriods {
		fmt.Fprintf(stdout, "annual cap        %s..%s\n", p, p+11)
	}
	fmt.Fprintf(stdout, "reconciled        true (every table's yen = the ledger's household rows)\n")
	for _, w := range sum.Warnings {
		fmt.Fprintf(stdout, "warning           %s\n", w)
	}
	fmt.Fprintf(stdout, "output            %s\n", *out)
	fmt.Fprintf(stdout, "report            %s\n", filepath.Join(*out, extract.ReportFile))
	log.Info("extract complete", "from", f.String(), "to", t.String(), "months", len(sum.Months),
		"households", tot.Households, "in_kind", tot.YenInKind, "cash", tot.YenCash)
	return nil
}

// monthRange reads --from and --to.
func monthRange(from, to string) (rules.Month, rules.Month, error) {
	f, err := rules.ParseMonth(from)
	if err != nil {
		return 0, 0, &usageError{err.Error()}
	}
	t, err := rules.ParseMonth(to)
	if err != nil {
		return 0, 0, &usageError{err.Error()}
	}
	if t < f {
		return 0, 0, &usageError{fmt.Sprintf("--to %s is before --from %s", t, f)}
	}
	return f, t, nil
}

// ruleSet is the embedded tables, with --rules laid over them.
func ruleSet(file string) (*rules.Set, error) {
	set := rules.Default()
	if file == "" {
		return set, nil
	}
	return set.LoadFile(file)
}
