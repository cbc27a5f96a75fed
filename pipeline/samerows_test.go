package pipeline

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
)

// rowsFixture holds, for each Parquet output of the month TestSameRows runs, its row count
// and a SHA-256 of its rows in the order written, as the code of b60b7e6 wrote them: the
// binary of before issue 20, whose speed-ups must change no row. Written by
// UPDATE_ROWS=1 go test ./pipeline -run TestSameRows (only when a change of rows is meant).
const rowsFixture = "testdata/rows-b60b7e6.txt"

// rowDigests reads every Parquet output of a run directory back and digests its rows, with
// the test's input directory in, which rejects name their files by, written as "IN".
func rowDigests(t *testing.T, dir, in string) []string {
	t.Helper()
	var lines []string
	add := func(name string, n int, rows func(yield func(any))) {
		h := sha256.New()
		rows(func(r any) { fmt.Fprintln(h, strings.ReplaceAll(fmt.Sprintf("%+v", r), in, "IN")) })
		lines = append(lines, fmt.Sprintf("%s %d %x", name, n, h.Sum(nil)))
	}
	digest := func(name string, read func(string) (int, func(func(any)))) {
		n, rows := read(filepath.Join(dir, name))
		add(name, n, rows)
	}
	digest(output.HouseholdMonthFile, rowsOf[output.HouseholdMonth](t))
	digest(output.PersonMonthFile, rowsOf[output.PersonMonth](t))
	digest(output.ReceiptBenefitFile, rowsOf[output.ReceiptBenefit](t))
	digest(output.RejectsFile, rowsOf[receipt.Reject](t))
	digest(output.ResolvedFile, rowsOf[output.ResolvedReceipt](t))
	return lines
}

func rowsOf[T any](t *testing.T) func(string) (int, func(func(any))) {
	return func(path string) (int, func(func(any))) {
		rows := readBack[T](t, path)
		return len(rows), func(yield func(any)) {
			for i := range rows {
				yield(rows[i])
			}
		}
	}
}

// TestSameRows runs a generated month (20,000 households, faults and receipts to resolve
// among them) on the way of the 10M month (members in memory, household partitions spilled
// plain), on the way of the 100M and 200M months (routed partitions through a person table,
// the spill compressed) and on the way of a master whose table would not fit (person
// partitions spilled twice), and checks every output's rows against what the binary of
// before issue 20 wrote: the same rows in the same order.
func TestSameRows(t *testing.T) {
	dir, month := synthMonth(t, 20000)
	ways := []struct {
		name             string
		personPartitions bool
		unrouted         bool
		compress         bool
	}{
		{"members in memory, spilled", false, false, false},
		{"routed partitions, spill compressed", true, false, true},
		{"person partitions, spill compressed", true, true, true},
	}
	for _, way := range ways {
		cfg := synthConfig(dir, month, filepath.Join(dir, "out-"+way.name))
		cfg.Workers, cfg.MemoryBudget, cfg.PersonPartitions, cfg.CompressSpill = 2, 16<<20, way.personPartitions, way.compress
		cfg.Unrouted = way.unrouted
		sum, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", way.name, err)
		}
		if !sum.Spilled || sum.SpillCompressed != way.compress || sum.MembersInMemory == way.personPartitions ||
			sum.Routed != (way.personPartitions && !way.unrouted) {
			t.Fatalf("%s: spilled %v, compressed %v, members in memory %v, routed %v", way.name, sum.Spilled, sum.SpillCompressed, sum.MembersInMemory, sum.Routed)
		}
		got := rowDigests(t, cfg.Out, dir)
		if os.Getenv("UPDATE_ROWS") != "" {
			if err := os.WriteFile(rowsFixture, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want := readLines(t, rowsFixture)
		if len(want) != len(got) {
			t.Fatalf("%s: %d outputs digested, the fixture has %d", way.name, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: rows differ from the binary before issue 20:\n got  %s\n want %s", way.name, got[i], want[i])
			}
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
