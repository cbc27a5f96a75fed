package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/kougaku/batch/extract"
	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/rules"
)

func cmdRun(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("run", "run --month YYYY-MM --members PATH --out DIR [--receipts PATH]... [--uke PATH]... [flags]")
	var members, receipts, history, uke multiFlag
	month := fs.String("month", "", "the service `month`, YYYY-MM")
	out := fs.String("out", "", "the run `directory` to write (must not exist, or be empty)")
	fs.Var(&members, "members", "`PATH` of the members master, a file or directory, CSV or Parquet (repeatable)")
	fs.Var(&receipts, "receipts", "`PATH` of normalized receipts, a file or directory, CSV or Parquet (repeatable)")
	fs.Var(&uke, "uke", "`PATH` of UKE claim files (.UKE, .CYO), a file or directory (repeatable)")
	fs.Var(&history, "history", "`PATH` of prior benefit months (多数回 history before a ledger exists), a file or directory (repeatable)")
	ledgerDir := fs.String("ledger", "", "ledger `directory`: months in sequence, 多数回 history, reruns with adjustments")
	rulesFile := fs.String("rules", "", "rule table `file` laid over the embedded tables")
	allowProv := fs.Bool("allow-provisional", false, "compute a month whose rule table is provisional")
	workers := fs.Int("workers", 0, "`N` workers (0: one per core); outputs are byte-identical at any count")
	memory := fs.Int64("memory", pipeline.DefaultMemoryBudget, "memory budget in `BYTES`: a members master that fits half of it is held in memory; beyond it receipts spill to disk")
	spill := fs.String("spill-dir", "", "`directory` under which a run too large for --memory spills, in a sub-directory of its own removed at its end (default: .batch-work beside --out)")
	allowEmpty := fs.Bool("allow-empty", false, "let a run that reads no receipt, or whose every receipt is rejected for one reason, succeed")
	strict := fs.Bool("strict", false, "fail (exit 1, nothing written) when the run has any warning")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this `file`")
	memprofile := fs.String("memprofile", "", "write, at the end of the run, a profile of the memory it allocated to this `file`")
	if err := cl.parse(fs, args[1:]); err != nil {
		return err
	}
	stdout, log := cl.stdout, cl.log
	if err := nonNegative("workers", int64(*workers)); err != nil {
		return err
	}
	if err := positive("memory", *memory); err != nil {
		return err
	}
	if *month == "" || *out == "" || (len(members) == 0 && *ledgerDir == "") {
		return &usageError{"run needs --month, --members and --out (--members may be left out when rerunning a month of a --ledger)"}
	}
	m, err := rules.ParseMonth(*month)
	if err != nil {
		return &usageError{err.Error()}
	}
	if len(receipts) == 0 && len(uke) == 0 && *ledgerDir == "" {
		return &usageError{"run needs receipts: --receipts or --uke"}
	}
	set, err := ruleSet(*rulesFile)
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		defer writeAllocs(*memprofile, log)
	}
	progress := &pipeline.Progress{}
	cfg := pipeline.Config{
		Month: m, Members: members, Receipts: receipts, UKE: uke, History: history, Out: *out, Rules: set,
		AllowProvisional: *allowProv, AllowEmpty: *allowEmpty, Strict: *strict, Workers: *workers, MemoryBudget: *memory, SpillDir: *spill,
		CommandLine: append([]string{"batch"}, args...), Log: log, Progress: progress,
	}
	stopProgress := startProgress(cl.stderr, progress)
	sum, lres, err := runMonth(ctx, cfg, *ledgerDir, log)
	stopProgress()
	if err != nil {
		return err
	}
	printSummary(stdout, *out, sum)
	if lres != nil {
		printLedger(stdout, *ledgerDir, lres)
	}
	rec := sum.Manifest.Reconciliation
	log.Info("run complete", "month", *month, "out", *out, "receipts_read", rec.ReceiptsRead,
		"accepted", rec.ReceiptsAccepted, "rejected", rec.ReceiptsRejected, "households", sum.Households,
		"benefit_cash", sum.BenefitCash, "seconds", sum.Elapsed.Seconds())
	return nil
}

