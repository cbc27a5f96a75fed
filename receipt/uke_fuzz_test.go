package receipt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/kougaku/batch/rules"
)

// ukeSeeds are the fuzz seeds: the public sample and the hand-made snippets of the tests.
func ukeSeeds(t testing.TB) [][]byte {
	sample, err := os.ReadFile(sampleUKE)
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{sample}
	add := func(records ...string) { seeds = append(seeds, uke(t, records...)) }
	add("UK,1,13,3,7654321,,山田歯科,202405,,01", "IR,1,13,3,7654321,,202405,03,",
		"RE,1,3112,202404,山田,2,19800101,,,20240401,1,,,02,,,,,,,,,,,,テスト,",
		"HO,06139999,１２３,４５,2,438,,,,,1000,,,", "GO,1,438,99")
	add("YK,1,13,4,2000001,山田薬局,202405,00,03",
		"RE,1,4318,202404,テスト,1,19400505,,41,13,1,1234567,山田医院,,,,,,,,,,,,,,,,,,,,,,,,,,,,,テスト",
		"HO,39131234,,１２３４５６７８,1,1005,,,,1500,,,,", "GO,1,1005,99")
	add(sampleIR, medicalRE("1", "1111", "202404", "1", "19600101", "", ""),
		medicalHO("01130012", "１", "２", "100000", "80100"), "BU,040080xx99x0xx,20240401,,", "GO,1,100000,99")
	add("IR,2,13,1,1234567,,山田医院,43102,00,03", medicalRE("1", "1122", "43101", "1", "4060618", "70", ""),
		medicalHO("  138057", "", "１０－２３", "354", ""), "GO,1,354,99")
	add(sampleIR, medicalRE("1", "1212", "202404", "1", "19800101", "", ""), medicalRE("2", "1118", "202404", "1", "19800101", "", ""),
		medicalHO("0113001", "山田", "２", "1O0", "-5"), "HO,01130012", "SN,1,01,,,,03,,")
	seeds = append(seeds, []byte("IR,1,13,1,1234567,,x,202405,02\nRE,7,1112,202404,x,1,19800101\nHO,  138057,１２,３４,1,250\n\x1a"))
	return seeds
}

// FuzzReadUKE: whatever the bytes, the reader does not panic, and when it reads the file
// every RE is accepted or rejected, the paid amounts reconcile, and what it accepts is
// well formed.
func FuzzReadUKE(f *testing.F) {
	for _, s := range ukeSeeds(f) {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, dpcName bool) {
		name := "RECEIPTC.UKE"
		if dpcName {
			name = "RECEIPTD.UKE"
		}
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer alloc.AssertSize(t, 0)
		var rows []gotRow
		var rejects []Reject
		st, err := readUKE(context.Background(), name, bytes.NewReader(data), int64(len(data)), ReadOptions{BatchRows: 7, Alloc: alloc, Warn: func(string) {}},
			func(b Batch) error {
				defer b.Record.Release()
				rows = append(rows, recordRows(b.Record, b.File)...)
				return nil
			},
			func(r Reject) error {
				rejects = append(rejects, r)
				return nil
			})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err %v: want a *FileError", err)
			}
			return
		}
		if st.Rows != int64(len(rows))+st.Rejected || int64(len(rejects)) != st.Rejected {
			t.Fatalf("stats %+v: accepted %d, rejects %d", st, len(rows), len(rejects))
		}
		var paid, paidRej int64
		for _, r := range rows {
			paid += r.Paid
			checkUKERow(t, r.Row)
		}
		for _, r := range rejects {
			paidRej += rules.CountedPaid(r.Paid) // a paid beyond the bound counts 0, as in the stats
			if r.Reason != BadRecord && r.Reason != OutOfScope {
				t.Fatalf("reject reason %s", r.Reason)
			}
			for _, s := range []string{r.ReceiptID, r.InsurerNo, r.PersonID, r.Detail} {
				if !utf8.ValidString(s) {
					t.Fatalf("reject %+v: %q is not UTF-8", r, s)
				}
			}
		}
		if st.PaidRead != paid+paidRej || st.PaidRejected != paidRej {
			t.Fatalf("stats %+v; Σ paid accepted %d, rejected %d", st, paid, paidRej)
		}
	})
}

