package output

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkWriteReceiptBenefit measures writing a whole receipt_benefit file, Close and
// fsync included: one op is one file of benchRows rows.
func BenchmarkWriteReceiptBenefit(b *testing.B) {
	const benchRows, batch = 1 << 18, 4096
	rows := receiptBenefits(benchRows, 0, false)
	for _, c := range []struct {
		name string
		opt  Options
	}{
		{"default", Options{}},
		{"rowgroup=64k", Options{MaxRowsPerRowGroup: 1 << 16}},
		{"page=64KiB", Options{PageBufferSize: 64 << 10}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := newDir(b)
			var size int64
			files := 0
			for b.Loop() {
				name := "f" + strconv.Itoa(files) + ".parquet"
				files++
				w, err := NewWriter[ReceiptBenefit](d, name, c.opt)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < len(rows); i += batch {
					if err := w.Write(rows[i:min(i+batch, len(rows))]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				fi, err := os.Stat(filepath.Join(d.TempPath(), name))
				if err != nil {
					b.Fatal(err)
				}
				size = fi.Size()
				os.Remove(filepath.Join(d.TempPath(), name)) // keep the disk footprint flat
			}
			b.ReportMetric(float64(benchRows)*float64(files)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(size)/benchRows, "B/row")
		})
	}
}
