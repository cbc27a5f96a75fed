package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/synth"
)

// TestRoutedReadChecksEveryColumn: the person table reads only the columns that route a
// person (receipt.ReadMemberRoutes), so a member row bad in another column passes it; the
// intake's second read, whole, still stops the run at that row, nothing written, as the
// other ways do.
func TestRoutedReadChecksEveryColumn(t *testing.T) {
	dir, month := synthMonth(t, 400)
	file := filepath.Join(dir, "in", synth.MembersFile)
	rows, err := parquet.ReadFile[receipt.MemberRow](file)
	if err != nil {
		t.Fatal(err)
	}
	const bad = 150
	rows[bad].BirthDate = "1960-02-30"
	if err := parquet.WriteFile(file, rows); err != nil {
		t.Fatal(err)
	}
	for _, way := range []struct {
		name                       string
		personPartitions, unrouted bool
	}{{"members in memory", false, false}, {"routed partitions", true, false}, {"person partitions", true, true}} {
		out := filepath.Join(dir, "out-"+strings.ReplaceAll(way.name, " ", "-"))
		cfg := synthConfig(dir, month, out)
		cfg.Workers, cfg.MemoryBudget, cfg.PersonPartitions, cfg.Unrouted = 2, 16<<20, way.personPartitions, way.unrouted
		sum, err := Run(context.Background(), cfg)
		var fe *receipt.FileError
		if err == nil || !errors.As(err, &fe) || fe.Line != bad+1 || !strings.Contains(err.Error(), fmt.Sprint(bad+1)) {
			t.Fatalf("%s: %v, want the error of row %d", way.name, err, bad+1)
		}
		if sum != nil {
			t.Fatalf("%s: a summary of a failed run", way.name)
		}
		if matches, _ := filepath.Glob(filepath.Join(out, "*.parquet")); len(matches) > 0 {
			t.Fatalf("%s: a failed run left %v", way.name, matches)
		}
	}
}
