package receipt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/kougaku/batch/rules"
)

// Batch is a record batch of Schema read from File. The consumer owns Record and must call
// Record.Release() — also when its emit function returns an error.
type Batch struct {
	Record arrow.Record
	File   string
}

// ReadStats counts what one file held, for the manifest's reconciliation: every data row is
// either in a batch or a BAD_RECORD reject (Rows = accepted + Rejected), and
// PaidRead = Σ paid accepted + PaidRejected.
type ReadStats struct {
	Rows         int64 // data rows read, good and bad
	PaidRead     int64 // Σ paid of the rows whose paid could be parsed, as rules.CountedPaid counts it
	Rejected     int64 // BAD_RECORD rejects
	PaidRejected int64 // Σ paid of those rejects, alike (0 for a reject whose paid did not parse)
}

// ReadOptions tunes ReadReceipts; the zero value is ready to use.
type ReadOptions struct {
	BatchRows int              // rows per record batch; default 64*1024
	Alloc     memory.Allocator // default memory.DefaultAllocator
	// Warn, when set, hears of what is odd in a file but rejects nothing (ReadUKE: a GO
	// record whose 総件数 disagrees with the HO and KO records, a missing GO). May be nil.
	Warn func(msg string)
}

// DefaultBatchRows is the batch size when ReadOptions.BatchRows is 0: large enough that the
// per-batch overhead is noise, small enough that a batch of ~100-byte rows stays a few MB.
const DefaultBatchRows = 64 * 1024

// ctxCheckRows is how often (in rows) a read looks at ctx: often enough to stop within
// about a millisecond, rarely enough not to show in the profile.
const ctxCheckRows = 4096

// ReadReceipts reads one receipts file (.csv or .parquet, by extension) and hands it on as
// record batches of Schema through emit, every opt.BatchRows rows and once more at the end.
// Rows that cannot be parsed go to reject (may be nil) as BAD_RECORD; everything that parses
// is passed on, the semantic checks being the pipeline's. Errors: a *FileError when the
// file cannot be read as a whole, ctx.Err() when ctx is done, and whatever emit or reject
// returned. After an error the rows of the unfinished batch are dropped (the file has to be
// read again anyway) and the stats count what was read up to the error.
func ReadReceipts(ctx context.Context, file string, opt ReadOptions, emit func(Batch) error, reject func(Reject) error) (ReadStats, error) {
	if opt.BatchRows <= 0 {
		opt.BatchRows = DefaultBatchRows
	}
	if opt.Alloc == nil {
		opt.Alloc = memory.DefaultAllocator
	}
	format := formatOf(file)
	if format == "" {
		return ReadStats{}, &FileError{File: file, Err: errors.New("unknown input format: want a .csv or .parquet file")}
	}
	if err := ctx.Err(); err != nil {
		return ReadStats{}, err
	}
	s := &receiptSink{ctx: ctx, file: file, emit: emit, reject: reject, b: newBatchBuilder(opt.Alloc, opt.BatchRows)}
	defer s.b.close()
	var err error
	if format == extParquet {
		err = readReceiptsParquet(s)
	} else {
		var f *os.File
		if f, err = os.Open(file); err != nil {
			return ReadStats{}, &FileError{File: file, Err: err}
		}
		defer f.Close()
		err = readReceiptsCSV(s, f)
	}
	if err == nil {
		err = s.flush()
	}
	return s.stats, err
}

// receiptSink is where both formats' readers put rows: it counts, cuts batches and builds
// rejects.
type receiptSink struct {
	ctx    context.Context
	file   string
	emit   func(Batch) error
	reject func(Reject) error
	b      *batchBuilder
	stats  ReadStats
}

// row counts a data row about to be handled; every ctxCheckRows rows it first looks whether
// the read should stop (then the row is not counted: it is neither accepted nor rejected).
func (s *receiptSink) row() error {
	if (s.stats.Rows+1)%ctxCheckRows == 0 {
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		default:
		}
	}
	s.stats.Rows++
	return nil
}

func (s *receiptSink) accept(t *textRow, cost, copay, paid int64, cancel bool, line int64) error {
	if err := s.addPaid(&s.stats.PaidRead, rules.CountedPaid(paid)); err != nil {
		return err
	}
	if !s.b.fits(t) {
		if err := s.flush(); err != nil {
			return err
		}
	}
	if s.b.add(t, cost, copay, paid, cancel, line) {
		return s.flush()
	}
	return nil
}

// addPaid adds to one of the file's sums of paid what the reconciliation counts of a row's
// paid (rules.CountedPaid) or of several rows', and fails the read rather than let the sum
// wrap.
func (s *receiptSink) addPaid(sum *int64, counted int64) error {
	v, ok := rules.AddYen(*sum, counted)
	if !ok {
		return &FileError{File: s.file, Err: errors.New("the sum of paid over its rows passes the range of a 64-bit integer of yen")}
	}
	*sum = v
	return nil
}

func (s *receiptSink) flush() error {
	if rec := s.b.record(); rec != nil {
		return s.emit(Batch{Record: rec, File: s.file})
	}
	return nil
}

// bad rejects a row as BAD_RECORD with whatever ids it has. paidOK says whether paid parsed.
func (s *receiptSink) bad(t *textRow, line int64, paid int64, paidOK bool, detail string) error {
	return s.rejectAs(BadRecord, t, line, paid, paidOK, detail)
}

