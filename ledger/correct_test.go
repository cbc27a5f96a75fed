package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// world is a small insured population over consecutive months, with costs on both sides of
// the 多数回 line, so that corrections flip households' counting months.
type world struct {
	members []receipt.MemberRow
	months  []string
	rows    map[string]map[string]receipt.Row // month → receipt_id → row
	next    int
}

var worldCosts = []int64{30_000, 200_000, 300_000, 600_000, 1_000_000}

func newWorld(rng *rand.Rand, households, months int) *world {
	w := &world{rows: map[string]map[string]receipt.Row{}}
	cats := []string{"A", "I", "U", "E", "O"}
	for h := range households {
		for p := range 1 + rng.IntN(2) {
			w.members = append(w.members, receipt.MemberRow{InsurerNo: "06139999", PersonID: fmt.Sprintf("P%03d-%d", h, p),
				HouseholdID: fmt.Sprintf("H%03d", h), BirthDate: fmt.Sprintf("19%02d-04-0%d", 60+rng.IntN(30), 2+p), Sex: "1",
				ValidFrom: "2020-01", CategoryU70: cats[h%len(cats)]})
		}
	}
	for i := range months {
		m := rules.MonthOf(2025, 1) + rules.Month(i)
		w.months = append(w.months, m.String())
		w.rows[m.String()] = map[string]receipt.Row{}
		for range households {
			if rng.IntN(4) == 0 {
				continue
			}
			r := w.receipt(rng, m.String())
			w.rows[m.String()][r.ReceiptID] = r
		}
	}
	return w
}

// receipt makes a new receipt of a random person in month m.
func (w *world) receipt(rng *rand.Rand, m string) receipt.Row {
	w.next++
	p := w.members[rng.IntN(len(w.members))]
	cost := worldCosts[rng.IntN(len(worldCosts))]
	return receipt.Row{ReceiptID: fmt.Sprintf("R%05d", w.next), ServiceMonth: m, InsurerNo: p.InsurerNo, PersonID: p.PersonID,
		InstitutionID: fmt.Sprintf("13111%05d", rng.IntN(3)), Kind: "medical", Setting: "outpatient",
		Cost: cost, Copay: cost * 3 / 10, Paid: cost * 3 / 10}
}

// corrections draws replacements (a new cost, now and then a new person), cancels and
// additions for a few random months, and applies them to the world.
func (w *world) corrections(rng *rand.Rand) []receipt.Row {
	var out []receipt.Row
	for range 1 + rng.IntN(3) {
		m := w.months[rng.IntN(len(w.months))]
		ids := slices.Sorted(mapsKeys(w.rows[m]))
		used := map[string]bool{}
		for _, r := range out {
			used[r.ReceiptID] = true
		}
		for range 2 + rng.IntN(5) {
			switch k := rng.IntN(4); {
			case k <= 1 && len(ids) > 0: // a replacement
				r := w.rows[m][ids[rng.IntN(len(ids))]]
				if used[r.ReceiptID] {
					continue
				}
				cost := worldCosts[rng.IntN(len(worldCosts))]
				r.Cost, r.Copay, r.Paid = cost, cost*3/10, cost*3/10
				if rng.IntN(5) == 0 {
					r.PersonID = w.members[rng.IntN(len(w.members))].PersonID
				}
				used[r.ReceiptID] = true
				w.rows[m][r.ReceiptID] = r
				out = append(out, r)
			case k == 2 && len(ids) > 0: // a cancel
				r := w.rows[m][ids[rng.IntN(len(ids))]]
				if used[r.ReceiptID] {
					continue
				}
				used[r.ReceiptID] = true
				delete(w.rows[m], r.ReceiptID)
				r.Cancel = true
				out = append(out, r)
			default: // an addition
				r := w.receipt(rng, m)
				w.rows[m][r.ReceiptID] = r
				out = append(out, r)
			}
		}
	}
	return out
}

