package output

// The column engine writes a Parquet file column by column from a flat row struct, without
// parquet-go's row writer: each field is read from the rows by its offset and appended to its
// column's page, and pages are encoded with parquet-go's own encoders and codec. It exists
// for speed: the monthly files are most of a run's writing, and parquet-go's row path spent
// two fifths of their writers' CPU outside compression (shredding rows into values, hashing
// every value of a dictionary column).
//
// Invariants (this file keeps them, beside writer.go's):
//
//  1. Deterministic pages. A column's page ends after the value that brings it to pageBytes
//     (counted as parquet-go counts its page buffers: 8 bytes an int64, 4 an int32 or a
//     dictionary index, 4 plus the length a string, a bit a bool), and a row group after its
//     groupRows-th row. Both depend on the values alone, never on how Write batched them.
//  2. Bounded memory. Only the row group being written is held: per column its compressed
//     pages, one page of values and its dictionary. A dictionary past dictMaxBytes falls back
//     to PLAIN for the rest of the row group, as parquet-go's does.
//  3. One schema. The footer's schema and column orders are the ones parquet-go writes for the
//     row type (taken from an empty file it writes), so a file reads the same whichever
//     engine wrote it.
//  4. Every encoding is parquet-go's (plain, delta, rle), the codec its zstd at the level
//     writer.go sets, and pages are DATA_PAGE_V2 with a CRC of their compressed bytes.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/plain"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// defaultPageBytes is parquet-go's default page buffer size, which the engine keeps so that
// pages are as large as before.
const defaultPageBytes = 256 << 10

// smallDict is the dictionary size up to which a value is looked up by comparisons.
const smallDict = 8

// blockRows is how many rows write takes column by column at once.
const blockRows = 128

type colKind uint8

const (
	kindString colKind = iota
	kindInt64
	kindInt32
	kindBool
)

// column is one leaf column: where its values are in a row, how its pages are encoded, and
// the page and chunk being written.
type column struct {
	name   string
	off    uintptr // the field's offset in a row
	kind   colKind
	dict   bool            // RLE_DICTIONARY pages (string columns only)
	enc    format.Encoding // data pages' encoding when not dictionary
	typ    format.Type
	bounds bool // chunk statistics carry min and max

	// the page being filled
	ints []int64  // integers, and bools as 0 and 1
	data []byte   // string values back to back
	offs []uint32 // string value i is data[offs[i]:offs[i+1]]
	idx  []int32  // dictionary indexes
	size int      // the page's size as invariant 1 counts it

	// the chunk being written, in the current row group
	keys     map[string]int32 // the dictionary: value to index, for values of 9 bytes or more
	short    shortIndex       // and for values of 1 to 8 bytes, found faster
	dictKeys []string         // and index to value
	dictData []byte           // the values back to back, for the dictionary page
	dictOffs []uint32
	// seen remembers where the bytes of the last values looked up were, within one write
	// (index).
	seenPtr  [8]*byte
	seenLen  [8]int32
	seenIdx  [8]int32
	seenNext int
	fallback bool // the dictionary grew past dictMaxBytes: PLAIN pages for the rest of the chunk

	dictPage     bool   // the chunk's dictionary page is written
	pages        blocks // encoded pages, each behind its header
	locs         []format.PageLocation
	rows         int64 // values in the chunk
	uncompressed int64
	pageStats    map[format.Encoding]int32 // data pages by encoding
	minI, maxI   int64
	minS, maxS   []byte
	seen         bool // minI/maxI or minS/maxS hold a value
}