// readReceiptsCSV reads the CSV receipts in r (named s.file) into s.
func readReceiptsCSV(s *receiptSink, r io.Reader) error {
	c := newCSVReader(r)
	h, err := readCSVHeader(c, s.file, receiptColumns, receiptRequired)
	if err != nil {
		return err
	}
	var t textRow
	for {
		fields, line, syntax, err := c.read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvFileError(s.file, line, err)
		}
		if err := s.row(); err != nil {
			return err
		}
		// Columns are taken from where the header says even when the record is broken: for a
		// short or partly parsed record that still finds the ids (and paid) it has.
		for col, i := range h.idx {
			t[col] = nil
			if i >= 0 && i < len(fields) {
				f := fields[i]
				// trimSpace's fast test, by hand: too big to be inlined, and called a dozen
				// times a row.
				if n := len(f); n > 0 && (f[0]-'!' >= utf8.RuneSelf-'!' || f[n-1]-'!' >= utf8.RuneSelf-'!') {
					f = bytes.TrimSpace(f)
				}
				t[col] = f
			}
		}
		paid, paidOK := parseInt(t[ColPaid])
		var detail string
		switch {
		case syntax != nil:
			detail = fmt.Sprintf("csv: %v (line %d, column %d)", syntax.Err, syntax.Line, syntax.Column)
		case len(fields) != h.fields:
			detail = fmt.Sprintf("field count: got %d fields, want %d as in the header", len(fields), h.fields)
		default:
			detail = checkText(&t)
		}
		if detail != "" {
			if err := s.bad(&t, line, paid, paidOK, detail); err != nil {
				return err
			}
			continue
		}
		cost, ok := parseInt(t[ColCost])
		if !ok {
			detail = badInt("cost", t[ColCost])
		}
		copay, ok := parseInt(t[ColCopay])
		if !ok && detail == "" {
			detail = badInt("copay", t[ColCopay])
		}
		if !paidOK && detail == "" {
			detail = badInt("paid", t[ColPaid])
		}
		cancel, ok := parseCancel(t[ColCancel])
		if !ok && detail == "" {
			detail = fmt.Sprintf("cancel: bad value %q (want true, false or empty)", t[ColCancel])
		}
		if detail != "" {
			err = s.bad(&t, line, paid, paidOK, detail)
		} else {
			err = s.accept(&t, cost, copay, paid, cancel, line)
		}
		if err != nil {
			return err
		}
	}
}

// checkText checks the string columns a receipt cannot be read without, in column order,
// and describes the first bad one ("" when all are fine). Whether the values make sense
// (months match, the person exists, ...) is for the pipeline to judge.
func checkText(t *textRow) string {
	for _, c := range checkTextCols {
		if !textOK(c, t[c]) {
			return textError(c, t[c])
		}
	}
	return ""
}

// checkTextCols are the columns checkText looks at, in its order.
var checkTextCols = [...]int{ColReceiptID, ColServiceMonth, ColKind, ColSetting}

// textOK reports whether v passes checkText's test of column c (any v of another column does).
func textOK(c int, v []byte) bool {
	switch c {
	case ColReceiptID:
		return len(v) > 0
	case ColServiceMonth:
		return isMonth(v)
	case ColKind:
		switch string(v) {
		case "medical", "dpc", "dental", "pharmacy":
			return true
		}
		return false
	case ColSetting:
		return string(v) == "inpatient" || string(v) == "outpatient"
	}
	return true
}

// textError is checkText's description of a value of column c that fails textOK.
func textError(c int, v []byte) string {
	switch c {
	case ColReceiptID:
		return "receipt_id: empty"
	case ColServiceMonth:
		return fmt.Sprintf("service_month: bad month %q (want YYYY-MM)", v)
	case ColKind:
		return fmt.Sprintf("kind: unknown %q (want medical, dpc, dental or pharmacy)", v)
	}
	return fmt.Sprintf("setting: unknown %q (want inpatient or outpatient)", v)
}

func badInt(field string, v []byte) string {
	return fmt.Sprintf("%s: not an integer: %q", field, v)
}

// parseInt parses a base-10 int64 with an optional sign, without allocating (strconv would
// need a string).
func parseInt(b []byte) (int64, bool) {
	digits := b
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		digits = b[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	if len(digits) > 18 {
		// Could overflow: let strconv do the checked parse (this never happens with yen).
		n, err := strconv.ParseInt(string(b), 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range digits {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	if b[0] == '-' {
		n = -n
	}
	return n, true
}

// parseCancel reads the cancel column: empty is false. TRUE/FALSE as spreadsheets write
// them are accepted too.
func parseCancel(b []byte) (bool, bool) {
	switch string(b) {
	case "", "false", "False", "FALSE":
		return false, true
	case "true", "True", "TRUE":
		return true, true
	}
	return false, false
}

// isMonth reports whether b is YYYY-MM with a month 01..12.
func isMonth(b []byte) bool {
	if len(b) != 7 || b[4] != '-' || !allDigits(b[:4]) || !allDigits(b[5:]) {
		return false
	}
	m := (b[5]-'0')*10 + b[6] - '0'
	return m >= 1 && m <= 12
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
