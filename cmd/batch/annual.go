package main

import (
	"context"
	"fmt"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/rules"
)

func cmdAnnual(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("annual", "annual --period YYYY-08 --ledger DIR --out DIR [--rules FILE]")
	period := fs.String("period", "", "first month of the period, YYYY-08")
	ledgerDir := fs.String("ledger", "", "ledger directory")
	out := fs.String("out", "", "output directory (must not exist, or be empty)")
	rulesFile := fs.String("rules", "", "rule table file laid over the embedded tables")
	if err := cl.parse(fs, args); err != nil {
		return err
	}
	stdout, log := cl.stdout, cl.log
	if *period == "" || *ledgerDir == "" || *out == "" {
		return &usageError{"annual needs --period, --ledger and --out"}
	}
	p, err := rules.ParseMonth(*period)
	if err != nil {
		return &usageError{err.Error()}
	}
	if p.Num() != 8 {
		return &usageError{fmt.Sprintf("--period %s: the annual outpatient period starts in August (YYYY-08)", p)}
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
	sum, err := l.Annual(p, set, *out, append([]string{"batch", "annual"}, args...))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "annual outpatient cap %s..%s   rules %s\n", p, p+11, sum.RulesVersion)
	fmt.Fprintf(stdout, "persons counted   %s\n", group(sum.Persons))
	fmt.Fprintf(stdout, "  paid            %s\n", group(sum.PersonsPaid))
	fmt.Fprintf(stdout, "payout            ¥%s\n", group(sum.Payout))
	fmt.Fprintf(stdout, "output            %s\n", *out)
	log.Info("annual complete", "period", p.String(), "persons", sum.Persons, "paid", sum.PersonsPaid, "payout", sum.Payout)
	return nil
}