// columnsOf describes T's fields as columns, or reports false when T has a field the engine
// does not write (anything but a required string, int, int64, int32 or bool, or an option
// other than dict, and delta on integers): such types are written by parquet-go.
func columnsOf(t reflect.Type) ([]*column, bool) {
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	var cols []*column
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("parquet")
		if !ok || !f.IsExported() {
			return nil, false
		}
		opts := strings.Split(tag, ",")
		c := &column{name: opts[0], off: f.Offset}
		if c.name == "" || c.name == "-" {
			return nil, false
		}
		switch f.Type.Kind() {
		case reflect.String:
			c.kind, c.typ, c.enc = kindString, format.ByteArray, format.DeltaLengthByteArray
		case reflect.Int, reflect.Int64:
			if f.Type.Size() != 8 { // int on a 32-bit system
				return nil, false
			}
			c.kind, c.typ, c.enc = kindInt64, format.Int64, format.Plain
		case reflect.Int32:
			c.kind, c.typ, c.enc = kindInt32, format.Int32, format.Plain
		case reflect.Bool:
			c.kind, c.typ, c.enc = kindBool, format.Boolean, format.Plain
		default:
			return nil, false
		}
		for _, o := range opts[1:] {
			switch {
			case o == "dict" && c.kind == kindString:
				c.dict = true
			case o == "delta" && (c.kind == kindInt64 || c.kind == kindInt32):
				c.enc = format.DeltaBinaryPacked
			default:
				return nil, false
			}
		}
		c.bounds = !noBounds[c.name]
		cols = append(cols, c)
	}
	return cols, len(cols) > 0
}

// columnFile writes one Parquet file with the column engine.
type columnFile struct {
	w         *bufio.Writer
	pos       int64 // bytes written to w
	cols      []*column
	codec     compress.Codec
	pageBytes int
	groupRows int64
	inGroup   int64 // rows in the current row group
	rows      int64
	groups    []format.RowGroup
	locations [][]format.PageLocation // every chunk's pages, for the offset indexes
	schema    []format.SchemaElement
	orders    []format.ColumnOrder
	createdBy string
	version   int32
	raw, comp []byte // page scratch: encoded, then compressed
	ints32    []int32
	header    bytes.Buffer
	headerEnc *thrift.Encoder
}

// newColumnFile starts a file on out for rows described by cols; template is the footer of an
// empty file parquet-go wrote for the row type (invariant 3).
func newColumnFile(out io.Writer, cols []*column, template *format.FileMetaData, codec compress.Codec, pageBytes int, groupRows int64) (*columnFile, error) {
	leaves := template.Schema[1:]
	if len(leaves) != len(cols) {
		return nil, fmt.Errorf("output: schema has %d columns, the row type %d", len(leaves), len(cols))
	}
	for i, c := range cols {
		if leaves[i].Name != c.name || leaves[i].Type.V != c.typ {
			return nil, fmt.Errorf("output: column %d is %s %v in the schema, %s %v in the row type", i, leaves[i].Name, leaves[i].Type.V, c.name, c.typ)
		}
	}
	if pageBytes <= 0 {
		pageBytes = defaultPageBytes
	}
	f := &columnFile{w: bufio.NewWriterSize(out, 1<<20), cols: cols, codec: codec, pageBytes: pageBytes, groupRows: groupRows,
		schema: template.Schema, orders: template.ColumnOrders, createdBy: template.CreatedBy, version: template.Version}
	f.headerEnc = thrift.NewEncoder((&thrift.CompactProtocol{}).NewWriter(&f.header))
	for _, c := range cols {
		c.startChunk()
		c.reserve(pageBytes)
	}
	return f, f.put([]byte("PAR1"))
}

// templateOf writes an empty file of T with parquet-go and returns its footer.
func templateOf[T any](options []parquet.WriterOption) (*format.FileMetaData, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, options...)
	if err := w.Close(); err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return nil, err
	}
	md := pf.Metadata()
	return md, nil
}

func (f *columnFile) put(b []byte) error {
	n, err := f.w.Write(b)
	f.pos += int64(n)
	return err
}

