package receipt

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/kougaku/batch/rules"
)

const testHeader = "receipt_id,service_month,insurer_no,person_id,institution_id,kind,setting,prescriber_id,cost,copay,paid,tokutei,birth_date,sex,cancel\n"

// goodLine is a valid receipts record for testHeader.
func goodLine(id string) string {
	return id + ",2025-04,138000,P1,1300000001,medical,outpatient,,10000,3000,7000,,1950-01-01,1,\n"
}

func checkRows(t *testing.T, got []gotRow, want []Row, wantLines []int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i].Row, want[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i].Row, want[i])
		}
		if got[i].Line != wantLines[i] {
			t.Fatalf("row %d: source_line %d, want %d", i, got[i].Line, wantLines[i])
		}
	}
}

func checkStats(t *testing.T, res readResult) {
	t.Helper()
	if res.stats.Rows != int64(len(res.rows))+res.stats.Rejected {
		t.Errorf("Rows %d != accepted %d + rejected %d", res.stats.Rows, len(res.rows), res.stats.Rejected)
	}
	if int64(len(res.rejects)) != res.stats.Rejected {
		t.Errorf("Rejected %d, but %d rejects were handed out", res.stats.Rejected, len(res.rejects))
	}
	var paid, paidRej int64
	for _, r := range res.rows {
		paid += r.Paid
	}
	for _, r := range res.rejects {
		paidRej += r.Paid
	}
	if res.stats.PaidRejected != paidRej || res.stats.PaidRead != paid+paidRej {
		t.Errorf("stats %+v; Σ paid accepted %d, Σ paid rejected %d", res.stats, paid, paidRej)
	}
}

// TestCSVRoundTrip writes varied receipts — some with commas, quotes and line breaks inside
// fields — and reads them back field by field with their physical line numbers.
func TestCSVRoundTrip(t *testing.T) {
	rows := sampleRows(1000)
	rows[3].ReceiptID = `R"quoted",1`
	rows[10].PrescriberID = "line\nbreak"
	rows[11].PersonID = "two\nline\nbreaks"
	rows[500].InstitutionID = "comma,inside"
	want := make([]int64, len(rows))
	line := int64(2)
	for i, r := range rows {
		want[i] = line
		line += 1 + int64(strings.Count(r.PrescriberID+r.PersonID, "\n"))
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"lf.csv", receiptsCSV(t, rows)},
		{"crlf.CSV", bytes.ReplaceAll(receiptsCSV(t, rows), []byte("\n"), []byte("\r\n"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, dir, tc.name, tc.data)
			res := readAll(t, file, 0)
			if res.err != nil {
				t.Fatal(res.err)
			}
			// CRLF inside a quoted field reads as LF, as with encoding/csv: same rows.
			checkRows(t, res.rows, rows, want)
			if len(res.rejects) != 0 {
				t.Fatalf("unexpected rejects: %+v", res.rejects)
			}
			checkStats(t, res)
			for _, r := range res.rows {
				if r.File != file {
					t.Fatalf("batch file %q, want %q", r.File, file)
				}
			}
		})
	}
}

func TestParquetRoundTrip(t *testing.T) {
	rows := sampleRows(1000)
	rows[3].ReceiptID = `R"quoted",1`
	rows[10].PrescriberID = "line\nbreak"
	file := filepath.Join(t.TempDir(), "r.parquet")
	writeParquet(t, file, rows, 300) // several row groups
	res := readAll(t, file, 256)
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := make([]int64, len(rows))
	for i := range want {
		want[i] = int64(i + 1)
	}
	checkRows(t, res.rows, rows, want)
	checkStats(t, res)
	if !reflect.DeepEqual(res.batches, []int64{256, 256, 256, 232}) {
		t.Errorf("batches %v", res.batches)
	}
}

