package synth

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// sharedConfig is the population most tests look at: big enough for shares to settle, small
// enough to generate in well under a second.
var sharedConfig = Config{Households: 30_000, Month: rules.MonthOf(2024, 5), Months: 2, Seed: 42}

// dataset is a generated directory read back.
type dataset struct {
	cfg      Config
	sum      Summary
	members  []receipt.MemberRow
	history  []receipt.HistoryRow
	receipts [][]receipt.Row // per month
	persons  map[string][]receipt.MemberRow
}

var shared struct {
	once sync.Once
	dir  string
	d    *dataset
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func sharedData(t testing.TB) *dataset {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "synth-test-")
		if shared.err != nil {
			return
		}
		cfg := sharedConfig
		cfg.Out = filepath.Join(shared.dir, "out")
		shared.d, shared.err = generateAndRead(cfg)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.d
}

func generateAndRead(cfg Config) (*dataset, error) {
	sum, err := Generate(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return readBack(cfg, sum)
}

// readBack reads what Generate wrote with cfg.
func readBack(cfg Config, sum Summary) (*dataset, error) {
	var err error
	d := &dataset{cfg: cfg, sum: sum, persons: map[string][]receipt.MemberRow{}}
	if d.members, err = parquet.ReadFile[receipt.MemberRow](filepath.Join(cfg.Out, MembersFile)); err != nil {
		return nil, err
	}
	if d.history, err = parquet.ReadFile[receipt.HistoryRow](filepath.Join(cfg.Out, HistoryFile)); err != nil {
		return nil, err
	}
	for _, m := range d.members {
		d.persons[m.InsurerNo+"/"+m.PersonID] = append(d.persons[m.InsurerNo+"/"+m.PersonID], m)
	}
	for k := range max(cfg.Months, 1) {
		month := (cfg.Month + rules.Month(k)).String()
		files, err := filepath.Glob(filepath.Join(cfg.Out, ReceiptsDir, month, "*.parquet"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		var rs []receipt.Row
		for _, f := range files {
			part, err := parquet.ReadFile[receipt.Row](f)
			if err != nil {
				return nil, err
			}
			rs = append(rs, part...)
		}
		d.receipts = append(d.receipts, rs)
	}
	return d, nil
}

// typeOf maps insurer numbers to their type.
var typeOf = func() map[string]insurerType {
	m := map[string]insurerType{}
	for t, l := range insurerLists() {
		for _, i := range l {
			m[i.No] = insurerType(t)
		}
	}
	return m
}()

// rowAt returns the person's member row covering month m, if any.
func rowAt(rows []receipt.MemberRow, m rules.Month) (receipt.MemberRow, bool) {
	for _, r := range rows {
		from, _ := rules.ParseMonth(r.ValidFrom)
		to := openEnd
		if r.ValidTo != "" {
			to, _ = rules.ParseMonth(r.ValidTo)
		}
		if m >= from && m <= to {
			return r, true
		}
	}
	return receipt.MemberRow{}, false
}

func mustDate(t testing.TB, s string) rules.Date {
	t.Helper()
	d, err := rules.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func isHead(personID string) bool { return strings.HasSuffix(personID, "-01") }

// tolerance is four standard errors of a share p estimated from n draws, plus a little for
// the model's own approximations: a deterministic test with room only for sampling noise.
func tolerance(p float64, n int) float64 {
	return 4*math.Sqrt(p*(1-p)/float64(max(n, 1))) + 0.01
}

// counter counts occurrences of keys.
type counter map[string]int

func (c counter) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func (c counter) share(k string) float64 { return float64(c[k]) / float64(max(c.total(), 1)) }

// normalised returns the table's shares summing to 1.
func normalised(m map[string]float64) map[string]float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	out := map[string]float64{}
	for k, v := range m {
		out[k] = v / s
	}
	return out
}
