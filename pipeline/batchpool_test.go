package pipeline

import (
	"bytes"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Every run of this package's tests poisons the buffers its readers' batches give back, so
// that a string of a batch kept past its release (instead of copied) reads 0xA5 bytes and
// fails the tests that check the outputs.
func init() { poisonFreedBatches = true }

func TestBatchPoolReusesBuffers(t *testing.T) {
	var p batchPool
	a := p.Allocate(100)
	if len(a) != 100 || cap(a) != 128 {
		t.Fatalf("Allocate(100): len %d cap %d, want 100 and 128", len(a), cap(a))
	}
	p.Free(a)
	b := p.Allocate(120)
	if &b[0] != &a[0] || len(b) != 120 {
		t.Fatalf("Allocate(120) after Free of a 128-byte buffer: a new buffer, want the freed one")
	}
	if c := p.Allocate(120); &c[0] == &b[0] {
		t.Fatalf("a buffer in use was handed out again")
	}
	if d := p.Allocate(300); cap(d) != 512 {
		t.Fatalf("Allocate(300): cap %d, want 512", cap(d))
	}
}

func TestBatchPoolReallocateKeepsBytes(t *testing.T) {
	var p batchPool
	a := p.Allocate(64)
	copy(a, "0123456789")
	b := p.Reallocate(1000, a)
	if len(b) != 1000 || !bytes.Equal(b[:10], []byte("0123456789")) {
		t.Fatalf("Reallocate lost the contents: %q", b[:10])
	}
	if c := p.Allocate(64); &c[0] != &a[0] {
		t.Fatalf("Reallocate did not give the smaller buffer back")
	}
}

func TestBatchPoolLeavesOtherSizesToTheCollector(t *testing.T) {
	var p batchPool
	for _, b := range [][]byte{make([]byte, 100), make([]byte, 0), p.Allocate(1<<maxClass + 1)} {
		p.Free(b)
	}
	for c, l := range p.free {
		if len(l) != 0 {
			t.Fatalf("class %d holds %d buffers the pool did not hand out", c, len(l))
		}
	}
	for i := 0; i < keep+5; i++ {
		p.Free(make([]byte, 64))
	}
	if n := len(p.free[minClass]); n != keep {
		t.Fatalf("%d buffers of one size kept, want at most %d", n, keep)
	}
	p.drain()
	if n := len(p.free[minClass]); n != 0 {
		t.Fatalf("%d buffers kept after drain", n)
	}
}

// A record's buffers come back to the pool when the record is released, poisoned.
func TestBatchPoolTakesBackReleasedRecords(t *testing.T) {
	p := &batchPool{poison: true}
	b := array.NewStringBuilder(p)
	b.AppendValues([]string{"R1", "R2", "R3"}, nil)
	arr := b.NewStringArray()
	b.Release()
	kept := arr.Value(1) // a reference kept past the release, as nothing in the run may do
	if kept != "R2" {
		t.Fatalf("value %q, want R2", kept)
	}
	arr.Release()
	if kept == "R2" {
		t.Fatalf("a released record's bytes were not poisoned")
	}
	var _ memory.Allocator = p
}
