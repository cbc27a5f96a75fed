package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

func cmdGen(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("gen", "gen --households N --month YYYY-MM --out DIR [--seed S] [--months K] [--format uke] [--resolve-share F]")
	households := fs.Int("households", 0, "households to generate")
	month := fs.String("month", "", "first service month YYYY-MM")
	out := fs.String("out", "", "output directory (must not exist, or be empty)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same files")
	months := fs.Int("months", 1, "consecutive months")
	faults := fs.Bool("faults", false, "add a few deliberately bad receipts")
	workers := fs.Int("workers", 0, "generating workers (0: one per core); files are the same at any count")
	format := fs.String("format", "parquet", "parquet, or uke to write the receipts as UKE claim files too")
	resolveShare := fs.Float64("resolve-share", 0, "share `F` (0 to 1) of each month's receipts that need resolution by name: claimed under an old card or the all-7 number, or a lost person's with its name (default: as the population makes them, about 0.4%)")
	if err := cl.parse(fs, args); err != nil {
		return err
	}
	stdout, log := cl.stdout, cl.log
	if *households <= 0 || *month == "" || *out == "" || *months < 1 {
		return &usageError{"gen needs --households N (> 0), --month and --out"}
	}
	if err := nonNegative("workers", int64(*workers)); err != nil {
		return err
	}
	if *format != "parquet" && *format != "uke" {
		return &usageError{fmt.Sprintf("--format %q: want parquet or uke", *format)}
	}
	resolveSet := false
	fs.Visit(func(f *flag.Flag) { resolveSet = resolveSet || f.Name == "resolve-share" })
	if resolveSet && !(*resolveShare >= 0 && *resolveShare <= 1) {
		return &usageError{fmt.Sprintf("--resolve-share %v: want a share from 0 to 1", *resolveShare)}
	}
	m, err := rules.ParseMonth(*month)
	if err != nil {
		return &usageError{err.Error()}
	}
	start := time.Now()
	sum, err := synth.Generate(ctx, synth.Config{Households: *households, Month: m, Months: *months,
		Seed: *seed, Out: *out, Faults: *faults, Workers: *workers, Format: *format,
		ResolveShare: *resolveShare, ResolveShareSet: resolveSet})
	if err != nil {
		return err
	}
	var receipts, toResolve int64
	for k, n := range sum.Receipts {
		receipts += n
		if sum.ToResolve != nil {
			toResolve += sum.ToResolve[k]
		}
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "generated %s households, %s persons, %s receipts over %d month(s) in %.1fs into %s\n",
		group(int64(*households)), group(sum.Persons), group(receipts), *months, secs, *out)
	attrs := []any{"households", *households, "persons", sum.Persons, "receipts", receipts, "seconds", secs}
	if resolveSet {
		fmt.Fprintf(stdout, "to resolve by name: %s receipts (%.3f%%)\n", group(toResolve), 100*float64(toResolve)/float64(max(receipts, 1)))
		attrs = append(attrs, "to_resolve", toResolve)
	}
	log.Info("gen complete", attrs...)
	return nil
}