func printSummary(w io.Writer, out string, s *pipeline.Summary) {
	rec := s.Manifest.Reconciliation
	secs := s.Elapsed.Seconds()
	fmt.Fprintf(w, "service month     %s   rules %s\n", s.Manifest.ServiceMonth, s.Manifest.RulesVersion)
	fmt.Fprintf(w, "receipts read     %s (%s/s)\n", group(rec.ReceiptsRead), group(int64(float64(rec.ReceiptsRead)/max(secs, 1e-9))))
	fmt.Fprintf(w, "  accepted        %s\n", group(rec.ReceiptsAccepted))
	var resolved int64
	for _, n := range s.Manifest.ResolvedByReason {
		resolved += n
	}
	if resolved > 0 { // found under another insurer by name, birth date and sex: resolved.parquet
		fmt.Fprintf(w, "    resolved      %s\n", group(resolved))
		printCounts(w, "      ", s.Manifest.ResolvedByReason)
	}
	fmt.Fprintf(w, "  rejected        %s\n", group(rec.ReceiptsRejected))
	if rec.ReceiptsCancelled > 0 {
		fmt.Fprintf(w, "  cancelled       %s\n", group(rec.ReceiptsCancelled))
	}
	printCounts(w, "    ", s.Manifest.RejectsByReason)
	if n := s.Manifest.MembersConflicting; n > 0 {
		fmt.Fprintf(w, "members conflicting %s persons (their receipts MEMBER_CONFLICT)\n", group(n))
	}
	fmt.Fprintf(w, "households        %s\n", group(s.Households))
	fmt.Fprintf(w, "  paid in cash    %s\n", group(s.HouseholdsPaid))
	fmt.Fprintf(w, "benefit cash      ¥%s\n", group(s.BenefitCash))
	fmt.Fprintf(w, "benefit in kind   ¥%s\n", group(s.BenefitInKind))
	fmt.Fprintf(w, "reconciled        %v\n", rec.Balanced)
	printWarnings(w, s.Manifest.Warnings, filepath.Join(out, output.ManifestFile))
	fmt.Fprintf(w, "time              %s   peak RSS %s MiB   partitions %d (spilled to disk: %v)\n",
		s.Elapsed.Round(time.Millisecond), group(peakRSS()>>20), s.Partitions, s.Spilled)
	fmt.Fprintf(w, "output            %s\n", out)
}

// printCounts lists counts by name, sorted, the counts in one column however long the names
// (BIRTHDATE_MISMATCH and the like outgrow the summary's 18-character labels).
func printCounts(w io.Writer, indent string, counts map[string]int64) {
	names := make([]string, 0, len(counts))
	width := 18 - len(indent)
	for k := range counts {
		names = append(names, k)
		width = max(width, len(k)+2)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "%s%-*s%s\n", indent, width, k, group(counts[k]))
	}
}

// group writes 1234567 as 1,234,567.
func group(n int64) string { return extract.Group(n) }

// runMonth runs the month alone, or on the ledger.
func runMonth(ctx context.Context, cfg pipeline.Config, ledgerDir string, log *slog.Logger) (*pipeline.Summary, *ledger.Result, error) {
	if ledgerDir == "" {
		sum, err := pipeline.Run(ctx, cfg)
		return sum, nil, err
	}
	l, err := ledger.Open(ledgerDir)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	if !l.Has(cfg.Month) && len(cfg.Members) == 0 {
		return nil, nil, &usageError{fmt.Sprintf("month %s is not in the ledger yet: its first run needs --members", cfg.Month)}
	}
	res, err := l.Run(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return res.Summary, res, nil
}

func printLedger(w io.Writer, dir string, r *ledger.Result) {
	kind := "first run of the month"
	switch {
	case r.NewMembers:
		kind = "rerun with a new members master"
	case r.Rerun:
		kind = "rerun with corrections"
	}
	var delta int64
	for _, a := range r.Adjustments {
		delta += a.Delta
	}
	fmt.Fprintf(w, "ledger            %s (%s)\n", dir, kind)
	fmt.Fprintf(w, "  recomputed      %s households of %s\n", group(int64(r.Households)), r.Summary.Manifest.ServiceMonth)
	fmt.Fprintf(w, "  adjustments     %s households, net ¥%s\n", group(int64(len(r.Adjustments))), group(delta))
	for i, m := range r.Cascaded {
		fmt.Fprintf(w, "  cascaded into   %s (%s households recomputed)\n", m, group(int64(r.CascadedHouseholds[i])))
	}
}

// writeAllocs writes the allocations profile of the run (where its memory came from, which on
// a machine whose page faults are dear is where its time goes too) to path.
func writeAllocs(path string, log *slog.Logger) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		log.Warn("memory profile not written", "path", path, "err", err)
	}
}
