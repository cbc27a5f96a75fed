package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/rules"
)

// CompactAfter is the number of layers past which the commit that adds one compacts the
// month: every read of a month goes through its layers, newest first, so a month corrected
// every month would read slower and slower.
var CompactAfter = 8

// Compacted says what compacting a month did.
type Compacted struct {
	Month         rules.Month
	Before, After int  // layers
	Indexed       bool // a month written without an index was given one
}

// Compact rewrites month m's layers as one complete layer holding the same rows (the rows in
// force of every file: households, receipts, persons, members), with its index, and makes it
// the month's version in one commit: a reader sees the layers or the compacted layer, never
// a mix. A month of one layer that lacks an index (written before the ledger kept them) gets
// a version of the same files with one. The layers' adjustments and rejects stay in the runs'
// output directories; the compacted layer keeps the newest layer's manifest.
func (l *Ledger) Compact(ctx context.Context, m rules.Month) (Compacted, error) {
	v, err := l.Current(m)
	if err != nil {
		return Compacted{}, err
	}
	res := Compacted{Month: m, Before: len(v.Layers), After: len(v.Layers)}
	xs, err := v.indexes()
	if err != nil {
		return res, err
	}
	if len(v.Layers) == 1 && xs != nil {
		return res, nil
	}
	tmp, err := l.tempDir("compact-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	layer := filepath.Join(tmp, "layer")
	if len(v.Layers) == 1 {
		if err := os.Mkdir(layer, 0o755); err != nil {
			return res, err
		}
		if err := linkFiles(v.Layers[0], layer); err != nil {
			return res, err
		}
		res.Indexed = true
	} else if err := writeCompacted(ctx, v, layer); err != nil {
		return res, fmt.Errorf("ledger: compacting %s: %w", m, err)
	}
	if _, err := l.commit(m, layer, true); err != nil {
		return res, err
	}
	res.After = 1
	return res, nil
}

// writeCompacted writes the rows in force of version v into the directory layer, as a run
// writes them.
func writeCompacted(ctx context.Context, v *Version, layer string) error {
	d, err := output.Create(layer)
	if err != nil {
		return err
	}
	var g errgroup.Group // the files are written at once, on both cores
	g.Go(func() error {
		if err := copyRows(d, output.ReceiptBenefitFile, v.Receipts); err != nil {
			return err
		}
		return copyRows(d, output.ResolvedFile, v.Resolved)
	})
	g.Go(func() error {
		if err := copyRows(d, output.HouseholdMonthFile, v.HouseholdMonths); err != nil {
			return err
		}
		if err := copyRows(d, output.PersonMonthFile, v.Persons); err != nil {
			return err
		}
		if fileExists(filepath.Join(v.Layers[0], pipeline.MembersFile)) {
			return copyRows(d, pipeline.MembersFile, v.Members)
		}
		return nil
	})
	err = g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		var data []byte
		if data, err = os.ReadFile(filepath.Join(v.Layers[len(v.Layers)-1], output.ManifestFile)); err == nil {
			err = writeSync(filepath.Join(d.TempPath(), output.ManifestFile), data)
		}
	}
	if err != nil {
		d.Abort()
		return err
	}
	return d.Commit()
}

// copyRows writes the rows each streams into the file name of d.
func copyRows[T any](d *output.Dir, name string, each func(func(*T) error) error) error {
	w, err := output.NewWriter[T](d, name, output.Options{})
	if err != nil {
		return err
	}
	buf := make([]T, 0, 4096)
	err = each(func(r *T) error {
		buf = append(buf, *r)
		if len(buf) < cap(buf) {
			return nil
		}
		err := w.Write(buf)
		buf = buf[:0]
		return err
	})
	if err == nil {
		err = w.Write(buf)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}
