package receipt

import (
	"math"

	"github.com/kougaku/batch/pqcol"
)

// The bulk way of a Parquet batch. A batch of a well-formed file (no nulls, no dictionary,
// nothing to trim, every row passing checkText) goes into the batch builder a column at a
// time: each string column's bytes in one copy and its offsets shifted, the amounts and
// flags as slices. Taking every value through a textRow and appending it to the builder
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
	data              [numReceiptCols][]byte
	offs              [numReceiptCols][]uint32
	stringBytes       int
}

// bulkable reports whether the batch may take the bulk way, and readies its columns.
func (p *parquetBatch) bulkable() bool {
	if !bulkReads || p.cost.AnyNull() || p.copay.AnyNull() || p.paid.AnyNull() {
		return false
	}
	p.stringBytes = 0
	for _, c := range stringCols {
		if !p.present[c] {
			p.data[c], p.offs[c] = nil, nil
			continue
		}
		data, offs, ok := p.strs[c].Contiguous()
		if !ok {
			return false
		}
		p.data[c], p.offs[c] = data, offs
		p.stringBytes += int(offs[p.n] - offs[0])
	}
	var t textRow
	for i := range p.n {
		for _, c := range stringCols {
			if p.offs[c] == nil {
				t[c] = nil
				continue
			}
			v := p.data[c][p.offs[c][i]:p.offs[c][i+1]]
			if mayTrim(v) {
				return false // trimSpace would look at it
			}
			t[c] = v
		}
		if checkText(&t) != "" {
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
		for _, v := range p.paid.Values()[from : from+k] {
			s.stats.PaidRead += v
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
		lo := offs[from]
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
