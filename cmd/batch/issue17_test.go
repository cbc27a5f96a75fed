package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// TestIssue17_4_MembersRerunSummary: a month first run with a members master that lacks a
// tenth of the households, then rerun on the ledger with the whole master (`run --members
// --receipts --ledger`, no --history: the ledger keeps it), ends where a first run with the
// whole master ends, 多数回 included, and its summary counts the households it recomputed.
func TestIssue17_4_MembersRerunSummary(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if _, err := synth.Generate(context.Background(), synth.Config{Households: 3000, Month: rules.MonthOf(2025, 9), Months: 1, Seed: 17, Out: in}); err != nil {
		t.Fatal(err)
	}
	members := filepath.Join(in, synth.MembersFile)
	rows, err := output.ReadAll[receipt.MemberRow](members)
	if err != nil {
		t.Fatal(err)
	}
	var some []receipt.MemberRow
	for i, r := range rows {
		if i%10 != 0 {
			some = append(some, r)
		}
	}
	partial := filepath.Join(dir, "members-partial.csv")
	f, err := os.Create(partial)
	if err != nil {
		t.Fatal(err)
	}
	if err := receipt.WriteMembersCSV(f, some); err != nil {
		t.Fatal(err)
	}
	f.Close()
	receipts, history := filepath.Join(in, synth.ReceiptsDir, "2025-09"), filepath.Join(in, synth.HistoryFile)
	batch := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		if code := run(context.Background(), append([]string{"run", "--month", "2025-09", "--receipts", receipts}, args...), &out, &errs); code != 0 {
			t.Fatalf("run %v: exit %d\n%s", args, code, errs.String())
		}
		return out.String()
	}
	batch("--members", members, "--history", history, "--ledger", filepath.Join(dir, "whole"), "--out", filepath.Join(dir, "out-whole"))
	batch("--members", partial, "--history", history, "--ledger", filepath.Join(dir, "ledger"), "--out", filepath.Join(dir, "out-first"))
	summary := batch("--members", members, "--ledger", filepath.Join(dir, "ledger"), "--out", filepath.Join(dir, "out-rerun"))

	read := func(led string) map[[2]string]output.HouseholdMonth {
		l, err := ledger.Open(led)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		v, err := l.Current(rules.MonthOf(2025, 9))
		if err != nil {
			t.Fatal(err)
		}
		out := map[[2]string]output.HouseholdMonth{}
		if err := v.HouseholdMonths(func(h *output.HouseholdMonth) error {
			out[[2]string{h.InsurerNo, h.HouseholdID}] = *h
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want, got := read(filepath.Join(dir, "whole")), read(filepath.Join(dir, "ledger"))
	tasukai := 0
	for k, w := range want {
		g := got[k]
		if w.TasukaiApplied {
			tasukai++
		}
		if g.PriorBenefitMonths != w.PriorBenefitMonths || g.TasukaiApplied != w.TasukaiApplied || g.BenefitCash != w.BenefitCash {
			t.Errorf("%v after the rerun: prior %d 多数回 %v cash %d, want %d %v %d as a first run with the whole master",
				k, g.PriorBenefitMonths, g.TasukaiApplied, g.BenefitCash, w.PriorBenefitMonths, w.TasukaiApplied, w.BenefitCash)
		}
	}
	if tasukai == 0 || len(got) != len(want) {
		t.Fatalf("%d households with 多数回 of %d (the rerun has %d): the case tests nothing", tasukai, len(want), len(got))
	}
	m := regexp.MustCompile(`recomputed +([0-9,]+) households of 2025-09`).FindStringSubmatch(summary)
	if m == nil || m[1] != group(int64(len(got))) {
		t.Errorf("the summary says %q, want %s households recomputed:\n%s", m, group(int64(len(got))), summary)
	}
}
