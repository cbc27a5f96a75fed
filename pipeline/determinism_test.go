package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// synthMonth generates a small month (with a few faulty receipts) once per test.
func synthMonth(t testing.TB, households int) (dir string, month rules.Month) {
	t.Helper()
	dir = t.TempDir()
	month = rules.MonthOf(2025, 10)
	if _, err := synth.Generate(context.Background(), synth.Config{Households: households, Month: month, Seed: 42,
		Out: filepath.Join(dir, "in"), Faults: true}); err != nil {
		t.Fatal(err)
	}
	return dir, month
}

func synthConfig(dir string, month rules.Month, out string) Config {
	in := filepath.Join(dir, "in")
	return Config{Month: month, Members: []string{filepath.Join(in, synth.MembersFile)},
		Receipts: []string{filepath.Join(in, synth.ReceiptsDir, month.String())},
		History:  []string{filepath.Join(in, synth.HistoryFile)}, Out: out}
}

// parquetOutputs reads the Parquet files of a run directory, by name.
func parquetOutputs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{output.HouseholdMonthFile, output.ReceiptBenefitFile, output.PersonMonthFile, output.RejectsFile, output.ResolvedFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = data
	}
	return files
}

// TestByteIdentical runs one month with 1 worker in memory, with 4 workers in memory, and with
// 3 workers on a budget so small that it spills to disk in many partitions, each with the
// members master in memory and by person partitions, the spill plain and compressed: every
// Parquet file must be the same to the byte, resolved.parquet with its receipts found by name
// among them.
func TestByteIdentical(t *testing.T) {
	dir, month := synthMonth(t, 4000)
	variants := []struct {
		name             string
		workers          int
		budget           int64
		spill            bool
		personPartitions bool
		compress         bool
		unrouted         bool
	}{
		{"1 worker", 1, 0, false, false, false, false},
		{"4 workers", 4, 0, false, false, false, false},
		{"3 workers spilled", 3, 4 << 20, true, false, false, false},
		{"3 workers spilled compressed", 3, 4 << 20, true, false, true, false},
		{"2 workers by routed partitions", 2, 0, false, true, false, false},
		{"3 workers spilled by routed partitions", 3, 4 << 20, true, true, false, false},
		{"2 workers spilled compressed by routed partitions", 2, 4 << 20, true, true, true, false},
		{"2 workers by person partitions spilled twice", 2, 0, false, true, false, true},
		{"3 workers spilled compressed by person partitions spilled twice", 3, 4 << 20, true, true, true, true},
		{"300 workers (more than a directory's shards)", 300, 0, false, false, false, false},
	}
	var first map[string][]byte
	for _, v := range variants {
		cfg := synthConfig(dir, month, filepath.Join(dir, "out-"+v.name))
		cfg.Workers, cfg.MemoryBudget, cfg.RowGroupRows, cfg.PersonPartitions = v.workers, v.budget, 1000, v.personPartitions
		cfg.CompressSpill, cfg.Unrouted = v.compress, v.unrouted
		sum, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if sum.Spilled != v.spill || (v.spill && sum.Partitions < 4) || sum.MembersInMemory == v.personPartitions || sum.SpillCompressed != v.compress ||
			sum.Routed != (v.personPartitions && !v.unrouted) {
			t.Fatalf("%s: spilled %v in %d partitions (compressed %v), members in memory %v", v.name, sum.Spilled, sum.Partitions, sum.SpillCompressed, sum.MembersInMemory)
		}
		if !sum.Manifest.Reconciliation.Balanced || sum.Manifest.Reconciliation.ReceiptsRejected == 0 {
			t.Fatalf("%s: %+v", v.name, sum.Manifest.Reconciliation)
		}
		// The generated month has receipts to resolve (issue 19): some found, some not.
		if by := sum.Manifest.ResolvedByReason; by["not_eligible"] == 0 || by["insurer_unknown"] == 0 {
			t.Errorf("%s: resolved_by_reason %v: want receipts resolved from an old card and from 不詳", v.name, by)
		}
		// The spill goes while the writers finish, but before Run returns, and its work root
		// with it.
		if _, err := os.Lstat(filepath.Join(dir, output.WorkRootName)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: the spill is still there: %v", v.name, err)
		}
		files := parquetOutputs(t, cfg.Out)
		if groups, _ := output.RowGroups(filepath.Join(cfg.Out, output.ReceiptBenefitFile)); len(groups) < 2 {
			t.Errorf("%s: want several row groups of at most 1000 rows, got %v", v.name, groups)
		}
		if first == nil {
			first = files
			continue
		}
		for name, b := range files {
			if !bytes.Equal(b, first[name]) {
				t.Errorf("%s: %s differs from the 1-worker run", v.name, name)
			}
		}
	}
}

// TestMembersSplitAcrossFiles cuts the members master of a month into a Parquet file, a CSV
// file and another Parquet file, in its order, and runs the month from them on both ways of
// the join, on one worker and on three: every Parquet output must be the bytes of the run
// from the master in one file. The members are read by row ranges on every worker, CSV files
// after them, so this takes every path of that read.
func TestMembersSplitAcrossFiles(t *testing.T) {
	dir, month := synthMonth(t, 2000)
	var rows []receipt.MemberRow
	master := filepath.Join(dir, "in", synth.MembersFile)
	err := receipt.ReadMembers(context.Background(), master, func(m receipt.MemberRow, _ int64) error {
		rows = append(rows, receipt.MemberRow{InsurerNo: strings.Clone(m.InsurerNo), PersonID: strings.Clone(m.PersonID),
			HouseholdID: strings.Clone(m.HouseholdID), BirthDate: strings.Clone(m.BirthDate), Sex: strings.Clone(m.Sex),
			ValidFrom: strings.Clone(m.ValidFrom), ValidTo: strings.Clone(m.ValidTo), CategoryU70: strings.Clone(m.CategoryU70),
			Category70: strings.Clone(m.Category70), HalfLimitsMonth: strings.Clone(m.HalfLimitsMonth)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	third := len(rows) / 3
	a, b, c := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.csv"), filepath.Join(dir, "c.parquet")
	writeParquet(t, a, rows[:third])
	writeCSV(t, b, func(f *os.File) error { return receipt.WriteMembersCSV(f, rows[third:2*third]) })
	writeParquet(t, c, rows[2*third:])

	outputs := func(cfg Config) map[string][]byte {
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		return parquetOutputs(t, cfg.Out)
	}
	want := outputs(synthConfig(dir, month, filepath.Join(dir, "out-one")))
	for _, workers := range []int{1, 3} {
		for _, byPartitions := range []bool{false, true} {
			cfg := synthConfig(dir, month, filepath.Join(dir, fmt.Sprintf("out-%d-%v", workers, byPartitions)))
			cfg.Members, cfg.Workers, cfg.PersonPartitions = []string{a, b, c}, workers, byPartitions
			for name, data := range outputs(cfg) {
				if !bytes.Equal(data, want[name]) {
					t.Errorf("%d workers, by partitions %v: %s differs from the run on one members file", workers, byPartitions, name)
				}
			}
		}
	}
}

// TestCacheRoom: on Linux the page cache's room is what /proc/meminfo calls available, less
// the budget, and never negative.
func TestCacheRoom(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo: nothing is compressed")
	}
	room := cacheRoom(0)
	if room <= 0 || room == math.MaxInt64 {
		t.Fatalf("cacheRoom(0) = %d, want the available memory", room)
	}
	if got := cacheRoom(room + 1<<30); got != 0 {
		t.Errorf("a budget beyond the available memory leaves %d bytes of room, want 0", got)
	}
}
