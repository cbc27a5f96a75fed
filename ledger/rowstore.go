package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
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
	sectionWriter // to f, written back as it goes (output.NewWritebackFile)
	path          string
	f             *os.File
	size          uint64   // bytes written to f and in buf
	starts        []uint64 // each run's block's first byte
}

func newBlockWriter(path string) (*blockWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &blockWriter{sectionWriter: sectionWriter{w: output.NewWritebackFile(f), buf: make([]byte, 0, 2<<20)}, path: path, f: f}, nil
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

// receipt writes a receipt row.
func (s *blockWriter) receipt(household, id, person, institution, kind, setting, prescriber, tokutei string, cost, copay, paid int64) {
	at := len(s.buf)
	s.buf = appendReceipt(s.buf, household, id, person, institution, kind, setting, prescriber, tokutei, cost, copay, paid)
	s.endRow(at)
}

// member writes a member row.
func (s *blockWriter) member(m *receipt.MemberRow) {
	at := len(s.buf)
	s.buf = appendMember(s.buf, m)
	s.endRow(at)
}

// writeAll writes b, blocks encoded elsewhere whose starts the caller has noted.
func (s *blockWriter) writeAll(b []byte) {
	s.flush()
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
	s.size += uint64(len(b))
}

func appendStr(buf []byte, v string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(v))), v...)
}

// smallStrings are values the columns kind, setting, tokutei and sex take, each written as
// one byte, its place here plus one; any other value is written as a 0 and the string. The
// list is only ever added to: stores written before keep their meaning.
var smallStrings = [...]string{"", "medical", "dpc", "dental", "pharmacy", "outpatient", "inpatient", "chou", "chou2", "1", "2"}

func appendSmall(buf []byte, v string) []byte {
	for i, s := range smallStrings {
		if s == v {
			return append(buf, byte(i+1))
		}
	}
	return appendStr(append(buf, 0), v)
}

// appendShared writes v as the length of the prefix it shares with ref and the rest: a
// receipt id begins with its institution's code, a person id with the household's.
func appendShared(buf []byte, v, ref string) []byte {
	n := 0
	for n < len(v) && n < len(ref) && v[n] == ref[n] {
		n++
	}
	return appendStr(binary.AppendUvarint(buf, uint64(n)), v[n:])
}

// appendReceipt encodes a receipt row of the household household: the fields of receiptCols
// after its key.
func appendReceipt(buf []byte, household, id, person, institution, kind, setting, prescriber, tokutei string, cost, copay, paid int64) []byte {
	buf = appendStr(buf, institution)
	buf = appendShared(buf, id, institution)
	buf = appendShared(buf, person, household)
	buf = appendSmall(buf, kind)
	buf = appendSmall(buf, setting)
	buf = appendStr(buf, prescriber)
	buf = appendSmall(buf, tokutei)
	buf = binary.AppendVarint(buf, cost)
	buf = binary.AppendVarint(buf, copay)
	return binary.AppendVarint(buf, paid)
}

