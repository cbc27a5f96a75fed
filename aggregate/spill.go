package aggregate

import (
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
)

// Spill is a set of partitions that records are appended to by several workers at once and
// read back one partition at a time. Each worker owns its own buffer (and, on disk, its own
// file) per partition, so appends take no lock; a partition is the concatenation of its
// workers' parts, in worker order. Nothing downstream may depend on the order of records within
// a partition: every consumer sorts.
//
// Invariants:
//   - in memory mode every appended byte stays in a worker buffer until Close;
//   - on disk, a worker's buffer for a partition is written out once it passes flushAt, so a
//     worker holds at most parts × flushAt bytes; Read sees every byte only after every
//     worker's Flush.
type Spill struct {
	dir     string // empty: in memory
	parts   int
	writers []*PartWriter
}

const flushAt = 128 << 10

// NewSpill makes a spill of parts partitions for workers writers, in memory when dir is
// empty, else in files under dir (which it creates).
func NewSpill(dir string, parts, workers int) (*Spill, error) {
	s := &Spill{dir: dir, parts: parts}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	for w := 0; w < workers; w++ {
		pw := &PartWriter{s: s, w: w, bufs: make([][]byte, parts)}
		if dir != "" {
			pw.files = make([]*os.File, parts)
		}
		s.writers = append(s.writers, pw)
	}
	return s, nil
}

// Parts is the number of partitions.
func (s *Spill) Parts() int { return s.parts }

// Writer returns worker w's writer.
func (s *Spill) Writer(w int) *PartWriter { return s.writers[w] }

// PartOf maps a 64-bit hash to its partition by range, so that partition order is hash order
// whatever the number of partitions.
func PartOf(hash uint64, parts int) int {
	hi, _ := bits.Mul64(hash, uint64(parts))
	return int(hi)
}

// PartWriter appends records for one worker.
type PartWriter struct {
	s     *Spill
	w     int
	bufs  [][]byte
	files []*os.File
	n     int64 // bytes appended
}

// Append adds one encoded record to partition p.
func (pw *PartWriter) Append(p int, rec []byte) error {
	pw.bufs[p] = append(pw.bufs[p], rec...)
	pw.n += int64(len(rec))
	if pw.files != nil && len(pw.bufs[p]) >= flushAt {
		return pw.flushPart(p)
	}
	return nil
}

// Bytes is how much this writer has appended.
func (pw *PartWriter) Bytes() int64 { return pw.n }

func (pw *PartWriter) flushPart(p int) error {
	if len(pw.bufs[p]) == 0 {
		return nil
	}
	if pw.files[p] == nil {
		f, err := os.Create(filepath.Join(pw.s.dir, fmt.Sprintf("p%05d-w%03d", p, pw.w)))
		if err != nil {
			return err
		}
		pw.files[p] = f
	}
	if _, err := pw.files[p].Write(pw.bufs[p]); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	pw.bufs[p] = pw.bufs[p][:0]
	return nil
}

// Flush writes out everything buffered (on disk); in memory it does nothing.
func (pw *PartWriter) Flush() error {
	if pw.files == nil {
		return nil
	}
	for p := range pw.bufs {
		if err := pw.flushPart(p); err != nil {
			return err
		}
	}
	return nil
}

// Read returns partition p whole. In memory mode it hands over the workers' buffers and
// forgets them, so a partition is read once.
func (s *Spill) Read(p int) ([]byte, error) {
	var out []byte
	if s.dir == "" {
		for _, pw := range s.writers {
			if out == nil {
				out = pw.bufs[p]
			} else {
				out = append(out, pw.bufs[p]...)
			}
			pw.bufs[p] = nil
		}
		return out, nil
	}
	sizes := make([]int64, len(s.writers))
	var size int64
	for w, pw := range s.writers {
		if f := pw.files[p]; f != nil {
			st, err := f.Stat()
			if err != nil {
				return nil, err
			}
			sizes[w] = st.Size()
			size += st.Size()
		}
	}
	out = make([]byte, 0, size)
	for w, pw := range s.writers {
		f := pw.files[p]
		if f == nil {
			continue
		}
		if _, err := f.ReadAt(out[len(out):len(out)+int(sizes[w])], 0); err != nil {
			return nil, fmt.Errorf("spill: reading %s: %w", f.Name(), err)
		}
		out = out[:len(out)+int(sizes[w])]
		f.Close()
		os.Remove(f.Name())
		pw.files[p] = nil
	}
	return out, nil
}

// Close removes whatever is left of the spill.
func (s *Spill) Close() error {
	for _, pw := range s.writers {
		for p, f := range pw.files {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
				pw.files[p] = nil
			}
		}
		pw.bufs = nil
	}
	if s.dir != "" {
		return os.RemoveAll(s.dir)
	}
	return nil
}
