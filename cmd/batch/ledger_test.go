package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// writeCorrections writes rows as a CSV of receipts at path, and returns path.
func writeCorrections(t *testing.T, path string, rows []receipt.Row) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := receipt.WriteReceiptsCSV(f, rows); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyTree copies the directory src to dst (a ledger, to run the same work on two copies).
func copyTree(t *testing.T, src, dst string) string {
	t.Helper()
	if b, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	return dst
}

// monthPrint is what the ledger reads of a month now: its total cash and its total count of
// prior 多数回 months (which the cascade changes even where the cash stays).
type monthPrint struct{ cash, prior int64 }

func monthCash(t *testing.T, dir string, m string) monthPrint {
	t.Helper()
	l, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mm, _ := rules.ParseMonth(m)
	v, err := l.Current(mm)
	if err != nil {
		t.Fatalf("after a kill: %v", err)
	}
	var p monthPrint
	if err := v.HouseholdMonths(func(h *output.HouseholdMonth) error {
		p.cash += h.BenefitCash
		p.prior += int64(h.PriorBenefitMonths)
		return nil
	}); err != nil {
		t.Fatalf("after a kill: %v", err)
	}
	return p
}

// nearTasukai lists the September receipts of the households whose October has two counting
// months before it and whose September does not count.
func nearTasukai(t *testing.T, dir string) map[string]bool {
	t.Helper()
	l, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	read := func(m string, fn func(h *output.HouseholdMonth)) *ledger.Version {
		mm, _ := rules.ParseMonth(m)
		v, err := l.Current(mm)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.HouseholdMonths(func(h *output.HouseholdMonth) error { fn(h); return nil }); err != nil {
			t.Fatal(err)
		}
		return v
	}
	two := map[[2]string]bool{}
	read("2025-10", func(h *output.HouseholdMonth) {
		if h.PriorBenefitMonths == 2 {
			two[[2]string{h.InsurerNo, h.HouseholdID}] = true
		}
	})
	sep := read("2025-09", func(h *output.HouseholdMonth) {
		if h.CountsForTasukai {
			delete(two, [2]string{h.InsurerNo, h.HouseholdID})
		}
	})
	out := map[string]bool{}
	if err := sep.Receipts(func(r *output.ReceiptBenefit) error {
		if two[[2]string{r.InsurerNo, r.HouseholdID}] {
			out[r.ReceiptID] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLedgerKilledCommit kills reruns of a month at random points and always finds the old or
// the new month, never a mix; then the same rerun succeeds and ends where an uninterrupted one
// does, the cascade into the next month included.
func TestLedgerKilledCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the batch some twenty times")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if _, err := synth.Generate(context.Background(), synth.Config{Households: 20000, Month: rules.MonthOf(2025, 9), Months: 2, Seed: 9, Out: in}); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "ledger-base")
	for _, m := range []string{"2025-09", "2025-10"} {
		cmd := command("run", "--month", m, "--members", filepath.Join(in, synth.MembersFile), "--receipts", filepath.Join(in, synth.ReceiptsDir, m),
			"--history", filepath.Join(in, synth.HistoryFile), "--ledger", base, "--out", filepath.Join(dir, "out-"+m))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", m, err, b)
		}
	}
	// Corrections: 5% of September's receipts, amounts raised fourfold; and the receipts of
	// the households two months short of 多数回 in October that did not count in September,
	// raised twentyfold, so that September counts for them and October crosses the line.
	rows, err := output.ReadAll[receipt.Row](filepath.Join(in, synth.ReceiptsDir, "2025-09", "part-0000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	edge := nearTasukai(t, base)
	if len(edge) == 0 {
		t.Fatal("no receipt of a household two months short of 多数回 in October")
	}
	var corr []receipt.Row
	for i, r := range rows {
		switch {
		case edge[r.ReceiptID]:
			r.Cost, r.Copay, r.Paid = r.Cost*20, r.Copay*20, r.Paid*20
		case i%20 == 0:
			r.Cost, r.Copay, r.Paid = r.Cost*4, r.Copay*4, r.Paid*4
		default:
			continue
		}
		corr = append(corr, r)
	}
	cp := writeCorrections(t, filepath.Join(dir, "corrections.csv"), corr)

	copyLedger := func(name string) string { return copyTree(t, base, filepath.Join(dir, name)) }
	rerun := func(led, out string) *exec.Cmd {
		return command("run", "--month", "2025-09", "--receipts", cp, "--ledger", led, "--out", out)
	}
	old9, old10 := monthCash(t, base, "2025-09"), monthCash(t, base, "2025-10")
	ref := copyLedger("ledger-ref")
	start := time.Now()
	if b, err := rerun(ref, filepath.Join(dir, "out-ref")).CombinedOutput(); err != nil {
		t.Fatalf("reference rerun: %v\n%s", err, b)
	}
	took := time.Since(start)
	new9, new10 := monthCash(t, ref, "2025-09"), monthCash(t, ref, "2025-10")
	if new9 == old9 || new10 == old10 {
		t.Fatalf("the corrections should change both months (Sep %v→%v, Oct %v→%v)", old9, new9, old10, new10)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 6; i++ {
		led := copyLedger(fmt.Sprintf("ledger-%d", i))
		out := filepath.Join(dir, fmt.Sprintf("out-kill-%d", i))
		cmd := rerun(led, out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Float64() * float64(took)))
		cmd.Process.Kill()
		cmd.Wait()
		if c := monthCash(t, led, "2025-09"); c != old9 && c != new9 {
			t.Fatalf("kill %d: September holds %v, neither the old %v nor the new %v", i, c, old9, new9)
		}
		if c := monthCash(t, led, "2025-10"); c != old10 && c != new10 {
			t.Fatalf("kill %d: October holds %v, neither the old %v nor the new %v", i, c, old10, new10)
		}
		os.RemoveAll(out)
		if b, err := rerun(led, out).CombinedOutput(); err != nil {
			t.Fatalf("kill %d: the following run failed: %v\n%s", i, err, b)
		}
		if c9, c10 := monthCash(t, led, "2025-09"), monthCash(t, led, "2025-10"); c9 != new9 || c10 != new10 {
			t.Fatalf("kill %d: after the following run Sep %v Oct %v, want %v %v", i, c9, c10, new9, new10)
		}
	}
}