// appendMember encodes a member row: the fields of memberCols after its household's key, and
// the name.
func appendMember(buf []byte, m *receipt.MemberRow) []byte {
	buf = appendShared(buf, m.PersonID, m.HouseholdID)
	buf = appendStr(buf, m.BirthDate)
	buf = appendSmall(buf, m.Sex)
	for _, v := range [...]string{m.ValidFrom, m.ValidTo, m.CategoryU70, m.Category70, m.HalfLimitsMonth, m.NameKana} {
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

// blockReader decodes the rows of a block. The strings of a row are views of the block's
// bytes, or of the reader's scratch buffer (a string made of a prefix it shares and the
// rest): valid until the next row is read and while the block's bytes are not changed. What
// is kept is copied.
type blockReader struct {
	data      string
	at        int
	err       error
	household string
	scratch   []byte // this row's shared strings
}

var errBadBlock = errors.New("row store block damaged")

// newBlockReader reads block, which it keeps: the caller must not change it.
func newBlockReader(block []byte, household string) *blockReader {
	r := &blockReader{}
	r.reset(block, household)
	return r
}

// reset makes r a reader of block, keeping its scratch buffer's memory.
func (r *blockReader) reset(block []byte, household string) {
	*r = blockReader{data: unsafeString(block), household: household, scratch: r.scratch[:0]}
}

func (r *blockReader) more() bool { return r.err == nil && r.at < len(r.data) }

func (r *blockReader) fail() {
	r.err = errBadBlock
	r.at = len(r.data)
}

func (r *blockReader) uvarint() uint64 {
	v, k := binary.Uvarint(unsafeBytes(r.data[r.at:]))
	if k <= 0 {
		r.fail()
		return 0
	}
	r.at += k
	return v
}

func (r *blockReader) str() string {
	n := r.uvarint()
	if r.err != nil || uint64(len(r.data)-r.at) < n {
		r.fail()
		return ""
	}
	s := r.data[r.at : r.at+int(n)]
	r.at += int(n)
	return s
}

func (r *blockReader) small() string {
	if r.at >= len(r.data) {
		r.fail()
		return ""
	}
	c := int(r.data[r.at])
	r.at++
	if c == 0 {
		return r.str()
	}
	if c > len(smallStrings) {
		r.fail()
		return ""
	}
	return smallStrings[c-1]
}

func (r *blockReader) shared(ref string) string {
	n := r.uvarint()
	rest := r.str()
	if r.err != nil || n > uint64(len(ref)) {
		r.fail()
		return ""
	}
	if n == 0 {
		return rest
	}
	from := len(r.scratch) // a new array, if append makes one, leaves the row's earlier strings be
	r.scratch = append(append(r.scratch, ref[:n]...), rest...)
	return unsafeString(r.scratch[from:])
}

func (r *blockReader) amount() int64 {
	v, k := binary.Varint(unsafeBytes(r.data[r.at:]))
	if k <= 0 {
		r.fail()
		return 0
	}
	r.at += k
	return v
}

// receipt decodes the next receipt row into row, whose insurer_no and month the caller sets.
func (r *blockReader) receipt(row *receipt.Row) {
	r.scratch = r.scratch[:0]
	row.InstitutionID = r.str()
	row.ReceiptID = r.shared(row.InstitutionID)
	row.PersonID = r.shared(r.household)
	row.Kind, row.Setting, row.PrescriberID, row.Tokutei = r.small(), r.small(), r.str(), r.small()
	row.Cost, row.Copay, row.Paid = r.amount(), r.amount(), r.amount()
}

// member decodes the next member row into row, whose insurer_no and household_id the caller
// sets.
func (r *blockReader) member(row *receipt.MemberRow) {
	r.scratch = r.scratch[:0]
	row.PersonID = r.shared(r.household)
	row.BirthDate, row.Sex = r.str(), r.small()
	row.ValidFrom, row.ValidTo, row.CategoryU70, row.Category70 = r.str(), r.str(), r.str(), r.str()
	row.HalfLimitsMonth, row.NameKana = r.str(), r.str()
}

// storeFile is a layer's row store, open for reading blocks.
type storeFile struct {
	*os.File
	size int64
}

func openStore(path string) (*storeFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &storeFile{File: f, size: st.Size()}, nil
}

// readSpan reads n bytes from off into buf's memory when it has the room, into new memory
// otherwise: a read of its own, never a mapping, whose page faults cost more than the copy
// when the blocks of a large correction are read.
func (f *storeFile) readSpan(buf []byte, off, n uint64) ([]byte, error) {
	if off > uint64(f.size) || n > uint64(f.size)-off {
		return nil, fmt.Errorf("%s: block past the end of the file: damaged", f.Name())
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := f.ReadAt(buf, int64(off)); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return buf, nil
}

// unsafeString is b as a string, for a call that copies it before b changes.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// unsafeBytes is s as bytes, read only.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
