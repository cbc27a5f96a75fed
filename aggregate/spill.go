package aggregate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Spill is a set of partitions that records are appended to by several workers at once and
// read back one partition at a time. Each worker owns its own buffers (and, on disk, its own
// file) per partition, so appends take no lock; a partition is the sequence of its workers'
// chunks. Nothing downstream may depend on the order of records within a partition: every
// consumer sorts.
//
// Invariants:
//   - in memory, a partition is a list of chunks of at most chunkSize bytes, each holding
//     whole records, so appending never copies what was appended before;
//   - on disk, each worker has one file, and its chunk for a partition is appended to it when
//     full, its place noted among the partition's extents (one file per worker and
//     partition cost a run of 192 partitions a second of CPU in creating and removing
//     files). A worker holds at most parts × chunkSize bytes; Read sees every record only
//     after every worker's Flush, and the files go at Close;
//   - counts[p][tag] is the number of records of each tag appended to partition p, which lets
//     a reader size its slices once.
type Spill struct {
	dir       string // empty: in memory
	parts     int
	chunkSize int
	writers   []*PartWriter
	keep      bool // see KeepOnRead
	compress  bool // see Compress
	packed    sync.Pool
}

// Compress has the chunks written to disk compressed (S2, klauspost/compress), before
// anything is appended. A spill's records are mostly ids that repeat (insurers, households
// and the persons that begin with them, institutions): S2 halves them, at some 1.5 s of CPU
// a gigabyte written and read back. It pays when the spill would not stay in the page cache,
// where each byte is written to the disk and read back from it; see pipeline's plan.
func (s *Spill) Compress() { s.compress = true }

// KeepOnRead has Read leave the partitions in place, to be read again, until Close: the
// person partitions of a month with receipts to resolve are read a second time for their
// member rows (Unresolved).
func (s *Spill) KeepOnRead() { s.keep = true }

// ChunkSize is the largest chunk a writer fills before it starts another (in memory) or
// writes it out (on disk). On disk a run holds workers × parts chunks, so a month of many
// partitions wants smaller ones: see SetChunkSize.
const ChunkSize = 1 << 20

// NewSpill makes a spill of parts partitions for workers writers, in memory when dir is
// empty, else in files under dir (which it creates).
func NewSpill(dir string, parts, workers int) (*Spill, error) {
	s := &Spill{dir: dir, parts: parts, chunkSize: ChunkSize}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	for w := 0; w < workers; w++ {
		pw := &PartWriter{s: s, chunks: make([][][]byte, parts), counts: make([][numTags]int, parts)}
		if dir != "" {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("w%03d", w)))
			if err != nil {
				s.Close()
				return nil, err
			}
			pw.file, pw.extents = f, make([][]extent, parts)
		}
		s.writers = append(s.writers, pw)
	}
	return s, nil
}

// SetChunkSize sets the chunk size (at least 4 KiB), before anything is appended.
func (s *Spill) SetChunkSize(n int) { s.chunkSize = max(n, 4<<10) }

// Parts is the number of partitions.
func (s *Spill) Parts() int { return s.parts }

// DiskBytes is how much the spill has written to disk (0 in memory).
func (s *Spill) DiskBytes() int64 {
	n := int64(0)
	for _, pw := range s.writers {
		n += pw.size
	}
	return n
}

// InMemory reports whether the spill keeps its partitions in memory.
func (s *Spill) InMemory() bool { return s.dir == "" }

// Writer returns worker w's writer.
func (s *Spill) Writer(w int) *PartWriter { return s.writers[w] }

// PartOf maps a 64-bit hash to its partition by range, so that partition order is hash order
// whatever the number of partitions.
func PartOf(hash uint64, parts int) int {
	hi, _ := bits.Mul64(hash, uint64(parts))
	return int(hi)
}

// PartWriter appends records for one worker.
type PartWriter struct {
	s      *Spill
	chunks [][][]byte // per partition: in memory all chunks, on disk the one being filled
	counts [][numTags]int
	n      int64
	// On disk: the writer's file, how many bytes it has, and where each partition's chunks
	// went in it.
	file    *os.File
	size    int64
	extents [][]extent
	packed  []byte // a chunk compressed, before it is written
	// tail, once MarkTail is called, is for each partition the index of its first chunk
	// (in memory) or extent (on disk) appended after the mark; nil: the writer's tail is
	// all it appended.
	tail []int
}

// MarkTail ends the chunks the writer has begun, so that what it appends from now on can be
// read apart from what it appended before (ReadTailInto): the person partitions' member
// rows, which resolution reads again, apart from the receipts a worker routed before them.
func (pw *PartWriter) MarkTail() error {
	pw.tail = make([]int, len(pw.chunks))
	for p, cs := range pw.chunks {
		if pw.file != nil {
			if err := pw.flushPart(p); err != nil {
				return err
			}
			pw.tail[p] = len(pw.extents[p])
			continue
		}
		if n := len(cs); n > 0 {
			cs[n-1] = cs[n-1][:len(cs[n-1]):len(cs[n-1])] // full: the next record starts a chunk
		}
		pw.tail[p] = len(cs)
	}
	return nil
}

