package pipeline

import (
	"math/bits"
	"sync"
)

// batchPool is the Arrow allocator of the receipt readers' record batches. A batch's buffers
// come back to it when the workers release the batch, and the next batches take them again:
// with Go's allocator every batch took fresh memory (some 9 MB for 65,536 receipts), which the
// runtime zeroed and the kernel faulted in, over a gigabyte of garbage on the 10M month.
//
// Invariants:
//   - a buffer handed out is in no free list until Free gives it back, and Free is called
//     once per buffer, when the last reference to its record goes (arrow's Buffer.Release);
//   - nothing may keep a string or slice of a batch after releasing it: the bytes are reused
//     by a later batch. The workers copy what they keep (the spill encodes, the rejects
//     clone); poison, set by the tests, overwrites freed buffers so that a reference kept by
//     mistake reads garbage and fails them;
//   - buffers are of power-of-two capacities from 1<<minClass to 1<<maxClass, at most keep of
//     each in the free lists; other sizes are left to the collector, and so is everything once
//     the run drains the pool after its intake.
type batchPool struct {
	mu     sync.Mutex
	free   [maxClass + 1][][]byte
	poison bool
}

// poisonFreedBatches makes every run's pool poison the buffers it takes back (set by this
// package's tests).
var poisonFreedBatches bool

const (
	minClass = 6  // 64 bytes, Arrow's alignment
	maxClass = 26 // 64 MiB
	// keep is how many free buffers of one size the pool holds. A batch of 65,536 receipts
	// takes 15 buffers of 512 KiB (its amounts, line numbers and string offsets) and some
	// 20 in all, and up to 2×workers batches wait in the channel besides those being built
	// and routed: 128 covers that at two and four workers, and the pool holds no more than
	// was once in flight.
	keep = 128
)

// drain gives the free buffers back to the collector, once no batch is in flight.
func (p *batchPool) drain() {
	p.mu.Lock()
	clear(p.free[:])
	p.mu.Unlock()
}

// class is the power of two a buffer of n bytes is taken from.
func class(n int) int { return max(bits.Len(uint(n-1)), minClass) }

// Allocate returns n bytes, not zeroed (Arrow's builders write every byte they use; the
// receipt readers' buffers are copies).
func (p *batchPool) Allocate(n int) []byte {
	c := class(n)
	if n <= 0 || c > maxClass {
		return make([]byte, n)
	}
	p.mu.Lock()
	if k := len(p.free[c]); k > 0 {
		b := p.free[c][k-1]
		p.free[c] = p.free[c][:k-1]
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	return make([]byte, n, 1<<c)
}

// Reallocate grows (or shrinks) b to n bytes, keeping its contents.
func (p *batchPool) Reallocate(n int, b []byte) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := p.Allocate(n)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free takes back a buffer that Allocate gave.
func (p *batchPool) Free(b []byte) {
	c := class(cap(b))
	if cap(b) == 0 || cap(b) != 1<<c || c > maxClass {
		return // not one of ours, or too large to keep
	}
	b = b[:cap(b)]
	if p.poison {
		for i := range b {
			b[i] = 0xA5
		}
	}
	p.mu.Lock()
	if len(p.free[c]) < keep {
		p.free[c] = append(p.free[c], b)
	}
	p.mu.Unlock()
}
