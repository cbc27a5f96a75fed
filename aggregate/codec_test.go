package aggregate

import (
	"strings"
	"testing"
	"unsafe"
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

// A pair comes back as it went in whether or not its second string starts with its first,
// both strings reading from the buffer itself (the second as one span over both when it
// continues the first), and a pair cut short anywhere reads as corrupt.
func TestCodecPairs(t *testing.T) {
	long := strings.Repeat("9", 200)
	cases := []struct {
		a, b   string
		shared bool // b is written as the rest after a
	}{
		{"003566025", "003566025-04", true},
		{"1413318875", "1413318875-202511-00-356602500", true},
		{"003566025", "003566025", true}, // b equal to a: an empty rest
		{"003566025", "H-77", false},
		{"003566025", "00356602", false}, // b shorter than a, and a prefix of it
		{"", "003566025-04", false},
		{"", "", false},
		{"abc", "", false},
		{long, long + "-01", true}, // lengths of two bytes
		{"x", long, false},
	}
	for _, c := range cases {
		var e enc
		e.pair(c.a, c.b)
		e.s("after")
		// b's bytes, two lengths of at most two bytes each and the next field: a was not
		// written as well.
		if c.shared && len(e.b) > len(c.b)+4+1+len("after") {
			t.Errorf("pair(%.12q, %.12q): %d bytes, the shared prefix was written twice", c.a, c.b, len(e.b))
		}
		d := dec{b: e.b}
		a, b := d.pair()
		if a != c.a || b != c.b {
			t.Fatalf("pair(%.12q, %.12q) read back as (%.12q, %.12q)", c.a, c.b, a, b)
		}
		if rest := d.s(); rest != "after" || d.err != nil {
			t.Fatalf("pair(%.12q, %.12q): the next field read %q, err %v", c.a, c.b, rest, d.err)
		}
		within := func(s string) bool {
			if s == "" {
				return true
			}
			p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
			lo := uintptr(unsafe.Pointer(&e.b[0]))
			return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(e.b))
		}
		if !within(a) || !within(b) {
			t.Errorf("pair(%.12q, %.12q): a string does not alias the buffer", c.a, c.b)
		}
		n := len(e.b) - len("after") - 1
		for cut := range n {
			d := dec{b: e.b[:cut]}
			d.pair()
			if d.err == nil {
				t.Fatalf("pair(%.12q, %.12q) cut to %d of its %d bytes read without error", c.a, c.b, cut, n)
			}
		}
	}
}

// Lengths that claim more bytes than the buffer holds, each alone or together, are corrupt
// and read nothing, whatever their size (a sum that would overflow included).
func TestCodecPairLengthsChecked(t *testing.T) {
	for _, lens := range [][2]uint64{{5, 0}, {0, 5 << 1}, {2, 2<<1 | 1}, {1 << 62, 1}, {1, ^uint64(0)}, {^uint64(0), ^uint64(0)}} {
		var e enc
		e.u(lens[0])
		e.u(lens[1])
		e.b = append(e.b, "abc"...)
		d := dec{b: e.b}
		if a, b := d.pair(); d.err == nil || a != "" || b != "" {
			t.Errorf("lengths %d, %d over 3 bytes: (%q, %q), err %v", lens[0], lens[1], a, b, d.err)
		}
	}
}

// FuzzSpillRecords: a joined receipt and a member row (whole, and lean) come back from their
// records as they went in, whatever their ids share (the pairs written as a rest or whole), and any bytes at
// all decode to an error or to something, never a panic or a read past the end.
func FuzzSpillRecords(f *testing.F) {
	f.Add("003566025", "003566025-04", "1413318875", "1413318875-202511-00-356602500", "06141493", int64(1240), uint64(17), []byte{tagJoined, 9, 7})
	f.Add("", "", "", "", "", int64(-1), uint64(0), []byte{})
	f.Add("H1", "P1", "I", "R", "01", int64(1<<40), uint64(1<<33), []byte{tagMember, 200, 1, 1})
	f.Fuzz(func(t *testing.T, hh, person, inst, id, insurer string, paid int64, line uint64, junk []byte) {
		r := Receipt{File: 3, Line: int64(line >> 1), ID: id, InsurerNo: insurer, PersonID: person, InstitutionID: inst,
			PrescriberID: inst + id, Kind: 2, Setting: 1, Tokutei: 1, Cost: paid * 3, Copay: paid, Paid: -paid, Cancel: line&1 == 1}
		m := Member{InsurerNo: insurer, PersonID: person, HouseholdID: hh, Sex: "1", From: 7, To: OpenEnd, File: 1, Line: int64(line >> 1)}
		var e enc
		e.receiptFields(&r, hh)
		e.member(&m)
		m.HalfNow = line&2 == 2
		e.leanMember(&m)
		d := dec{b: e.b}
		var got Receipt
		d.joined(&got)
		want := r
		want.HouseholdID = hh
		if got != want {
			t.Fatalf("receipt read back as %+v, want %+v", got, want)
		}
		if tag := d.byte1(); tag != tagMember {
			t.Fatalf("tag %d after the receipt", tag)
		}
		var gotM Member
		d.member(&gotM)
		if whole := (Member{InsurerNo: insurer, PersonID: person, HouseholdID: hh, Sex: "1", From: 7, To: OpenEnd, File: 1,
			Line: int64(line >> 1)}); d.err != nil || gotM != whole {
			t.Fatalf("member read back as %+v (err %v), want %+v", gotM, d.err, whole)
		}
		if tag := d.byte1(); tag != tagLeanMember {
			t.Fatalf("tag %d after the member", tag)
		}
		gotM = Member{Sex: "x", From: 1, To: 2, HalfMonth: 3} // a lean row clears what it leaves out
		d.leanMember(&gotM)
		lean := m
		lean.Sex, lean.From, lean.To = "", 0, 0
		if d.err != nil || len(d.b) != 0 || gotM != lean {
			t.Fatalf("lean member read back as %+v (err %v, %d bytes left), want %+v", gotM, d.err, len(d.b), lean)
		}
		for _, b := range [][]byte{junk, append(e.b[:len(e.b):len(e.b)], junk...), e.b[:len(e.b)/2]} {
			d := dec{b: b}
			var x Receipt
			var y Member
			d.joined(&x)
			d.member(&y)
			d.leanMember(&y)
		}
	})
}
