package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/rules"
)

// cmdCompact rewrites the layers of a ledger's months (one month with --month) as one layer
// each, with the same rows; a month written before the ledger kept indexes gets one.
func cmdCompact(ctx context.Context, args []string, cl *cli) error {
	fs := newFlags("compact", "compact --ledger DIR [--month YYYY-MM]")
	ledgerDir := fs.String("ledger", "", "ledger directory")
	only := fs.String("month", "", "compact this month only (default: every month of the ledger)")
	if err := cl.parse(fs, args); err != nil {
		return err
	}
	if *ledgerDir == "" {
		return &usageError{"compact needs --ledger"}
	}
	l, err := ledger.Open(*ledgerDir)
	if err != nil {
		return err
	}
	defer l.Close()
	months, err := l.Months()
	if err != nil {
		return err
	}
	if *only != "" {
		m, err := rules.ParseMonth(*only)
		if err != nil {
			return &usageError{err.Error()}
		}
		if !l.Has(m) {
			return fmt.Errorf("compact: month %s is not in the ledger %s", m, *ledgerDir)
		}
		months = []rules.Month{m}
	}
	for _, m := range months {
		start := time.Now()
		res, err := l.Compact(ctx, m)
		if err != nil {
			return err
		}
		switch {
		case res.Indexed:
			fmt.Fprintf(cl.stdout, "%s  1 layer, indexed\n", m)
		case res.Before > res.After:
			fmt.Fprintf(cl.stdout, "%s  %d layers compacted into 1\n", m, res.Before)
		default:
			fmt.Fprintf(cl.stdout, "%s  1 layer, nothing to do\n", m)
		}
		cl.log.Info("compact", "month", m.String(), "layers_before", res.Before, "layers_after", res.After,
			"indexed", res.Indexed, "seconds", time.Since(start).Seconds())
	}
	return nil
}

// BATCH_COMPACT_AFTER sets, for benchmarks, the number of layers past which a commit compacts
// a month (ledger.CompactAfter): a month of many layers is made that way to be measured.
func init() {
	if n, err := strconv.Atoi(os.Getenv("BATCH_COMPACT_AFTER")); err == nil && n > 0 {
		ledger.CompactAfter = n
	}
}
