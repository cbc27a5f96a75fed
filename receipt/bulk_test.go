package receipt

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

// The bulk way of a Parquet batch gives what the way of rows gives: the same rows in the same
// record batches, the same rejects, the same counts, whatever the batch size, the row groups
// and the rows that send a batch the way of rows.
func TestBulkReadsMatchRows(t *testing.T) {
	dir := t.TempDir()
	clean := sampleRows(5000)
	mixed := sampleRows(5000)
	// Written in row groups of 2,100 rows: the first holds rows to reject, the second rows to
	// trim, the third is clean, so that each kind alone sends its batches the way of rows.
	for i := range mixed[:2100] {
		switch i % 97 {
		case 10:
			mixed[i].ReceiptID = ""
		case 20:
			mixed[i].ServiceMonth = "2025-13x"
		case 30:
			mixed[i].Kind = "vet"
		case 40:
			mixed[i].Cancel = true
		}
	}
	for i := 2100; i < 4200; i++ {
		switch i % 97 {
		case 10:
			mixed[i].ReceiptID = " R "
		case 20:
			mixed[i].PersonID = " " + mixed[i].PersonID + " "
		case 30:
			mixed[i].InstitutionID += "　" // an ideographic space, trimmed
		case 40:
			mixed[i].BirthDate += " "
		}
	}
	// Dictionary values longer than 16 bytes in one column, which the reader passes on as
	// they are (the builder copies short ones 16 bytes at a time, up to 32 bytes 32 at a time).
	long := sampleRows(3000)
	names := []string{"サトウ　ハナコ", "ﾔﾏﾀﾞ ﾀﾛｳ", "", "ハセガワ　シュウヘイ"} // 21, 22, 0, 30 bytes
	for i := range long {
		// One row group each (of 1,000 rows): values of 19 and 40 bytes (copied by append),
		// of 17 (32 bytes at a time), of 16 (still 16 bytes at a time).
		long[i].NameKana = names[i%len(names)]
		switch {
		case i%50 == 7 && i < 1000:
			long[i].InsurerNo = "1234567890123456789012345678901234567890"
		case i%50 != 3:
		case i < 1000:
			long[i].InsurerNo = "1234567890123456789"
		case i < 2000:
			long[i].InsurerNo = "12345678901234567"
		default:
			long[i].InsurerNo = "1234567890123456"
		}
	}
	s := func(v string) *string { return &v }
	i64 := func(v int64) *int64 { return &v }
	var nulls []nullable // optional columns, nulls only among the amounts of the last rows
	for i := range 3000 {
		n := nullable{s(fmt.Sprintf("R%d", i)), s("2025-04"), s("138000"), s(fmt.Sprintf("P%d", i%400)), s("1300000001"),
			s("medical"), s("outpatient"), s(""), i64(100), i64(30), i64(70), nil}
		if i >= 2000 && i%500 == 7 {
			n.Paid = nil
		}
		nulls = append(nulls, n)
	}
	files := map[string]func(string){
		"clean.parquet":    func(f string) { writeParquet(t, f, clean, 1700) },
		"mixed.parquet":    func(f string) { writeParquet(t, f, mixed, 2100) },
		"long.parquet":     func(f string) { writeParquet(t, f, long, 1000) },
		"nulls.parquet":    func(f string) { writeParquet(t, f, nulls, 500) },
		"required.parquet": func(f string) { writeParquet(t, f, requiredRows(clean), 0) },
	}
	defer func(b bool, f func()) { bulkReads, onBulk = b, f }(bulkReads, onBulk)
	for name, write := range files {
		file := filepath.Join(dir, name)
		write(file)
		for _, batch := range []int{1, 7, 1000, 4096, 0} {
			bulk := 0
			bulkReads, onBulk = true, func() { bulk++ }
			got := readAll(t, file, batch)
			bulkReads = false
			want := readAll(t, file, batch)
			if got.err != nil || want.err != nil {
				t.Fatalf("%s: errors %v and %v", name, got.err, want.err)
			}
			if !reflect.DeepEqual(got.rows, want.rows) || !reflect.DeepEqual(got.batches, want.batches) {
				t.Errorf("%s, batches of %d: the bulk way read other rows or batches than the way of rows", name, batch)
			}
			if !reflect.DeepEqual(got.rejects, want.rejects) || got.stats != want.stats {
				t.Errorf("%s, batches of %d: rejects or counts differ: %+v against %+v", name, batch, got.stats, want.stats)
			}
			if bulk == 0 {
				t.Errorf("%s, batches of %d: no batch took the bulk way", name, batch)
			}
			if name == "mixed.parquet" && len(want.rejects) == 0 {
				t.Fatalf("the mixed file has no reject")
			}
		}
	}
}

func requiredRows(rows []Row) []requiredOnly {
	out := make([]requiredOnly, len(rows))
	for i, r := range rows {
		out[i] = requiredOnly{r.ReceiptID, r.ServiceMonth, r.InsurerNo, r.PersonID, r.InstitutionID, r.Kind, r.Setting,
			int32(r.Cost), r.Copay, r.Paid, "note"}
	}
	return out
}

// FuzzBulkReadsMatchRows puts one fuzzed receipt among good ones and reads the file both
// ways: whatever the values (spaces, bytes outside ASCII, bad codes, odd amounts), the bulk
// way must give what the way of rows gives.
func FuzzBulkReadsMatchRows(f *testing.F) {
	f.Add("R1", "2025-04", "138000", "P1", "1300000001", "medical", "outpatient", "", "", int64(100), int64(30), int64(70), false, uint8(3))
	f.Add(" R2", "2025-13", "06139999 ", "P\t2", "13000000０2", "dental", "inpatient ", "chou", "1300000001", int64(-5), int64(0), int64(1<<40), true, uint8(39))
	f.Add(" R3 ", "2025-04", "138000", "P3", "1300000003", "dpc", "inpatient", "chou2", "", int64(9), int64(3), int64(6), false, uint8(17))
	f.Add("", "", "", "", "", "", "", "", "", int64(0), int64(0), int64(0), false, uint8(0))
	f.Fuzz(func(t *testing.T, id, month, ins, person, inst, kind, setting, tokutei, prescriber string, cost, copay, paid int64, cancel bool, at uint8) {
		rows := sampleRows(40)
		rows[int(at)%len(rows)] = Row{ReceiptID: id, ServiceMonth: month, InsurerNo: ins, PersonID: person,
			InstitutionID: inst, Kind: kind, Setting: setting, Tokutei: tokutei, PrescriberID: prescriber,
			Cost: cost, Copay: copay, Paid: paid, Cancel: cancel}
		file := filepath.Join(t.TempDir(), "r.parquet")
		writeParquet(t, file, rows, 16)
		defer func(b bool) { bulkReads = b }(bulkReads)
		for _, batch := range []int{1, 7, 0} {
			bulkReads = true
			got := readAll(t, file, batch)
			bulkReads = false
			want := readAll(t, file, batch)
			if (got.err == nil) != (want.err == nil) || !reflect.DeepEqual(got.rows, want.rows) ||
				!reflect.DeepEqual(got.batches, want.batches) || !reflect.DeepEqual(got.rejects, want.rejects) || got.stats != want.stats {
				t.Fatalf("batches of %d: the bulk way and the way of rows differ:\n%+v\n%+v", batch, got, want)
			}
		}
	})
}