func TestBatchSplitting(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		rows, batch int
		want        []int64
	}{
		{1000, 300, []int64{300, 300, 300, 100}},
		{900, 300, []int64{300, 300, 300}}, // no empty batch at the end
		{5, 0, []int64{5}},                 // default size
		{1, 1, []int64{1}},
		{0, 10, nil},
	} {
		rows := sampleRows(tc.rows)
		csvFile := writeFile(t, dir, "r.csv", receiptsCSV(t, rows))
		pqFile := filepath.Join(dir, "r.parquet")
		writeParquet(t, pqFile, rows, 0)
		for _, file := range []string{csvFile, pqFile} {
			res := readAll(t, file, tc.batch)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if !reflect.DeepEqual(res.batches, tc.want) {
				t.Errorf("%s: %d rows in batches of %d: got %v, want %v", filepath.Ext(file), tc.rows, tc.batch, res.batches, tc.want)
			}
			if res.stats.Rows != int64(tc.rows) {
				t.Errorf("%s: Rows %d, want %d", filepath.Ext(file), res.stats.Rows, tc.rows)
			}
		}
	}
}

// TestBadRecords puts one bad record between good ones and checks its reject exactly.
func TestBadRecords(t *testing.T) {
	const good = "R2,2025-04,138000,P2,1300000001,medical,outpatient,,10000,3000,7000,,1950-01-01,1,"
	for _, tc := range []struct {
		name   string
		before string // text between the header and the bad record (lines 2..)
		bad    string
		line   int64  // expected line of the bad record
		detail string // substring expected in Detail
		paid   int64
		ids    [3]string // receipt_id, insurer_no, person_id
	}{
		{"short record", "", "R2,2025-04,138000,P2,1300000001,medical,outpatient,,10000,3000,7000", 3,
			"field count: got 11 fields, want 15", 7000, [3]string{"R2", "138000", "P2"}},
		{"long record", "", good + ",extra", 3, "field count: got 16 fields, want 15", 7000, [3]string{"R2", "138000", "P2"}},
		{"cost not int", "", strings.Replace(good, "10000", "10a00", 1), 3, `cost: not an integer: "10a00"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"cost decimal", "", strings.Replace(good, "10000", "10000.5", 1), 3, `cost: not an integer: "10000.5"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"copay empty", "", strings.Replace(good, ",3000,", ",,", 1), 3, `copay: not an integer: ""`, 7000, [3]string{"R2", "138000", "P2"}},
		{"paid not int", "", strings.Replace(good, "7000", "7k", 1), 3, `paid: not an integer: "7k"`, 0, [3]string{"R2", "138000", "P2"}},
		{"paid overflow", "", strings.Replace(good, "7000", "99999999999999999999", 1), 3, `paid: not an integer: "99999999999999999999"`, 0, [3]string{"R2", "138000", "P2"}},
		{"empty receipt_id", "", "  " + strings.TrimPrefix(good, "R2"), 3, "receipt_id: empty", 7000, [3]string{"", "138000", "P2"}},
		{"month slash", "", strings.Replace(good, "2025-04", "2025/04", 1), 3, `service_month: bad month "2025/04"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"month 13", "", strings.Replace(good, "2025-04", "2025-13", 1), 3, `service_month: bad month "2025-13"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"month compact", "", strings.Replace(good, "2025-04", "202504", 1), 3, `service_month: bad month "202504"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"unknown kind", "", strings.Replace(good, "medical", "vet", 1), 3, `kind: unknown "vet"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"unknown setting", "", strings.Replace(good, "outpatient", "home", 1), 3, `setting: unknown "home"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"bad cancel", "", good + "yes", 3, `cancel: bad value "yes"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"bare quote", "", strings.Replace(good, "P2", `P"2`, 1), 3, `bare " in non-quoted-field (line 3, column 20)`, 0, [3]string{"R2", "138000", ""}},
		{"text after quote", "", `"R2"x` + strings.TrimPrefix(good, "R2"), 3, `extraneous or missing " in quoted-field`, 0, [3]string{"", "", ""}},
		{"after blank lines", "\n\r\n\n", strings.Replace(good, "medical", "vet", 1), 6, `kind: unknown "vet"`, 7000, [3]string{"R2", "138000", "P2"}},
		{"after multi-line field", `R0,2025-04,138000,"P` + "\n\n" + `0",1300000001,medical,outpatient,,1,1,0,,,,` + "\n",
			good + "x", 6, `cancel: bad value "x"`, 7000, [3]string{"R2", "138000", "P2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := testHeader + goodLine("R1") + tc.before + tc.bad + "\n" + goodLine("R3")
			file := writeFile(t, t.TempDir(), "in.csv", []byte(data))
			res := readAll(t, file, 0)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if len(res.rejects) != 1 {
				t.Fatalf("rejects %+v, want 1", res.rejects)
			}
			r := res.rejects[0]
			wantSource := file + ":" + itoa(tc.line)
			if r.Source != wantSource || r.Reason != BadRecord || r.Paid != tc.paid ||
				[3]string{r.ReceiptID, r.InsurerNo, r.PersonID} != tc.ids {
				t.Errorf("reject %+v\nwant source %s, paid %d, ids %v", r, wantSource, tc.paid, tc.ids)
			}
			if !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("detail %q, want it to contain %q", r.Detail, tc.detail)
			}
			var ids []string
			for _, g := range res.rows {
				ids = append(ids, g.ReceiptID)
			}
			if ids[0] != "R1" || ids[len(ids)-1] != "R3" {
				t.Errorf("accepted %v: the good rows around the bad one must be read", ids)
			}
			checkStats(t, res)
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestCSVLayouts reads files that differ from the writer's layout but mean the same rows.
func TestCSVLayouts(t *testing.T) {
	base := Row{ReceiptID: "R,1", ServiceMonth: "2025-04", InsurerNo: "138000", PersonID: "P1",
		InstitutionID: "1300000001", Kind: "pharmacy", Setting: "outpatient", PrescriberID: "1300000002",
		Cost: 10000, Copay: 3000, Paid: 7000, Tokutei: "chou", BirthDate: "1950-01-01", Sex: "2"}
	minimal := base
	minimal.PrescriberID, minimal.Tokutei, minimal.BirthDate, minimal.Sex = "", "", "", ""
	canceled := base
	canceled.Cancel = true
	for _, tc := range []struct {
		name, data string
		want       Row
	}{
		{"quoted comma",
			testHeader + `"R,1",2025-04,138000,P1,1300000001,pharmacy,outpatient,1300000002,10000,3000,7000,chou,1950-01-01,2,` + "\n",
			base},
		{"other column order, extra columns, odd header case",
			" Paid ,cost,EXTRA,copay,kind,setting,receipt_id,service_month,insurer_no,person_id,institution_id,prescriber_id,tokutei,birth_date,sex,note\n" +
				`7000,10000,x,3000,pharmacy,outpatient,"R,1",2025-04,138000,P1,1300000001,1300000002,chou,1950-01-01,2,"free, text"` + "\n",
			base},
		{"missing optional columns",
			"receipt_id,service_month,insurer_no,person_id,institution_id,kind,setting,cost,copay,paid\n" +
				`"R,1",2025-04,138000,P1,1300000001,pharmacy,outpatient,10000,3000,7000`,
			minimal},
		{"spaces trimmed",
			testHeader + `" R,1 ", 2025-04 ,138000 , P1,1300000001,pharmacy ,outpatient,1300000002, 10000 ,3000,7000, chou,1950-01-01,2, true ` + "\n",
			canceled},
		{"BOM and CRLF",
			"\xEF\xBB\xBF" + strings.ReplaceAll(testHeader, "\n", "\r\n") +
				`"R,1",2025-04,138000,P1,1300000001,pharmacy,outpatient,1300000002,10000,3000,7000,chou,1950-01-01,2,TRUE` + "\r\n",
			canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "in.csv", []byte(tc.data))
			res := readAll(t, file, 0)
			if res.err != nil {
				t.Fatal(res.err)
			}
			checkRows(t, res.rows, []Row{tc.want}, []int64{2})
		})
	}
}

func TestUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, data string
		line       int64
		msg        string
	}{
		{"missing.csv", "receipt_id,service_month,insurer_no,person_id,institution_id,kind,setting,cost,copay\nR1,2025-04,138000,P1,1300000001,medical,outpatient,1,1\n",
			1, "missing required column(s) paid"},
		{"missing2.csv", "receipt_id,kind\n", 1, "missing required column(s) service_month, insurer_no, person_id, institution_id, setting, cost, copay, paid"},
		{"twice.csv", strings.TrimSuffix(testHeader, "\n") + ",paid\n", 1, `column "paid" appears twice`},
		{"empty.csv", "", 1, "empty file"},
		{"blank.csv", "\n\n", 1, "empty file"},
		{"unterminated.csv", testHeader + goodLine("R1") + goodLine("R2") + `R3,"2025-04,` + "\n" + goodLine("R4"),
			4, "quoted field opened in this record is not closed"},
		{"badheader.csv", `receipt_id,"kind"x` + "\n", 1, `extraneous or missing " in quoted-field`},
		{"receipts.txt", testHeader, 0, "unknown input format"},
		{"nothere.csv", "", 0, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name)
			if tc.name != "nothere.csv" {
				writeFile(t, dir, tc.name, []byte(tc.data))
			}
			res := readAll(t, file, 0)
			var fe *FileError
			if !errors.As(res.err, &fe) {
				t.Fatalf("error %v (%T), want a *FileError", res.err, res.err)
			}
			if fe.File != file || fe.Line != tc.line || !strings.Contains(fe.Error(), tc.msg) {
				t.Errorf("got %q (line %d), want line %d and %q", fe.Error(), fe.Line, tc.line, tc.msg)
			}
			if tc.line > 0 && !strings.HasPrefix(fe.Error(), file+":"+itoa(tc.line)+": ") {
				t.Errorf("message %q does not start with FILE:LINE", fe.Error())
			}
			t.Log(res.err)
			if tc.name == "nothere.csv" && !errors.Is(res.err, fs.ErrNotExist) {
				t.Errorf("%v does not unwrap to fs.ErrNotExist", res.err)
			}
		})
	}
}

