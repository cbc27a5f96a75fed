package extract

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// shared holds ledgers built once for the package's tests (a ledger of twelve synthetic
// months takes a few seconds); they are removed by TestMain.
var shared struct {
	sync.Mutex
	dir     string
	ledgers map[string]*ledger.Ledger
}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Lock()
	for _, l := range shared.ledgers {
		l.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	shared.Unlock()
	os.Exit(code)
}

// synthLedger is a ledger of months consecutive synthetic months from first, households
// households, each month run with ledger.Run from the generator's files (多数回 history before
// the first month from the generator's history file). With corrected set, the third month is
// then rerun with corrections to one receipt in ten (amounts five times, paid in full), so that it and the
// months its 多数回 cascade reaches are read through more than one layer. Tests share the
// ledger: they must not change it.
func synthLedger(t testing.TB, households, months int, first rules.Month, seed uint64, corrected bool) *ledger.Ledger {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	name := fmt.Sprintf("h%d-m%d-%s-s%d-c%v", households, months, first, seed, corrected)
	if l := shared.ledgers[name]; l != nil {
		return l
	}
	if shared.dir == "" {
		d, err := os.MkdirTemp("", "extract-test-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir, shared.ledgers = d, map[string]*ledger.Ledger{}
	}
	dir := filepath.Join(shared.dir, name)
	os.RemoveAll(dir) // what a failed attempt left
	in := filepath.Join(dir, "in")
	ctx := context.Background()
	if _, err := synth.Generate(ctx, synth.Config{Households: households, Month: first, Months: months, Seed: seed, Out: in}); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(filepath.Join(dir, "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	for m := first; m < first+rules.Month(months); m++ {
		cfg := pipeline.Config{Month: m, Members: []string{filepath.Join(in, synth.MembersFile)},
			Receipts: []string{filepath.Join(in, synth.ReceiptsDir, m.String())},
			History:  []string{filepath.Join(in, synth.HistoryFile)}, Out: filepath.Join(dir, "out-"+m.String())}
		if _, err := l.Run(ctx, cfg); err != nil {
			t.Fatalf("ledger run %s: %v", m, err)
		}
	}
	if corrected {
		m := first + 2
		rows, err := output.ReadAll[receipt.Row](filepath.Join(in, synth.ReceiptsDir, m.String(), "part-0000.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		var corr []receipt.Row
		for i := 0; i < len(rows); i += 10 {
			r := rows[i]
			r.Cost, r.Copay, r.Paid = 5*r.Cost, 5*r.Copay, 5*r.Copay
			corr = append(corr, r)
		}
		cp := filepath.Join(dir, "corrections.csv")
		f, err := os.Create(cp)
		if err != nil {
			t.Fatal(err)
		}
		if err := receipt.WriteReceiptsCSV(f, corr); err != nil {
			t.Fatal(err)
		}
		f.Close()
		res, err := l.Run(ctx, pipeline.Config{Month: m, Receipts: []string{cp}, Out: filepath.Join(dir, "rerun-"+m.String())})
		if err != nil {
			t.Fatalf("ledger rerun %s: %v", m, err)
		}
		if len(res.Cascaded) == 0 {
			t.Fatalf("the corrections of %s cascaded nowhere: the test ledger should have layers in later months", m)
		}
	}
	shared.ledgers[name] = l
	return l
}

func month(t testing.TB, s string) rules.Month {
	t.Helper()
	m, err := rules.ParseMonth(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// handLedger runs one month of hand-made members and receipts into a new ledger in dir.
func handLedger(t testing.TB, dir string, l *ledger.Ledger, m string, set *rules.Set, members []receipt.MemberRow, rows []receipt.Row) {
	t.Helper()
	if l == nil {
		t.Fatal("no ledger")
	}
	mp := filepath.Join(dir, "members-"+m+".csv")
	rp := filepath.Join(dir, "receipts-"+m+".csv")
	for path, write := range map[string]func(f *os.File) error{
		mp: func(f *os.File) error { return receipt.WriteMembersCSV(f, members) },
		rp: func(f *os.File) error { return receipt.WriteReceiptsCSV(f, rows) },
	} {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if _, err := l.Run(context.Background(), pipeline.Config{Month: month(t, m), Members: []string{mp}, Receipts: []string{rp},
		Rules: set, Out: filepath.Join(dir, "out-"+m)}); err != nil {
		t.Fatalf("%s: %v", m, err)
	}
}

// openLedger opens a new ledger under a test's temporary directory.
func openLedger(t testing.TB) (*ledger.Ledger, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := ledger.Open(filepath.Join(dir, "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}
