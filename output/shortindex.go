package output

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// shortIndex finds the dictionary index of a value of 1 to 8 bytes (an insurer number) by
// the value's bytes read as one integer, in an open-addressed table: a multiply and a
// compare, where the dictionary's map hashed and compared the bytes. The insurer numbers of
// the households come in no order, so most of their look-ups missed the cache of recent
// values (index) and went to the map: 0.15 s of the 10M month.
type shortIndex struct {
	slots []shortSlot // a power of two, at most half full
	n     int
}

type shortSlot struct {
	key uint64 // the value's bytes, little-endian
	len uint8  // 1 to 8; 0 for an empty slot
	idx int32
}

// find returns the index kept for s (of 1 to 8 bytes), or false.
func (t *shortIndex) find(s string) (int32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	key, n := shortKey(s), uint8(len(s))
	mask := uint64(len(t.slots) - 1)
	for k := shortHash(key, n, len(t.slots)); ; k = (k + 1) & mask {
		slot := &t.slots[k]
		if slot.len == n && slot.key == key {
			return slot.idx, true
		}
		if slot.len == 0 {
			return 0, false
		}
	}
}

// add keeps idx for s (of 1 to 8 bytes), which find did not find.
func (t *shortIndex) add(s string, idx int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	t.put(shortSlot{key: shortKey(s), len: uint8(len(s)), idx: idx})
	t.n++
}

func (t *shortIndex) put(slot shortSlot) {
	mask := uint64(len(t.slots) - 1)
	k := shortHash(slot.key, slot.len, len(t.slots))
	for t.slots[k].len != 0 {
		k = (k + 1) & mask
	}
	t.slots[k] = slot
}

func (t *shortIndex) grow() {
	old := t.slots
	t.slots = make([]shortSlot, max(64, 2*len(old)))
	for _, slot := range old {
		if slot.len != 0 {
			t.put(slot)
		}
	}
}

// reset forgets every value and keeps the table's memory.
func (t *shortIndex) reset() {
	clear(t.slots)
	t.n = 0
}

// shortKey is the bytes of s (1 to 8 of them) as a little-endian integer.
func shortKey(s string) uint64 {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	if len(b) == 8 {
		return binary.LittleEndian.Uint64(b)
	}
	var k uint64
	for i := len(b) - 1; i >= 0; i-- {
		k = k<<8 | uint64(b[i])
	}
	return k
}

// shortHash is the first slot to look at for a key, in a table of size slots.
func shortHash(key uint64, n uint8, size int) uint64 {
	h := (key ^ uint64(n)<<56) * 0x9E3779B97F4A7C15
	return h >> (64 - uint(bits.TrailingZeros(uint(size))))
}