// checkUKERow checks what an accepted UKE receipt must look like.
func checkUKERow(t *testing.T, r Row) {
	t.Helper()
	fail := func(what string) { t.Fatalf("%s: %+v", what, r) }
	tt := textRow{ColReceiptID: []byte(r.ReceiptID), ColServiceMonth: []byte(r.ServiceMonth), ColKind: []byte(r.Kind), ColSetting: []byte(r.Setting)}
	if d := checkText(&tt); d != "" {
		fail(d)
	}
	if len(r.InstitutionID) != 10 || !allDigits([]byte(r.InstitutionID)) || !strings.HasPrefix(r.ReceiptID, r.InstitutionID+"-") {
		fail("institution / receipt id")
	}
	if checkInsurerNo(r.InsurerNo) != nil {
		fail("insurer")
	}
	if r.PersonID == "" || !utf8.ValidString(r.PersonID) {
		fail("person")
	}
	for i := 0; i < len(r.PersonID); i++ {
		if c := r.PersonID[i]; c < 0x20 || c >= 0x7F {
			fail("person not ASCII")
		}
	}
	if _, err := rules.ParseDate(r.BirthDate); err != nil || (r.Sex != "1" && r.Sex != "2") {
		fail("birth date / sex")
	}
	if r.Cost < 0 || r.Copay < 0 || r.Paid < 0 || r.Paid > r.Copay || r.Cost%10 != 0 {
		fail("amounts")
	}
	if r.Kind == "pharmacy" && r.Setting != "outpatient" || r.Kind != "pharmacy" && r.PrescriberID != "" {
		fail("pharmacy")
	}
	if r.PrescriberID != "" && (len(r.PrescriberID) != 10 || !allDigits([]byte(r.PrescriberID))) {
		fail("prescriber")
	}
	switch r.Tokutei {
	case "", "chou", "chou2":
	default:
		fail("tokutei")
	}
}

// benchUKE is a 医科 file of about 40 MB: the public sample's receipts over and over, so the
// mix of records (SI, IY, CO, SY… around each RE) is a real one, ~520 bytes a receipt.
var benchUKE = sync.OnceValue(func() []byte {
	sample, err := os.ReadFile(sampleUKE)
	if err != nil {
		panic(err)
	}
	first := bytes.IndexByte(sample, '\n') + 1
	last := bytes.LastIndex(sample, []byte("GO,"))
	header, body := sample[:first], sample[first:last]
	var buf bytes.Buffer
	buf.Write(header)
	for buf.Len() < 40<<20 {
		buf.Write(body)
	}
	buf.WriteString("GO,0,0,99\r\n")
	return buf.Bytes()
})

// benchDenseUKE is the worst case for the reader: ~40 MB of receipts with nothing but the
// records it parses (RE, HO, SN) and one detail record each, ~300 bytes a receipt, as the
// synthetic generator writes them. Institutions change every few receipts (a header each).
var benchDenseUKE = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	var t testing.T
	no := 0
	for buf.Len() < 40<<20 {
		if no%4 == 0 {
			buf.WriteString("IR,1,13,1," + strconv.Itoa(1000000+no%5000000) + ",,\x83\x65\x83\x58\x83\x67,202406,00,03-0000-0000\r\n")
		}
		no++
		f := make([]string, 38)
		f[0], f[1], f[2], f[3], f[5], f[6], f[36] = "RE", strconv.Itoa(no), "1112", "202405", "1", "19800101", "ﾃｽﾄ"
		f[4] = "\x83\x65\x83\x58\x83\x67\x81\x40\x83\x5e\x83\x8d\x83\x45"
		buf.WriteString(strings.Join(f, ",") + "\r\n")
		buf.Write(sjis(&t, "HO,01130012,,１２３４５６"+strconv.Itoa(no%1000)+","+"1,"+strconv.Itoa(100+no%9000)+",,,,,,,,,\r\n"))
		buf.WriteString("SN,1,01,,,,0" + strconv.Itoa(no%7) + ",,\r\n")
		buf.WriteString("SI,11,1,111000110,,288,1,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\r\n")
	}
	buf.WriteString("GO,0,0,99\r\n")
	return buf.Bytes()
})

// BenchmarkReadUKE reads benchUKE (sample-mix) and benchDenseUKE (dense) into Arrow batches
// through the public API (from the page cache), reporting MB/s of input over wall time and
// MB per CPU-second of the process (less sensitive to a shared machine). Run with -cpu 1 for
// the per-core figure.
func BenchmarkReadUKE(b *testing.B) {
	b.Run("sample-mix", func(b *testing.B) { benchReadUKE(b, benchUKE()) })
	b.Run("dense", func(b *testing.B) { benchReadUKE(b, benchDenseUKE()) })
}

func benchReadUKE(b *testing.B, data []byte) {
	file := writeFile(b, b.TempDir(), "RECEIPTC.UKE", data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	var rows int64
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		st, err := ReadUKE(context.Background(), file, ReadOptions{}, func(bt Batch) error {
			bt.Record.Release()
			return nil
		}, nil)
		if err != nil || st.Rows == 0 {
			b.Fatal(st, err)
		}
		rows += st.Rows
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(len(data))*float64(b.N)/s/1e6, "MB/s")
	b.ReportMetric(float64(rows)/s, "receipts/s")
	b.ReportMetric(float64(len(data))*float64(b.N)/(cpuTime()-cpu0).Seconds()/1e6, "MB/cpu-s")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
