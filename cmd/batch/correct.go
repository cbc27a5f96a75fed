package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
)

func cmdCorrect(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("correct", "correct --ledger DIR --out DIR [--receipts PATH]... [--uke PATH]... [flags]")
	var receipts, uke multiFlag
	ledgerDir := fs.String("ledger", "", "ledger `directory` whose months the corrections belong to")
	out := fs.String("out", "", "the run `directory` to write (must not exist, or be empty)")
	fs.Var(&receipts, "receipts", "`PATH` of normalized corrections, any service months, a file or directory, CSV or Parquet (repeatable)")
	fs.Var(&uke, "uke", "`PATH` of UKE claim files with corrections (.UKE, .CYO), a file or directory (repeatable)")
	rulesFile := fs.String("rules", "", "rule table `file` laid over the embedded tables")
	allowProv := fs.Bool("allow-provisional", false, "correct months whose rule table is provisional")
	workers := fs.Int("workers", 0, "`N` workers (0: one per core); outputs are byte-identical at any count")
	memory := fs.Int64("memory", pipeline.DefaultMemoryBudget, "memory budget in `BYTES` of each month's rerun")
	spill := fs.String("spill-dir", "", "`directory` under which a month's rerun too large for --memory spills (default: inside the ledger's work directory)")
	allowEmpty := fs.Bool("allow-empty", false, "let a run that reads no correction, or none any month takes, succeed")
	strict := fs.Bool("strict", false, "fail (exit 1, nothing written, the ledger unchanged) when the corrections come with any warning")
	if err := cl.parse(fs, args[1:]); err != nil {
		return err
	}
	if err := nonNegative("workers", int64(*workers)); err != nil {
		return err
	}
	if err := positive("memory", *memory); err != nil {
		return err
	}
	if *ledgerDir == "" || *out == "" {
		return &usageError{"correct needs --ledger and --out"}
	}
	if len(receipts) == 0 && len(uke) == 0 {
		return &usageError{"correct needs corrections: --receipts or --uke"}
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
	progress := &pipeline.Progress{}
	cfg := pipeline.Config{Receipts: receipts, UKE: uke, Out: *out, Rules: set, AllowProvisional: *allowProv,
		AllowEmpty: *allowEmpty, Strict: *strict, Workers: *workers, MemoryBudget: *memory, SpillDir: *spill,
		CommandLine: append([]string{"batch"}, args...), Log: cl.log, Progress: progress}
	start := time.Now()
	stopProgress := startProgress(cl.stderr, progress)
	c, err := l.Correct(ctx, cfg)
	stopProgress()
	if err != nil {
		return err
	}
	printCorrection(cl.stdout, *ledgerDir, *out, c, time.Since(start))
	t := c.Totals()
	cl.log.Info("correct complete", "ledger", *ledgerDir, "out", *out, "months", len(c.Months), "corrections_read", t.Read,
		"applied", t.Applied, "rejected", t.Rejected, "adjustments", len(c.Adjustments), "seconds", time.Since(start).Seconds())
	return nil
}

func printCorrection(w io.Writer, dir, out string, c *ledger.Correction, took time.Duration) {
	t := c.Totals()
	fmt.Fprintf(w, "ledger            %s (corrections)\n", dir)
	fmt.Fprintf(w, "corrections read  %s\n", group(t.Read))
	fmt.Fprintf(w, "  applied         %s\n", group(t.Applied))
	if t.Cancelled > 0 {
		fmt.Fprintf(w, "    cancels       %s\n", group(t.Cancelled))
	}
	fmt.Fprintf(w, "  rejected        %s\n", group(t.Rejected))
	if c.Unreadable > 0 {
		fmt.Fprintf(w, "    unreadable    %s\n", group(c.Unreadable))
	}
	for _, m := range c.Months {
		note := ""
		if m.Recovered {
			note = "  (left by an interrupted run, finished)"
		}
		fmt.Fprintf(w, "  %s         read %s, applied %s, rejected %s, %s households recomputed%s\n", m.ServiceMonth,
			group(m.Read), group(m.Applied), group(m.Rejected), group(int64(m.Households)), note)
		printCounts(w, "      ", m.RejectsByReason)
	}
	var delta int64
	households := map[string]struct{}{}
	for _, a := range c.Adjustments {
		delta += a.Delta
		households[a.ServiceMonth+"\x00"+a.InsurerNo+"\x00"+a.HouseholdID] = struct{}{}
	}
	fmt.Fprintf(w, "adjustments       %s household months, net ¥%s\n", group(int64(len(households))), group(delta))
	for i, m := range c.Cascaded {
		fmt.Fprintf(w, "  cascaded into   %s (%s households recomputed)\n", m, group(int64(c.CascadedHouseholds[i])))
	}
	fmt.Fprintf(w, "reconciled        %v\n", t.Balanced)
	printWarnings(w, c.Warnings, filepath.Join(out, output.ManifestFile))
	fmt.Fprintf(w, "time              %s   peak RSS %s MiB\n", took.Round(time.Millisecond), group(peakRSS()>>20))
	fmt.Fprintf(w, "output            %s\n", out)
}
