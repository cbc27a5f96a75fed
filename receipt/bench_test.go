package receipt

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"path/filepath"
	"sync"
	"testing"
)

const benchRows = 200_000

var benchCSV = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	if err := WriteReceiptsCSV(&buf, sampleRows(benchRows)); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// reportThroughput reports rows/s and MB/s of input over the whole benchmark.
func reportThroughput(b *testing.B, rows int64, bytes int) {
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(rows)*float64(b.N)/s, "rows/s")
	b.ReportMetric(float64(bytes)*float64(b.N)/s/1e6, "MB/s")
}

// BenchmarkReadReceiptsCSV reads a receipts CSV file of benchRows rows (~130 bytes each)
// into Arrow batches of the default size, through the public API.
func BenchmarkReadReceiptsCSV(b *testing.B) {
	data := benchCSV()
	file := writeFile(b, b.TempDir(), "bench.csv", data)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := ReadReceipts(context.Background(), file, ReadOptions{}, func(bt Batch) error {
			bt.Record.Release()
			return nil
		}, nil)
		if err != nil || st.Rows != benchRows || st.Rejected != 0 {
			b.Fatal(st, err)
		}
	}
	reportThroughput(b, benchRows, len(data))
}

// BenchmarkCSVSplit and BenchmarkStdlibCSVSplit compare csvReader with encoding/csv
// (ReuseRecord) on splitting alone: the reason csvReader exists.
func BenchmarkCSVSplit(b *testing.B) {
	data := benchCSV()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := newCSVReader(bytes.NewReader(data))
		for {
			_, _, _, err := c.read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportThroughput(b, benchRows+1, len(data))
}

func BenchmarkStdlibCSVSplit(b *testing.B) {
	data := benchCSV()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		r.FieldsPerRecord = -1
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportThroughput(b, benchRows+1, len(data))
}

func BenchmarkReadReceiptsParquet(b *testing.B) {
	file := filepath.Join(b.TempDir(), "bench.parquet")
	writeParquet(b, file, sampleRows(benchRows), 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := ReadReceipts(context.Background(), file, ReadOptions{}, func(bt Batch) error {
			bt.Record.Release()
			return nil
		}, nil)
		if err != nil || st.Rows != benchRows {
			b.Fatal(st, err)
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
