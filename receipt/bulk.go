package receipt

import (
	"math"
	"slices"

	"github.com/kougaku/batch/pqcol"
	"github.com/kougaku/batch/rules"
)

// The bulk way of a Parquet batch. A batch of a well-formed file (no nulls, nothing to trim,
// every row passing checkText) goes into the batch builder a column at a time: each plain
// string column's bytes in one copy and its offsets shifted, a dictionary column's values
// copied by index, the amounts and flags as slices. Taking every value through a textRow and appending it to the builder
// one after the other cost a fifth of the run's reading. The result is the same, row for
// row and batch for batch: any batch with a row that would be rejected, trimmed or read as
// null goes the way of rows (readReceiptsParquet), so rejects keep their order and detail.

// bulkReads lets tests compare the two ways; onBulk, when set, is called for every batch
// that takes the bulk way.
var (
	bulkReads = true
	onBulk    func()
)

// parquetBatch is one pqcol batch of receipts as readReceiptsParquet views it.
type parquetBatch struct {
	first             int64 // row number of the batch's first row, from 0
	n                 int
	strs              [numReceiptCols]pqcol.Bytes // of the present string columns
	present           [numReceiptCols]bool
	cost, copay, paid pqcol.Ints
	cancel            pqcol.Bools
	hasCancel         bool
	// A string column's values: row i is data[offs[i]:offs[i+1]], or, for a dictionary
	// column (idx not nil), dictionary value idx[i], data[offs[k]:offs[k+1]] for k = idx[i].
	data        [numReceiptCols][]byte
	offs        [numReceiptCols][]uint32
	idx         [numReceiptCols][]int32
	stringBytes int
	// group is the batch's pqcol.Batch.Group; cleanDict[c] the group whose dictionary of
	// column c was found clean (allClean), 0 for none yet.
	group     uint64
	cleanDict [numReceiptCols]uint64
	// padded[c] is column c's dictionary data followed by 32 bytes, when none of its values
	// is longer than 32 bytes (nil otherwise), made with cleanDict[c]; wide[c] says that
	// some value is longer than 16 bytes (names), so that values are copied 32 bytes at a
	// time rather than 16.
	padded [numReceiptCols][]byte
	wide   [numReceiptCols]bool
}

// bulkable reports whether the batch may take the bulk way, and readies its columns: every
// value must be one that trimSpace leaves alone and that passes checkText.
func (p *parquetBatch) bulkable() bool {
	if !bulkReads || p.cost.AnyNull() || p.copay.AnyNull() || p.paid.AnyNull() {
		return false
	}
	p.stringBytes = 0
	for _, c := range stringCols {
		p.data[c], p.offs[c], p.idx[c] = nil, nil, nil
		if !p.present[c] {
			if !textOK(c, nil) {
				return false
			}
			continue
		}
		if data, offs, ok := p.strs[c].Contiguous(); ok {
			if !allClean(c, data, offs[:p.n+1]) {
				return false
			}
			p.data[c], p.offs[c] = data, offs
			p.stringBytes += int(offs[p.n] - offs[0])
			continue
		}
		// A dictionary column (the low-cardinality columns, as most writers write them),
		// without nulls. Its dictionary is checked once per row group, not its rows.
		data, offs, idx, ok := p.strs[c].Dictionary()
		if !ok {
			return false
		}
		if p.cleanDict[c] != p.group {
			if !allClean(c, data, offs) {
				return false
			}
			p.cleanDict[c] = p.group
			p.padded[c], p.wide[c] = padDictionary(p.padded[c], data, offs)
		}
		for _, k := range idx[:p.n] {
			if k < 0 {
				return false // a null: the way of rows says what it means
			}
			p.stringBytes += int(offs[k+1] - offs[k])
		}
		p.data[c], p.offs[c], p.idx[c] = data, offs, idx
	}
	return true
}

// padDictionary returns a dictionary's data (value i being data[offs[i]:offs[i+1]]) with 32
// bytes after it, in buf's memory, or nil when a value is longer than 32 bytes; and whether
// a value is longer than 16.
func padDictionary(buf, data []byte, offs []uint32) (padded []byte, wide bool) {
	for i := 1; i < len(offs); i++ {
		switch n := offs[i] - offs[i-1]; {
		case n > 32:
			return nil, false
		case n > 16:
			wide = true
		}
	}
	buf = append(buf[:0], data...)
	return append(buf, make([]byte, 32)...), wide
}

