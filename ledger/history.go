package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// The ledger keeps the --history files its runs were given, in DIR/history/, one copy per
// distinct file (named by its digest): the counting months before the ledger begins. A rerun
// or a cascade recounts 多数回 long after the run that was given them, and is not given them
// again; without the copy it would count a household's months before the ledger as none.
//
// One rule decides a household's counting months wherever the ledger counts them: a month
// the ledger holds counts as its current version says; a month before it, as the history
// (kept, or given to this run) says.

const historyDir = "history"

// keepHistory copies into the ledger those of files it does not hold yet. It is called once
// the run has read them whole, so a file that cannot be read never enters the ledger.
func (l *Ledger) keepHistory(files []string) error {
	paths, err := receipt.ExpandPaths(files)
	if err != nil || len(paths) == 0 {
		return err
	}
	dir := filepath.Join(l.dir, historyDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range paths {
		sum, err := fileDigest(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, sum+filepath.Ext(p))
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := copyFileSync(p, dst); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// keptHistory lists the history files the ledger keeps.
func (l *Ledger) keptHistory() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(l.dir, historyDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && filepath.Ext(e.Name()) != ".tmp" {
			out = append(out, filepath.Join(l.dir, historyDir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// eachHistory calls fn for the counting months in [lo, hi) that the ledger does not hold,
// of the households keys (all when nil), from the kept history and the files extra. A
// household month may come more than once.
func (l *Ledger) eachHistory(ctx context.Context, lo, hi rules.Month, keys *keySet, extra []string, fn func(k HouseholdKey, m rules.Month) error) error {
	held, all := map[rules.Month]bool{}, true
	for m := lo; m < hi; m++ {
		held[m] = l.Has(m)
		all = all && held[m]
	}
	if all && len(extra) == 0 {
		// The ledger holds every month of the window: no kept file is read. (Files given
		// are read all the same: they enter the ledger only once read whole.)
		return nil
	}
	kept, err := l.keptHistory()
	if err != nil {
		return err
	}
	given, err := receipt.ExpandPaths(extra)
	if err != nil {
		return err
	}
	files := kept
	for _, f := range given { // a file the ledger keeps already is read once
		sum, err := fileDigest(f)
		if err != nil {
			return err
		}
		if !slices.Contains(kept, filepath.Join(l.dir, historyDir, sum+filepath.Ext(f))) {
			files = append(files, f)
		}
	}
	var key []byte
	for _, f := range files {
		if x := l.keptIndex(ctx, f, keys); x != nil {
			for _, k := range byHash(keys) {
				err := x.months(k, func(m rules.Month) error {
					if m < lo || m >= hi || held[m] {
						return nil
					}
					return fn(parseKey(k), m)
				})
				if err != nil {
					return err
				}
			}
			continue
		}
		err := receipt.ReadHistory(ctx, f, func(h receipt.HistoryRow, line int64) error {
			m, err := rules.ParseMonth(h.ServiceMonth)
			if err != nil {
				return &receipt.FileError{File: f, Line: line, Err: err}
			}
			if m < lo || m >= hi || held[m] {
				return nil
			}
			key = appendKey(key, []byte(h.InsurerNo), []byte(h.HouseholdID))
			if !keys.has(key) {
				return nil
			}
			return fn(HouseholdKey{h.InsurerNo, h.HouseholdID}, m)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// keptIndex is the index of history file f when f is one the ledger keeps and a few
// households are looked up (keys not nil); nil otherwise (f is then read whole).
func (l *Ledger) keptIndex(ctx context.Context, f string, keys *keySet) *histIndex {
	if keys == nil || !useIndex || filepath.Dir(f) != filepath.Join(l.dir, historyDir) {
		return nil
	}
	return l.historyIndex(ctx, f)
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyFileSync copies src to dst whole or not at all: a temporary name, fsync, rename.
func copyFileSync(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	if err := writeFileSync(tmp, func(out *os.File) error {
		_, err := io.Copy(out, in)
		return err
	}); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
