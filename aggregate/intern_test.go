package aggregate

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// The interner gives one copy per distinct string, equal to it, across growth, for short
// strings that differ only in their length or a zero byte and for long ones, and each lists
// every string once.
func TestInterner(t *testing.T) {
	var in []string
	for i := range 5000 {
		in = append(in, fmt.Sprintf("%08d", i*7919%100000000), fmt.Sprintf("%06d", i))
	}
	in = append(in, "", "1", "1\x00", "\x001", "\x00", "12345678", "123456789", "12345678-01", strings.Repeat("x", 40))
	var t0 interner
	first := map[string]string{}
	for round := range 2 {
		for _, s := range in {
			c := t0.intern(strings.Clone(s)) // a fresh copy each time: found by its bytes
			if c != s {
				t.Fatalf("intern(%q) = %q", s, c)
			}
			if f, ok := first[s]; ok {
				if unsafe.StringData(f) != unsafe.StringData(c) {
					t.Fatalf("round %d: %q has two copies", round, s)
				}
			} else {
				first[s] = c
			}
		}
	}
	seen := map[string]int{}
	t0.each(func(s string) { seen[s]++ })
	if len(seen) != len(first) {
		t.Fatalf("each gave %d strings, want %d", len(seen), len(first))
	}
	for s, n := range seen {
		if n != 1 || first[s] != s {
			t.Fatalf("each gave %q %d times", s, n)
		}
	}
}
