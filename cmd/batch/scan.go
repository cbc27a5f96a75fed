package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/receipt"
)

// cmdScan decodes receipts files into Arrow batches and discards them: the floor under a run's
// time, which the benchmarks compare a run against.
func cmdScan(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("scan", "scan --receipts PATH... [--workers N]")
	var receipts multiFlag
	fs.Var(&receipts, "receipts", "receipts file or directory (repeatable)")
	workers := fs.Int("workers", 2, "files read at once")
	if err := cl.parse(fs, args); err != nil {
		return err
	}
	stdout := cl.stdout
	if err := positive("workers", int64(*workers)); err != nil {
		return err
	}
	if len(receipts) == 0 {
		return &usageError{"scan needs --receipts"}
	}
	files, err := receipt.ExpandPaths(receipts)
	if err != nil {
		return err
	}
	start := time.Now()
	rows := make([]int64, len(files))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(*workers)
	for i, f := range files {
		g.Go(func() error {
			st, err := receipt.ReadReceipts(ctx, f, receipt.ReadOptions{}, func(b receipt.Batch) error {
				b.Record.Release()
				return nil
			}, nil)
			rows[i] = st.Rows
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var n int64
	for _, r := range rows {
		n += r
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "scanned %s receipts in %.2fs: %s receipts/s, peak RSS %s MiB\n", group(n), secs, group(int64(float64(n)/secs)), group(peakRSS()>>20))
	return nil
}

// peakRSS is the process's peak resident set in bytes (Linux reports KiB).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10
}