// write appends n rows that start at base, stride bytes apart. (Rows are reached as base plus
// an index times stride, never by moving base: a pointer past the last row would point
// outside the rows' allocation, which the unsafe rules forbid.) A block of rows at a time,
// every column: the rows stay in cache while their columns are taken from them one after the
// other.
func (f *columnFile) write(base unsafe.Pointer, n int, stride uintptr) error {
	return f.appendRows(n, blockRows, func(_ int, c *column, from, to int) error {
		return f.appendColumn(c, base, from, to, stride)
	})
}

// appendRows appends n rows, at most block at a time and never across the end of a row
// group: appendBlock appends column i's values of rows [from, to), and each row group is
// flushed as it fills.
func (f *columnFile) appendRows(n, block int, appendBlock func(i int, c *column, from, to int) error) error {
	for _, c := range f.cols {
		c.forgetSeen()
	}
	for from := 0; from < n; {
		seg := int(min(int64(n-from), f.groupRows-f.inGroup, int64(block)))
		for i, c := range f.cols {
			if err := appendBlock(i, c, from, from+seg); err != nil {
				return err
			}
		}
		f.inGroup += int64(seg)
		f.rows += int64(seg)
		if f.inGroup == f.groupRows {
			if err := f.flushGroup(); err != nil {
				return err
			}
		}
		from += seg
	}
	return nil
}

// appendColumn appends column c's values of rows [from, to), cutting pages as they fill.
func (f *columnFile) appendColumn(c *column, base unsafe.Pointer, from, to int, stride uintptr) error {
	at := func(i int) unsafe.Pointer { return unsafe.Add(base, uintptr(i)*stride+c.off) }
	for i := from; i < to; i++ {
		switch c.kind {
		case kindString:
			if err := f.appendString(c, *(*string)(at(i))); err != nil {
				return err
			}
		case kindInt64:
			c.appendInt(*(*int64)(at(i)), 8)
		case kindInt32:
			c.appendInt(int64(*(*int32)(at(i))), 4)
		case kindBool:
			var v int64
			if *(*bool)(at(i)) {
				v = 1
			}
			c.appendBool(v)
		}
		if err := f.flushIfFull(c); err != nil {
			return err
		}
	}
	return nil
}

// flushIfFull ends c's page after the value that brought it to pageBytes (invariant 1).
func (f *columnFile) flushIfFull(c *column) error {
	if c.size >= f.pageBytes {
		return f.flushPage(c)
	}
	return nil
}

// appendBool appends a bool as 0 or 1; a page counts a byte for every 8 of them.
func (c *column) appendBool(v int64) {
	c.appendInt(v, 0)
	if len(c.ints)%8 == 1 {
		c.size++
	}
}

// appendInt appends an integer (or a bool as 0 or 1) that counts size bytes in its page.
func (c *column) appendInt(v int64, size int) {
	c.ints = append(c.ints, v)
	c.size += size
	if !c.bounds {
		return
	}
	if !c.seen {
		c.minI, c.maxI, c.seen = v, v, true
	}
	c.minI = min(c.minI, v)
	c.maxI = max(c.maxI, v)
}

func (c *column) observeString(s string) {
	if !c.seen {
		c.minS, c.maxS, c.seen = append(c.minS[:0], s...), append(c.maxS[:0], s...), true
		return
	}
	if s < string(c.minS) {
		c.minS = append(c.minS[:0], s...)
	}
	if s > string(c.maxS) {
		c.maxS = append(c.maxS[:0], s...)
	}
}

// appendString appends one string value: its dictionary index, or its bytes.
func (f *columnFile) appendString(c *column, s string) error {
	if c.dict && !c.fallback {
		if k, ok := c.index(s); ok {
			c.idx = append(c.idx, k)
			c.size += 4
			return nil
		}
		// The dictionary is full: the page so far goes out as it is, PLAIN pages follow.
		if err := f.flushPage(c); err != nil {
			return err
		}
		c.fallback = true
	}
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	c.data = append(c.data, s...)
	c.offs = append(c.offs, uint32(len(c.data)))
	c.size += 4 + len(s)
	if c.bounds {
		c.observeString(s)
	}
	return nil
}

