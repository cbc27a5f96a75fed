package receipt

import (
	"context"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// ReadRows reads receipts held in memory as ReadReceipts reads a file named name: each calls
// its function with every row in turn (the row may be overwritten once the function returns:
// what is kept is copied), and the rows are checked, batched and rejected as a Parquet file's
// would be, row numbers counting from 1.
func ReadRows(ctx context.Context, name string, each func(fn func(*Row) error) error, opt ReadOptions, emit func(Batch) error, reject func(Reject) error) (ReadStats, error) {
	if opt.BatchRows <= 0 {
		opt.BatchRows = DefaultBatchRows
	}
	if opt.Alloc == nil {
		opt.Alloc = memory.DefaultAllocator
	}
	if err := ctx.Err(); err != nil {
		return ReadStats{}, err
	}
	s := &receiptSink{ctx: ctx, file: name, emit: emit, reject: reject, b: newBatchBuilder(opt.Alloc, opt.BatchRows)}
	defer s.b.close()
	var t textRow
	err := each(func(r *Row) error {
		if err := s.row(); err != nil {
			return err
		}
		textOf(r, &t)
		line := s.stats.Rows
		if detail := checkText(&t); detail != "" {
			return s.bad(&t, line, r.Paid, true, detail)
		}
		return s.accept(&t, r.Cost, r.Copay, r.Paid, r.Cancel, line)
	})
	if err == nil {
		err = s.flush()
	}
	return s.stats, err
}

// textOf views the string columns of r as the text row the checks and the batch take (the
// batch copies them), trimmed as a file's would be.
func textOf(r *Row, t *textRow) {
	for c, v := range [...]string{ColReceiptID: r.ReceiptID, ColServiceMonth: r.ServiceMonth, ColInsurerNo: r.InsurerNo,
		ColPersonID: r.PersonID, ColInstitutionID: r.InstitutionID, ColKind: r.Kind, ColSetting: r.Setting,
		ColPrescriberID: r.PrescriberID, ColTokutei: r.Tokutei, ColBirthDate: r.BirthDate, ColSex: r.Sex,
		ColNameKana: r.NameKana} {
		if isStringCol[c] {
			t[c] = trimSpace(unsafe.Slice(unsafe.StringData(v), len(v)))
		}
	}
}
