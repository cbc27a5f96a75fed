package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

func cmdGen(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("gen", "gen --households N --month YYYY-MM --out DIR [--seed S] [--months K] [--format uke]")
	households := fs.Int("households", 0, "households to generate")
	month := fs.String("month", "", "first service month YYYY-MM")
	out := fs.String("out", "", "output directory (must not exist, or be empty)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same files")
	months := fs.Int("months", 1, "consecutive months")
	faults := fs.Bool("faults", false, "add a few deliberately bad receipts")
	workers := fs.Int("workers", 0, "generating workers (0: one per core); files are the same at any count")
	format := fs.String("format", "parquet", "parquet, or uke to write the receipts as UKE claim files too")
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
	m, err := rules.ParseMonth(*month)
	if err != nil {
		return &usageError{err.Error()}
	}
	start := time.Now()
	sum, err := synth.Generate(ctx, synth.Config{Households: *households, Month: m, Months: *months,
		Seed: *seed, Out: *out, Faults: *faults, Workers: *workers, Format: *format})
	if err != nil {
		return err
	}
	var receipts int64
	for _, n := range sum.Receipts {
		receipts += n
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "generated %s households, %s persons, %s receipts over %d month(s) in %.1fs into %s\n",
		group(int64(*households)), group(sum.Persons), group(receipts), *months, secs, *out)
	log.Info("gen complete", "households", *households, "persons", sum.Persons, "receipts", receipts, "seconds", secs)
	return nil
}
