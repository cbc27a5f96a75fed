package output

import (
	"fmt"
	"testing"
)

// shortIndex finds what was added, across growth, for values that differ only in their
// length or a zero byte, finds nothing else, and forgets everything on reset.
func TestShortIndex(t *testing.T) {
	var vals []string
	for i := range 3000 {
		vals = append(vals, fmt.Sprintf("%08d", i*7919%100000000), fmt.Sprintf("%d", i))
	}
	vals = append(vals, "\x00", "1\x00", "\x001", "12345678", "1234567")
	var x shortIndex
	for round := range 2 {
		for i, v := range vals {
			if _, ok := x.find(v); ok {
				t.Fatalf("round %d: %q found before it was added", round, v)
			}
			x.add(v, int32(i))
			if k, ok := x.find(v); !ok || k != int32(i) {
				t.Fatalf("round %d: %q found as %d, %v; want %d", round, v, k, ok, i)
			}
		}
		for i, v := range vals {
			if k, ok := x.find(v); !ok || k != int32(i) {
				t.Fatalf("round %d: %q found as %d, %v at the end; want %d", round, v, k, ok, i)
			}
		}
		x.reset()
	}
}