// index is s's index in the chunk's dictionary, added if new; false when adding it would take
// the dictionary past dictMaxBytes.
//
// Values are first looked for by where their bytes are (seen): within one write the rows'
// strings stay put, and the values of a dictionary column are mostly a few strings used
// over and over (the names of kinds and settings, the month, a household's insurer number on
// each of its rows), so a look-up usually ends at a pointer comparison.
func (c *column) index(s string) (int32, bool) {
	p := unsafe.StringData(s)
	if p != nil {
		for i := range c.seenPtr {
			if c.seenPtr[i] == p && c.seenLen[i] == int32(len(s)) {
				return c.seenIdx[i], true
			}
		}
	}
	k, ok := c.lookup(s)
	if ok && p != nil {
		c.seenPtr[c.seenNext], c.seenLen[c.seenNext], c.seenIdx[c.seenNext] = p, int32(len(s)), k
		c.seenNext = (c.seenNext + 1) % len(c.seenPtr)
	}
	return k, ok
}

// forgetSeen empties the look-up by pointer: the caller's strings may change between writes.
func (c *column) forgetSeen() {
	clear(c.seenPtr[:])
	c.seenNext = 0
}

// lookup is index by value.
func (c *column) lookup(s string) (int32, bool) {
	// A few values (kinds, settings, months, categories) are found faster by comparing them
	// than by hashing.
	if len(c.dictKeys) <= smallDict {
		for k, key := range c.dictKeys {
			if s == key {
				return int32(k), true
			}
		}
	}
	// A value of 1 to 8 bytes is kept in short alone, a longer one in keys.
	short := len(s) >= 1 && len(s) <= 8
	var k int32
	var ok bool
	if short {
		k, ok = c.short.find(s)
	} else {
		k, ok = c.keys[s]
	}
	if !ok {
		if len(c.dictData)+len(s) > dictMaxBytes && len(c.dictKeys) > 0 {
			return 0, false
		}
		if len(c.dictOffs) == 0 {
			c.dictOffs = append(c.dictOffs, 0)
		}
		k = int32(len(c.dictKeys))
		c.dictData = append(c.dictData, s...)
		c.dictOffs = append(c.dictOffs, uint32(len(c.dictData)))
		key := strings.Clone(s) // s is the caller's, and may change once Write returns
		c.dictKeys = append(c.dictKeys, key)
		if short {
			c.short.add(key, k)
		} else {
			c.keys[key] = k
		}
	}
	return k, true
}

// reserve sizes the page buffers for the start of a page: they grow with the first page to
// its size, and keep it for the pages after. (Sized for a full page at once, the buffers of
// a file of a few rows took a megabyte a column, to be zeroed: a ledger's cascade writes many.)
func (c *column) reserve(pageBytes int) {
	n := min(pageBytes, reservedBytes) // bytes
	switch {
	case c.kind == kindString:
		c.data = make([]byte, 0, n)
		c.offs = make([]uint32, 0, n/4+1)
		if c.dict {
			c.idx = make([]int32, 0, n/4+1)
		}
	default:
		c.ints = make([]int64, 0, n/4+1)
	}
}

// reservedBytes is how much of a page the buffers are first given room for.
const reservedBytes = 16 << 10

// pageLen is the number of values in c's current page.
func (c *column) pageLen() int {
	if c.kind == kindString {
		return len(c.idx) + max(len(c.offs)-1, 0)
	}
	return len(c.ints)
}

