package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/rules"
)

// The pending journal: DIR/PENDING names a month whose new version may be committed while
// the 多数回 cascade into the later months is not finished, and DIR/pending-keys.parquet the
// households whose status changed there. Written (and fsynced) before the month's commit,
// removed after the cascade.

type pending struct {
	Month string `json:"month"`
}

func (l *Ledger) pendingPaths() (string, string) {
	return filepath.Join(l.dir, "PENDING"), filepath.Join(l.dir, "pending-keys.parquet")
}

func (l *Ledger) writePending(m rules.Month, changed map[HouseholdKey]struct{}) error {
	p, k := l.pendingPaths()
	if err := writeKeys(k, changed); err != nil {
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

func (l *Ledger) clearPending() error {
	p, k := l.pendingPaths()
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(k)
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

// finishPending finishes the cascade of an interrupted run. The cascade is safe to repeat:
// households already recomputed come out the same and get no new layer.
func (l *Ledger) finishPending(ctx context.Context, cfg pipeline.Config) ([]output.Adjustment, error) {
	m, ok, err := l.Pending()
	if err != nil || !ok {
		return nil, err
	}
	_, k := l.pendingPaths()
	changed := map[HouseholdKey]struct{}{}
	if err := output.Each(k, func(keys []HouseholdKey) error {
		for _, key := range keys {
			changed[key] = struct{}{}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ledger: the pending cascade of %s cannot be read: %w", m, err)
	}
	if cfg.Log != nil {
		cfg.Log.Warn("finishing the 多数回 cascade an interrupted run left", "month", m.String(), "households", len(changed))
	}
	adj, err := l.cascade(ctx, cfg, m, changed, &Result{})
	if err != nil {
		return nil, err
	}
	return adj, l.clearPending()
}