func TestEmptyCSVHasNoRows(t *testing.T) {
	file := writeFile(t, t.TempDir(), "h.csv", []byte(testHeader))
	res := readAll(t, file, 0)
	if res.err != nil || len(res.batches) != 0 || res.stats != (ReadStats{}) {
		t.Fatalf("header only: %+v", res)
	}
}

// TestCancel stops a read from inside emit and from outside, for both formats.
func TestCancel(t *testing.T) {
	dir := t.TempDir()
	rows := sampleRows(50000)
	csvFile := writeFile(t, dir, "r.csv", receiptsCSV(t, rows))
	pqFile := filepath.Join(dir, "r.parquet")
	writeParquet(t, pqFile, rows, 10000)
	for _, file := range []string{csvFile, pqFile} {
		t.Run(filepath.Ext(file), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			batches := 0
			stats, err := ReadReceipts(ctx, file, ReadOptions{BatchRows: 1000}, func(b Batch) error {
				b.Record.Release()
				batches++
				if batches == 2 {
					cancel()
				}
				return nil
			}, nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			// Stopped within the next context check, not at the end of the file.
			if batches > 2+ctxCheckRows/1000+1 || stats.Rows >= int64(len(rows)) {
				t.Errorf("read on after cancel: %d batches, %d rows", batches, stats.Rows)
			}

			ctx, cancel = context.WithCancel(context.Background())
			cancel()
			_, err = ReadReceipts(ctx, file, ReadOptions{}, func(b Batch) error {
				b.Record.Release()
				t.Error("emit called with a canceled context")
				return nil
			}, nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}

			ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			errStop := errors.New("stop")
			_, err = ReadReceipts(ctx, file, ReadOptions{BatchRows: 100}, func(b Batch) error {
				b.Record.Release()
				return errStop
			}, nil)
			if err != errStop {
				t.Fatalf("emit error: got %v", err)
			}
		})
	}
}

