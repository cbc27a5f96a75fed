// Package ledger keeps the months in sequence: per service month, the accepted receipts, the
// members in force and the results of the last accepted run, in versions that become current
// in one rename; the lock that keeps two runs from writing one ledger; and what is computed
// over months: 多数回 history, reruns with their adjustments and cascades, the annual
// outpatient cap. It calls the pipeline, never the other way round.
//
// Layout:
//
//	DIR/LOCK                          flock(2)ed by the run that writes; holds its pid and start
//	DIR/months/YYYY-MM/CURRENT        JSON: the version number and its layers, oldest first
//	DIR/months/YYYY-MM/L000001/       a layer: a run's output directory (Parquet files, manifest),
//	                                  its index.bin and row stores (index.go, rowstore.go)
//	DIR/history/SHA256.parquet|.csv   the --history files runs were given (months before the ledger)
//	DIR/PENDING, DIR/journal/         what an interrupted run left to finish (pending.go, correct.go)
//
// A month's data is its layers read newest first: a later layer (a rerun of some households)
// holds every row of the households it lists in households.parquet, and hides their rows in
// the older layers. The first layer of a month is complete and lists no households.
//
// Invariants:
//   - layers are immutable once referenced by a CURRENT;
//   - a layer's index and row stores are synced before the rename that places the layer, and
//     say exactly what its Parquet files hold (a layer without them is read from its files);
//   - a commit writes and fsyncs the new layer first, then CURRENT.tmp, then renames it over
//     CURRENT and fsyncs the month directory: a reader sees the old version or the new one,
//     never a mix, whatever point a run is killed at;
//   - layers no CURRENT references (left by a killed run) are removed by the next writer.
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/rules"
)

// Ledger is an open ledger directory, locked for writing.
type Ledger struct {
	dir  string
	lock *os.File
	// recovered holds, during a run, the adjustments of a cascade it finished for an
	// interrupted run, for its adjustments file.
	recovered []output.Adjustment
	// deferred is set while `batch correct` reruns one of its months: the month's commit
	// leaves its cascade to the run's one cascade.
	deferred *deferral
	// memoryBudget is the run's (pipeline.Config.MemoryBudget; 0: the default), which a
	// layer's index must fit in (indexFits).
	memoryBudget int64
}

// LockedError says another run holds the ledger.
type LockedError struct {
	Dir, Holder string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("ledger %s is in use by another run (%s): wait for it to finish; the lock is released when that process ends", e.Dir, e.Holder)
}

