package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/rules"
)

// The journal says what an interrupted run left to finish, so that the next run on the ledger
// finishes it before its own work:
//
//	DIR/PENDING                       the month whose 多数回 cascade into the later months may be
//	DIR/pending-keys.parquet          unfinished, and the households whose status changed there
//	DIR/journal/adj/YYYY-MM-L000012.parquet
//	                                  the adjustments of a commit (the month's version it makes),
//	                                  written before the commit: those whose version the month
//	                                  reached were made, and are reported by the run that
//	                                  finishes the work
//	DIR/journal/correct.json          a `batch correct` run's months (see correct.go)
//
// PENDING is written (and fsynced) before the month's commit and removed after the cascade.

type pending struct {
	Month string `json:"month"`
}

func (l *Ledger) pendingPaths() (string, string) {
	return filepath.Join(l.dir, "PENDING"), filepath.Join(l.dir, "pending-keys.parquet")
}

func (l *Ledger) journalDir() string { return filepath.Join(l.dir, "journal") }

func (l *Ledger) writePending(m rules.Month, changed map[HouseholdKey]struct{}) error {
	p, k := l.pendingPaths()
	if err := writeKeys(k, sortedKeys(changed)); err != nil {
		return err
	}
	data, _ := json.Marshal(pending{Month: m.String()})
	if err := writeSync(p+".tmp", data); err != nil {
		return err
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return err
	}
	return syncDir(l.dir)
}

// clearPending removes the cascade's journal and the adjustments journalled with it.
func (l *Ledger) clearPending() error {
	p, k := l.pendingPaths()
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(k)
	if err := os.RemoveAll(filepath.Join(l.journalDir(), "adj")); err != nil {
		return err
	}
	return syncDir(l.dir)
}

// Pending reports the month whose cascade an interrupted run left unfinished, if any.
func (l *Ledger) Pending() (rules.Month, bool, error) {
	p, _ := l.pendingPaths()
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var j pending
	if err := json.Unmarshal(data, &j); err != nil {
		return 0, false, fmt.Errorf("ledger: PENDING is damaged: %v", err)
	}
	m, err := rules.ParseMonth(j.Month)
	return m, err == nil, err
}

// versionNumber is the number of month m's current version (0 when the ledger lacks it).
func (l *Ledger) versionNumber(m rules.Month) (int, error) {
	data, err := os.ReadFile(filepath.Join(l.monthDir(m), "CURRENT"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, &DamagedError{m, err.Error()}
	}
	var c current
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, &DamagedError{m, "CURRENT is not a valid version record"}
	}
	return c.Version, nil
}

// journalAdjustments keeps adj, the adjustments of the commit about to give month m its next
// version, until the journal is cleared: a run killed after the commit leaves them for the
// run that finishes its work to report.
func (l *Ledger) journalAdjustments(m rules.Month, adj []output.Adjustment) error {
	if len(adj) == 0 {
		return nil
	}
	n, err := l.versionNumber(m)
	if err != nil {
		return err
	}
	dir := filepath.Join(l.journalDir(), "adj")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-L%06d.parquet", m, n+1))
	if err := writeAdjustmentsFile(path+".tmp", adj); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	return syncDir(dir)
}

// journalledAdjustments are the journalled adjustments of the commits that were made, in
// month and version order.
func (l *Ledger) journalledAdjustments() ([]output.Adjustment, error) {
	paths, err := filepath.Glob(filepath.Join(l.journalDir(), "adj", "*.parquet"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths) // YYYY-MM-L000012: month, then version
	var out []output.Adjustment
	for _, p := range paths {
		ms, ver, _ := strings.Cut(strings.TrimSuffix(filepath.Base(p), ".parquet"), "-L")
		m, err := rules.ParseMonth(ms)
		if err != nil {
			continue
		}
		n, err := l.versionNumber(m)
		if err != nil {
			return nil, err
		}
		if n < layerNumber("L"+ver) {
			continue // killed before this commit: the month is as it was
		}
		adj, err := output.ReadAll[output.Adjustment](p)
		if err != nil {
			return nil, fmt.Errorf("ledger: the journal's adjustments %s cannot be read: %w", p, err)
		}
		out = append(out, adj...)
	}
	return out, nil
}

// finishJournal finishes what an interrupted run left: a `batch correct` run's months and
// cascade, or a run's cascade. It returns what that work did, for this run to report.
func (l *Ledger) finishJournal(ctx context.Context, cfg pipeline.Config) (*Correction, error) {
	j, err := l.readCorrectJournal()
	if err != nil {
		return nil, err
	}
	if j != nil && j.finished() {
		return nil, l.clearJournal() // killed after its run directory was written
	}
	if j != nil {
		if cfg.Log != nil {
			cfg.Log.Warn("finishing the corrections an interrupted run left", "months", len(j.Months))
		}
		c, err := l.applyJournal(ctx, cfg, j)
		if err != nil {
			return nil, err
		}
		for i := range c.Months {
			c.Months[i].Recovered = true
			if cfg.Log != nil {
				m := c.Months[i]
				cfg.Log.Warn("corrections of an interrupted run applied", "month", m.ServiceMonth, "read", m.Read,
					"applied", m.Applied, "rejected", m.Rejected, "rejects_by_reason", m.RejectsByReason)
			}
		}
		return c, l.clearJournal()
	}
	adj, err := l.finishPending(ctx, cfg)
	if err != nil || adj == nil {
		return nil, err
	}
	return &Correction{Adjustments: adj}, nil
}

// finishPending finishes the cascade of an interrupted run. The cascade is safe to repeat:
// households already recomputed come out the same and get no new layer. It returns the
// adjustments of the interrupted run's commits and of the cascade's rest (nil when there was
// nothing to finish).
func (l *Ledger) finishPending(ctx context.Context, cfg pipeline.Config) ([]output.Adjustment, error) {
	m, ok, err := l.Pending()
	if err != nil || !ok {
		return nil, err
	}
	changed, err := l.pendingKeys()
	if err != nil {
		return nil, fmt.Errorf("ledger: the pending cascade of %s cannot be read: %w", m, err)
	}
	if cfg.Log != nil {
		cfg.Log.Warn("finishing the 多数回 cascade an interrupted run left", "month", m.String(), "households", len(changed))
	}
	if _, err := l.cascade(ctx, cfg, m, changed, &Result{}); err != nil {
		return nil, err
	}
	adj, err := l.journalledAdjustments()
	if err != nil {
		return nil, err
	}
	if adj == nil {
		adj = []output.Adjustment{}
	}
	return adj, l.clearPending()
}

func (l *Ledger) pendingKeys() (map[HouseholdKey]struct{}, error) {
	_, k := l.pendingPaths()
	changed := map[HouseholdKey]struct{}{}
	err := output.Each(k, func(keys []HouseholdKey) error {
		for _, key := range keys {
			changed[key] = struct{}{}
		}
		return nil
	})
	return changed, err
}
