package synth

import (
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

const (
	// chunkRows is how many rows are handed to the Parquet writer at once: large enough to
	// amortise the call, small enough that memory stays flat whatever the population.
	chunkRows = 64 << 10
	// chunkSlack is room for one more household beyond chunkRows: a household-month never
	// has more receipts (or eligibility rows) than this, so a flush per household suffices.
	chunkSlack = 256
	// rowGroupRows is the contract's row group limit (CONTRACT.md §2).
	rowGroupRows = 1_000_000
)

// writerOptions trade nothing a reader of inputs needs for speed (measured in
// BenchmarkGenerate): the fastest zstd level compresses these columns as well as the default
// one (about 20 bytes a receipt), and page statistics and column-index bounds would cost a
// tenth of the writing time. Bounds are kept for the two columns a reader may prune on.
var writerOptions = append([]parquet.WriterOption{
	parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
	parquet.MaxRowsPerRowGroup(rowGroupRows),
	parquet.DataPageStatistics(false),
}, skipBounds(
	// receipts
	"receipt_id", "person_id", "institution_id", "kind", "setting", "prescriber_id",
	"tokutei", "birth_date", "sex",
	// members and history
	"household_id", "valid_from", "valid_to", "category_u70", "category_70", "half_limits_month",
)...)

func skipBounds(cols ...string) []parquet.WriterOption {
	var opts []parquet.WriterOption
	for _, c := range cols {
		opts = append(opts, parquet.SkipPageBounds(c))
	}
	return opts
}

// sink buffers rows for one Parquet writer.
type sink[T any] struct {
	w    *parquet.GenericWriter[T]
	buf  []T
	rows int64
}

// next returns the next row to fill. The caller flushes after each household, so the buffer
// never outgrows chunkRows+chunkSlack.
func (s *sink[T]) next() *T {
	s.buf = s.buf[:len(s.buf)+1]
	return &s.buf[len(s.buf)-1]
}

func (s *sink[T]) flushIfFull() error {
	if len(s.buf) < chunkRows {
		return nil
	}
	return s.flush()
}

func (s *sink[T]) flush() error {
	n, err := s.w.Write(s.buf)
	s.rows += int64(n)
	clear(s.buf) // drop the strings, so the garbage collector can have them
	s.buf = s.buf[:0]
	return err
}

// file is a Parquet file written under a temporary name and renamed into place when
// complete: a killed run never leaves a file that looks finished.
type file[T any] struct {
	sink[T]
	final, tmp string
	f          *os.File
}

func createFile[T any](final string) (*file[T], error) {
	tmp := final + ".tmp" // no .parquet suffix: readers of a directory skip it
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	w := parquet.NewGenericWriter[T](f, writerOptions...)
	return &file[T]{sink: sink[T]{w: w, buf: make([]T, 0, chunkRows+chunkSlack)}, final: final, tmp: tmp, f: f}, nil
}

// commit finishes the file and moves it into place.
func (fl *file[T]) commit() error {
	err := fl.flush()
	if err == nil {
		err = fl.w.Close()
	}
	if err == nil {
		err = fl.f.Sync()
	}
	if cerr := fl.f.Close(); err == nil {
		err = cerr
	}
	fl.f = nil
	if err == nil {
		err = os.Rename(fl.tmp, fl.final)
	}
	if err != nil {
		os.Remove(fl.tmp)
	}
	return err
}

// abort removes an unfinished file; a no-op after commit. Its errors are dropped: the run is
// failing already, and the temporary name marks the file unfinished anyway.
func (fl *file[T]) abort() {
	if fl.f == nil {
		return
	}
	fl.f.Close()
	fl.f = nil
	os.Remove(fl.tmp)
}
