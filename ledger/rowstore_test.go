package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
		block, err := f.readSpan(nil, w.block(b).off, uint64(w.block(b).n))
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
			row.ReceiptID, row.PersonID = strings.Clone(row.ReceiptID), strings.Clone(row.PersonID) // valid until the next row
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
	if _, err := f.readSpan(nil, uint64(f.size)-1, 2); err == nil {
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
		_, tmp, layer := gatherLayer(t, []*pipeline.Written{written}, tc.limit)
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

// TestGatherAcrossPartitions: rows gathered in several partitions are numbered across them:
// every receipt id and person leads to its household, and every household's blocks hold its
// own rows; a household whose rows come in two partitions leaves the layer unindexed.
func TestGatherAcrossPartitions(t *testing.T) {
	const ins = "06130001"
	part := func(households []string, receipts [][2]string, members [][2]string) *pipeline.Written {
		cols, err := output.NewColumns[output.ReceiptBenefit]()
		if err != nil {
			t.Fatal(err)
		}
		w := &pipeline.Written{Receipts: cols}
		for _, h := range households {
			w.Households = append(w.Households, output.HouseholdMonth{InsurerNo: ins, HouseholdID: h, ServiceMonth: "2025-04",
				CountsForTasukai: h == "H3", BenefitCash: int64(len(h))})
		}
		for _, r := range receipts { // household, receipt id
			cols.Append(&output.ReceiptBenefit{ReceiptID: r[1], InsurerNo: ins, HouseholdID: r[0], PersonID: r[0] + "-1",
				ServiceMonth: "2025-04", Kind: "dental", Setting: "outpatient", Cost: 100, Copay: 30, Paid: 30})
		}
		for _, m := range members { // household, person
			w.Members = append(w.Members, receipt.MemberRow{InsurerNo: ins, HouseholdID: m[0], PersonID: m[1], BirthDate: "1970-01-01", Sex: "2"})
		}
		return w
	}
	parts := []*pipeline.Written{
		part([]string{"H1"}, [][2]string{{"H1", "R1"}, {"H1", "R2"}}, [][2]string{{"H1", "H1-1"}, {"H2", "H2-1"}}),
		part([]string{"H3", "H4"}, [][2]string{{"H3", "R3"}, {"H4", "R4"}, {"H4", "R5"}},
			[][2]string{{"H3", "H3-1"}, {"H3", "H3-2"}, {"H4", "H4-1"}}),
	}
	c, _, layer := gatherLayer(t, parts, 0)
	x, err := openIndex(layer)
	if err != nil || x == nil {
		t.Fatalf("no index: %v", err)
	}
	for id, want := range map[string]string{"R1": "H1", "R2": "H1", "R3": "H3", "R4": "H4", "R5": "H4"} {
		var got []string
		x.eachOf(&cursor{}, x.rHash, x.rHH, x.nR, fnv([]byte(id)), func(i int) { got = append(got, parseKey(x.key(i)).HouseholdID) })
		if len(got) != 1 || got[0] != want {
			t.Errorf("receipt %s: households %v, want %s", id, got, want)
		}
	}
	for _, p := range []string{"H1-1", "H2-1", "H3-1", "H3-2", "H4-1"} {
		var got []string
		x.eachOf(&cursor{}, x.pHash, x.pHH, x.nP, fnv([]byte(ins), []byte(p)), func(i int) { got = append(got, parseKey(x.key(i)).HouseholdID) })
		if len(got) != 1 || got[0]+"-"+p[len(p)-1:] != p {
			t.Errorf("person %s: households %v", p, got)
		}
	}
	keys := newKeys()
	for _, h := range []string{"H1", "H2", "H3", "H4"} {
		keys.add(HouseholdKey{ins, h}.String())
	}
	rows := map[string][]string{}
	for _, members := range []bool{false, true} {
		bs, err := findBlocks([]*index{x}, keys, members)
		if err != nil {
			t.Fatal(err)
		}
		err = bs.each(context.Background(), func(k HouseholdKey, r *blockReader) error {
			if members {
				var m receipt.MemberRow
				r.member(&m)
				rows[k.HouseholdID] = append(rows[k.HouseholdID], strings.Clone(m.PersonID)) // valid until the call returns
			} else {
				var row receipt.Row
				r.receipt(&row)
				rows[k.HouseholdID] = append(rows[k.HouseholdID], strings.Clone(row.ReceiptID))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{"H1": {"R1", "R2", "H1-1"}, "H2": {"H2-1"}, "H3": {"R3", "H3-1", "H3-2"}, "H4": {"R4", "R5", "H4-1"}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows by household %v, want %v", rows, want)
	}
	if _, ok := c.counting[HouseholdKey{ins, "H3"}]; !ok || len(c.counting) != 1 {
		t.Errorf("counting households %v, want H3 alone", c.counting)
	}
	// H1 again in a later partition: its rows are apart, the layer gets no index.
	_, _, layer = gatherLayer(t, append(parts, part([]string{"H1"}, [][2]string{{"H1", "R9"}}, nil)), 0)
	if fileExists(filepath.Join(layer, IndexFile)) || fileExists(filepath.Join(layer, ReceiptRowsFile)) {
		t.Error("a household in two partitions was indexed")
	}
}

// gatherLayer gathers the partitions as a run's writer would (limit as layerRows.limit) and
// finishes the layer: it returns the gathering, its temporary directory and the layer's.
func gatherLayer(t *testing.T, parts []*pipeline.Written, limit int64) (*layerRows, string, string) {
	t.Helper()
	tmp, layer := t.TempDir(), t.TempDir()
	c, err := newLayerRows(tmp, true)
	if err != nil {
		t.Fatal(err)
	}
	c.limit = limit
	for _, p := range parts {
		enc, err := c.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Append(enc); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.finish(layer, nil); err != nil {
		t.Fatal(err)
	}
	return c, tmp, layer
}
