package pqcol

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// benchFile is a file of a million rows of sample, made once for the benchmarks.
var benchFile = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "pqcol-bench")
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, "bench.parquet")
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	w := parquet.NewGenericWriter[sample](f, parquet.Compression(&parquet.Zstd))
	for i := 0; i < 10; i++ {
		if _, err := w.Write(makeRows(100_000, uint64(i))); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	f.Close()
	return path
})

func reportRows(b *testing.B, rows int64) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRowsGeneric reads every row as a struct with parquet-go's GenericReader: the way
// this package replaces.
func BenchmarkRowsGeneric(b *testing.B) {
	path := benchFile()
	for b.Loop() {
		f, _ := os.Open(path)
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		r := parquet.NewGenericReader[sample](pf)
		buf := make([]sample, 4096)
		for {
			_, err := r.Read(buf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
		f.Close()
	}
	reportRows(b, 1_000_000)
}

func benchScan(b *testing.B, cols ...string) {
	path := benchFile()
	for b.Loop() {
		r, err := Open(path, cols...)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := r.Scan(context.Background(), func(bt *Batch) error {
			v := bt.Bytes(0)
			for i := range bt.Len {
				n += len(v.At(i))
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
	reportRows(b, 1_000_000)
}

// BenchmarkScanAll reads every column through the views.
func BenchmarkScanAll(b *testing.B) { benchScan(b, allColumns...) }

// BenchmarkScanTwo reads two string columns, as the ledger reads a file's household keys.
func BenchmarkScanTwo(b *testing.B) { benchScan(b, "id", "kind") }