func TestRejectErrorStops(t *testing.T) {
	data := testHeader + strings.Replace(goodLine("R1"), "medical", "vet", 1) + goodLine("R2")
	file := writeFile(t, t.TempDir(), "r.csv", []byte(data))
	errStop := errors.New("stop")
	_, err := ReadReceipts(context.Background(), file, ReadOptions{}, func(b Batch) error {
		b.Record.Release()
		return nil
	}, func(Reject) error { return errStop })
	if err != errStop {
		t.Fatalf("got %v, want the reject function's error", err)
	}
}

// requiredOnly is a Parquet layout with only the required receipt columns.
type requiredOnly struct {
	ReceiptID     string `parquet:"receipt_id"`
	ServiceMonth  string `parquet:"service_month"`
	InsurerNo     string `parquet:"insurer_no"`
	PersonID      string `parquet:"person_id"`
	InstitutionID string `parquet:"institution_id"`
	Kind          string `parquet:"kind"`
	Setting       string `parquet:"setting"`
	Cost          int32  `parquet:"cost"` // INT32 is fine too
	Copay         int64  `parquet:"copay"`
	Paid          int64  `parquet:"paid"`
	Note          string `parquet:"note"` // ignored
}

func TestParquetWithoutOptionalColumns(t *testing.T) {
	in := []requiredOnly{
		{"R1", "2025-04", "138000", "P1", "1300000001", "medical", "outpatient", 10000, 3000, 7000, "x"},
		{" R2 ", "2025-05", "06139999", "P2", "1300000002", "dental", "inpatient", 500, 150, 350, ""},
		{"R3", "2025-05", "06139999", "P2", "1300000002", "vet", "inpatient", 500, 150, 350, ""},
	}
	file := filepath.Join(t.TempDir(), "min.parquet")
	writeParquet(t, file, in, 0)
	res := readAll(t, file, 0)
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := []Row{
		{ReceiptID: "R1", ServiceMonth: "2025-04", InsurerNo: "138000", PersonID: "P1", InstitutionID: "1300000001",
			Kind: "medical", Setting: "outpatient", Cost: 10000, Copay: 3000, Paid: 7000},
		{ReceiptID: "R2", ServiceMonth: "2025-05", InsurerNo: "06139999", PersonID: "P2", InstitutionID: "1300000002",
			Kind: "dental", Setting: "inpatient", Cost: 500, Copay: 150, Paid: 350},
	}
	checkRows(t, res.rows, want, []int64{1, 2})
	wantRej := []Reject{{Source: file + ":row 3", ReceiptID: "R3", InsurerNo: "06139999", PersonID: "P2",
		Reason: BadRecord, Detail: `kind: unknown "vet" (want medical, dpc, dental or pharmacy)`, Paid: 350}}
	if !reflect.DeepEqual(res.rejects, wantRej) {
		t.Errorf("rejects %+v\nwant %+v", res.rejects, wantRej)
	}
	checkStats(t, res)
}

