package ledger

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/pqcol"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

var issue18Months = []string{"2025-03", "2025-04", "2025-05", "2025-06", "2025-07"}

// randomLedger fills a ledger with five months of 40 households of two insurers (one or two
// persons each, a few receipts a month of costs around the limits; a history of counting
// months before the ledger given to the first), then corrects the second
// and third months several times (replacements, cancels, additions, receipts moved to a
// person of another household): months of several layers, with cascades into the later ones.
// It returns the adjustments of each correction, in order.
func randomLedger(t *testing.T, seed uint64) (*Ledger, string, [][]output.Adjustment) {
	t.Helper()
	l, dir := openLedger(t)
	rng := rand.New(rand.NewPCG(seed, 18))
	var members []receipt.MemberRow
	type person struct{ insurer, id string }
	var persons []person
	for h := range 40 {
		ins := []string{"06139999", "01130012"}[h%2]
		for p := range 1 + h%3%2 {
			id := fmt.Sprintf("P%02d-%d", h, p)
			members = append(members, receipt.MemberRow{InsurerNo: ins, PersonID: id, HouseholdID: fmt.Sprintf("H%02d", h),
				BirthDate: fmt.Sprintf("19%02d-05-05", 60+h%30), Sex: "1", ValidFrom: "2020-01", CategoryU70: []string{"U", "E", "I"}[h%3]})
			persons = append(persons, person{ins, id})
		}
	}
	costs := []int64{20000, 90000, 300000, 800000, 1500000}
	rec := func(id, m string, p person) receipt.Row {
		cost := costs[rng.IntN(len(costs))]
		return receipt.Row{ReceiptID: id, ServiceMonth: m, InsurerNo: p.insurer, PersonID: p.id, InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: cost, Copay: cost * 3 / 10, Paid: cost * 3 / 10}
	}
	// Counting months before the ledger, kept by it: reruns look them up in its index.
	var hist []receipt.HistoryRow
	for h := range 40 {
		for _, m := range []string{"2024-04", "2024-06", "2024-09", "2024-11", "2025-01", "2025-02"} {
			if rng.IntN(2) == 0 {
				hist = append(hist, receipt.HistoryRow{InsurerNo: []string{"06139999", "01130012"}[h%2], HouseholdID: fmt.Sprintf("H%02d", h), ServiceMonth: m})
			}
		}
	}
	hp := writeCSV(t, filepath.Join(dir, "history.csv"), func(f *os.File) error { return receipt.WriteHistoryCSV(f, hist) })
	held := map[string][]receipt.Row{}
	for i, m := range issue18Months {
		var rows []receipt.Row
		for i, p := range persons {
			for r := range rng.IntN(3) {
				rows = append(rows, rec(fmt.Sprintf("R%s-%d-%d", m, i, r), m, p))
			}
		}
		held[m] = rows
		if i > 0 {
			runMonth(t, l, dir, m, members, rows)
			continue
		}
		mp := writeCSV(t, filepath.Join(dir, "members-first.csv"), func(f *os.File) error { return receipt.WriteMembersCSV(f, members) })
		rp := writeCSV(t, filepath.Join(dir, "receipts-first.csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, rows) })
		if _, err := l.Run(context.Background(), pipeline.Config{Month: month(t, m), Members: []string{mp}, Receipts: []string{rp},
			History: []string{hp}, Out: filepath.Join(dir, "out-first")}); err != nil {
			t.Fatal(err)
		}
	}
	var adjs [][]output.Adjustment
	for n := range 6 {
		m := issue18Months[1+n%2]
		var corr []receipt.Row
		for _, r := range held[m] {
			switch rng.IntN(12) {
			case 0: // replaced
				c := rec(r.ReceiptID, m, person{r.InsurerNo, r.PersonID})
				corr = append(corr, c)
			case 1: // cancelled
				r.Cancel = true
				corr = append(corr, r)
			case 2: // moved to a person of another household (of the same insurer)
				p := persons[rng.IntN(len(persons))]
				corr = append(corr, rec(r.ReceiptID, m, person{r.InsurerNo, p.id}))
				if p.insurer != r.InsurerNo {
					corr = corr[:len(corr)-1]
				}
			}
		}
		corr = append(corr, rec(fmt.Sprintf("N%d-%s", n, m), m, persons[rng.IntN(len(persons))]))
		out := filepath.Join(dir, fmt.Sprintf("corrected-%d", n))
		correct(t, l, dir, m, nil, corr, func(c *pipeline.Config) { c.Out = out })
		adjs = append(adjs, readAdjustments(t, out))
	}
	return l, dir, adjs
}

// withScans runs fn with the indexes set aside, so that every read scans the files.
func withScans(fn func()) {
	useIndex = false
	defer func() { useIndex = true }()
	fn()
}

// TestIssue18_IndexAgreesWithScan: on months of several layers, every read the index serves
// (the households of corrections, the states of households, their rows in the receipts and
// members files, their counting months in the months held and in the kept history) gives
// what the scans it replaces give, for random sets of households; and a ledger corrected
// with the indexes ends as one corrected by scans alone, with the same adjustments.
func TestIssue18_IndexAgreesWithScan(t *testing.T) {
	ctx := context.Background()
	l, _, adjIndexed := randomLedger(t, 1)
	rng := rand.New(rand.NewPCG(7, 7))
	layered := 0
	for _, ms := range issue18Months {
		m := month(t, ms)
		v, err := l.Current(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Layers) > 1 {
			layered++
		}
		for _, f := range v.Layers {
			if !fileExists(filepath.Join(f, IndexFile)) {
				t.Fatalf("%s: layer %s has no index", ms, f)
			}
		}
		all, err := states(ctx, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		for try := range 5 {
			keys := map[HouseholdKey]struct{}{{"06139999", "NOBODY"}: {}}
			for h := range 40 {
				if try == 0 || rng.IntN(3) == 0 {
					keys[HouseholdKey{[]string{"06139999", "01130012"}[h%2], fmt.Sprintf("H%02d", h)}] = struct{}{}
				}
			}
			both := func(read func(v *Version) any) {
				t.Helper()
				indexed := read(mustCurrent(t, l, ms))
				var scanned any
				withScans(func() { scanned = read(mustCurrent(t, l, ms)) })
				if fmt.Sprint(indexed) != fmt.Sprint(scanned) {
					t.Errorf("%s: indexed %v\nscanned %v", ms, indexed, scanned)
				}
			}
			both(func(v *Version) any {
				st, err := states(ctx, v, newKeySet(keys))
				if err != nil {
					t.Fatal(err)
				}
				return st
			})
			for _, file := range []string{output.ReceiptBenefitFile, pipeline.MembersFile} {
				cols := receiptCols
				if file == pipeline.MembersFile {
					cols = memberCols
				}
				both(func(v *Version) any { return keyedRows(t, v, file, cols, newKeySet(keys)) })
			}
			both(func(v *Version) any {
				var seen []string
				err := l.eachCountingMonth(ctx, m-11, m+1, newKeySet(keys), nil, func(k HouseholdKey, cm rules.Month) error {
					seen = append(seen, k.String()+"@"+cm.String())
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(seen)
				return seen
			})
			corr := map[string]correction{"UNKNOWN": {insurer: "06139999", person: "P00-0"}}
			for k := range all {
				if rng.IntN(4) == 0 {
					corr["R"+ms+"-"+strings.TrimPrefix(k.HouseholdID, "H")+"-0"] = correction{insurer: k.InsurerNo, person: "P05-0"}
				}
			}
			both(func(v *Version) any {
				aff, ins, err := affectedHouseholds(ctx, v, corr, 2)
				if err != nil {
					t.Fatal(err)
				}
				return fmt.Sprint(sortedKeys(aff), ins)
			})
		}
	}
	// Every layer's index is the same, numbered in the files' order or through the map.
	for _, ms := range issue18Months {
		for _, layer := range mustCurrent(t, l, ms).Layers {
			var inOrder, mapped bytes.Buffer
			for _, way := range []bool{true, false} {
				numberInOrder = way
				stores := t.TempDir()
				_, b, err := scanIndex(ctx, layer, stores)
				numberInOrder = true
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{ReceiptRowsFile, MemberRowsFile} {
					again, _ := os.ReadFile(filepath.Join(stores, name))
					disk, err := os.ReadFile(filepath.Join(layer, name))
					if (err == nil) != fileExists(filepath.Join(stores, name)) || !bytes.Equal(again, disk) {
						t.Errorf("%s: %s differs from the one built again from the files (%v)", layer, name, err)
					}
				}
				buf := &mapped
				if way {
					buf = &inOrder
				}
				if err := b.encode(buf); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(inOrder.Bytes(), mapped.Bytes()) {
				t.Errorf("%s: the index numbered in order differs from the one numbered through the map", layer)
			}
			if disk, err := os.ReadFile(filepath.Join(layer, IndexFile)); err != nil || !bytes.Equal(disk, inOrder.Bytes()) {
				t.Errorf("%s: the index on disk is not the one built again (%v)", layer, err)
			}
		}
	}
	if layered < 2 {
		t.Fatalf("only %d months of several layers: the test compares too little", layered)
	}
	// The same ledger corrected by scans alone.
	var scanned *Ledger
	var adjScanned [][]output.Adjustment
	withScans(func() { scanned, _, adjScanned = randomLedger(t, 1) })
	if fmt.Sprint(adjIndexed) != fmt.Sprint(adjScanned) {
		t.Errorf("adjustments indexed %v\nscanned %v", adjIndexed, adjScanned)
	}
	for _, ms := range issue18Months {
		a, b := monthRows(t, l, ms), monthRows(t, scanned, ms)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: the ledger corrected with indexes differs from the one corrected by scans", ms)
		}
	}
}

// keyedRows are the rows of the households keys in a file of v, as sorted strings.
func keyedRows(t *testing.T, v *Version, file string, cols []string, keys *keySet) []string {
	t.Helper()
	var rows []string
	err := scanColumns(context.Background(), v, file, cols, keys, func(b *pqcol.Batch, i int, key []byte) error {
		row := string(key)
		for c := 2; c < len(cols); c++ {
			if cols[c] == "cost" || cols[c] == "copay" || cols[c] == "paid" {
				row += fmt.Sprintf("|%d", b.Int64s(c).At(i))
			} else {
				row += "|" + string(b.Bytes(c).At(i))
			}
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows)
	return rows
}

// monthRows are every household, receipt, person and member row of month m, each file's as
// a sorted set.
func monthRows(t *testing.T, l *Ledger, m string) [4][]string {
	t.Helper()
	v := mustCurrent(t, l, m)
	var out [4][]string
	collect := func(i int) func(r any) error {
		return func(r any) error {
			out[i] = append(out[i], fmt.Sprintf("%+v", r))
			return nil
		}
	}
	errs := []error{
		v.HouseholdMonths(func(r *output.HouseholdMonth) error { return collect(0)(*r) }),
		v.Receipts(func(r *output.ReceiptBenefit) error { return collect(1)(*r) }),
		v.Persons(func(r *output.PersonMonth) error { return collect(2)(*r) }),
		v.Members(func(r *receipt.MemberRow) error { return collect(3)(*r) }),
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range out {
		slices.Sort(out[i])
	}
	return out
}

// TestIssue18_CompactKeepsRows: compacting a month of several layers leaves one layer, with
// an index, holding the same household, receipt, person and member rows (as sets) as the
// layers did, and the keyed reads give the same (a compaction that fails leaves the layers);
// a correction that takes a month past CompactAfter layers compacts it in the same run; a
// month of one layer without an index (a ledger written before them) gets one.
func TestIssue18_CompactKeepsRows(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { CompactAfter = n }(CompactAfter)
	CompactAfter = 100
	l, dir, _ := randomLedger(t, 2)
	for _, ms := range issue18Months[1:3] {
		v := mustCurrent(t, l, ms)
		if len(v.Layers) < 3 {
			t.Fatalf("%s has %d layers: nothing to compact", ms, len(v.Layers))
		}
		keys := newKeySet(map[HouseholdKey]struct{}{{"06139999", "H04"}: {}, {"01130012", "H07"}: {}, {"06139999", "H10"}: {}})
		before, beforeKeyed := monthRows(t, l, ms), keyedRows(t, v, output.ReceiptBenefitFile, receiptCols, keys)
		beforeStates, err := states(ctx, v, keys)
		if err != nil {
			t.Fatal(err)
		}
		// A compaction that fails (here cancelled) leaves the month as it was.
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Compact(cancelled, month(t, ms)); err == nil {
			t.Fatalf("%s: a cancelled compaction succeeded", ms)
		}
		if got := mustCurrent(t, l, ms).Layers; !slices.Equal(got, v.Layers) || fmt.Sprint(monthRows(t, l, ms)) != fmt.Sprint(before) {
			t.Fatalf("%s: a failed compaction changed the month: layers %v, were %v", ms, got, v.Layers)
		}
		res, err := l.Compact(ctx, month(t, ms))
		if err != nil {
			t.Fatal(err)
		}
		v = mustCurrent(t, l, ms)
		if res.Before < 3 || res.After != 1 || len(v.Layers) != 1 || !fileExists(filepath.Join(v.Layers[0], IndexFile)) {
			t.Fatalf("%s compacted %+v into layers %v", ms, res, v.Layers)
		}
		if after := monthRows(t, l, ms); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: rows after compaction differ from before", ms)
		}
		if after := keyedRows(t, v, output.ReceiptBenefitFile, receiptCols, keys); fmt.Sprint(after) != fmt.Sprint(beforeKeyed) {
			t.Errorf("%s: keyed rows after compaction %v, before %v", ms, after, beforeKeyed)
		}
		if after, _ := states(ctx, v, keys); fmt.Sprint(after) != fmt.Sprint(beforeStates) {
			t.Errorf("%s: states after compaction %v, before %v", ms, after, beforeStates)
		}
		if again, err := l.Compact(ctx, month(t, ms)); err != nil || again.After != 1 || again.Before != 1 {
			t.Errorf("compacting a compacted month: %+v, %v", again, err)
		}
	}
	// A month past the threshold is compacted by the commit that takes it there.
	CompactAfter = 2
	m := issue18Months[4]
	rows := monthRows(t, l, m)
	for n := range 3 {
		v := mustCurrent(t, l, m)
		var any receipt.Row
		if err := v.Receipts(func(r *output.ReceiptBenefit) error {
			if any.ReceiptID == "" {
				any = receipt.Row{ReceiptID: r.ReceiptID, ServiceMonth: m, InsurerNo: r.InsurerNo, PersonID: r.PersonID, InstitutionID: r.InstitutionID,
					Kind: r.Kind, Setting: r.Setting, Cost: r.Cost, Copay: r.Copay, Paid: r.Paid}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		any.Cost += int64(n+1) * 1000
		correct(t, l, dir, m, nil, []receipt.Row{any}, func(c *pipeline.Config) { c.Out = filepath.Join(dir, fmt.Sprintf("again-%d", n)) })
		if got := len(mustCurrent(t, l, m).Layers); got > CompactAfter {
			t.Errorf("after correction %d, %s has %d layers, more than CompactAfter %d", n, m, got, CompactAfter)
		}
	}
	if after := monthRows(t, l, m); len(after[1]) != len(rows[1]) {
		t.Errorf("%s: %d receipts after the corrections and compactions, %d before", m, len(after[1]), len(rows[1]))
	}
	// A month of one layer written without an index is given one.
	m = issue18Months[0]
	v := mustCurrent(t, l, m)
	before := monthRows(t, l, m)
	if err := os.Remove(filepath.Join(v.Layers[0], IndexFile)); err != nil {
		t.Fatal(err)
	}
	res, err := l.Compact(ctx, month(t, m))
	if err != nil || !res.Indexed {
		t.Fatalf("compacting a month without an index: %+v, %v", res, err)
	}
	v = mustCurrent(t, l, m)
	if !fileExists(filepath.Join(v.Layers[0], IndexFile)) || fmt.Sprint(monthRows(t, l, m)) != fmt.Sprint(before) {
		t.Errorf("%s: the month given an index is not the month it was", m)
	}
}

// TestIndexWithinMemoryBudget: a layer whose index would take more than half the memory
// budget is committed without one, and reads of the month are the same as with it.
func TestIndexWithinMemoryBudget(t *testing.T) {
	l, _, _ := randomLedger(t, 3)
	ms := issue18Months[1]
	v := mustCurrent(t, l, ms)
	layer := v.Layers[len(v.Layers)-1]
	if _, err := os.Stat(filepath.Join(layer, IndexFile)); err != nil {
		t.Fatalf("within the default budget the layer has no index: %v", err)
	}
	l.memoryBudget = 64 << 20
	if !l.indexFits(layer) {
		t.Fatalf("a layer of %d receipts does not fit 64 MiB", len(monthRows(t, l, ms)[1]))
	}
	l.memoryBudget = 2 * indexBytesPerHousehold // a budget no layer fits
	if l.indexFits(layer) {
		t.Fatal("a layer fits a budget of two households' index")
	}
	before := monthRows(t, l, ms)
	if _, err := l.Compact(context.Background(), month(t, ms)); err != nil {
		t.Fatal(err)
	}
	for _, dir := range mustCurrent(t, l, ms).Layers {
		if _, err := os.Stat(filepath.Join(dir, IndexFile)); err == nil {
			t.Errorf("%s: a layer beyond the budget was indexed", dir)
		}
	}
	if after := monthRows(t, l, ms); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the month read without its index differs from the month read with it")
	}
}
