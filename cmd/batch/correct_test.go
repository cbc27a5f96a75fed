package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// monthState is what a test compares of a ledger month: its version, a digest of its
// household, receipt and person rows as a set, and its cash per household.
type monthState struct {
	version int
	rows    [32]byte
	cash    map[string]int64
	sums    [3]int64 // Σ benefit_cash over households, receipts, persons
}

func ledgerState(t *testing.T, dir string, months []string) map[string]monthState {
	t.Helper()
	l, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out := map[string]monthState{}
	for _, m := range months {
		mm, _ := rules.ParseMonth(m)
		v, err := l.Current(mm)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		st := monthState{version: v.Number, cash: map[string]int64{}}
		var rows []string
		err = v.HouseholdMonths(func(h *output.HouseholdMonth) error {
			rows = append(rows, fmt.Sprintf("H %+v", *h))
			st.cash[h.InsurerNo+"/"+h.HouseholdID] = h.BenefitCash
			st.sums[0] += h.BenefitCash
			return nil
		})
		if err == nil {
			err = v.Receipts(func(r *output.ReceiptBenefit) error {
				rows = append(rows, fmt.Sprintf("R %+v", *r))
				st.sums[1] += r.BenefitCash
				return nil
			})
		}
		if err == nil {
			err = v.Persons(func(p *output.PersonMonth) error {
				rows = append(rows, fmt.Sprintf("P %+v", *p))
				st.sums[2] += p.BenefitCash
				return nil
			})
		}
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		slices.Sort(rows)
		h := sha256.New()
		for _, r := range rows {
			h.Write([]byte(r + "\n"))
		}
		copy(st.rows[:], h.Sum(nil))
		out[m] = st
	}
	return out
}