// nullable is a Parquet layout whose columns are all optional, as pandas or Spark write them.
type nullable struct {
	ReceiptID     *string `parquet:"receipt_id,optional"`
	ServiceMonth  *string `parquet:"service_month,optional"`
	InsurerNo     *string `parquet:"insurer_no,optional"`
	PersonID      *string `parquet:"person_id,optional"`
	InstitutionID *string `parquet:"institution_id,optional"`
	Kind          *string `parquet:"kind,optional,dict"` // nulls in a dictionary column
	Setting       *string `parquet:"setting,optional"`
	Tokutei       *string `parquet:"tokutei,optional"`
	Cost          *int64  `parquet:"cost,optional"`
	Copay         *int64  `parquet:"copay,optional"`
	Paid          *int64  `parquet:"paid,optional"`
	Cancel        *bool   `parquet:"cancel,optional"`
}

func TestParquetNulls(t *testing.T) {
	s := func(v string) *string { return &v }
	i := func(v int64) *int64 { return &v }
	yes := true
	in := []nullable{
		{s("R1"), s("2025-04"), s("138000"), s("P1"), s("1300000001"), s("medical"), s("outpatient"), nil, i(100), i(30), i(70), &yes},
		{s("R2"), s("2025-04"), s("138000"), s("P1"), s("1300000001"), s("medical"), s("outpatient"), s("chou"), i(100), nil, i(70), nil},
		{s("R3"), s("2025-04"), s("138000"), nil, s("1300000001"), s("medical"), s("outpatient"), nil, i(100), i(30), nil, nil},
		{nil, s("2025-04"), s("138000"), s("P4"), s("1300000001"), s("medical"), s("outpatient"), nil, i(100), i(30), i(70), nil},
	}
	file := filepath.Join(t.TempDir(), "nulls.parquet")
	writeParquet(t, file, in, 0)
	res := readAll(t, file, 0)
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := []Row{{ReceiptID: "R1", ServiceMonth: "2025-04", InsurerNo: "138000", PersonID: "P1", InstitutionID: "1300000001",
		Kind: "medical", Setting: "outpatient", Cost: 100, Copay: 30, Paid: 70, Cancel: true}}
	checkRows(t, res.rows, want, []int64{1})
	wantRej := []Reject{
		{Source: file + ":row 2", ReceiptID: "R2", InsurerNo: "138000", PersonID: "P1", Reason: BadRecord, Detail: "copay: null", Paid: 70},
		{Source: file + ":row 3", ReceiptID: "R3", InsurerNo: "138000", Reason: BadRecord, Detail: "paid: null"},
		{Source: file + ":row 4", InsurerNo: "138000", PersonID: "P4", Reason: BadRecord, Detail: "receipt_id: empty", Paid: 70},
	}
	if !reflect.DeepEqual(res.rejects, wantRej) {
		t.Errorf("rejects %+v\nwant %+v", res.rejects, wantRej)
	}
	checkStats(t, res)
}