// Open opens (creating if needed) a ledger and takes its lock. The lock is an flock on
// DIR/LOCK, which the kernel releases when the holder dies: a lock left by a killed run is
// never stale, and the next run takes it over (and says so in Stale).
func Open(dir string) (*Ledger, error) {
	if err := os.MkdirAll(filepath.Join(dir, "months"), 0o755); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Dir: dir, Holder: strings.TrimSpace(string(holder))}
		}
		return nil, fmt.Errorf("ledger: locking %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
		f.Sync()
	}
	l := &Ledger{dir: dir, lock: f}
	if err := l.sweep(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Close releases the lock.
func (l *Ledger) Close() error {
	if l.lock == nil {
		return nil
	}
	err := l.lock.Close() // closing the descriptor releases the flock
	l.lock = nil
	return err
}

// Dir is the ledger's directory.
func (l *Ledger) Dir() string { return l.dir }

func (l *Ledger) monthDir(m rules.Month) string { return filepath.Join(l.dir, "months", m.String()) }

// Months lists the months the ledger holds, in order.
func (l *Ledger) Months() ([]rules.Month, error) {
	ents, err := os.ReadDir(filepath.Join(l.dir, "months"))
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	var out []rules.Month
	for _, e := range ents {
		m, err := rules.ParseMonth(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(l.monthDir(m), "CURRENT")); err == nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Has reports whether the ledger holds month m.
func (l *Ledger) Has(m rules.Month) bool {
	_, err := os.Stat(filepath.Join(l.monthDir(m), "CURRENT"))
	return err == nil
}

// current is the content of a CURRENT file.
type current struct {
	Month   string   `json:"month"`
	Version int      `json:"version"`
	Layers  []string `json:"layers"`
}

// Version is one version of a month: its layers, oldest first.
type Version struct {
	Month  rules.Month
	Number int
	Layers []string // directories

	indexOnce sync.Once
	index     []*index // every layer's, or nil when some layer has none (see indexes)
	indexErr  error
}

// DamagedError says a month of the ledger cannot be read as a whole.
type DamagedError struct {
	Month  rules.Month
	Detail string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("ledger month %s is damaged: %s; restore the month directory from a backup or rerun the month from its inputs", e.Month, e.Detail)
}

// layerFiles are the files every layer has.
var layerFiles = []string{output.HouseholdMonthFile, output.ReceiptBenefitFile, output.PersonMonthFile, output.ManifestFile}

// Current reads the current version of month m and checks that its layers are whole.
func (l *Ledger) Current(m rules.Month) (*Version, error) {
	data, err := os.ReadFile(filepath.Join(l.monthDir(m), "CURRENT"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ledger: month %s is not in the ledger %s", m, l.dir)
	}
	if err != nil {
		return nil, &DamagedError{m, err.Error()}
	}
	var c current
	if err := json.Unmarshal(data, &c); err != nil || c.Month != m.String() || len(c.Layers) == 0 {
		return nil, &DamagedError{m, "CURRENT is not a valid version record"}
	}
	v := &Version{Month: m, Number: c.Version}
	for _, name := range c.Layers {
		dir := filepath.Join(l.monthDir(m), name)
		for _, f := range layerFiles {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				return nil, &DamagedError{m, fmt.Sprintf("layer %s lacks %s", name, f)}
			}
		}
		v.Layers = append(v.Layers, dir)
	}
	return v, nil
}

// commit makes layer (a finished directory, outside the month's directory) the newest layer
// of month m; with base set it replaces every layer instead.
func (l *Ledger) commit(m rules.Month, layer string, base bool) (*Version, error) {
	md := l.monthDir(m)
	if err := os.MkdirAll(md, 0o755); err != nil {
		return nil, err
	}
	var c current
	if data, err := os.ReadFile(filepath.Join(md, "CURRENT")); err == nil {
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, &DamagedError{m, "CURRENT is not a valid version record"}
		}
	}
	c.Month = m.String()
	c.Version++
	// The index goes down with the layer's files, before the layer is placed: a version is
	// never current without it.
	// A layer whose index would not fit the memory budget is read by scanning instead.
	if !fileExists(filepath.Join(layer, IndexFile)) && l.indexFits(layer) {
		if err := withinBudget(l.budget(), func() error { return writeIndex(context.Background(), layer) }); err != nil {
			return nil, fmt.Errorf("ledger: indexing the new layer of %s: %w", m, err)
		}
	}
	// The layer's own entries (the files linked and written into it) are made durable before
	// it is placed: a version must never name a layer missing its households.parquet, its
	// index or its row stores.
	if err := syncDir(layer); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("L%06d", c.Version)
	if err := os.Rename(layer, filepath.Join(md, name)); err != nil {
		return nil, fmt.Errorf("ledger: placing layer: %w", err)
	}
	if err := syncDir(md); err != nil {
		return nil, err
	}
	if base {
		c.Layers = nil
	}
	c.Layers = append(c.Layers, name)
	data, _ := json.MarshalIndent(c, "", "  ")
	tmp := filepath.Join(md, "CURRENT.tmp")
	if err := writeSync(tmp, append(data, '\n')); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(md, "CURRENT")); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := syncDir(md); err != nil {
		return nil, err
	}
	l.sweepMonth(m)
	if !base && len(c.Layers) > CompactAfter {
		// The version is committed whatever becomes of this: a compaction that fails leaves
		// the layers as they are, to be compacted by the next commit or by batch compact.
		l.Compact(context.Background(), m)
	}
	return l.Current(m)
}

// sweep removes what killed runs left: temporary directories and unreferenced layers.
func (l *Ledger) sweep() error {
	os.RemoveAll(filepath.Join(l.dir, "tmp"))
	// A history copy a killed run left half written (see keepHistory).
	if tmps, err := filepath.Glob(filepath.Join(l.dir, historyDir, "*.tmp")); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	ms, err := l.Months()
	if err != nil {
		return err
	}
	for _, m := range ms {
		l.sweepMonth(m)
	}
	return nil
}

func (l *Ledger) sweepMonth(m rules.Month) {
	md := l.monthDir(m)
	data, err := os.ReadFile(filepath.Join(md, "CURRENT"))
	if err != nil {
		return
	}
	var c current
	if json.Unmarshal(data, &c) != nil {
		return
	}
	keep := map[string]bool{"CURRENT": true}
	for _, n := range c.Layers {
		keep[n] = true
	}
	ents, _ := os.ReadDir(md)
	for _, e := range ents {
		if !keep[e.Name()] {
			os.RemoveAll(filepath.Join(md, e.Name()))
		}
	}
}

// tempDir makes a scratch directory inside the ledger (same file system, so layers move in by
// rename); the next writer removes what a killed run left there.
func (l *Ledger) tempDir(prefix string) (string, error) {
	base := filepath.Join(l.dir, "tmp")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(base, prefix)
}

func writeSync(path string, data []byte) error {
	return writeFileSync(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// writeFileSync creates the file path, has write fill it, and syncs it.
func writeFileSync(path string, write func(w *os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// layerNumber reads the number of a layer directory name (L000012 → 12).
func layerNumber(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(name), "L"))
	return n
}
