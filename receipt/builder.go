package receipt

import (
	"bytes"
	"math"
	"unicode"
	"unicode/utf8"
	"unsafe"

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
// read, more than splitting the CSV. Plain Go slices cost a fraction of that. They are taken
// from the caller's allocator at the start of a batch, as large as the last batch needed,
// and at its end they become the record's buffers as they are, owned by that allocator
// (Release gives them back to it): copying them into Arrow buffers had cost the Parquet read
// a tenth of its CPU. A slice that outgrows its capacity is grown by append, and its buffer
// is then Go memory the allocator does not keep (both allocators here accept that).
type batchBuilder struct {
	alloc   memory.Allocator
	max     int
	n       int
	bytes   int                     // string bytes in the batch, to keep offsets within int32
	offsets [numReceiptCols][]int32 // per string column: n+1 offsets into data
	data    [numReceiptCols][]byte
	ints    [ColSourceLine + 1][]int64 // cost, copay, paid, source_line
	cancel  []bool
	// dataCap is the capacity each string column's data had at the end of the last batch:
	// the next batch takes that much.
	dataCap [numReceiptCols]int
	// The allocations under the slices above, as the allocator gave them.
	rawOffsets, rawData [numReceiptCols][]byte
	rawInts             [ColSourceLine + 1][]byte
}

func newBatchBuilder(alloc memory.Allocator, max int) *batchBuilder {
	b := &batchBuilder{alloc: alloc, max: max}
	b.reset()
	return b
}

// reset starts a batch: the slices the last record took are replaced by fresh ones from the
// allocator.
func (b *batchBuilder) reset() {
	b.n, b.bytes = 0, 0
	rows := min(b.max, 1<<20) + 1 // a batch's offsets, but no more than a guess for huge batches
	for i := range b.offsets {
		if isStringCol[i] {
			if b.offsets[i] == nil {
				b.rawOffsets[i] = b.alloc.Allocate(rows * 4)
				b.offsets[i] = intsIn[int32](b.rawOffsets[i])
				b.rawData[i] = b.alloc.Allocate(max(b.dataCap[i], 64))
				b.data[i] = b.rawData[i][:0:cap(b.rawData[i])]
			}
			b.offsets[i] = append(b.offsets[i][:0], 0)
			b.data[i] = b.data[i][:0]
		}
	}
	for _, c := range []int{ColCost, ColCopay, ColPaid, ColSourceLine} {
		if b.ints[c] == nil {
			b.rawInts[c] = b.alloc.Allocate(rows * 8)
			b.ints[c] = intsIn[int64](b.rawInts[c])
		}
		b.ints[c] = b.ints[c][:0]
	}
	b.cancel = b.cancel[:0]
}

// close gives the allocations of the batch not handed over back to the allocator; the
// builder is not used after it.
func (b *batchBuilder) close() {
	for _, raws := range [][][]byte{b.rawOffsets[:], b.rawData[:], b.rawInts[:]} {
		for i, raw := range raws {
			if raw != nil {
				b.alloc.Free(raw)
				raws[i] = nil
			}
		}
	}
	b.offsets, b.data, b.ints = [numReceiptCols][]int32{}, [numReceiptCols][]byte{}, [ColSourceLine + 1][]int64{}
}

// roomFor makes room in string column c's data for n more bytes, growing it through the
// allocator, which takes its old buffer back, rather than by append: a file's first batches
// start small, and every doubling by append was garbage the collector does not take before
// the intake ends (some 40 MB on the 10M month for a column of names alone).
func (b *batchBuilder) roomFor(c, n int) {
	if len(b.data[c])+n <= cap(b.data[c]) {
		return
	}
	raw := b.alloc.Allocate(max(2*cap(b.data[c]), len(b.data[c])+n))
	data := append(raw[:0:cap(raw)], b.data[c]...)
	b.alloc.Free(b.rawData[c])
	b.rawData[c], b.data[c] = raw, data
}

// intsIn is an empty slice of integers over the whole capacity of raw.
func intsIn[T int32 | int64](raw []byte) []T {
	size := int(unsafe.Sizeof(T(0)))
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(raw))), cap(raw)/size)[:0]
}

// intBytes is the memory of s as bytes.
func intBytes[T int32 | int64](s []T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(T(0))))
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
			bufs = []*memory.Buffer{nil, b.handOver(b.rawOffsets[i], intBytes(b.offsets[i])), b.handOver(b.rawData[i], b.data[i])}
			b.dataCap[i] = cap(b.data[i])
			b.offsets[i], b.data[i], b.rawOffsets[i], b.rawData[i] = nil, nil, nil, nil
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
			bufs = []*memory.Buffer{nil, b.handOver(b.rawInts[i], intBytes(b.ints[i]))}
			b.ints[i], b.rawInts[i] = nil, nil
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

// handOver makes the buffer of a column the batch built in used, which was started in raw.
// While used is still in raw's memory the buffer is raw, whole, as the allocator gave it, and
// its Release gives raw back. If an append moved used to Go memory, raw goes back now and
// the buffer is used, left to the collector.
func (b *batchBuilder) handOver(raw, used []byte) *memory.Buffer {
	if cap(used) == 0 || unsafe.SliceData(used) == unsafe.SliceData(raw) {
		return memory.NewBufferWithAllocator(raw[:cap(raw)], b.alloc)
	}
	b.alloc.Free(raw)
	return memory.NewBufferBytes(used)
}

// trimSpace is bytes.TrimSpace, skipped for the usual field that starts and ends with a
// visible ASCII character (bytes.TrimSpace's own checks showed in the profile).
func trimSpace(v []byte) []byte {
	if mayTrim(v) {
		return bytes.TrimSpace(v)
	}
	return v
}

// mayTrim reports whether bytes.TrimSpace would change v, looking no further than its first
// and last bytes when they are visible ASCII characters. A kana name starts and ends with
// bytes above ASCII, and is trimmed only when its first or last rune is a space (U+3000).
func mayTrim(v []byte) bool {
	return len(v) > 0 && (v[0]-'!' >= utf8.RuneSelf-'!' || v[len(v)-1]-'!' >= utf8.RuneSelf-'!') && edgeSpace(v)
}

// edgeSpace reports whether v's first or last rune is a space.
func edgeSpace(v []byte) bool {
	first, _ := utf8.DecodeRune(v)
	last, _ := utf8.DecodeLastRune(v)
	return unicode.IsSpace(first) || unicode.IsSpace(last)
}