// tailFrom is where partition p's tail begins in the writer's chunks or extents.
func (pw *PartWriter) tailFrom(p int) int {
	if pw.tail == nil {
		return 0
	}
	return pw.tail[p]
}

// extent is a chunk written to a writer's file: n bytes at off, raw bytes once decoded, and
// the CRC-32C of the n bytes, which a read checks: a spill damaged on the disk stops the run
// instead of handing the rules records that were never appended.
type extent struct {
	off    int64
	n, raw int
	crc    uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Append adds one encoded record (its first byte is its tag) to partition p.
func (pw *PartWriter) Append(p int, rec []byte) error {
	b, err := pw.reserve(p, len(rec))
	if err != nil {
		return err
	}
	pw.commit(p, append(b, rec...))
	return nil
}

// reserve returns partition p's open chunk with room for n more bytes, written out (on disk)
// or left full (in memory) for a new one first if need be, so that a record can be encoded
// straight into it and committed: Append without a copy.
func (pw *PartWriter) reserve(p, n int) ([]byte, error) {
	cs := pw.chunks[p]
	if len(cs) == 0 || len(cs[len(cs)-1])+n > cap(cs[len(cs)-1]) {
		if pw.file != nil && len(cs) > 0 {
			if err := pw.flushPart(p); err != nil {
				return nil, err
			}
			cs = pw.chunks[p]
		}
		if len(cs) == 0 || pw.file == nil {
			pw.chunks[p] = append(cs, pw.newChunk(n))
		}
	}
	return pw.chunks[p][len(pw.chunks[p])-1], nil
}

// newChunk is an empty chunk with room for n bytes or more.
func (pw *PartWriter) newChunk(n int) []byte {
	return make([]byte, 0, max(pw.s.chunkSize, n))
}

// commit takes back the chunk reserve gave, with one record appended to it.
func (pw *PartWriter) commit(p int, b []byte) {
	cs := pw.chunks[p]
	last := len(cs) - 1
	pw.counts[p][b[len(cs[last])]]++
	pw.n += int64(len(b) - len(cs[last]))
	cs[last] = b
}

// Bytes is how much this writer has appended.
func (pw *PartWriter) Bytes() int64 { return pw.n }

// flushPart appends partition p's chunk to the writer's file and empties it for reuse.
func (pw *PartWriter) flushPart(p int) error {
	cs := pw.chunks[p]
	if len(cs) == 0 || len(cs[0]) == 0 {
		return nil
	}
	data := cs[0]
	if pw.s.compress {
		pw.packed = pack(pw.packed[:0], data)
		data = pw.packed
	}
	n, err := pw.file.Write(data)
	pw.size += int64(n)
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	pw.extents[p] = append(pw.extents[p], extent{off: pw.size - int64(n), n: n, raw: len(cs[0]), crc: crc32.Checksum(data, castagnoli)})
	cs[0] = cs[0][:0]
	return nil
}

// Flush writes out everything buffered (on disk) and frees the buffers; in memory it does
// nothing.
func (pw *PartWriter) Flush() error {
	if pw.file == nil {
		return nil
	}
	for p := range pw.chunks {
		if err := pw.flushPart(p); err != nil {
			return err
		}
		pw.chunks[p] = nil
	}
	return nil
}

// Part is one partition as read back: its chunks of whole records and the count of each tag.
type Part struct {
	Chunks [][]byte
	counts [numTags]int
}

// Read returns partition p whole and forgets it: a partition is read once (unless
// KeepOnRead).
func (s *Spill) Read(p int) (Part, error) {
	part, _, err := s.readInto(p, nil, false)
	return part, err
}

// ReadInto is Read into buf, grown if it is too small, and returns the buffer for the next
// partition: the records of the partition read alias it until then. A worker that reads
// partition after partition saves the allocation, and the clearing, of each.
func (s *Spill) ReadInto(p int, buf []byte) (Part, []byte, error) { return s.readInto(p, buf, false) }

// ReadTailInto is ReadInto of what each writer appended to partition p after its MarkTail
// (all it appended, for a writer never marked), leaving the partition in place. The Part's
// counts are the whole partition's.
func (s *Spill) ReadTailInto(p int, buf []byte) (Part, []byte, error) {
	return s.readInto(p, buf, true)
}

// readInto is Read with the bytes of the partition's extents read into buf, grown if it is
// too small; it returns the buffer it used, for the next partition. A worker's extents of the
// partition, whole records each, make one chunk.
func (s *Spill) readInto(p int, buf []byte, tail bool) (Part, []byte, error) {
	var part Part
	total := 0
	keep := s.keep || tail
	from := func(pw *PartWriter) int {
		if tail {
			return pw.tailFrom(p)
		}
		return 0
	}
	for _, pw := range s.writers {
		for t := range part.counts {
			part.counts[t] += pw.counts[p][t]
		}
		var held int // the chunks (in memory) or extents (on disk) the writer holds of p
		if s.dir == "" {
			held = len(pw.chunks[p])
		} else {
			held = len(pw.extents[p])
		}
		if from(pw) > held {
			return Part{}, buf, fmt.Errorf("spill: partition %d read again after it was forgotten (KeepOnRead)", p)
		}
		if s.dir == "" {
			part.Chunks = append(part.Chunks, pw.chunks[p][from(pw):]...)
			if !keep {
				pw.chunks[p] = nil
			}
			continue
		}
		for _, e := range pw.extents[p][from(pw):] {
			total += e.raw
		}
	}
	if s.dir == "" {
		return part, buf, nil
	}
	if cap(buf) < total {
		buf = make([]byte, total+total/8)
	}
	buf = buf[:total]
	at := 0
	for _, pw := range s.writers {
		start := at
		for _, e := range pw.extents[p][from(pw):] {
			if err := s.readExtent(pw.file, e, buf[at:at+e.raw]); err != nil {
				return Part{}, buf, fmt.Errorf("spill: partition %d: %w", p, err)
			}
			at += e.raw
		}
		if at > start {
			part.Chunks = append(part.Chunks, buf[start:at])
		}
		if !keep {
			pw.extents[p] = nil
		}
	}
	return part, buf, nil
}

// readExtent reads extent e of file f into dst, which has its raw size.
func (s *Spill) readExtent(f *os.File, e extent, dst []byte) error {
	if !s.compress {
		if _, err := f.ReadAt(dst, e.off); err != nil { // a short read is an error
			return err
		}
		if crc32.Checksum(dst, castagnoli) != e.crc {
			return errCorrupt
		}
		return nil
	}
	scratch, _ := s.packed.Get().(*[]byte)
	if scratch == nil {
		scratch = new([]byte)
	}
	defer s.packed.Put(scratch)
	if cap(*scratch) < e.n {
		*scratch = make([]byte, e.n)
	}
	packed := (*scratch)[:e.n]
	if _, err := f.ReadAt(packed, e.off); err != nil {
		return err
	}
	if crc32.Checksum(packed, castagnoli) != e.crc {
		return errCorrupt
	}
	return unpack(dst, packed)
}

// packBlock is the size of the S2 blocks a chunk is cut into. S2 hashes a block of 16 KiB or
// more into a table of 64K entries, which it clears first, and a spill's chunks are small
// when a month has many partitions and writers (budget / 16 / (writers × partitions): 13 KiB
// for 16 workers on the 100M month's 569 partitions). On 200 MB of a household partition's
// spill (a benchmark, 2026-12-07, three rounds): chunks of 22 KiB compressed at 220–300 MB/s
// whole and at 650–890 MB/s in blocks under 16 KiB, chunks of 160 KiB at 550–720 against
// 770–790, to sizes within 4% of each other. The 100M month on two workers (chunks of 59–78
// KiB) spent 41.6 s of CPU in S2 whole and 39.4 s in blocks, one run each.
const packBlock = 16<<10 - 1

// pack appends src to dst compressed: blocks of packBlock bytes at most, each after its
// compressed length (a uvarint).
func pack(dst, src []byte) []byte {
	for len(src) > 0 {
		block := src[:min(packBlock, len(src))]
		src = src[len(block):]
		need := s2.MaxEncodedLen(len(block))
		dst = slices.Grow(dst, binary.MaxVarintLen32+need)
		at := len(dst) + binary.MaxVarintLen32 // the block first, its length before it after
		enc := s2.Encode(dst[at:at+need], block)
		dst = binary.AppendUvarint(dst, uint64(len(enc)))
		dst = append(dst, enc...) // a move of a few bytes back, within dst
	}
	return dst
}

// unpack decodes what pack made into dst, which must be exactly the size of the bytes
// packed.
func unpack(dst, packed []byte) error {
	for len(packed) > 0 {
		n, k := binary.Uvarint(packed)
		if k <= 0 || n > uint64(len(packed)-k) {
			return errCorrupt
		}
		block := packed[k : k+int(n)]
		packed = packed[k+int(n):]
		raw, err := s2.DecodedLen(block)
		if err != nil || raw > len(dst) || raw > packBlock {
			return errCorrupt
		}
		if _, err := s2.Decode(dst[:raw], block); err != nil {
			return errCorrupt
		}
		dst = dst[raw:]
	}
	if len(dst) != 0 {
		return errCorrupt
	}
	return nil
}

// Close removes whatever is left of the spill.
func (s *Spill) Close() error {
	for _, pw := range s.writers {
		if pw.file != nil {
			pw.file.Close()
			os.Remove(pw.file.Name())
			pw.file = nil
		}
		pw.chunks = nil
	}
	if s.dir != "" {
		return os.RemoveAll(s.dir)
	}
	return nil
}
