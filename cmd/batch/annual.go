package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/rules"
)

func cmdAnnual(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("annual", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	period := fs.String("period", "", "first month of the period, YYYY-08")
	ledgerDir := fs.String("ledger", "", "ledger directory")
	out := fs.String("out", "", "output directory (must not exist, or be empty)")
	rulesFile := fs.String("rules", "", "rule table file laid over the embedded tables")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	if *period == "" || *ledgerDir == "" || *out == "" {
		return &usageError{"annual needs --period, --ledger and --out"}
	}
	p, err := rules.ParseMonth(*period)
	if err != nil {
		return &usageError{err.Error()}
	}
	set := rules.Default()
	if *rulesFile != "" {
		if set, err = set.LoadFile(*rulesFile); err != nil {
			return err
		}
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
