package output

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWritebackFile writes 20 MiB and a bit through a writebackFile in uneven pieces: the
// file holds every byte in order, and write-back was asked for at each writebackBytes
// passed, up to the last one.
func TestWritebackFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &writebackFile{File: f}
	var want bytes.Buffer
	piece := make([]byte, 3<<20+17)
	for i := 0; want.Len() < 20<<20; i++ {
		for j := range piece {
			piece[j] = byte(i + j)
		}
		if n, err := w.Write(piece); n != len(piece) || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
		want.Write(piece)
	}
	if w.written != int64(want.Len()) {
		t.Errorf("written %d, want %d", w.written, want.Len())
	}
	if w.requested > w.written || w.written-w.requested >= writebackBytes || w.requested < writebackBytes {
		t.Errorf("write-back asked up to %d of %d bytes", w.requested, w.written)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the file differs from what was written (%d bytes, want %d)", len(got), want.Len())
	}
}
