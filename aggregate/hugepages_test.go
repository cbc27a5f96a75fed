package aggregate

import (
	"testing"
	"unsafe"
)

// hugePages is advice: whatever range it is given, the memory reads and writes as before.
func TestHugePagesIsOnlyAdvice(t *testing.T) {
	b := make([]byte, hugeMin+5<<20+123)
	for _, r := range [][2]int{{0, 0}, {0, 10}, {1, 3 << 20}, {0, len(b)}, {4096, len(b) - 4096}, {1, hugeMin + 1}} {
		hugePages(unsafe.Pointer(&b[r[0]]), uintptr(r[1]-r[0]))
	}
	for i := range b {
		b[i] = byte(i)
	}
	for i := range b {
		if b[i] != byte(i) {
			t.Fatalf("byte %d reads %d after the advice, want %d", i, b[i], byte(i))
		}
	}
}