func mapsKeys[K comparable, V any](m map[K]V) func(yield func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// build runs every month of the world, in order, into a new ledger.
func (w *world) build(t *testing.T) *Ledger {
	l, dir := openLedger(t)
	for _, m := range w.months {
		rows := make([]receipt.Row, 0, len(w.rows[m]))
		for _, id := range slices.Sorted(mapsKeys(w.rows[m])) {
			rows = append(rows, w.rows[m][id])
		}
		runMonth(t, l, dir, m, w.members, rows)
	}
	return l
}

// ledgerRows prints every household, receipt and person row of every month, as a multiset.
func ledgerRows(t *testing.T, l *Ledger, months []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range months {
		v, err := l.Current(month(t, m))
		if err != nil {
			t.Fatal(err)
		}
		err = errors.Join(
			v.HouseholdMonths(func(h *output.HouseholdMonth) error { out[fmt.Sprintf("H %+v", *h)]++; return nil }),
			v.Receipts(func(r *output.ReceiptBenefit) error { out[fmt.Sprintf("R %+v", *r)]++; return nil }),
			v.Persons(func(p *output.PersonMonth) error { out[fmt.Sprintf("P %+v", *p)]++; return nil }))
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// cashOf is every household month's benefit_cash.
func cashOf(t *testing.T, l *Ledger, months []string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, m := range months {
		v, err := l.Current(month(t, m))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.HouseholdMonths(func(h *output.HouseholdMonth) error {
			out[h.ServiceMonth+"/"+h.HouseholdID] = h.BenefitCash
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func diffRows(a, b map[string]int) (onlyA, onlyB []string) {
	for k, n := range a {
		if b[k] != n {
			onlyA = append(onlyA, k)
		}
	}
	for k, n := range b {
		if a[k] != n {
			onlyB = append(onlyB, k)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return onlyA, onlyB
}

// runCorrect runs `batch correct` on l with rows as one CSV file.
func runCorrect(t *testing.T, l *Ledger, dir, name string, rows []receipt.Row) (*Correction, string) {
	t.Helper()
	return runCorrectFile(t, l, dir, name, writeCSV(t, filepath.Join(dir, name+".csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, rows) }))
}

// writeCorrectionsParquet writes rows as a Parquet receipts file.
func writeCorrectionsParquet(t *testing.T, path string, rows []receipt.Row) string {
	t.Helper()
	if err := writeParquet(path, func(w *buffered[receipt.Row]) error { w.buf = append(w.buf, rows...); return nil }); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCorrectFile runs `batch correct` on l with the receipts file path.
func runCorrectFile(t *testing.T, l *Ledger, dir, name, path string) (*Correction, string) {
	t.Helper()
	out := filepath.Join(dir, name)
	c, err := l.Correct(context.Background(), pipeline.Config{Receipts: []string{path}, Out: out, CommandLine: []string{"batch", "correct", name}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c, out
}

// TestIssue18_CorrectEqualsFromScratch: for random corrections over random months
// (replacements, some moving a receipt to another person, cancels, additions, at costs on
// both sides of the 多数回 line), the ledger after `batch correct` holds the same household,
// receipt and person rows in every month as a ledger built from scratch from the corrected
// inputs, and the adjustments add up, per household month, to the difference in cash.
func TestIssue18_CorrectEqualsFromScratch(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 1))
	w := newWorld(rng, 40, 8)
	l := w.build(t)
	dir := t.TempDir()
	flips := 0
	for round := range 4 {
		before := cashOf(t, l, w.months)
		corr := w.corrections(rng)
		name := fmt.Sprintf("round-%d", round)
		var c *Correction
		var out string
		if round%2 == 0 {
			c, out = runCorrect(t, l, dir, name, corr)
		} else { // a Parquet file, read by columns
			c, out = runCorrectFile(t, l, dir, name, writeCorrectionsParquet(t, filepath.Join(dir, name+".parquet"), corr))
		}
		if tot := c.Totals(); !tot.Balanced || tot.Read != int64(len(corr)) || tot.Rejected != 0 {
			t.Fatalf("round %d: totals %+v for %d corrections; rejects %+v", round, tot, len(corr), c.Rejects)
		}
		scratch := w.build(t)
		got, want := ledgerRows(t, l, w.months), ledgerRows(t, scratch, w.months)
		if a, b := diffRows(got, want); len(a)+len(b) > 0 {
			t.Fatalf("round %d: the corrected ledger differs from the one built from scratch:\ncorrected only:\n%s\nscratch only:\n%s",
				round, joinLines(a), joinLines(b))
		}
		after := cashOf(t, scratch, w.months)
		adj, err := output.ReadAll[output.Adjustment](filepath.Join(out, output.AdjustmentsFile))
		if err != nil {
			t.Fatal(err)
		}
		sum := map[string]int64{}
		for _, a := range adj {
			sum[a.ServiceMonth+"/"+a.HouseholdID] += a.Delta
			if a.Cause == output.CauseTasukaiCascade {
				flips++
			}
		}
		for k := range unionKeys(before, after, sum) {
			if after[k]-before[k] != sum[k] {
				t.Errorf("round %d: %s: cash %d → %d, adjustments say %+d", round, k, before[k], after[k], sum[k])
			}
		}
	}
	if flips == 0 {
		t.Error("no correction reached a later month through the 多数回 cascade: the test shows less than it says")
	}
}

func joinLines(s []string) string {
	out := ""
	for i, x := range s {
		if i == 20 {
			return out + fmt.Sprintf("… and %d more\n", len(s)-20)
		}
		out += x + "\n"
	}
	return out
}

func unionKeys(ms ...map[string]int64) map[string]struct{} {
	out := map[string]struct{}{}
	for _, m := range ms {
		for k := range m {
			out[k] = struct{}{}
		}
	}
	return out
}

// TestIssue18_SameCorrectionsTwiceAdjustNothing: the same corrections again change no row
// and adjust nothing; their cancels are rejected UNKNOWN_RECEIPT the second time.
func TestIssue18_SameCorrectionsTwiceAdjustNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2))
	w := newWorld(rng, 30, 6)
	l := w.build(t)
	dir := t.TempDir()
	corr := w.corrections(rng)
	for !slices.ContainsFunc(corr, func(r receipt.Row) bool { return r.Cancel }) {
		corr = w.corrections(rng) // a draw with a cancel (the world's rows are not compared here)
	}
	first, _ := runCorrect(t, l, dir, "first", corr)
	if len(first.Adjustments) == 0 {
		t.Fatal("the corrections adjust nothing the first time: the test shows nothing")
	}
	rows := ledgerRows(t, l, w.months)
	second, out := runCorrect(t, l, dir, "second", corr)
	if len(second.Adjustments) != 0 {
		t.Errorf("the second run adjusts %+v", second.Adjustments)
	}
	if adj := readAdjustments(t, out); len(adj) != 0 {
		t.Errorf("the second run's adjustments.parquet holds %d rows", len(adj))
	}
	if a, b := diffRows(ledgerRows(t, l, w.months), rows); len(a)+len(b) > 0 {
		t.Errorf("the second run changed rows:\n%s\n%s", joinLines(a), joinLines(b))
	}
	cancels := 0
	for _, r := range corr {
		if r.Cancel {
			cancels++
		}
	}
	if cancels == 0 {
		t.Fatal("the corrections cancel nothing: the test shows less than it says")
	}
	if tot := second.Totals(); tot.Rejected != int64(cancels) || tot.Read != int64(len(corr)) || !tot.Balanced {
		t.Errorf("second run: totals %+v, want the %d cancels rejected", tot, cancels)
	}
	// Each reject names the correction's own file and line, whatever month it went to.
	lines := map[string]string{}
	for i, r := range corr {
		lines[r.ReceiptID] = fmt.Sprintf("%s:%d", filepath.Join(dir, "second.csv"), i+2)
	}
	for _, rj := range readRejects(t, out) {
		if rj.Reason != receipt.UnknownReceipt || rj.Source != lines[rj.ReceiptID] {
			t.Errorf("reject %+v, want UNKNOWN_RECEIPT at %s", rj, lines[rj.ReceiptID])
		}
	}
}

// TestIssue18_UnknownMonthRejected: a correction for a month the ledger does not hold is an
// UNKNOWN_MONTH reject, with its source line, and the other months' corrections are applied;
// corrections for no month of the ledger at all fail the run, the ledger unchanged.
func TestIssue18_UnknownMonthRejected(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 3))
	w := newWorld(rng, 20, 3)
	l := w.build(t)
	dir := t.TempDir()
	stray := w.receipt(rng, "2024-06")
	ids := slices.Sorted(mapsKeys(w.rows["2025-02"]))
	good := w.rows["2025-02"][ids[0]]
	good.Cost, good.Copay, good.Paid = 1_000_000, 300_000, 300_000
	c, out := runCorrect(t, l, dir, "mixed", []receipt.Row{stray, good})
	rj := readRejects(t, out)
	if len(rj) != 1 || rj[0].Reason != receipt.UnknownMonth || rj[0].ReceiptID != stray.ReceiptID || rj[0].Source != filepath.Join(dir, "mixed.csv")+":2" {
		t.Fatalf("rejects %+v, want the 2024-06 correction UNKNOWN_MONTH at mixed.csv:2", rj)
	}
	var found bool
	if err := mustCurrent(t, l, "2025-02").Receipts(func(r *output.ReceiptBenefit) error {
		found = found || (r.ReceiptID == good.ReceiptID && r.Paid == 300_000)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("the correction of 2025-02 was not applied")
	}
	var m struct {
		Months []MonthReport `json:"months"`
		Totals CorrectTotals `json:"totals"`
	}
	data, err := os.ReadFile(filepath.Join(out, output.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Months) != 2 || m.Months[0].ServiceMonth != "2024-06" || m.Months[0].Rejected != 1 || m.Months[0].RejectsByReason[receipt.UnknownMonth] != 1 ||
		m.Months[1].ServiceMonth != "2025-02" || m.Months[1].Applied != 1 || m.Totals.Read != 2 || !m.Totals.Balanced || len(c.Months) != 2 {
		t.Errorf("manifest months %+v totals %+v", m.Months, m.Totals)
	}
	// Nothing any month takes: refused, nothing written.
	path := writeCSV(t, filepath.Join(dir, "stray.csv"), func(f *os.File) error { return receipt.WriteReceiptsCSV(f, []receipt.Row{stray}) })
	_, err = l.Correct(context.Background(), pipeline.Config{Receipts: []string{path}, Out: filepath.Join(dir, "stray")})
	var empty *pipeline.EmptyRunError
	if !errors.As(err, &empty) {
		t.Errorf("corrections for no month of the ledger: got %v, want an EmptyRunError", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stray")); !os.IsNotExist(err) {
		t.Errorf("a refused run left its directory: %v", err)
	}
}

func mustCurrent(t *testing.T, l *Ledger, m string) *Version {
	t.Helper()
	v, err := l.Current(month(t, m))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
