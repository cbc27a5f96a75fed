package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
)

// Row stores: beside its Parquet files every indexed layer keeps its receipts and its member
// rows as a recomputation reads them back (receiptCols, memberCols), household by household,
// in ReceiptRowsFile and MemberRowsFile; its index says where each household's block lies.
// A rerun then reads the bytes of the households it recomputes and nothing else: a Parquet
// page of the ledger's files holds tens of thousands of rows, so the rows of 1% of a month's
// households touch nearly every page, and even a cascade's few hundred touch most.
//
// Invariants:
//   - a block is one household's rows of one file, in the file's order, back to back; a
//     household's block in a layer holds exactly its rows in that layer's Parquet file;
//   - a row is its fields in the order of encodeReceipt or encodeMember: a string as its
//     length (uvarint) and bytes, an amount as a zigzag varint; insurer_no and household_id
//     are the household's key and are not repeated;
//   - the files are written and synced before the index that points into them.
const (
	ReceiptRowsFile = "receipts.rows"
	MemberRowsFile  = "members.rows"
)

// blockWriter writes a row store, a block for each run of rows of one household. Rows are
// encoded into buf, which goes to the file a megabyte at a time.
type blockWriter struct {
	path   string
	f      *os.File
	w      io.Writer // f, written back as it goes (output.NewWritebackFile)
	size   uint64    // bytes written to f and in buf
	starts []uint64  // each run's block's first byte
	buf    []byte
	err    error
}

func newBlockWriter(path string) (*blockWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &blockWriter{path: path, f: f, w: output.NewWritebackFile(f), buf: make([]byte, 0, 2<<20)}, nil
}

// start begins the block of the next run.
func (s *blockWriter) start() { s.starts = append(s.starts, s.size) }

// block is run r's block: its first byte and length.
func (s *blockWriter) block(r int) storeRef {
	end := s.size
	if r+1 < len(s.starts) {
		end = s.starts[r+1]
	}
	return storeRef{off: s.starts[r], n: uint32(end - s.starts[r])}
}

// endRow counts the row just encoded into buf, and writes buf out once it is full.
func (s *blockWriter) endRow(rowStart int) {
	s.size += uint64(len(s.buf) - rowStart)
	if len(s.buf) >= 1<<20 {
		s.flush()
	}
}

func (s *blockWriter) flush() {
	if s.err == nil && len(s.buf) > 0 {
		_, s.err = s.w.Write(s.buf)
	}
	s.buf = s.buf[:0]
}

// receipt writes a receipt row.
func (s *blockWriter) receipt(id, person, institution, kind, setting, prescriber, tokutei string, cost, copay, paid int64) {
	at := len(s.buf)
	s.buf = appendReceipt(s.buf, id, person, institution, kind, setting, prescriber, tokutei, cost, copay, paid)
	s.endRow(at)
}

// member writes a member row.
func (s *blockWriter) member(m *receipt.MemberRow) {
	at := len(s.buf)
	s.buf = appendMember(s.buf, m)
	s.endRow(at)
}

// block writes a whole block, encoded elsewhere, as the next run's.
func (s *blockWriter) appendBlock(b []byte) {
	s.start()
	at := len(s.buf)
	s.buf = append(s.buf, b...)
	s.endRow(at)
}

func appendStr(buf []byte, v string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(v))), v...)
}

// appendReceipt encodes a receipt row: the fields of receiptCols after the household's key.
func appendReceipt(buf []byte, id, person, institution, kind, setting, prescriber, tokutei string, cost, copay, paid int64) []byte {
	buf = appendStr(buf, id)
	buf = appendStr(buf, person)
	buf = appendStr(buf, institution)
	buf = appendStr(buf, kind)
	buf = appendStr(buf, setting)
	buf = appendStr(buf, prescriber)
	buf = appendStr(buf, tokutei)
	buf = binary.AppendVarint(buf, cost)
	buf = binary.AppendVarint(buf, copay)
	return binary.AppendVarint(buf, paid)
}

// appendMember encodes a member row: the fields of memberCols after the household's key, and
// the name.
func appendMember(buf []byte, m *receipt.MemberRow) []byte {
	for _, v := range [...]string{m.PersonID, m.BirthDate, m.Sex, m.ValidFrom, m.ValidTo, m.CategoryU70, m.Category70,
		m.HalfLimitsMonth, m.NameKana} {
		buf = appendStr(buf, v)
	}
	return buf
}

// close flushes and syncs the store; with discard it removes it instead.
func (s *blockWriter) close(discard bool) error {
	if !discard {
		s.flush()
	}
	err := s.err
	if err == nil && !discard {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if discard {
		os.Remove(s.path)
		return nil
	}
	return err
}

// storeRef is a household's block in a row store.
type storeRef struct {
	off uint64
	n   uint32
}

// blockReader decodes the rows of a block. Its strings are substrings of one copy of the
// block, never of the mapping they were read from.
type blockReader struct {
	data string
	at   int
	err  error
}

var errBadBlock = errors.New("row store block damaged")

func newBlockReader(block []byte) *blockReader { return &blockReader{data: string(block)} }

func (r *blockReader) more() bool { return r.err == nil && r.at < len(r.data) }

func (r *blockReader) str() string {
	data := unsafe.Slice(unsafe.StringData(r.data), len(r.data))
	n, k := binary.Uvarint(data[r.at:])
	if k <= 0 || uint64(len(r.data)-r.at-k) < n {
		r.err = errBadBlock
		r.at = len(r.data)
		return ""
	}
	r.at += k
	s := r.data[r.at : r.at+int(n)]
	r.at += int(n)
	return s
}

func (r *blockReader) amount() int64 {
	data := unsafe.Slice(unsafe.StringData(r.data), len(r.data))
	v, k := binary.Varint(data[r.at:])
	if k <= 0 {
		r.err = errBadBlock
		r.at = len(r.data)
		return 0
	}
	r.at += k
	return v
}

// receipt decodes the next receipt row into row, whose insurer_no, household and month the
// caller sets.
func (r *blockReader) receipt(row *receipt.Row) {
	row.ReceiptID, row.PersonID, row.InstitutionID = r.str(), r.str(), r.str()
	row.Kind, row.Setting, row.PrescriberID, row.Tokutei = r.str(), r.str(), r.str(), r.str()
	row.Cost, row.Copay, row.Paid = r.amount(), r.amount(), r.amount()
}

// member decodes the next member row into row, whose insurer_no and household_id the caller
// sets.
func (r *blockReader) member(row *receipt.MemberRow) {
	row.PersonID, row.BirthDate, row.Sex, row.ValidFrom, row.ValidTo = r.str(), r.str(), r.str(), r.str(), r.str()
	row.CategoryU70, row.Category70, row.HalfLimitsMonth, row.NameKana = r.str(), r.str(), r.str(), r.str()
}

// storeBlock is the block ref in a mapped store, checked against its size.
func storeBlock(store []byte, ref storeRef, name string) ([]byte, error) {
	if ref.off > uint64(len(store)) || uint64(ref.n) > uint64(len(store))-ref.off {
		return nil, fmt.Errorf("%s: block past the end of the file: damaged", name)
	}
	return store[ref.off : ref.off+uint64(ref.n)], nil
}

// unsafeString is b as a string, for a call that copies it before b changes.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// unsafeBytes is s as bytes, read only.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
