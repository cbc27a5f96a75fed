package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/kougaku/batch/extract"
	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/pipeline"
)

// cmdSimulate recomputes months of the ledger under scenario tables and prints (and with
// --out writes) the change in benefit spending, as the 機械的なモデル試算 does.
func cmdSimulate(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("simulate", "simulate --ledger DIR (--month YYYY-MM | --from YYYY-MM [--to YYYY-MM]) --scenario +N%|FILE... [flags]")
	var scen multiFlag
	ledgerDir := fs.String("ledger", "", "ledger directory")
	month := fs.String("month", "", "service month YYYY-MM (or --from and --to)")
	from := fs.String("from", "", "first service month, YYYY-MM")
	to := fs.String("to", "", "last service month, YYYY-MM")
	fs.Var(&scen, "scenario", "+N% (every limit raised by N percent) or a scenario rule table file (repeatable)")
	out := fs.String("out", "", "output directory for the Parquet and CSV tables (must not exist, or be empty)")
	householdsFile := fs.String("households", "", "also write one Parquet file (must not exist) with a row per household month and scenario: the benefit now and under the scenario")
	round := fs.Int64("round", 100, "a +N% raise rounds every amount half up to a multiple of this many yen")
	rulesFile := fs.String("rules", "", "rule table file the ledger's months were computed with, laid over the embedded tables")
	workers := fs.Int("workers", 0, "workers (0: one per core)")
	memory := fs.Int64("memory", pipeline.DefaultMemoryBudget, "memory budget in bytes")
	spill := fs.String("spill-dir", "", "directory for spill files (default: the system's temporary directory)")
	if err := cl.parse(fs, args); err != nil {
		return err
	}
	stdout, log := cl.stdout, cl.log
	if *ledgerDir == "" || len(scen) == 0 || (*month == "") == (*from == "") {
		return &usageError{"simulate needs --ledger, --scenario and either --month or --from (with --to)"}
	}
	if *month != "" {
		*from, *to = *month, *month
	} else if *to == "" {
		*to = *from
	}
	if err := nonNegative("workers", int64(*workers)); err != nil {
		return err
	}
	if err := positive("memory", *memory); err != nil {
		return err
	}
	if *round < 1 {
		return &usageError{"--round must be at least 1 yen"}
	}
	f, t, err := monthRange(*from, *to)
	if err != nil {
		return err
	}
	set, err := ruleSet(*rulesFile)
	if err != nil {
		return err
	}
	var scenarios []extract.Scenario
	for _, a := range scen {
		s, err := extract.ParseScenario(a, set, *round)
		if err != nil && strings.HasSuffix(a, "%") {
			return &usageError{err.Error()}
		}
		if err != nil {
			return err
		}
		scenarios = append(scenarios, s)
	}
	l, err := ledger.Open(*ledgerDir)
	if err != nil {
		return err
	}
	defer l.Close()
	cfg := extract.SimConfig{Ledger: l, From: f, To: t, Rules: set, Scenarios: scenarios,
		Workers: *workers, MemoryBudget: *memory, SpillDir: *spill, Log: log}
	var households *extract.HouseholdsWriter
	if *householdsFile != "" {
		names := make([]string, len(scenarios))
		for i, s := range scenarios {
			names[i] = s.Name
		}
		if households, err = extract.CreateHouseholds(*householdsFile, names); err != nil {
			return err
		}
		defer households.Abort()
		cfg.Household = households.Add
	}
	sum, err := extract.Simulate(ctx, cfg)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := extract.WriteSimulation(*out, f, t, sum, append([]string{"batch", "simulate"}, args...)); err != nil {
			return err
		}
	}
	if households != nil {
		if err := households.Commit(); err != nil {
			return err
		}
	}
	extract.PrintSimulation(stdout, sum)
	if *out != "" {
		fmt.Fprintf(stdout, "\noutput  %s\n", *out)
	}
	if households != nil {
		fmt.Fprintf(stdout, "households  %s (%s rows)\n", *householdsFile, extract.Group(households.Rows()))
	}
	log.Info("simulate complete", "from", f.String(), "to", t.String(), "households", sum.Households,
		"scenarios", len(scenarios), "mismatches", sum.Mismatches, "seconds", sum.Elapsed.Seconds())
	return nil
}