// adjustedCash sums the deltas of the adjustments files of dirs (those that exist) per
// household month.
func adjustedCash(t *testing.T, dirs ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, d := range dirs {
		p := filepath.Join(d, output.AdjustmentsFile)
		if _, err := os.Stat(p); os.IsNotExist(err) {
			continue
		}
		adj, err := output.ReadAll[output.Adjustment](p)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range adj {
			out[a.ServiceMonth+" "+a.InsurerNo+"/"+a.HouseholdID] += a.Delta
		}
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

// cashMoved is, per household month, final cash − base cash where they differ.
func cashMoved(base, final map[string]monthState) map[string]int64 {
	out := map[string]int64{}
	for m, f := range final {
		for k, c := range f.cash {
			if d := c - base[m].cash[k]; d != 0 {
				out[m+" "+k] = d
			}
		}
		for k, c := range base[m].cash {
			if _, ok := f.cash[k]; !ok && c != 0 {
				out[m+" "+k] = -c
			}
		}
	}
	return out
}

// TestIssue18_KilledCorrectFinishes kills a correction run over three months at random
// points: each month of the ledger is then whole (its old version, its new one, or one the
// cascade gave it, with the three sums of cash equal), and the next run (`batch correct`
// with the same corrections, or `batch run` of another month) finishes the work: the ledger
// ends equal to an uninterrupted run's, and the adjustments of the killed run and the next
// add up to the cash that moved.
func TestIssue18_KilledCorrectFinishes(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	months := []string{"2025-06", "2025-07", "2025-08", "2025-09", "2025-10"}
	if _, err := synth.Generate(context.Background(), synth.Config{Households: 600, Month: rules.MonthOf(2025, 6), Months: len(months), Seed: 18, Out: in}); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "ledger-base")
	runMonth := func(led, m, out string) *exec.Cmd {
		return command("run", "--month", m, "--members", filepath.Join(in, synth.MembersFile), "--receipts", filepath.Join(in, synth.ReceiptsDir, m),
			"--history", filepath.Join(in, synth.HistoryFile), "--ledger", led, "--out", out)
	}
	for _, m := range months[:4] {
		if b, err := runMonth(base, m, filepath.Join(dir, "out-"+m)).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", m, err, b)
		}
	}
	// Corrections for June, July and August: every 7th receipt raised twentyfold (households
	// cross into counting months, and 多数回 moves in the months after), every 31st cancelled.
	var corr []receipt.Row
	for _, m := range months[:3] {
		rows, err := output.ReadAll[receipt.Row](filepath.Join(in, synth.ReceiptsDir, m, "part-0000.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			switch {
			case i%31 == 0:
				r.Cancel = true
			case i%7 == 0:
				r.Cost, r.Copay, r.Paid = r.Cost*20, r.Copay*20, r.Paid*20
			default:
				continue
			}
			corr = append(corr, r)
		}
	}
	cp := writeCorrections(t, filepath.Join(dir, "corrections.csv"), corr)
	copyLedger := func(name string) string { return copyTree(t, base, filepath.Join(dir, name)) }
	correct := func(led, out string) *exec.Cmd {
		return command("correct", "--ledger", led, "--receipts", cp, "--out", out)
	}
	held := months[:4]
	before := ledgerState(t, base, held)
	ref := copyLedger("ledger-ref")
	start := time.Now()
	if b, err := correct(ref, filepath.Join(dir, "out-ref")).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, b)
	}
	took := time.Since(start)
	want := ledgerState(t, ref, held)
	moved := cashMoved(before, want)
	if got := adjustedCash(t, filepath.Join(dir, "out-ref")); !mapsEqual(got, moved) {
		t.Fatalf("the uninterrupted run's adjustments %v, want the cash moved %v", got, moved)
	}
	var cascaded bool
	for _, m := range held[3:] {
		cascaded = cascaded || want[m].rows != before[m].rows
	}
	if !cascaded {
		t.Fatal("the corrections reach no month after the corrected ones: the test shows less than it says")
	}
	rng := rand.New(rand.NewPCG(18, 4))
	for i := range 6 {
		led := copyLedger(fmt.Sprintf("ledger-%d", i))
		killed, next := filepath.Join(dir, fmt.Sprintf("out-kill-%d", i)), filepath.Join(dir, fmt.Sprintf("out-next-%d", i))
		cmd := correct(led, killed)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Float64() * float64(took)))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		now := ledgerState(t, led, held)
		_, jerr := os.Stat(filepath.Join(led, "journal", "correct.json"))
		t.Logf("kill %d: versions %d %d %d %d (before %d %d %d %d), journal left: %v", i, now[held[0]].version, now[held[1]].version,
			now[held[2]].version, now[held[3]].version, before[held[0]].version, before[held[1]].version, before[held[2]].version,
			before[held[3]].version, jerr == nil)
		for _, m := range held {
			st := now[m]
			if st.sums[0] != st.sums[1] || st.sums[1] != st.sums[2] {
				t.Fatalf("kill %d: %s holds cash %v over households, receipts, persons", i, m, st.sums)
			}
			if st.version == before[m].version && st.rows != before[m].rows {
				t.Fatalf("kill %d: %s at its old version holds other rows", i, m)
			}
		}
		// Every other kill, the next run is a first run of another month, which finishes the
		// corrections before its own work; else the same correction run again.
		var (
			b   []byte
			err error
		)
		if i%2 == 1 {
			b, err = runMonth(led, months[4], next).CombinedOutput()
		} else {
			b, err = correct(led, next).CombinedOutput()
		}
		if err != nil {
			t.Fatalf("kill %d: the next run failed: %v\n%s", i, err, b)
		}
		got := ledgerState(t, led, held)
		for _, m := range held {
			if got[m].rows != want[m].rows {
				t.Fatalf("kill %d: after the next run %s differs from the uninterrupted run's", i, m)
			}
		}
		if adj := adjustedCash(t, killed, next); !mapsEqual(adj, moved) {
			t.Fatalf("kill %d: the adjustments of the killed run and the next add up to\n%v\nwant the cash moved\n%v", i, adj, moved)
		}
		if _, err := os.Stat(filepath.Join(led, "journal")); !os.IsNotExist(err) {
			t.Errorf("kill %d: the journal is left after the next run (%v)", i, err)
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestIssue18_CorrectCommand: the command's summary and manifest reconcile per month; a
// correction for a month the ledger lacks is UNKNOWN_MONTH, and exit 0.
func TestIssue18_CorrectCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if _, err := synth.Generate(context.Background(), synth.Config{Households: 200, Month: rules.MonthOf(2025, 6), Months: 2, Seed: 5, Out: in, Format: "uke"}); err != nil {
		t.Fatal(err)
	}
	led := filepath.Join(dir, "ledger")
	for _, m := range []string{"2025-06", "2025-07"} {
		b, err := command("run", "--month", m, "--members", filepath.Join(in, synth.MembersFile), "--receipts", filepath.Join(in, synth.ReceiptsDir, m),
			"--ledger", led, "--out", filepath.Join(dir, "out-"+m)).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", m, err, b)
		}
	}
	rows, err := output.ReadAll[receipt.Row](filepath.Join(in, synth.ReceiptsDir, "2025-07", "part-0000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := rows[0], rows[1]
	a.Paid, a.Copay, a.Cost = a.Paid*10, a.Copay*10, a.Cost*10
	b.ServiceMonth = "2024-01"
	cp := filepath.Join(dir, "corr.csv")
	f, _ := os.Create(cp)
	receipt.WriteReceiptsCSV(f, []receipt.Row{a, b})
	f.Close()
	out := filepath.Join(dir, "out-correct")
	res, err := command("correct", "--ledger", led, "--receipts", cp, "--out", out).CombinedOutput()
	if err != nil {
		t.Fatalf("correct: %v\n%s", err, res)
	}
	var m ledger.CorrectManifest
	data, err := os.ReadFile(filepath.Join(out, output.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Months) != 2 || m.Months[0].RejectsByReason[receipt.UnknownMonth] != 1 || m.Months[1].Applied != 1 ||
		m.Totals.Read != 2 || !m.Totals.Balanced || len(m.Inputs) != 1 || m.Inputs[0].Rows != 2 {
		t.Errorf("manifest %s", data)
	}
	// Both months' UKE files, the same receipts as the Parquet files the months were run from
	// (ids included), as corrections: every one replaces itself, nothing moves but the
	// receipt corrected above, which the UKE file sets back.
	out = filepath.Join(dir, "out-uke")
	res, err = command("correct", "--ledger", led, "--uke", filepath.Join(in, synth.UKEDir, "2025-06"),
		"--uke", filepath.Join(in, synth.UKEDir, "2025-07"), "--out", out).CombinedOutput()
	if err != nil {
		t.Fatalf("correct --uke: %v\n%s", err, res)
	}
	if data, err = os.ReadFile(filepath.Join(out, output.ManifestFile)); err != nil {
		t.Fatal(err)
	}
	m = ledger.CorrectManifest{}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	adj, err := output.ReadAll[output.Adjustment](filepath.Join(out, output.AdjustmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	all := 0
	for _, mm := range []string{"2025-06", "2025-07"} {
		rs, err := output.ReadAll[receipt.Row](filepath.Join(in, synth.ReceiptsDir, mm, "part-0000.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		all += len(rs)
	}
	if len(m.Months) != 2 || m.Totals.Read != int64(all) || m.Totals.Rejected != 0 || !m.Totals.Balanced {
		t.Errorf("UKE corrections: months %+v totals %+v, want %d read and applied", m.Months, m.Totals, all)
	}
	for _, x := range adj {
		if x.ServiceMonth != "2025-07" && x.Cause == output.CauseCorrectedReceipts {
			t.Errorf("UKE corrections identical to the months' receipts adjust %+v", x)
		}
	}
}
