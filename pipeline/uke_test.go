package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/rules"
	"github.com/kougaku/batch/synth"
)

// TestUKEMatchesParquet runs one generated month once from its Parquet receipts and once from
// its UKE claim files: the household, receipt and person outputs must be the same files.
func TestUKEMatchesParquet(t *testing.T) {
	dir := t.TempDir()
	month := rules.MonthOf(2025, 10)
	in := filepath.Join(dir, "in")
	if _, err := synth.Generate(context.Background(), synth.Config{Households: 5000, Month: month, Seed: 11, Out: in,
		Format: synth.FormatUKE, Faults: true}); err != nil {
		t.Fatal(err)
	}
	base := Config{Month: month, Members: []string{filepath.Join(in, synth.MembersFile)}, History: []string{filepath.Join(in, synth.HistoryFile)}}
	fromParquet, fromUKE := base, base
	fromParquet.Receipts, fromParquet.Out = []string{filepath.Join(in, synth.ReceiptsDir, month.String())}, filepath.Join(dir, "pq")
	fromUKE.UKE, fromUKE.Out = []string{filepath.Join(in, synth.UKEDir, month.String())}, filepath.Join(dir, "uke")
	a, err := Run(context.Background(), fromParquet)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), fromUKE)
	if err != nil {
		t.Fatal(err)
	}
	ra, rb := a.Manifest.Reconciliation, b.Manifest.Reconciliation
	if ra.ReceiptsRead != rb.ReceiptsRead || ra.ReceiptsAccepted != rb.ReceiptsAccepted || ra.ReceiptsRejected == 0 || !rb.Balanced {
		t.Fatalf("reconciliations differ: parquet %+v, uke %+v", ra, rb)
	}
	if a.Households < 1000 {
		t.Fatalf("only %d households", a.Households)
	}
	for _, name := range []string{output.HouseholdMonthFile, output.ReceiptBenefitFile, output.PersonMonthFile} {
		x, err := os.ReadFile(filepath.Join(fromParquet.Out, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(fromUKE.Out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between the Parquet and the UKE run", name)
		}
	}
}
