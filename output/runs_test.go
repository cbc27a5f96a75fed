package output

import "testing"

// TestRuns reads runs of rows across row-group and page boundaries by seeking.
func TestRuns(t *testing.T) {
	rows := receiptBenefits(25_000, 0, false)
	p := writeRows(t, newDir(t), ReceiptBenefitFile, Options{MaxRowsPerRowGroup: 10_000}, rows, 1000)
	runs := [][2]int64{{2, 4}, {9_995, 10_010}, {12_000, 12_001}, {19_000, 25_000}}
	var got []ReceiptBenefit
	if err := Runs(p, runs, func(rs []ReceiptBenefit) error { got = append(got, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	var want []ReceiptBenefit
	for _, r := range runs {
		want = append(want, rows[r[0]:r[1]]...)
	}
	equalRows(t, got, want)
	if err := Runs(p, [][2]int64{{24_990, 25_010}}, func([]ReceiptBenefit) error { return nil }); err == nil {
		t.Fatal("a run past the end of the file read without error")
	}
}
