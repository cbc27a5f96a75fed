package aggregate

import (
	"encoding/binary"
	"errors"
	"unsafe"
)

// The spill format is a stream of records, each a sequence of uvarints, varints and
// length-prefixed strings in a fixed order per record type. It is private to one run, written
// and read by the same binary, so it carries no version: what matters is that it is compact and
// cheap to encode and decode.

// enc appends fields to a buffer.
type enc struct{ b []byte }

func (e *enc) u(v uint64) {
	if v < 0x80 { // one byte: most lengths, files and tags
		e.b = append(e.b, byte(v))
		return
	}
	e.b = binary.AppendUvarint(e.b, v)
}

// i is a zigzag varint, as binary.AppendVarint writes it.
func (e *enc) i(v int64) { e.u(uint64(v<<1) ^ uint64(v>>63)) }

func (e *enc) s(v string)   { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) byte1(v byte) { e.b = append(e.b, v) }

// pair writes a, then b. When b starts with a (a person id that begins with its household's
// id, as 記号・番号 then 枝番; a receipt id that begins with its institution's code, as the
// UKE reader makes them), only the rest of b is written, right after a's bytes, so that the
// decoder reads b as one span over both, without a copy. The second length says which: the
// rest's length or b's, shifted left, with the low bit set for a rest.
func (e *enc) pair(a, b string) {
	e.u(uint64(len(a)))
	if len(a) > 0 && len(b) >= len(a) && b[:len(a)] == a {
		e.u(uint64(len(b)-len(a))<<1 | 1)
		e.b = append(e.b, a...)
		e.b = append(e.b, b[len(a):]...)
		return
	}
	e.u(uint64(len(b)) << 1)
	e.b = append(e.b, a...)
	e.b = append(e.b, b...)
}

func (e *enc) bool1(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

var errCorrupt = errors.New("aggregate: corrupt spill data")

// dec reads fields from a buffer. Strings it returns alias the buffer (no copy): the buffer
// must outlive them, which holds because a partition's buffer lives as long as the partition.
type dec struct {
	b   []byte
	err error
}

func (d *dec) u() uint64 {
	if len(d.b) > 0 && d.b[0] < 0x80 { // one byte: most lengths, files and small amounts
		v := d.b[0]
		d.b = d.b[1:]
		return uint64(v)
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) i() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) s() string {
	if len(d.b) > 0 && d.b[0] < 0x80 && int(d.b[0]) < len(d.b) { // a length of one byte, and the bytes
		n := int(d.b[0])
		if n == 0 {
			d.b = d.b[1:]
			return ""
		}
		v := unsafe.String(&d.b[1], n)
		d.b = d.b[1+n:]
		return v
	}
	n := d.u()
	if uint64(len(d.b)) < n {
		d.fail()
		return ""
	}
	if n == 0 {
		return ""
	}
	v := unsafe.String(&d.b[0], int(n))
	d.b = d.b[n:]
	return v
}

// pair reads what enc.pair wrote; both strings alias the buffer.
func (d *dec) pair() (a, b string) {
	// Both lengths of one byte (ids): the span is cut here in full rather than through the
	// general way below, which a decoding micro-benchmark found 25% slower for records.
	if len(d.b) >= 2 && d.b[0] < 0x80 && d.b[1] < 0x80 {
		na, code := int(d.b[0]), int(d.b[1])
		if nb := code >> 1; na+nb <= len(d.b)-2 {
			body := d.b[2:]
			if na > 0 {
				a = unsafe.String(&body[0], na)
			}
			switch {
			case code&1 == 1 && na+nb > 0:
				b = unsafe.String(&body[0], na+nb)
			case code&1 == 0 && nb > 0:
				b = unsafe.String(&body[na], nb)
			}
			d.b = body[na+nb:]
			return a, b
		}
	}
	na, code := d.u(), d.u()
	nb := code >> 1
	if d.err != nil || na > uint64(len(d.b)) || nb > uint64(len(d.b))-na {
		d.fail()
		return "", ""
	}
	if na > 0 {
		a = unsafe.String(&d.b[0], int(na))
	}
	switch {
	case code&1 == 1 && na+nb > 0:
		b = unsafe.String(&d.b[0], int(na+nb)) // a, then the rest of b after it
	case code&1 == 0 && nb > 0:
		b = unsafe.String(&d.b[na], int(nb))
	}
	d.b = d.b[na+nb:]
	return a, b
}

func (d *dec) skipS() {
	n := d.u()
	if uint64(len(d.b)) < n {
		d.fail()
		return
	}
	d.b = d.b[n:]
}

func (d *dec) byte1() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) bool1() bool { return d.byte1() != 0 }

func (d *dec) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}
