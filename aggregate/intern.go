package aggregate

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unsafe"
)

// interner keeps one copy of each string it is given: the insurer numbers of a directory
// shard or of a household pass, looked up once per member row or household. An insurer
// number is 6 or 8 digits, so a string of up to 8 bytes is found by its bytes read as one
// integer, in an open-addressed table: a multiply and a compare, where a map of strings
// hashed and compared the bytes (0.1 s of the 10M month in each of the two places). Longer
// strings go to a map.
type interner struct {
	slots []internSlot // a power of two, at most half full
	n     int
	long  map[string]string
}

type internSlot struct {
	key uint64 // the string's bytes, little-endian
	len uint8  // 1 to 8; 0 for an empty slot
	s   string
}

// intern returns the one copy of s, made on first sight.
func (t *interner) intern(s string) string {
	if len(s) == 0 || len(s) > 8 {
		return t.internLong(s)
	}
	key, n := shortKey(s), uint8(len(s))
	if len(t.slots) == 0 {
		t.slots = make([]internSlot, 64)
	}
	mask := uint64(len(t.slots) - 1)
	for k := shortHash(key, n, len(t.slots)); ; k = (k + 1) & mask {
		slot := &t.slots[k]
		if slot.len == n && slot.key == key {
			return slot.s
		}
		if slot.len == 0 {
			c := strings.Clone(s)
			*slot = internSlot{key: key, len: n, s: c}
			if t.n++; 2*t.n > len(t.slots) {
				t.grow()
			}
			return c
		}
	}
}

func (t *interner) internLong(s string) string {
	c, ok := t.long[s]
	if !ok {
		if t.long == nil {
			t.long = map[string]string{}
		}
		c = strings.Clone(s)
		t.long[c] = c
	}
	return c
}

func (t *interner) grow() {
	old := t.slots
	t.slots = make([]internSlot, 2*len(old))
	mask := uint64(len(t.slots) - 1)
	for _, slot := range old {
		if slot.len == 0 {
			continue
		}
		k := shortHash(slot.key, slot.len, len(t.slots))
		for t.slots[k].len != 0 {
			k = (k + 1) & mask
		}
		t.slots[k] = slot
	}
}

// each calls fn with every string kept.
func (t *interner) each(fn func(s string)) {
	for _, slot := range t.slots {
		if slot.len != 0 {
			fn(slot.s)
		}
	}
	for s := range t.long {
		fn(s)
	}
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
