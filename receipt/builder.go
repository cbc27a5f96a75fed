package receipt

import (
	"bytes"
	"math"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// numReceiptCols is the number of contract columns, i.e. Schema without source_line.
const numReceiptCols = ColCancel + 1

// textRow is a receipt's string columns as trimmed bytes, indexed by the Col* constants (the
// int and bool slots stay empty). CSV fills it with slices of the record, Parquet with views
// of the decoded strings, so both share the checks and the appends below without copying.
type textRow [numReceiptCols][]byte

// isStringCol tells the string columns of Schema; stringCols lists them.
var (
	isStringCol [numReceiptCols]bool
	stringCols  []int
)

func init() {
	for i := range isStringCol {
		if Schema.Field(i).Type.ID() == arrow.STRING {
			isStringCol[i] = true
			stringCols = append(stringCols, i)
		}
	}
}

// batchBuilder accumulates accepted receipts column by column and turns them into a record
// of Schema every max rows.
//
// It does not use array.RecordBuilder: appending a value through BinaryBuilder (a reserve
// check, an offset written through a closure, a validity bit) took 40% of the CPU of a CSV
// read, more than splitting the CSV. Plain Go slices, reused from batch to batch, cost a
// fraction of that; at the end of a batch they are copied once into buffers from the
// caller's allocator, so the records own Arrow memory like any builder's.
type batchBuilder struct {
	alloc   memory.Allocator
	max     int
	n       int
	bytes   int                     // string bytes in the batch, to keep offsets within int32
	offsets [numReceiptCols][]int32 // per string column: n+1 offsets into data
	data    [numReceiptCols][]byte
	ints    [ColSourceLine + 1][]int64 // cost, copay, paid, source_line
	cancel  []bool
}

func newBatchBuilder(alloc memory.Allocator, max int) *batchBuilder {
	b := &batchBuilder{alloc: alloc, max: max}
	b.reset()
	return b
}

func (b *batchBuilder) reset() {
	b.n, b.bytes = 0, 0
	for i := range b.offsets {
		if isStringCol[i] {
			b.offsets[i] = append(b.offsets[i][:0], 0)
			b.data[i] = b.data[i][:0]
		}
	}
	for _, c := range []int{ColCost, ColCopay, ColPaid, ColSourceLine} {
		b.ints[c] = b.ints[c][:0]
	}
	b.cancel = b.cancel[:0]
}

// fits reports whether the row's strings fit in the batch without overflowing the int32
// offsets of Arrow's string type (only gigabytes of text in one batch would not).
func (b *batchBuilder) fits(t *textRow) bool {
	n := b.bytes
	for i := range t {
		n += len(t[i])
	}
	return b.n == 0 || n <= math.MaxInt32
}

// add appends one accepted receipt; it reports whether the batch is now full.
func (b *batchBuilder) add(t *textRow, cost, copay, paid int64, cancel bool, line int64) bool {
	for _, i := range stringCols {
		b.data[i] = append(b.data[i], t[i]...)
		b.offsets[i] = append(b.offsets[i], int32(len(b.data[i])))
		b.bytes += len(t[i])
	}
	b.ints[ColCost] = append(b.ints[ColCost], cost)
	b.ints[ColCopay] = append(b.ints[ColCopay], copay)
	b.ints[ColPaid] = append(b.ints[ColPaid], paid)
	b.ints[ColSourceLine] = append(b.ints[ColSourceLine], line)
	b.cancel = append(b.cancel, cancel)
	b.n++
	return b.n >= b.max
}

// record turns the rows added so far into a record (nil when there are none) and empties
// the builder for the next batch.
func (b *batchBuilder) record() arrow.Record {
	if b.n == 0 {
		return nil
	}
	n := b.n
	cols := make([]arrow.Array, len(Schema.Fields()))
	for i, f := range Schema.Fields() {
		var bufs []*memory.Buffer
		switch {
		case i < numReceiptCols && isStringCol[i]:
			bufs = []*memory.Buffer{nil, b.buffer(arrow.Int32Traits.CastToBytes(b.offsets[i])), b.buffer(b.data[i])}
		case i == ColCancel:
			bits := memory.NewResizableBuffer(b.alloc)
			bits.Resize(int(bitutil.BytesForBits(int64(n))))
			clear(bits.Bytes())
			for j, v := range b.cancel {
				if v {
					bitutil.SetBit(bits.Bytes(), j)
				}
			}
			bufs = []*memory.Buffer{nil, bits}
		default:
			bufs = []*memory.Buffer{nil, b.buffer(arrow.Int64Traits.CastToBytes(b.ints[i]))}
		}
		data := array.NewData(f.Type, n, bufs, nil, 0, 0)
		for _, buf := range bufs[1:] {
			buf.Release() // data holds them now
		}
		cols[i] = array.MakeFromData(data)
		data.Release()
	}
	rec := array.NewRecord(Schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	b.reset()
	return rec
}

// buffer copies src into a buffer from the allocator.
func (b *batchBuilder) buffer(src []byte) *memory.Buffer {
	buf := memory.NewResizableBuffer(b.alloc)
	buf.Resize(len(src))
	copy(buf.Bytes(), src)
	return buf
}

// trimSpace is bytes.TrimSpace, skipped for the usual field that starts and ends with a
// visible ASCII character (bytes.TrimSpace's own checks showed in the profile).
func trimSpace(v []byte) []byte {
	if mayTrim(v) {
		return bytes.TrimSpace(v)
	}
	return v
}

// mayTrim reports whether v starts or ends with a byte other than a visible ASCII character,
// the fields trimSpace hands to bytes.TrimSpace.
func mayTrim(v []byte) bool {
	return len(v) > 0 && (v[0]-'!' >= utf8.RuneSelf-'!' || v[len(v)-1]-'!' >= utf8.RuneSelf-'!')
}
