package bench

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// BenchmarkReadUKE reads a generated month's UKE claim files (every kind: 医科, DPC, 歯科,
// 調剤) into Arrow batches on one goroutine, and reports MB/s, receipts/s and the process's
// peak RSS. Run with -cpu 1 for the per-core figure:
//
//	go test ./bench -run '^$' -bench ReadUKE -cpu 1
func BenchmarkReadUKE(b *testing.B) {
	dir := b.TempDir()
	month := rules.MonthOf(2025, 10)
	if _, err := synth.Generate(context.Background(), synth.Config{Households: 60000, Month: month, Seed: 1,
		Out: dir, Format: synth.FormatUKE}); err != nil {
		b.Fatal(err)
	}
	files, err := receipt.ExpandUKEPaths([]string{filepath.Join(dir, synth.UKEDir, month.String())})
	if err != nil || len(files) == 0 {
		b.Fatalf("no UKE files: %v", err)
	}
	var size int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	cpu0 := cpuSeconds()
	b.ResetTimer()
	var receipts int64
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			st, err := receipt.ReadUKE(context.Background(), f, receipt.ReadOptions{}, func(bt receipt.Batch) error {
				bt.Record.Release()
				return nil
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			receipts += st.Rows
		}
	}
	b.StopTimer()
	// Per CPU-second: what one core does, whatever else shares the machine.
	b.ReportMetric(float64(size)*float64(b.N)/1e6/(cpuSeconds()-cpu0), "MB/cpu-s")
	b.ReportMetric(float64(receipts)/b.Elapsed().Seconds(), "receipts/s")
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
}

// cpuSeconds is the user and system time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