// allClean reports whether every value of string column c, value i being
// data[offs[i]:offs[i+1]], is left alone by trimSpace and passes textOK.
func allClean(c int, data []byte, offs []uint32) bool {
	tested := slices.Contains(checkTextCols[:], c) // textOK passes every value of the others
	for i := 1; i < len(offs); i++ {
		v := data[offs[i-1]:offs[i]]
		if mayTrim(v) || (tested && !textOK(c, v)) {
			return false
		}
	}
	return true
}

// addBulk puts a bulkable batch into the builder, cutting record batches where the way of
// rows would, and looking at the context before each part as row does every ctxCheckRows
// rows.
func (s *receiptSink) addBulk(p *parquetBatch) error {
	b := s.b
	if b.bytes+p.stringBytes > math.MaxInt32 {
		return s.rowsOf(p) // the way of rows cuts a record where it would overflow
	}
	if onBulk != nil {
		onBulk()
	}
	for from := 0; from < p.n; {
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		default:
		}
		k := min(p.n-from, b.max-b.n)
		b.addColumns(p, from, from+k)
		s.stats.Rows += int64(k)
		var paid int64 // of k < rules.MaxSummed counted amounts: it cannot wrap
		for _, v := range p.paid.Values()[from : from+k] {
			paid += rules.CountedPaid(v)
		}
		if err := s.addPaid(&s.stats.PaidRead, paid); err != nil {
			return err
		}
		from += k
		if b.n >= b.max {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// addColumns appends rows [from, to) of p column by column.
func (b *batchBuilder) addColumns(p *parquetBatch, from, to int) {
	for _, c := range stringCols {
		base := int32(len(b.data[c]))
		offs := p.offs[c]
		if offs == nil { // an absent column: empty strings
			for range to - from {
				b.offsets[c] = append(b.offsets[c], base)
			}
			continue
		}
		if idx := p.idx[c]; idx != nil {
			if p.padded[c] == nil || p.wide[c] { // long values: room for them all beforehand
				need := 0
				for _, k := range idx[from:to] {
					need += int(offs[k+1] - offs[k])
				}
				b.roomFor(c, need)
			}
			data, out, outOffs := p.data[c], b.data[c], b.offsets[c]
			i := from
			if pad := p.padded[c]; pad != nil {
				// Short values are copied 16 bytes at a time, as far as the buffer's room
				// allows: a copy of a few bytes by append (a call to memmove) per row was most
				// of the reading of such a column.
				n, room := len(out), out[:cap(out)]
				if p.wide[c] { // names: 32 bytes at a time
					for ; i < to && n+32 <= len(room); i++ {
						k := idx[i]
						o := offs[k]
						*(*[32]byte)(room[n:]) = *(*[32]byte)(pad[o:])
						n += int(offs[k+1] - o)
						outOffs = append(outOffs, int32(n))
					}
				} else {
					for ; i < to && n+16 <= len(room); i++ {
						k := idx[i]
						o := offs[k]
						*(*[16]byte)(room[n:]) = *(*[16]byte)(pad[o:])
						n += int(offs[k+1] - o)
						outOffs = append(outOffs, int32(n))
					}
				}
				out = room[:n]
			}
			for _, k := range idx[i:to] {
				out = append(out, data[offs[k]:offs[k+1]]...)
				outOffs = append(outOffs, int32(len(out)))
			}
			b.bytes += len(out) - int(base)
			b.data[c], b.offsets[c] = out, outOffs
			continue
		}
		lo := offs[from]
		b.roomFor(c, int(offs[to]-lo))
		b.data[c] = append(b.data[c], p.data[c][lo:offs[to]]...)
		for _, o := range offs[from+1 : to+1] {
			b.offsets[c] = append(b.offsets[c], base+int32(o-lo))
		}
		b.bytes += int(offs[to] - lo)
	}
	b.ints[ColCost] = append(b.ints[ColCost], p.cost.Values()[from:to]...)
	b.ints[ColCopay] = append(b.ints[ColCopay], p.copay.Values()[from:to]...)
	b.ints[ColPaid] = append(b.ints[ColPaid], p.paid.Values()[from:to]...)
	for i := from; i < to; i++ {
		b.ints[ColSourceLine] = append(b.ints[ColSourceLine], p.first+int64(i)+1)
	}
	if p.hasCancel {
		b.cancel = append(b.cancel, p.cancel.Values()[from:to]...)
	} else {
		for range to - from {
			b.cancel = append(b.cancel, false)
		}
	}
	b.n += to - from
}