func TestUnreadableParquet(t *testing.T) {
	dir := t.TempDir()
	type noPaid struct {
		ReceiptID     string `parquet:"receipt_id"`
		ServiceMonth  string `parquet:"service_month"`
		InsurerNo     string `parquet:"insurer_no"`
		PersonID      string `parquet:"person_id"`
		InstitutionID string `parquet:"institution_id"`
		Kind          string `parquet:"kind"`
		Setting       string `parquet:"setting"`
		Cost          int64  `parquet:"cost"`
		Copay         int64  `parquet:"copay"`
	}
	missing := filepath.Join(dir, "missing.parquet")
	writeParquet(t, missing, []noPaid{{ReceiptID: "R1"}}, 0)

	type stringPaid struct {
		ReceiptID     string `parquet:"receipt_id"`
		ServiceMonth  string `parquet:"service_month"`
		InsurerNo     string `parquet:"insurer_no"`
		PersonID      string `parquet:"person_id"`
		InstitutionID string `parquet:"institution_id"`
		Kind          string `parquet:"kind"`
		Setting       string `parquet:"setting"`
		Cost          int64  `parquet:"cost"`
		Copay         int64  `parquet:"copay"`
		Paid          string `parquet:"paid"`
	}
	wrongType := filepath.Join(dir, "wrongtype.parquet")
	writeParquet(t, wrongType, []stringPaid{{ReceiptID: "R1", Paid: "7000"}}, 0)

	type decimalPaid struct { // amounts as DECIMAL(18,2): yen would be read a hundredfold
		ReceiptID     string `parquet:"receipt_id"`
		ServiceMonth  string `parquet:"service_month"`
		InsurerNo     string `parquet:"insurer_no"`
		PersonID      string `parquet:"person_id"`
		InstitutionID string `parquet:"institution_id"`
		Kind          string `parquet:"kind"`
		Setting       string `parquet:"setting"`
		Cost          int64  `parquet:"cost"`
		Copay         int64  `parquet:"copay"`
		Paid          int64  `parquet:"paid,decimal(2:18)"`
	}
	decimal := filepath.Join(dir, "decimal.parquet")
	writeParquet(t, decimal, []decimalPaid{{ReceiptID: "R1", Paid: 700000}}, 0)
	type unsignedCost struct {
		ReceiptID     string `parquet:"receipt_id"`
		ServiceMonth  string `parquet:"service_month"`
		InsurerNo     string `parquet:"insurer_no"`
		PersonID      string `parquet:"person_id"`
		InstitutionID string `parquet:"institution_id"`
		Kind          string `parquet:"kind"`
		Setting       string `parquet:"setting"`
		Cost          uint32 `parquet:"cost"`
		Copay         int64  `parquet:"copay"`
		Paid          int64  `parquet:"paid"`
	}
	unsigned := filepath.Join(dir, "unsigned.parquet")
	writeParquet(t, unsigned, []unsignedCost{{ReceiptID: "R1", Cost: 4_000_000_000}}, 0)

	good := filepath.Join(dir, "good.parquet")
	writeParquet(t, good, sampleRows(2000), 0)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := writeFile(t, dir, "truncated.parquet", data[:len(data)/2])
	garbage := writeFile(t, dir, "garbage.parquet", []byte("PAR1 this is not parquet at all PAR1"))
	// Damage the column data but keep the footer: found while reading, not while opening.
	damaged := append([]byte(nil), data...)
	for i := 100; i < len(damaged)/2; i++ {
		damaged[i] ^= 0x5a
	}
	corrupt := writeFile(t, dir, "corrupt.parquet", damaged)

	for _, tc := range []struct {
		file, msg string
	}{
		{missing, "missing required column(s) paid"},
		{wrongType, "column paid: parquet type BYTE_ARRAY, want INT64"},
		{decimal, "column paid: logical type"},
		{unsigned, "column cost: logical type"},
		{truncated, "parquet"},
		{garbage, "parquet"},
		{corrupt, ""},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			res := readAll(t, tc.file, 0)
			var fe *FileError
			if !errors.As(res.err, &fe) || fe.File != tc.file || !strings.Contains(fe.Error(), tc.msg) {
				t.Fatalf("got %v, want a *FileError for %s containing %q", res.err, tc.file, tc.msg)
			}
			t.Log(res.err)
		})
	}
}