// startChunk empties c's chunk for a new row group (a new dictionary, as parquet-go starts).
func (c *column) startChunk() {
	if c.keys == nil {
		c.keys = map[string]int32{}
		c.pageStats = map[format.Encoding]int32{}
	}
	clear(c.keys)
	c.short.reset()
	clear(c.pageStats)
	c.dictKeys, c.dictData, c.dictOffs = c.dictKeys[:0], c.dictData[:0], c.dictOffs[:0]
	c.fallback = false
	c.forgetSeen() // indexes of the last chunk's dictionary
	c.pages.reset()
	c.locs = nil // the offset index keeps the locations
	c.rows, c.uncompressed, c.seen, c.dictPage = 0, 0, false, false
}

// encodePage encodes c's current page into dst, and says with which encoding.
func (f *columnFile) encodePage(dst []byte, c *column) ([]byte, format.Encoding, error) {
	var err error
	enc := c.enc
	switch {
	case c.kind == kindString && len(c.idx) > 0:
		enc = format.RLEDictionary
		dst, err = new(rle.DictionaryEncoding).EncodeInt32(dst, c.idx)
	case c.kind == kindString && c.dict:
		enc = format.Plain // a dictionary that fell back
		dst, err = new(plain.Encoding).EncodeByteArray(dst, c.data, c.offs)
	case c.kind == kindString:
		dst, err = new(delta.LengthByteArrayEncoding).EncodeByteArray(dst, c.data, c.offs)
	case c.kind == kindBool:
		dst = dst[:0]
		for i := 0; i < len(c.ints); i += 8 {
			var b byte
			for j, v := range c.ints[i:min(i+8, len(c.ints))] {
				b |= byte(v) << j
			}
			dst = append(dst, b)
		}
	case enc == format.DeltaBinaryPacked && c.kind == kindInt64:
		dst, err = new(delta.BinaryPackedEncoding).EncodeInt64(dst, c.ints)
	case enc == format.DeltaBinaryPacked:
		f.ints32 = f.ints32[:0]
		for _, v := range c.ints {
			f.ints32 = append(f.ints32, int32(v))
		}
		dst, err = new(delta.BinaryPackedEncoding).EncodeInt32(dst, f.ints32)
	case c.kind == kindInt64:
		dst = dst[:0]
		for _, v := range c.ints {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
	default:
		dst = dst[:0]
		for _, v := range c.ints {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
	}
	if err != nil {
		return dst, enc, fmt.Errorf("output: column %s: %w", c.name, err)
	}
	return dst, enc, nil
}

// flushPage encodes, compresses and keeps c's current page, if it has values.
func (f *columnFile) flushPage(c *column) error {
	n := c.pageLen()
	if n == 0 {
		return nil
	}
	raw, enc, err := f.encodePage(f.raw, c)
	f.raw = raw
	if err != nil {
		return err
	}
	if f.comp, err = f.codec.Encode(f.comp[:0], raw); err != nil {
		return fmt.Errorf("output: column %s: %w", c.name, err)
	}
	h := format.PageHeader{Type: format.DataPageV2, UncompressedPageSize: int32(len(raw)), CompressedPageSize: int32(len(f.comp)),
		CRC:              int32(crc32.ChecksumIEEE(f.comp)),
		DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{NumValues: int32(n), NumRows: int32(n), Encoding: enc, IsCompressed: thrift.New(true)})}
	hdr, err := f.encodeHeader(&h)
	if err != nil {
		return err
	}
	c.locs = append(c.locs, format.PageLocation{Offset: c.pages.len(), CompressedPageSize: int32(len(hdr) + len(f.comp)), FirstRowIndex: c.rows})
	c.pages.append(hdr)
	c.pages.append(f.comp)
	c.uncompressed += int64(len(hdr) + len(raw))
	c.rows += int64(n)
	c.pageStats[enc]++
	c.ints, c.data, c.offs, c.idx, c.size = c.ints[:0], c.data[:0], c.offs[:0], c.idx[:0], 0
	return nil
}

// encodeHeader is the thrift encoding of a page header, valid until the next call.
func (f *columnFile) encodeHeader(h *format.PageHeader) ([]byte, error) {
	f.header.Reset()
	f.headerEnc.Reset((&thrift.CompactProtocol{}).NewWriter(&f.header))
	if err := f.headerEnc.Encode(h); err != nil {
		return nil, fmt.Errorf("output: page header: %w", err)
	}
	return f.header.Bytes(), nil
}

// flushGroup writes the row group's column chunks, each its dictionary page (if any) then
// its data pages, and notes the row group for the footer.
func (f *columnFile) flushGroup() error {
	if f.inGroup == 0 {
		return nil
	}
	rg := format.RowGroup{NumRows: f.inGroup, FileOffset: f.pos, Ordinal: int16(len(f.groups))}
	for _, c := range f.cols {
		if err := f.flushPage(c); err != nil {
			return err
		}
		start := f.pos
		md := format.ColumnMetaData{Type: c.typ, PathInSchema: []string{c.name}, Codec: f.codec.CompressionCodec(), NumValues: c.rows}
		if len(c.dictKeys) > 0 {
			md.DictionaryPageOffset = f.pos
			if err := f.writeDictionary(c); err != nil {
				return err
			}
		}
		md.DataPageOffset = f.pos
		for i := range c.locs {
			c.locs[i].Offset += f.pos
		}
		for _, b := range c.pages.used() {
			if err := f.put(b); err != nil {
				return err
			}
		}
		md.TotalUncompressedSize = c.uncompressed
		md.TotalCompressedSize = f.pos - start
		md.Encoding, md.EncodingStats = c.encodingsUsed()
		md.Statistics = c.statistics()
		rg.Columns = append(rg.Columns, format.ColumnChunk{FileOffset: start, MetaData: md,
			// The offset index is written after the row groups (close); until then its
			// length holds the chunk's index among the file's locations.
			OffsetIndexLength: int32(len(f.locations))})
		f.locations = append(f.locations, c.locs)
		rg.TotalByteSize += c.uncompressed
		rg.TotalCompressedSize += md.TotalCompressedSize
		c.startChunk()
	}
	f.groups = append(f.groups, rg)
	f.inGroup = 0
	return nil
}

// writeDictionary writes c's dictionary page (PLAIN values), and takes the dictionary's values
// into the chunk's bounds.
func (f *columnFile) writeDictionary(c *column) error {
	raw, err := new(plain.Encoding).EncodeByteArray(f.raw, c.dictData, c.dictOffs)
	f.raw = raw
	if err != nil {
		return fmt.Errorf("output: column %s: %w", c.name, err)
	}
	if f.comp, err = f.codec.Encode(f.comp[:0], raw); err != nil {
		return fmt.Errorf("output: column %s: %w", c.name, err)
	}
	h := format.PageHeader{Type: format.DictionaryPage, UncompressedPageSize: int32(len(raw)), CompressedPageSize: int32(len(f.comp)),
		CRC:                  int32(crc32.ChecksumIEEE(f.comp)),
		DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: int32(len(c.dictKeys)), Encoding: format.Plain})}
	hdr, err := f.encodeHeader(&h)
	if err != nil {
		return err
	}
	if err := f.put(hdr); err != nil {
		return err
	}
	if err := f.put(f.comp); err != nil {
		return err
	}
	c.uncompressed += int64(len(hdr) + len(raw))
	c.dictPage = true
	if c.bounds {
		for _, k := range c.dictKeys {
			c.observeString(k)
		}
	}
	return nil
}

