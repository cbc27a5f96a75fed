package synth

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kougaku/batch/rules"
)

// BenchmarkGenerate measures generation including Parquet writing, reporting receipts written
// per second of wall time and per second of CPU time (the machine may be shared, which the
// second figure is less sensitive to). The members and history files are included in the
// time, so one month carries the whole population's members; three months show the rate at
// which receipts themselves are made. Workers 1 is one core; run with -cpu 1 to pin the Go
// scheduler (and the garbage collector) to one core as well.
func BenchmarkGenerate(b *testing.B) {
	for _, c := range []struct{ months, workers int }{{1, 1}, {3, 1}, {3, 2}} {
		name := fmt.Sprintf("months=%d/workers=%d", c.months, c.workers)
		b.Run(name, func(b *testing.B) {
			var receipts int64
			cpu0 := cpuTime()
			for b.Loop() {
				s, err := Generate(context.Background(), Config{Households: 200_000, Month: rules.MonthOf(2024, 5),
					Months: c.months, Seed: 7, Out: b.TempDir(), Workers: c.workers, FilesPerMonth: 2})
				if err != nil {
					b.Fatal(err)
				}
				for _, n := range s.Receipts {
					receipts += n
				}
			}
			b.ReportMetric(float64(receipts)/b.Elapsed().Seconds(), "receipts/s")
			b.ReportMetric(float64(receipts)/(cpuTime()-cpu0).Seconds(), "receipts/cpu-s")
		})
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestLargeRun is opt-in (SYNTH_LARGE=households, optionally SYNTH_LARGE_MONTHS and
// SYNTH_LARGE_WORKERS): it generates a large population into a
// temporary directory and reports the speed and the peak resident memory, which must stay flat
// however many households are asked for.
func TestLargeRun(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("SYNTH_LARGE"))
	if err != nil || n <= 0 {
		t.Skip("set SYNTH_LARGE=households to run")
	}
	months, _ := strconv.Atoi(os.Getenv("SYNTH_LARGE_MONTHS"))
	workers, _ := strconv.Atoi(os.Getenv("SYNTH_LARGE_WORKERS"))
	start, cpu0 := time.Now(), cpuTime()
	s, err := Generate(context.Background(), Config{Households: n, Month: rules.MonthOf(2024, 5), Months: months,
		Seed: 1, Out: t.TempDir(), Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	var receipts int64
	for _, r := range s.Receipts {
		receipts += r
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t.Logf("%d households, %d persons, %d receipts in %d files: %v wall (%.0f receipts/s), %v CPU (%.0f receipts/cpu-s), peak RSS %d MiB",
		s.Households, s.Persons, receipts, len(s.Files), wall.Round(time.Millisecond), float64(receipts)/wall.Seconds(),
		cpu.Round(time.Millisecond), float64(receipts)/cpu.Seconds(), ru.Maxrss>>10)
}