// FuzzReadReceiptsCSV feeds arbitrary bytes to the CSV reader: it must not panic, must
// account for every row it read, and may only fail with a *FileError.
func FuzzReadReceiptsCSV(f *testing.F) {
	f.Add([]byte(testHeader + goodLine("R1") + goodLine("R2")))
	f.Add(receiptsCSV(f, sampleRows(5)))
	f.Add([]byte(testHeader + `"R,1",2025-04,138000,P1,1300000001,medical,outpatient,,1,1,0,,,,` + "\r\n" + `R2,"x` + "\n"))
	f.Add([]byte(testHeader + "R1,2025-4,1,P,1,dpc,inpatient,,1,-2,+3,,,,FALSE\n\n,,,\nR\"2,\n"))
	f.Add([]byte("paid,cost,copay,kind,setting,receipt_id,service_month,insurer_no,person_id,institution_id\n1,2,3,dental,outpatient,R,2025-12,1,2,3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &receiptSink{ctx: context.Background(), file: "fuzz.csv", b: newBatchBuilder(memory.NewGoAllocator(), 3)}
		var accepted, paidAccepted, paidRejected, rejected int64
		s.emit = func(b Batch) error {
			defer b.Record.Release()
			accepted += b.Record.NumRows()
			for _, r := range recordRows(b.Record, b.File) {
				paidAccepted += r.Paid
				if r.Line < 2 {
					t.Fatalf("source_line %d", r.Line)
				}
			}
			return nil
		}
		s.reject = func(r Reject) error {
			rejected++
			paidRejected += rules.CountedPaid(r.Paid) // a paid beyond the bound counts 0, as in the stats
			if r.Reason != BadRecord || !strings.HasPrefix(r.Source, "fuzz.csv:") || r.Detail == "" {
				t.Fatalf("bad reject %+v", r)
			}
			return nil
		}
		err := readReceiptsCSV(s, bytes.NewReader(data))
		if err == nil {
			err = s.flush()
		}
		var fe *FileError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("error %v (%T), want a *FileError", err, err)
		}
		st := s.stats
		if err != nil {
			// Rows parsed before the file turned out unreadable are not emitted.
			accepted += int64(s.b.n)
		}
		if st.Rows != accepted+rejected || st.Rejected != rejected {
			t.Fatalf("Rows %d != accepted %d + rejected %d (stats %+v)", st.Rows, accepted, rejected, st)
		}
		if err == nil && (st.PaidRead != paidAccepted+paidRejected || st.PaidRejected != paidRejected) {
			t.Fatalf("paid: stats %+v, accepted %d, rejected %d", st, paidAccepted, paidRejected)
		}
	})
}
