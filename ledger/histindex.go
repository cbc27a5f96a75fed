package ledger

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// A kept history file is read whole by every run whose window of counting months reaches
// before the ledger. Its index, DIR/history/index/NAME.idx (built the first time a run looks
// households up in it, under the ledger's lock, and named like the file, which never changes),
// holds each household's months: households sorted by the hash of their key, as in a layer's
// index, with their keys and the offsets of their months.
//
// Layout: magic, the households n, the key bytes, the months m (uint64 each); then n hashes
// (uint64), n+1 key offsets and n+1 month offsets (uint32), the keys, the months (int32).

var histMagic = [8]byte{'K', 'G', 'L', 'H', 'I', 'S', '0', '1'}

const histIndexDir = "index"

type histIndex struct {
	x                             index // its data and find
	n                             int
	hash, keyOff, monOff, keys, m int
}

func (h *histIndex) key(i int) []byte {
	return h.x.data[h.keys+int(h.x.u32(h.keyOff+4*i)) : h.keys+int(h.x.u32(h.keyOff+4*i+4))]
}

// months calls fn with the months of household key.
func (h *histIndex) months(key []byte, fn func(rules.Month) error) error {
	hv := fnv(key)
	for i := h.x.find(h.hash, h.n, hv); i < h.n && h.x.u64(h.hash+8*i) == hv; i++ {
		if !bytes.Equal(h.key(i), key) {
			continue
		}
		for j := h.x.u32(h.monOff + 4*i); j < h.x.u32(h.monOff+4*i+4); j++ {
			if err := fn(rules.Month(int32(h.x.u32(h.m + 4*int(j))))); err != nil {
				return err
			}
		}
	}
	return nil
}

// historyIndex maps the index of a kept history file, building it first if need be; nil when
// the file cannot be indexed (it is then read whole, which reports what is wrong with it).
func (l *Ledger) historyIndex(ctx context.Context, file string) *histIndex {
	path := filepath.Join(l.dir, historyDir, histIndexDir, filepath.Base(file)+".idx")
	if !fileExists(path) {
		if err := writeHistoryIndex(ctx, file, path); err != nil {
			return nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 32 || !bytes.Equal(data[:8], histMagic[:]) {
		return nil
	}
	h := &histIndex{x: index{data: data}}
	n, keyLen, m := int(h.x.u64(8)), int(h.x.u64(16)), int(h.x.u64(24))
	at := 32
	next := func(size int) int { s := at; at += size; return s }
	h.n, h.hash, h.keyOff, h.monOff = n, next(8*n), next(4*(n+1)), next(4*(n+1))
	h.keys, h.m = next(keyLen), next(4*m)
	if at != len(data) {
		return nil
	}
	return h
}

func writeHistoryIndex(ctx context.Context, file, path string) error {
	type row struct {
		hash  uint64
		key   [2]uint32
		month rules.Month
	}
	var rows []row
	var keys, key []byte
	err := receipt.ReadHistory(ctx, file, func(h receipt.HistoryRow, _ int64) error {
		m, err := rules.ParseMonth(h.ServiceMonth)
		if err != nil {
			return err
		}
		key = appendKey(key, []byte(h.InsurerNo), []byte(h.HouseholdID))
		start := uint32(len(keys))
		keys = append(keys, key...)
		rows = append(rows, row{fnv(key), [2]uint32{start, uint32(len(keys))}, m})
		return nil
	})
	if err != nil {
		return err
	}
	keyOf := func(r row) []byte { return keys[r.key[0]:r.key[1]] }
	slices.SortFunc(rows, func(a, b row) int {
		switch {
		case a.hash != b.hash:
			return cmpU64(a.hash, b.hash)
		case !bytes.Equal(keyOf(a), keyOf(b)):
			return bytes.Compare(keyOf(a), keyOf(b))
		}
		return int(a.month - b.month)
	})
	// households: the first row of each key
	var firsts []int
	for i, r := range rows {
		if i == 0 || r.hash != rows[i-1].hash || !bytes.Equal(keyOf(r), keyOf(rows[i-1])) {
			firsts = append(firsts, i)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	defer os.Remove(path + ".tmp")
	err = writeFileSync(path+".tmp", func(f *os.File) error {
		w := &sectionWriter{w: f}
		keyLen := 0
		for _, i := range firsts {
			keyLen += len(keyOf(rows[i]))
		}
		w.bytes(histMagic[:])
		w.u64(uint64(len(firsts)))
		w.u64(uint64(keyLen))
		w.u64(uint64(len(rows)))
		for _, i := range firsts {
			w.u64(rows[i].hash)
		}
		w.u32(0)
		n := 0
		for _, i := range firsts {
			n += len(keyOf(rows[i]))
			w.u32(uint32(n))
		}
		for k, i := range firsts {
			w.u32(uint32(i))
			if k == len(firsts)-1 {
				w.u32(uint32(len(rows)))
			}
		}
		if len(firsts) == 0 {
			w.u32(0)
		}
		for _, i := range firsts {
			w.bytes(keyOf(rows[i]))
		}
		for _, r := range rows {
			w.u32(uint32(int32(r.month)))
		}
		w.flush()
		return w.err
	})
	if err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func cmpU64(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}
