package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/pipeline"
	"github.com/kougaku/batch/receipt"
)

// A row store gives back, block by block, the rows written into it.
func TestRowStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, err := newBlockWriter(filepath.Join(dir, ReceiptRowsFile))
	if err != nil {
		t.Fatal(err)
	}
	blocks := [][]receipt.Row{
		{{ReceiptID: "1310000001-1-202504-00-7", PersonID: "000123-01", InstitutionID: "1310000001", Kind: "medical", Setting: "outpatient", Cost: 12345, Copay: 3704, Paid: 3704}},
		{},
		{{ReceiptID: "R2", PersonID: "P2", Kind: "dpc", Setting: "inpatient", PrescriberID: "x", Tokutei: "hemophilia", Cost: -1, Copay: 1 << 40, Paid: 0},
			{ReceiptID: "", PersonID: "P3", Kind: "not a kind", Setting: "outpatient", Cost: 0, Copay: 0, Paid: 0}},
	}
	for _, rows := range blocks {
		w.start()
		for _, r := range rows {
			w.receipt("000123", r.ReceiptID, r.PersonID, r.InstitutionID, r.Kind, r.Setting, r.PrescriberID, r.Tokutei, r.Cost, r.Copay, r.Paid)
		}
	}
	if err := w.close(false); err != nil {
		t.Fatal(err)
	}
	f, err := openStore(w.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for b, rows := range blocks {
		block, err := f.read(w.block(b))
		if err != nil {
			t.Fatal(err)
		}
		var got []receipt.Row
		for r := newBlockReader(block, "000123"); r.more(); {
			var row receipt.Row
			r.receipt(&row)
			if r.err != nil {
				t.Fatal(r.err)
			}
			got = append(got, row)
		}
		if len(got) != len(rows) {
			t.Fatalf("block %d: %d rows, want %d", b, len(got), len(rows))
		}
		for i := range rows {
			if got[i] != rows[i] {
				t.Errorf("block %d row %d: %+v, want %+v", b, i, got[i], rows[i])
			}
		}
	}
	if _, err := f.read(storeRef{off: uint64(f.size) - 1, n: 2}); err == nil {
		t.Error("a block past the end of the store was taken")
	}
}

// Damaged blocks are errors, never a panic or a loop.
func FuzzBlockReader(f *testing.F) {
	f.Add([]byte{2, 'R', '1', 0, 0, 0, 0, 0, 0, 2, 4, 6})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, block []byte) {
		for _, members := range []bool{false, true} {
			r := newBlockReader(block, "H")
			for n := 0; r.more(); n++ {
				if n > len(block) {
					t.Fatal("more rows than bytes")
				}
				if members {
					var m receipt.MemberRow
					r.member(&m)
				} else {
					var row receipt.Row
					r.receipt(&row)
				}
			}
		}
	})
}

// TestGatherPastLimitLeavesNoIndex: a run whose rows would make an index past its limit
// (half the memory budget) abandons it: the layer gets neither index nor row stores, and no
// temporary file stays behind; within the limit the same rows give both.
func TestGatherPastLimitLeavesNoIndex(t *testing.T) {
	cols, err := output.NewColumns[output.ReceiptBenefit]()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		cols.Append(&output.ReceiptBenefit{ReceiptID: fmt.Sprint("R", i), InsurerNo: "06130001", HouseholdID: "H1",
			PersonID: "P1", ServiceMonth: "2025-04", Kind: "medical", Setting: "outpatient", Cost: 1000, Copay: 300, Paid: 300})
	}
	written := &pipeline.Written{
		Households: []output.HouseholdMonth{{InsurerNo: "06130001", HouseholdID: "H1", ServiceMonth: "2025-04"}},
		Receipts:   cols,
		Members:    []receipt.MemberRow{{InsurerNo: "06130001", HouseholdID: "H1", PersonID: "P1", BirthDate: "1980-01-01", Sex: "1"}},
	}
	for _, tc := range []struct {
		limit   int64
		indexed bool
	}{{limit: 0, indexed: true}, {limit: 1 << 20, indexed: true}, {limit: indexBytesPerHousehold, indexed: false}} {
		tmp, layer := t.TempDir(), t.TempDir()
		c, err := newLayerRows(tmp, true)
		if err != nil {
			t.Fatal(err)
		}
		c.limit = tc.limit
		enc, err := c.Encode(written)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Append(enc); err != nil {
			t.Fatal(err)
		}
		if err := c.finish(layer, nil); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{IndexFile, ReceiptRowsFile, MemberRowsFile} {
			if got := fileExists(filepath.Join(layer, name)); got != tc.indexed {
				t.Errorf("limit %d: %s in the layer: %v, want %v", tc.limit, name, got, tc.indexed)
			}
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("limit %d: %d files left in the gathering directory", tc.limit, len(left))
		}
	}
}
