package aggregate

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// spillRecords appends n records of varying sizes (some larger than a chunk) to s from each
// of its writers, and returns each partition's records as appended, sorted.
func spillRecords(t *testing.T, s *Spill, writers, n int) [][]string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([][]string, s.Parts())
	for w := 0; w < writers; w++ {
		pw := s.Writer(w)
		for i := 0; i < n; i++ {
			size := 1 + rng.IntN(200)
			if i%997 == 0 {
				size = 20_000 // larger than the chunk: a chunk of its own
			}
			rec := make([]byte, 0, size+1)
			rec = append(rec, tagReceipt)
			rec = fmt.Appendf(rec, "w%d-r%d-", w, i)
			// Ids that repeat, as a spill's do (insurer, household, person), after a part
			// that does not.
			rec = fmt.Appendf(rec, "%x|", rng.Uint64())
			for k := 0; len(rec) < size+1; k++ {
				rec = append(rec, "06139999|H123456|H123456P01|1311111111|"[k%39])
			}
			p := rng.IntN(s.Parts())
			if err := pw.Append(p, rec); err != nil {
				t.Fatal(err)
			}
			want[p] = append(want[p], string(rec))
		}
		if err := pw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for p := range want {
		slices.Sort(want[p])
	}
	return want
}

// TestSpillCompressed appends the same records to a spill in memory, on disk and on disk
// compressed, with chunks small enough that most partitions are written in many: each
// partition reads back the records appended to it, and the compressed spill wrote fewer
// bytes than the plain one.
func TestSpillCompressed(t *testing.T) {
	const parts, writers, n = 7, 3, 5000
	var diskBytes [2]int64
	for i, way := range []string{"memory", "disk", "disk compressed"} {
		dir := ""
		if way != "memory" {
			dir = filepath.Join(t.TempDir(), "spill")
		}
		s, err := NewSpill(dir, parts, writers)
		if err != nil {
			t.Fatal(err)
		}
		s.SetChunkSize(8 << 10)
		if way == "disk compressed" {
			s.Compress()
		}
		want := spillRecords(t, s, writers, n)
		for p := 0; p < parts; p++ {
			part, err := s.Read(p)
			if err != nil {
				t.Fatalf("%s: partition %d: %v", way, p, err)
			}
			if got := taggedRecords(part); !slices.Equal(got, want[p]) {
				t.Fatalf("%s: partition %d: %d records read back, %d appended, or not the same", way, p, len(got), len(want[p]))
			}
		}
		if i > 0 {
			diskBytes[i-1] = s.DiskBytes()
		}
		s.Close()
	}
	if diskBytes[1] == 0 || diskBytes[1] >= diskBytes[0]*3/4 {
		t.Errorf("compressed spill wrote %d bytes, the plain one %d: want at most three quarters", diskBytes[1], diskBytes[0])
	}
}

// TestSpillDamaged flips one bit of a spill's file, plain or compressed: reading the
// partition fails with an error, never returns records that were not appended.
func TestSpillDamaged(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "spill")
		s, err := NewSpill(dir, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if compressed {
			s.Compress()
		}
		spillRecords(t, s, 1, 2000)
		damage(t, s, compressed)
		s.Close()
	}
}

func damage(t *testing.T, s *Spill, compressed bool) {
	t.Helper()
	name := s.Writer(0).file.Name()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for p := 0; p < 2; p++ {
		if _, err := s.Read(p); err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Errorf("compressed %v, partition %d: %v, want errCorrupt", compressed, p, err)
			}
			failed++
		}
	}
	if failed == 0 {
		t.Errorf("compressed %v: a damaged spill was read back without an error", compressed)
	}
}

// TestSpillTail: a writer appends receipts, marks its tail, then appends member rows; another
// writer appends member rows only, never marked. ReadTailInto gives every member row and no
// receipt, in memory and on disk, plain and compressed, and leaves the partition whole for
// Read.
func TestSpillTail(t *testing.T) {
	for _, way := range []string{"memory", "disk", "disk compressed"} {
		dir := ""
		if way != "memory" {
			dir = filepath.Join(t.TempDir(), "spill")
		}
		s, err := NewSpill(dir, 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		s.SetChunkSize(4 << 10)
		if way == "disk compressed" {
			s.Compress()
		}
		var all, members [3][]string
		appendRec := func(w int, tag byte, i int) {
			rec := fmt.Appendf([]byte{tag}, "w%d-%d-%s", w, i, strings.Repeat("x", i%300))
			p := i % 3
			if err := s.Writer(w).Append(p, rec); err != nil {
				t.Fatal(err)
			}
			all[p] = append(all[p], string(rec))
			if tag == tagMember {
				members[p] = append(members[p], string(rec))
			}
		}
		for i := 0; i < 500; i++ {
			appendRec(0, tagReceipt, i)
			appendRec(1, tagMember, i)
		}
		if err := s.Writer(0).MarkTail(); err != nil {
			t.Fatal(err)
		}
		for i := 500; i < 800; i++ {
			appendRec(0, tagMember, i)
		}
		for w := 0; w < 2; w++ {
			if err := s.Writer(w).Flush(); err != nil {
				t.Fatal(err)
			}
		}
		s.KeepOnRead()
		var buf []byte
		for p := 0; p < 3; p++ {
			part, b, err := s.ReadTailInto(p, buf)
			if err != nil {
				t.Fatalf("%s: %v", way, err)
			}
			buf = b
			slices.Sort(members[p])
			if got := taggedRecords(part); !slices.Equal(got, members[p]) {
				t.Errorf("%s: partition %d's tail has %d records, want its %d member rows", way, p, len(got), len(members[p]))
			}
			whole, err := s.Read(p)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(all[p])
			if got := taggedRecords(whole); !slices.Equal(got, all[p]) {
				t.Errorf("%s: partition %d read whole after its tail: %d records, want %d", way, p, len(got), len(all[p]))
			}
		}
		s.Close()
	}
}

// taggedRecords splits a partition of the tests' records (a tag byte, then bytes that are
// never a tag) into its records, sorted.
func taggedRecords(part Part) []string {
	var got []string
	for _, c := range part.Chunks {
		for len(c) > 0 {
			end := 1
			for end < len(c) && c[end] != tagReceipt && c[end] != tagMember {
				end++
			}
			got = append(got, string(c[:end]))
			c = c[end:]
		}
	}
	slices.Sort(got)
	return got
}

// FuzzPack: pack then unpack gives the bytes back, whatever they are and however long
// (several blocks when over packBlock); and unpack of any bytes into a buffer of any size
// returns an error or fills the buffer, never panics.
func FuzzPack(f *testing.F) {
	f.Add([]byte("06139999|H123456|H123456P01|1311111111|"), []byte{3, 0, 1, 2}, uint16(40))
	f.Add(bytes.Repeat([]byte("0123456789"), 4000), []byte{}, uint16(0))
	f.Add([]byte{}, []byte{0x80, 0x80, 0x80, 0x80, 0x01}, uint16(9))
	f.Fuzz(func(t *testing.T, raw, junk []byte, size uint16) {
		packed := pack(nil, raw)
		got := make([]byte, len(raw))
		if err := unpack(got, packed); err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("%d bytes packed into %d came back as %d bytes (err %v)", len(raw), len(packed), len(got), err)
		}
		if len(raw) > 0 {
			if err := unpack(make([]byte, len(raw)-1), packed); err == nil {
				t.Fatal("unpacked into a buffer a byte short without an error")
			}
		}
		_ = unpack(make([]byte, size), junk)
	})
}