// encodingsUsed lists the chunk's encodings in increasing order, and how many pages of each
// kind used them.
func (c *column) encodingsUsed() ([]format.Encoding, []format.PageEncodingStats) {
	var encs []format.Encoding
	var stats []format.PageEncodingStats
	if c.dictPage {
		encs = append(encs, format.Plain)
		stats = append(stats, format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
	}
	var data []format.Encoding
	for e := range c.pageStats {
		data = append(data, e)
	}
	slices.Sort(data)
	for _, e := range data {
		encs = append(encs, e)
		stats = append(stats, format.PageEncodingStats{PageType: format.DataPageV2, Encoding: e, Count: c.pageStats[e]})
	}
	slices.Sort(encs)
	return slices.Compact(encs), stats
}

// statistics is the chunk's statistics: no nulls, and its bounds unless the column has none.
func (c *column) statistics() format.Statistics {
	var st format.Statistics
	if !c.bounds || !c.seen {
		return st
	}
	switch c.kind {
	case kindString:
		st.MinValue, st.MaxValue = slices.Clone(c.minS), slices.Clone(c.maxS)
	case kindInt64:
		st.MinValue = binary.LittleEndian.AppendUint64(nil, uint64(c.minI))
		st.MaxValue = binary.LittleEndian.AppendUint64(nil, uint64(c.maxI))
	case kindInt32:
		st.MinValue = binary.LittleEndian.AppendUint32(nil, uint32(c.minI))
		st.MaxValue = binary.LittleEndian.AppendUint32(nil, uint32(c.maxI))
	case kindBool:
		st.MinValue, st.MaxValue = []byte{byte(c.minI)}, []byte{byte(c.maxI)}
	}
	return st
}

// close writes the last row group, the offset indexes and the footer, and flushes.
func (f *columnFile) close() error {
	if err := f.flushGroup(); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := thrift.NewEncoder((&thrift.CompactProtocol{}).NewWriter(&buf))
	for g := range f.groups {
		for i := range f.groups[g].Columns {
			cc := &f.groups[g].Columns[i]
			buf.Reset()
			if err := enc.Encode(&format.OffsetIndex{PageLocations: f.locations[cc.OffsetIndexLength]}); err != nil {
				return fmt.Errorf("output: offset index: %w", err)
			}
			cc.OffsetIndexOffset, cc.OffsetIndexLength = f.pos, int32(buf.Len())
			if err := f.put(buf.Bytes()); err != nil {
				return err
			}
		}
	}
	buf.Reset()
	md := format.FileMetaData{Version: f.version, Schema: f.schema, NumRows: f.rows, RowGroups: f.groups, CreatedBy: f.createdBy, ColumnOrders: f.orders}
	if err := enc.Encode(&md); err != nil {
		return fmt.Errorf("output: footer: %w", err)
	}
	footer := binary.LittleEndian.AppendUint32(buf.Bytes(), uint32(buf.Len()))
	if err := f.put(append(footer, "PAR1"...)); err != nil {
		return err
	}
	return f.w.Flush()
}

// blocks is a byte buffer in blocks, so that it grows without copying what it holds: a
// chunk's compressed pages reach megabytes. The first block is small and each new one twice
// the last, up to blockBytes: a file of a few rows (a ledger's cascade writes many) takes
// kilobytes, not a megabyte a column.
type blocks struct {
	list [][]byte // the blocks in use, then spare ones (emptied) kept from earlier chunks
	n    int      // blocks in use
	size int64
}

const (
	firstBlockBytes = 16 << 10
	blockBytes      = 1 << 20
)

func (b *blocks) append(p []byte) {
	for len(p) > 0 {
		if b.n == 0 || len(b.list[b.n-1]) == cap(b.list[b.n-1]) {
			if b.n == len(b.list) {
				size := firstBlockBytes
				if b.n > 0 {
					size = min(2*cap(b.list[b.n-1]), blockBytes)
				}
				b.list = append(b.list, make([]byte, 0, size))
			}
			b.n++
		}
		last := &b.list[b.n-1]
		k := min(len(p), cap(*last)-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
		b.size += int64(k)
	}
}

func (b *blocks) len() int64 { return b.size }

func (b *blocks) used() [][]byte { return b.list[:b.n] }

func (b *blocks) reset() {
	for i := range b.list[:b.n] {
		b.list[i] = b.list[i][:0]
	}
	b.n, b.size = 0, 0
}
