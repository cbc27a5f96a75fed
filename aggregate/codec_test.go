package aggregate

import (
	"strings"
	"testing"
)

// Strings and integers come back as they went in, whatever the size of their length or
// value, and a record cut short anywhere reads as corrupt, never past its end.
func TestCodecRoundTripAndTruncation(t *testing.T) {
	strs := []string{"", "a", strings.Repeat("x", 127), strings.Repeat("y", 128), strings.Repeat("z", 300)}
	ints := []int64{0, 1, -1, 63, -64, 64, 127, 128, 1 << 40, -1 << 40}
	var e enc
	for _, s := range strs {
		e.s(s)
	}
	for _, v := range ints {
		e.i(v)
		e.u(uint64(max(v, 0)))
	}
	d := dec{b: e.b}
	for _, want := range strs {
		if got := d.s(); got != want {
			t.Fatalf("string of %d bytes read back as %d bytes", len(want), len(got))
		}
	}
	for _, want := range ints {
		if got := d.i(); got != want {
			t.Fatalf("varint %d read back as %d", want, got)
		}
		if got := d.u(); got != uint64(max(want, 0)) {
			t.Fatalf("uvarint %d read back as %d", max(want, 0), got)
		}
	}
	if d.err != nil || len(d.b) != 0 {
		t.Fatalf("after every field: err %v, %d bytes left", d.err, len(d.b))
	}
	for cut := range len(e.b) {
		d := dec{b: e.b[:cut]}
		for range strs {
			d.s()
		}
		for range ints {
			d.i()
			d.u()
		}
		if d.err == nil {
			t.Fatalf("a record cut to %d of its %d bytes read without error", cut, len(e.b))
		}
	}
}
