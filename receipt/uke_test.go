package receipt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/kougaku/batch/rules"
)

const sampleUKE = "../fixtures/uke/RECEIPTC_GAIRAI_SAMPLE.UKE"

// ukeResult is everything a ReadUKE call produced.
type ukeResult struct {
	readResult
	warns []string
}

// readUKEFile reads file with a checked allocator and collects rows, rejects and warnings.
func readUKEFile(t testing.TB, file string, batchRows int) ukeResult {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	var res ukeResult
	opt := ReadOptions{BatchRows: batchRows, Alloc: alloc, Warn: func(m string) { res.warns = append(res.warns, m) }}
	res.stats, res.err = ReadUKE(context.Background(), file, opt,
		func(b Batch) error {
			defer b.Record.Release()
			if !b.Record.Schema().Equal(Schema) {
				t.Fatalf("batch schema %v, want %v", b.Record.Schema(), Schema)
			}
			res.batches = append(res.batches, b.Record.NumRows())
			res.rows = append(res.rows, recordRows(b.Record, b.File)...)
			return nil
		},
		func(r Reject) error {
			res.rejects = append(res.rejects, r)
			return nil
		})
	return res
}

// readUKEBytes writes data to a file named name and reads it.
func readUKEBytes(t testing.TB, name string, data []byte) ukeResult {
	t.Helper()
	return readUKEFile(t, writeFile(t, t.TempDir(), name, data), 0)
}

// sjisRunes encodes the few non-ASCII characters the snippets use (checked against iconv
// -t CP932).
var sjisRunes = map[rune]string{
	'　': "\x81\x40", '－': "\x81\x7C", 'ー': "\x81\x5B", '、': "\x81\x41",
	'テ': "\x83\x65", 'ス': "\x83\x58", 'ト': "\x83\x67", 'ソ': "\x83\x5C",
	'山': "\x8E\x52", '田': "\x93\x63", '表': "\x95\x5C", '医': "\x88\xE3", '院': "\x89\x40",
	'歯': "\x8E\x95", '科': "\x89\xC8", '薬': "\x96\xF2", '局': "\x8B\xC7",
}

// sjis encodes s as Shift_JIS: ASCII as is, full-width digits and letters by their
// arithmetic, the rest from sjisRunes.
func sjis(t testing.TB, s string) []byte {
	var b []byte
	for _, r := range s {
		switch {
		case r < 0x80:
			b = append(b, byte(r))
		case r >= '０' && r <= '９':
			b = append(b, 0x82, byte(0x4F+r-'０'))
		case r >= 'Ａ' && r <= 'Ｚ':
			b = append(b, 0x82, byte(0x60+r-'Ａ'))
		case r >= 'ａ' && r <= 'ｚ':
			b = append(b, 0x82, byte(0x81+r-'ａ'))
		case r >= '｡' && r <= 'ﾟ': // half-width katakana: one byte
			b = append(b, byte(0xA1+r-'｡'))
		case sjisRunes[r] != "":
			b = append(b, sjisRunes[r]...)
		default:
			t.Fatalf("sjis: no encoding for %q", r)
		}
	}
	return b
}

// uke builds a file from records, encoded as Shift_JIS and ended by CRLF.
func uke(t testing.TB, records ...string) []byte {
	var b []byte
	for _, r := range records {
		b = append(b, sjis(t, r)...)
		b = append(b, '\r', '\n')
	}
	return b
}

// medicalRE is a 医科 RE record (38 fields) with the fields the batch reads.
func medicalRE(no, shubetsu, month, sex, birth, kyufu, tokki string) string {
	f := make([]string, 38)
	f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[11] = "RE", no, shubetsu, month, "山田　表", sex, birth, kyufu, tokki
	f[36] = "テスト"
	return strings.Join(f, ",")
}

// medicalHO is a 医科 HO record (15 fields).
func medicalHO(insurer, kigo, bango, points, futan string) string {
	return "HO," + insurer + "," + kigo + "," + bango + ",1," + points + ",,,,,," + futan + ",,,"
}

const sampleIR = "IR,1,13,1,1234567,,山田医院,202405,00,03-0000-0000"

func byID(rows []gotRow) map[string]gotRow {
	m := map[string]gotRow{}
	for _, r := range rows {
		m[r.ReceiptID] = r
	}
	return m
}

func checkUKEStats(t *testing.T, res ukeResult) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("ReadUKE: %v", res.err)
	}
	checkStats(t, res.readResult)
}

// TestReadUKESample reads the public 医科 sample whole. The expected values were read off the
// file itself (iconv -f CP932): e.g. RE 2 on line 32 is 1112 (本人, 入院外) with HO 01130012,
// 記号 ６４４４０７１８, 番号 ７, 276 点 and an SN with 枝番 00.
func TestReadUKESample(t *testing.T) {
	res := readUKEFile(t, sampleUKE, 10) // small batches: several are emitted
	checkUKEStats(t, res)
	if res.stats.Rows != 75 || len(res.rows) != 69 || len(res.rejects) != 6 {
		t.Fatalf("rows %d (accepted %d, rejected %d), want 75 = 69 + 6", res.stats.Rows, len(res.rows), len(res.rejects))
	}
	if len(res.batches) != 7 {
		t.Errorf("batches %v, want 7 of at most 10 rows", res.batches)
	}
	// GO says 140: the file's 69 HO and 71 KO records, which is what 総件数 counts.
	if len(res.warns) != 0 {
		t.Errorf("warnings %q, want none", res.warns)
	}
	// The 公費単独 receipts (1212): RE 4, 5, 67–70.
	wantLines := []string{"56", "62", "573", "579", "585", "591"}
	for i, rj := range res.rejects {
		if rj.Reason != OutOfScope || rj.Source != sampleUKE+":"+wantLines[i] || !strings.Contains(rj.Detail, "1212") || rj.Paid != 0 {
			t.Errorf("reject %d: %+v, want OUT_OF_SCOPE at line %s", i, rj, wantLines[i])
		}
	}
	if res.rejects[0].ReceiptID != "1210000000-1-202111-00-4" {
		t.Errorf("reject names %q", res.rejects[0].ReceiptID)
	}
	got := byID(res.rows)
	for _, w := range []gotRow{
		{Line: 2, Row: Row{ReceiptID: "1210000000-1-202111-00-1", InsurerNo: "01010016", PersonID: "1-1",
			Cost: 136420, Copay: 40930, Paid: 40930, BirthDate: "1991-11-21", Sex: "1", NameKana: "テストハンヨウ"}}, // 1122, 13642 点 × 30% = 40,926 → 40,930
		{Line: 32, Row: Row{ReceiptID: "1210000000-1-202111-00-2", InsurerNo: "01130012", PersonID: "64440718-7-00",
			Cost: 2760, Copay: 830, Paid: 830, BirthDate: "1991-01-25", Sex: "1", NameKana: "カキクケコ"}}, // 828 → 830
		{Line: 67, Row: Row{ReceiptID: "1210000000-1-202111-00-6", InsurerNo: "34130021", PersonID: "19D0001-11",
			Cost: 2880, Copay: 860, Paid: 860, BirthDate: "1956-05-05", Sex: "1", NameKana: "ミヤコゾヤヨイ"}}, // 864 → 860
		{Line: 80, Row: Row{ReceiptID: "1210000000-1-202111-00-8", InsurerNo: "34130021", PersonID: "19D0001-1",
			Cost: 6620, Copay: 1320, Paid: 1320, BirthDate: "2018-10-04", Sex: "2", NameKana: "ミヤコゾヤヨイ"}}, // 1124 未就学 20%: 1,324 → 1,320
		{Line: 90, Row: Row{ReceiptID: "1210000000-1-202111-00-9", InsurerNo: "34130021", PersonID: "19D0001-123",
			Cost: 11760, Copay: 3530, Paid: 3530, BirthDate: "2015-01-01", Sex: "1", NameKana: "ミヤコゾヤヨイテンカンシドウリョウ"}}, // 1126 家族: 3,528 → 3,530
		{Line: 132, Row: Row{ReceiptID: "1210000000-1-202111-00-15", InsurerNo: "01350016", PersonID: "11-1-03",
			Cost: 5560, Copay: 1110, Paid: 1110, BirthDate: "2018-09-09", Sex: "1", NameKana: "ミヤコゾヤヨイ"}}, // SN 枝番 03
		{Line: 563, Row: Row{ReceiptID: "1210000000-1-202111-00-66", InsurerNo: "01010016", PersonID: "1-1",
			Cost: 5710, Copay: 1140, Paid: 1140, BirthDate: "2021-11-11", Sex: "1", NameKana: "ヤギシタケン"}}, // 1114: 1,142 → 1,140
		{Line: 609, Row: Row{ReceiptID: "1210000000-1-202111-00-72", InsurerNo: "01010016", PersonID: "115-1",
			Cost: 12720, Copay: 2540, Paid: 2540, BirthDate: "2016-08-08", Sex: "2", NameKana: "ミヤコゾヤヨイ"}}, // 特記事項 26 (区ア): no tokutei
	} {
		w.ServiceMonth, w.InstitutionID, w.Kind, w.Setting = "2021-10", "1210000000", "medical", "outpatient"
		g, ok := got[w.ReceiptID]
		if !ok {
			t.Errorf("receipt %s not read", w.ReceiptID)
			continue
		}
		if g.Row != w.Row || g.Line != w.Line || g.File != sampleUKE {
			t.Errorf("receipt %s:\n got %+v line %d\nwant %+v line %d", w.ReceiptID, g.Row, g.Line, w.Row, w.Line)
		}
	}
	for _, r := range res.rows {
		if r.ServiceMonth != "2021-10" || r.InstitutionID != "1210000000" || r.Kind != "medical" || r.Setting != "outpatient" ||
			r.Tokutei != "" || r.PrescriberID != "" || r.Paid != r.Copay || r.Copay%10 != 0 || r.Cost%10 != 0 {
			t.Errorf("receipt %s: %+v", r.ReceiptID, r.Row)
		}
	}
}

// TestReadUKEDental: a 歯科 file, UK then IR (its own positions: 請求年月 UK[7] and IR[6],
// マルチボリューム UK[9]; RE 特記事項 [13], カタカナ氏名 [25]; HO 負担金額 [10]), an IR before every RE as in
// ORCA's data, and a second institution mid-file.
func TestReadUKEDental(t *testing.T) {
	re := func(no, shubetsu, birth, tokki string) string {
		f := make([]string, 27)
		f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[9], f[10], f[13] = "RE", no, shubetsu, "202404", "山田", "2", birth, "20240401", "1", tokki
		f[11], f[12] = "99", "99" // 病棟区分, 区分 in the 医科 positions of 特記事項 and beyond: must not be read as such
		f[25] = "ﾃｽﾄ"             // カタカナ氏名, in half-width as some systems write it
		return strings.Join(f, ",")
	}
	data := uke(t,
		"UK,1,13,3,7654321,,山田歯科,202405,,01",
		"IR,1,13,3,7654321,,202405,03-3123-4123,",
		re("1", "3112", "19800101", ""),
		"HO,06139999,１２３,４５,2,438,,,,,1000,,,", // 負担金額 [10] 1,000 < 1,310
		"HS,,,102400102500,5220063,,,,,,,,",
		"SS,11,1,301072810,,,,,,,,,,,,,,,,,,,,,,226,1",
		"IR,1,13,3,7654321,,202405,03-3123-4123,",
		re("2", "3116", "19900202", "02"), // 家族, 長
		"HO,06139999,１２３,４６,1,500,,,,,,,,",
		"UK,1,27,3,0000011,,表歯科,202405,,00",
		"IR,1,27,3,11,,202405,06-0000-0000,", // a 医療機関コード without its leading zeros
		re("1", "3112", "19800101", ""),
		"HO,06139999,１２３,４５,1,100,,,,,,,,",
		"GO,3,1038,99",
	)
	res := readUKEBytes(t, "RECEIPTC.UKE", data)
	checkUKEStats(t, res)
	if len(res.rejects) != 0 || len(res.warns) != 0 {
		t.Fatalf("rejects %+v, warnings %q", res.rejects, res.warns)
	}
	want := []gotRow{
		{Line: 3, Row: Row{ReceiptID: "1337654321-1-202405-01-1", ServiceMonth: "2024-04", InsurerNo: "06139999", PersonID: "123-45",
			InstitutionID: "1337654321", Kind: "dental", Setting: "outpatient", Cost: 4380, Copay: 1310, Paid: 1000, BirthDate: "1980-01-01", Sex: "2", NameKana: "ﾃｽﾄ"}},
		{Line: 8, Row: Row{ReceiptID: "1337654321-1-202405-01-2", ServiceMonth: "2024-04", InsurerNo: "06139999", PersonID: "123-46",
			InstitutionID: "1337654321", Kind: "dental", Setting: "outpatient", Cost: 5000, Copay: 1500, Paid: 1500, Tokutei: "chou", BirthDate: "1990-02-02", Sex: "2", NameKana: "ﾃｽﾄ"}},
		{Line: 12, Row: Row{ReceiptID: "2730000011-1-202405-00-1", ServiceMonth: "2024-04", InsurerNo: "06139999", PersonID: "123-45",
			InstitutionID: "2730000011", Kind: "dental", Setting: "outpatient", Cost: 1000, Copay: 300, Paid: 300, BirthDate: "1980-01-01", Sex: "2", NameKana: "ﾃｽﾄ"}},
	}
	checkRowsLines(t, res.rows, want)
}

// checkRowsLines compares rows and their source lines.
func checkRowsLines(t *testing.T, got, want []gotRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Row != want[i].Row || got[i].Line != want[i].Line {
			t.Errorf("row %d:\n got %+v line %d\nwant %+v line %d", i, got[i].Row, got[i].Line, want[i].Row, want[i].Line)
		}
	}
}

// TestReadUKEPharmacy: a 調剤 file (YK header: 請求年月 [6], マルチボリューム [7]; RE 特記事項
// [8], the prescribing institution at [9]–[11]; HO 負担金額 [9]).
func TestReadUKEPharmacy(t *testing.T) {
	re := func(no, shubetsu, birth, kyufu, tokki, pref, tensu, code string) string {
		f := make([]string, 42)
		f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8] = "RE", no, shubetsu, "202404", "テスト", "1", birth, kyufu, tokki
		f[9], f[10], f[11], f[12] = pref, tensu, code, "山田医院"
		f[41] = "テスト"
		return strings.Join(f, ",")
	}
	ho := func(insurer, bango, points, futan string) string {
		return "HO," + insurer + ",," + bango + ",1," + points + ",,,," + futan + ",,,,"
	}
	data := uke(t,
		"YK,1,13,4,2000001,山田薬局,202405,00,03-0000-0000",
		re("1", "4112", "19800101", "", "", "13", "1", "1234567"),
		ho("01130012", "１２３４５６７８", "1001", ""),                      // 10,010 × 30% = 3,003 → 3,000
		re("2", "4318", "19400505", "", "41", "13", "1", "7654321"), // 後期 一般Ⅱ (区カ): 20%
		ho("39131234", "１２３４５６７８", "1005", "1500"),                  // 10,050 × 20% = 2,010; 負担金額 1,500
		re("3", "4318", "19400505", "", "", "", "", ""),             // 後期 一般: 10%, no prescriber recorded
		ho("39131234", "１２３４５６７８", "1005", ""),
		re("4", "4116", "20000101", "70", "", "13", "3", "0000011"), // 給付割合 70: 30%; a dental prescriber
		ho("  138057", "１２－３４", "995", ""),                          // 9,950 × 30% = 2,985 → 2,990
		"GO,4,4006,99",
	)
	res := readUKEBytes(t, "RECEIPTY.CYO", data)
	checkUKEStats(t, res)
	if len(res.rejects) != 0 || len(res.warns) != 0 {
		t.Fatalf("rejects %+v, warnings %q", res.rejects, res.warns)
	}
	base := Row{ServiceMonth: "2024-04", InstitutionID: "1342000001", Kind: "pharmacy", Setting: "outpatient"}
	row := func(id, insurer, person, presc string, cost, copay, paid int64, birth string) Row {
		r := base
		r.ReceiptID, r.InsurerNo, r.PersonID, r.PrescriberID = "1342000001-1-202405-00-"+id, insurer, person, presc
		r.Cost, r.Copay, r.Paid, r.BirthDate, r.Sex, r.NameKana = cost, copay, paid, birth, "1", "テスト"
		return r
	}
	checkRowsLines(t, res.rows, []gotRow{
		{Line: 2, Row: row("1", "01130012", "12345678", "1311234567", 10010, 3000, 3000, "1980-01-01")},
		{Line: 4, Row: row("2", "39131234", "12345678", "1317654321", 10050, 2010, 1500, "1940-05-05")},
		{Line: 6, Row: row("3", "39131234", "12345678", "", 10050, 1010, 1010, "1940-05-05")}, // 1,005 → 1,010
		{Line: 8, Row: row("4", "138057", "12-34", "1330000011", 9950, 2990, 2990, "2000-01-01")},
	})
}

// TestReadUKEDPC: kind dpc for a receipt with BU or SB records, and for every 医科 receipt of
// a file named RECEIPTD*.
func TestReadUKEDPC(t *testing.T) {
	records := []string{
		sampleIR,
		medicalRE("1", "1111", "202404", "1", "19600101", "", ""), // 本人 入院
		medicalHO("01130012", "１", "２", "100000", "80100"),
		"BU,040080xx99x0xx,20240401,,",
		"SB,1,8842311,,",
		medicalRE("2", "1111", "202404", "1", "19600101", "", ""),
		medicalHO("01130012", "１", "２", "5000", ""),
		"GO,2,105000,99",
	}
	res := readUKEBytes(t, "RECEIPTC.UKE", uke(t, records...))
	checkUKEStats(t, res)
	if len(res.rows) != 2 || res.rows[0].Kind != "dpc" || res.rows[1].Kind != "medical" ||
		res.rows[0].Setting != "inpatient" || res.rows[0].Paid != 80100 || res.rows[0].Copay != 300000 {
		t.Fatalf("rows %+v: want a dpc inpatient receipt (paid 80,100 of copay 300,000) and a medical one", res.rows)
	}
	res = readUKEBytes(t, "receiptd.uke", uke(t, records...))
	checkUKEStats(t, res)
	if len(res.rows) != 2 || res.rows[0].Kind != "dpc" || res.rows[1].Kind != "dpc" {
		t.Fatalf("rows %+v: want two dpc receipts in a RECEIPTD file", res.rows)
	}
}

// TestReadUKEWareki: 和暦 dates (the editions before 令和2), told from 西暦 by their length.
func TestReadUKEWareki(t *testing.T) {
	data := uke(t,
		"IR,2,13,1,1234567,,山田医院,43102,00,03",
		medicalRE("1", "1122", "43101", "1", "4060618", "70", ""), // 平成31年1月, 平成6年6月18日
		medicalHO("  138057", "", "１０－２３", "354", ""),             // 国保: 3,540 × (100−70)% = 1,062 → 1,060
		medicalRE("2", "1318", "43101", "2", "3171224", "", "29"), // 後期 一般 10%, born 昭和17年12月24日
		medicalHO("39132011", "", "12345678", "1004", ""),
		"GO,2,1358,99",
	)
	res := readUKEBytes(t, "RECEIPTC.UKE", data)
	checkUKEStats(t, res)
	base := Row{ServiceMonth: "2019-01", InstitutionID: "1311234567", Kind: "medical", Setting: "outpatient", NameKana: "テスト"}
	a, b := base, base
	a.ReceiptID, a.InsurerNo, a.PersonID, a.Cost, a.Copay, a.Paid, a.BirthDate, a.Sex = "1311234567-2-201902-00-1", "138057", "10-23", 3540, 1060, 1060, "1994-06-18", "1"
	b.ReceiptID, b.InsurerNo, b.PersonID, b.Cost, b.Copay, b.Paid, b.BirthDate, b.Sex = "1311234567-2-201902-00-2", "39132011", "12345678", 10040, 1000, 1000, "1942-12-24", "2"
	checkRowsLines(t, res.rows, []gotRow{{Line: 2, Row: a}, {Line: 4, Row: b}})
}

// TestReadUKELayoutTolerance: LF line ends, short records, 0x1A at the end, blank lines, a
// multi-volume header, a 6-digit 保険者番号 with its leading spaces, unknown records.
func TestReadUKELayoutTolerance(t *testing.T) {
	lines := []string{
		"IR,1,13,1,1234567,,山田医院,202405,02,03", // volume 02
		"",
		"RE,7,1112,202404,テスト,1,19800101", // cut short after 生年月日
		"HO,  138057,１２,３４,1,250",         // cut short after 合計点数
		"XX,whatever,comes",
		"SI,11,1,111000110,,288,1",
		"GO,1,250,99",
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"lf", append(bytes.Join(slicesOf(t, lines), []byte("\n")), '\n', 0x1A)},
		{"crlf-eof-line", append(uke(t, lines...), 0x1A)},
		{"no-final-newline", append(bytes.Join(slicesOf(t, lines), []byte("\r\n")), 0x1A)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readUKEBytes(t, "RECEIPTC.UKE", tc.data)
			checkUKEStats(t, res)
			if len(res.warns) != 0 || len(res.rejects) != 0 {
				t.Fatalf("warnings %q, rejects %+v", res.warns, res.rejects)
			}
			want := Row{ReceiptID: "1311234567-1-202405-02-7", ServiceMonth: "2024-04", InsurerNo: "138057", PersonID: "12-34",
				InstitutionID: "1311234567", Kind: "medical", Setting: "outpatient", Cost: 2500, Copay: 750, Paid: 750,
				BirthDate: "1980-01-01", Sex: "1"}
			checkRowsLines(t, res.rows, []gotRow{{Line: 3, Row: want}})
		})
	}
}

func slicesOf(t testing.TB, lines []string) [][]byte {
	var out [][]byte
	for _, l := range lines {
		out = append(out, sjis(t, l))
	}
	return out
}

// TestReadUKEFutan: HO 負担金額 is paid; above the derived copay it raises the copay.
func TestReadUKEFutan(t *testing.T) {
	data := uke(t, sampleIR,
		medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
		medicalHO("01130012", "１", "２", "100000", "87430"), // copay 300,000, paid 87,430
		medicalRE("2", "1112", "202404", "1", "19800101", "", ""),
		medicalHO("01130012", "１", "２", "1000", "3500"), // copay 3,000 < 負担金額 3,500
		medicalRE("3", "1112", "202404", "1", "19800101", "", "16"),
		medicalHO("01130012", "１", "２", "100000", "20000"), // 長２
		"GO,3,201000,99",
	)
	res := readUKEBytes(t, "RECEIPTC.UKE", data)
	checkUKEStats(t, res)
	if len(res.rows) != 3 {
		t.Fatalf("rows %+v", res.rows)
	}
	for i, w := range []struct {
		copay, paid int64
		tokutei     string
	}{{300000, 87430, ""}, {3500, 3500, ""}, {300000, 20000, "chou2"}} {
		if r := res.rows[i]; r.Copay != w.copay || r.Paid != w.paid || r.Tokutei != w.tokutei {
			t.Errorf("receipt %d: copay %d paid %d tokutei %q, want %d %d %q", i+1, r.Copay, r.Paid, r.Tokutei, w.copay, w.paid, w.tokutei)
		}
	}
	if res.stats.PaidRead != 87430+3500+20000 {
		t.Errorf("PaidRead %d", res.stats.PaidRead)
	}
}

// TestReadUKERejects: every way a receipt is turned away, with the line of the record at
// fault and what it says.
func TestReadUKERejects(t *testing.T) {
	good := medicalHO("01130012", "１", "２", "100", "")
	for _, tc := range []struct {
		name    string
		records []string
		reason  string
		line    int64
		detail  string
		paid    int64
	}{
		{"kouhi-only", []string{medicalRE("1", "1212", "202404", "1", "19800101", "", ""), "KO,12143210,0000000,,2,431,0,,,,,"},
			OutOfScope, 2, "公費単独", 0},
		{"no-HO", []string{medicalRE("1", "1112", "202404", "1", "19800101", "", "")}, BadRecord, 2, "without an HO", 0},
		{"bad-number", []string{medicalRE("1a", "1112", "202404", "1", "19800101", "", ""), good}, BadRecord, 2, "レセプト番号", 0},
		{"bad-shubetsu", []string{medicalRE("1", "9112", "202404", "1", "19800101", "", ""), good}, BadRecord, 2, "レセプト種別", 0},
		{"bad-month", []string{medicalRE("1", "1112", "202413", "1", "19800101", "", ""), good}, BadRecord, 2, "診療年月", 0},
		{"bad-sex", []string{medicalRE("1", "1112", "202404", "3", "19800101", "", ""), good}, BadRecord, 2, "男女区分", 0},
		{"bad-birth", []string{medicalRE("1", "1112", "202404", "1", "19800230", "", ""), good}, BadRecord, 2, "生年月日", 0},
		{"bad-era", []string{medicalRE("1", "1112", "202404", "1", "9800101", "", ""), good}, BadRecord, 2, "生年月日", 0},
		{"bad-kyufu", []string{medicalRE("1", "1112", "202404", "1", "19800101", "170", ""), good}, BadRecord, 2, "給付割合", 0},
		{"bad-tokki", []string{medicalRE("1", "1112", "202404", "1", "19800101", "", "021"), good}, BadRecord, 2, "特記事項", 0},
		{"elderly-not-70", []string{medicalRE("1", "1118", "202404", "1", "19800101", "", ""), good}, BadRecord, 2, "not 70–74", 0},
		{"bad-insurer", []string{medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
			medicalHO("0113001", "１", "２", "100", "50")}, BadRecord, 3, "保険者番号", 50},
		{"bad-points", []string{medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
			medicalHO("01130012", "１", "２", "1O0", "")}, BadRecord, 3, "合計点数", 0},
		{"bad-futan", []string{medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
			medicalHO("01130012", "１", "２", "100", "-5")}, BadRecord, 3, "負担金額", 0},
		{"kanji-kigo", []string{medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
			medicalHO("01130012", "山田", "２", "100", "")}, BadRecord, 3, "記号", 0},
		{"no-person", []string{medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
			medicalHO("01130012", "", "　", "100", "")}, BadRecord, 3, "both empty", 0},
		{"second-HO", []string{medicalRE("1", "1112", "202404", "1", "19800101", "", ""), good, good}, BadRecord, 4, "second HO", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			records := append([]string{sampleIR}, tc.records...)
			records = append(records, medicalRE("99", "1112", "202404", "1", "19800101", "", ""), good, "GO,2,200,99")
			res := readUKEBytes(t, "RECEIPTC.UKE", uke(t, records...))
			checkUKEStats(t, res)
			if len(res.rows) != 1 || res.rows[0].ReceiptID != "1311234567-1-202405-00-99" {
				t.Errorf("rows %+v, want the good receipt after the bad one", res.rows)
			}
			if len(res.rejects) != 1 {
				t.Fatalf("rejects %+v, want one", res.rejects)
			}
			rj := res.rejects[0]
			if rj.Reason != tc.reason || !strings.HasSuffix(rj.Source, ":"+strconv.FormatInt(tc.line, 10)) || !strings.Contains(rj.Detail, tc.detail) || rj.Paid != tc.paid {
				t.Errorf("reject %+v, want %s at line %d about %q, paid %d", rj, tc.reason, tc.line, tc.detail, tc.paid)
			}
			if tc.name != "bad-number" && tc.name != "bad-shubetsu" && !strings.HasPrefix(rj.ReceiptID, "1311234567-1-202405-00-") {
				t.Errorf("reject names receipt %q", rj.ReceiptID)
			}
		})
	}
}

// TestReadUKEBadHeader: a header that cannot name receipts rejects every receipt under it,
// pointing at the header; the next good header recovers.
func TestReadUKEBadHeader(t *testing.T) {
	data := uke(t,
		"IR,1,13,1,12X4567,,山田医院,202405,00,03",
		medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
		medicalHO("01130012", "１", "２", "100", ""),
		medicalRE("2", "1112", "202404", "1", "19800101", "", ""),
		medicalHO("01130012", "１", "２", "100", ""),
		sampleIR,
		medicalRE("3", "1112", "202404", "1", "19800101", "", ""),
		medicalHO("01130012", "１", "２", "100", ""),
		"GO,3,300,99",
	)
	res := readUKEBytes(t, "RECEIPTC.UKE", data)
	checkUKEStats(t, res)
	if len(res.rows) != 1 || len(res.rejects) != 2 {
		t.Fatalf("rows %+v rejects %+v", res.rows, res.rejects)
	}
	for _, rj := range res.rejects {
		if rj.Reason != BadRecord || !strings.HasSuffix(rj.Source, ":1") || !strings.Contains(rj.Detail, "医療機関コード") || rj.InsurerNo != "01130012" {
			t.Errorf("reject %+v", rj)
		}
	}
}

// TestReadUKEFileErrors: what is not a UKE file at all.
func TestReadUKEFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		line int64
	}{
		{"csv", []byte("receipt_id,service_month\nR1,2024-04\n"), 1},
		{"detail-first", uke(t, medicalRE("1", "1112", "202404", "1", "19800101", "", "")), 1},
		{"empty", nil, 0},
		{"blank-lines", []byte("\r\n\r\n\x1a"), 0},
		{"binary", []byte("\x00\x01\x02"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readUKEBytes(t, "X.UKE", tc.data)
			var fe *FileError
			if !errors.As(res.err, &fe) || fe.Line != tc.line || !strings.Contains(fe.Error(), "not a UKE file") {
				t.Fatalf("err %v, want a *FileError at line %d", res.err, tc.line)
			}
			if res.stats.Rows != 0 || len(res.rows) != 0 {
				t.Errorf("read %+v", res.stats)
			}
		})
	}
	_, err := ReadUKE(context.Background(), filepath.Join(t.TempDir(), "missing.UKE"), ReadOptions{}, nil, nil)
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err %v", err)
	}
}

// TestReadUKEWarnings: GO agreeing says nothing; a missing GO and records outside a receipt
// are heard of.
func TestReadUKEWarnings(t *testing.T) {
	body := []string{sampleIR,
		"HO,01130012,１,２,1,100,,,,,,,,,", // before any RE
		medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
		medicalHO("01130012", "１", "２", "100", ""),
	}
	res := readUKEBytes(t, "RECEIPTC.UKE", uke(t, body...))
	checkUKEStats(t, res)
	if len(res.rows) != 1 || len(res.warns) != 2 || !strings.Contains(res.warns[0], ":2: HO record outside") ||
		!strings.Contains(res.warns[1], "no GO record") {
		t.Errorf("rows %d, warnings %q", len(res.rows), res.warns)
	}
	res = readUKEBytes(t, "RECEIPTC.UKE", uke(t, sampleIR, body[2], body[3], "GO,1,100,99"))
	checkUKEStats(t, res)
	if len(res.warns) != 0 {
		t.Errorf("warnings %q for an agreeing GO", res.warns)
	}
}

// TestIssue17_9_GOCountsInsuranceAndKohiParts: GO 総件数 counts HO and KO records (each
// insurance and 公費 part), not RE records. Three receipts: one 医保 alone, one 医保 with two
// 公費 (1132), one 公費単独 (1212, KO only): 1 + 3 + 1 = 5 HO and KO records, 3 RE records.
func TestIssue17_9_GOCountsInsuranceAndKohiParts(t *testing.T) {
	records := func(goCount string) []byte {
		return uke(t, sampleIR,
			medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
			medicalHO("01130012", "１", "２", "100", ""),
			medicalRE("2", "1132", "202404", "2", "19700101", "", ""),
			medicalHO("01130012", "１", "３", "200", ""),
			"KO,21130013,1234567,,1,200,0,,,,,",
			"KO,54130014,2345678,,1,200,0,,,,,",
			medicalRE("3", "1212", "202404", "1", "19800101", "", ""),
			"KO,12143210,0000000,,2,431,0,,,,,",
			"GO,"+goCount+",300,99")
	}
	for _, tc := range []struct {
		name, goCount string
		warn          string // "" = no warning
	}{
		{"HO+KO", "5", ""},
		{"RE", "3", "RECEIPTC.UKE:10: GO 総件数 says 3, but the file holds 5 HO and KO records"},
		{"HO only", "2", "GO 総件数 says 2, but the file holds 5 HO and KO records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readUKEBytes(t, "RECEIPTC.UKE", records(tc.goCount))
			checkUKEStats(t, res)
			if res.stats.Rows != 3 || len(res.rows) != 2 || len(res.rejects) != 1 {
				t.Fatalf("rows %d (accepted %d, rejected %d), want 3 = 2 + 1", res.stats.Rows, len(res.rows), len(res.rejects))
			}
			switch {
			case tc.warn == "" && len(res.warns) != 0:
				t.Errorf("warnings %q, want none", res.warns)
			case tc.warn != "" && (len(res.warns) != 1 || !strings.Contains(res.warns[0], tc.warn)):
				t.Errorf("warnings %q, want one containing %q", res.warns, tc.warn)
			}
		})
	}
	// The count starts again after each GO: two volumes in one file, each with its own GO.
	two := append(records("5"), records("5")...)
	if res := readUKEBytes(t, "RECEIPTC.UKE", two); len(res.warns) != 0 {
		t.Errorf("two volumes: warnings %q, want none", res.warns)
	}
}

// TestReadUKECancel: a done context stops the read.
func TestReadUKECancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadUKE(ctx, sampleUKE, ReadOptions{}, func(b Batch) error { b.Record.Release(); return nil }, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	// An emit error ends the read with that error.
	boom := errors.New("boom")
	if _, err := ReadUKE(context.Background(), sampleUKE, ReadOptions{BatchRows: 5},
		func(b Batch) error { b.Record.Release(); return boom }, nil); !errors.Is(err, boom) {
		t.Errorf("err %v, want the emit error", err)
	}
}

func TestExpandUKEPaths(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.cyo", "a.UKE", "c.csv", "d.uke", "e.Uke.tmp", "RECEIPTY.CYO"} {
		writeFile(t, dir, n, nil)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.UKE"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.UKE"), filepath.Join(dir, "link.UKE")); err != nil {
		t.Fatal(err)
	}
	got, err := ExpandUKEPaths([]string{dir, filepath.Join(dir, "c.csv"), filepath.Join(dir, "d.uke")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RECEIPTY.CYO", "a.UKE", "b.cyo", "d.uke", "c.csv"} // link.UKE is a.UKE again
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if !slices.Equal(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
	if _, err := ExpandUKEPaths([]string{filepath.Join(dir, "nope")}); err == nil {
		t.Error("a missing path was accepted")
	}
}

// TestCopayPercent covers every branch of the rate a receipt implies.
func TestCopayPercent(t *testing.T) {
	m := rules.MonthOf(2024, 5)
	d := func(y, mo, day int) rules.Date { return rules.Date{Year: y, Month: mo, Day: day} }
	for _, c := range []struct {
		name      string
		insurance byte
		patient   byte
		kyufu     int
		kuKa      bool
		birth     rules.Date
		want      int64
	}{
		{"本人 入院外", '1', '2', -1, false, d(1980, 1, 1), 30},
		{"本人 入院", '1', '1', -1, false, d(1980, 1, 1), 30},
		{"家族", '1', '6', -1, false, d(1980, 1, 1), 30},
		{"未就学 入院外", '1', '4', -1, false, d(2021, 1, 1), 20},
		{"未就学 入院", '1', '3', -1, false, d(2021, 1, 1), 20},
		{"70–74 一般", '1', '8', -1, false, d(1952, 3, 10), 20},
		{"70–74 一般, 75th birthday later this month", '1', '7', -1, false, d(1949, 5, 20), 20},
		{"70 from the birthday month, born on the 1st", '1', '8', -1, false, d(1954, 5, 1), 20},
		{"7割 (現役並み)", '1', '0', -1, false, d(1952, 3, 10), 30},
		{"7割 入院", '1', '9', -1, false, d(1952, 3, 10), 30},
		{"後期 一般", '3', '8', -1, false, d(1940, 1, 1), 10},
		{"後期 一般Ⅱ (区カ)", '3', '8', -1, true, d(1940, 1, 1), 20},
		{"後期 現役並み", '3', '0', -1, false, d(1940, 1, 1), 30},
		{"後期 障害認定, under 75", '3', '7', -1, false, d(1958, 1, 1), 10},
		{"退職者 本人", '4', '2', -1, false, d(1960, 1, 1), 30},
		{"給付割合 70", '1', '2', 70, false, d(1980, 1, 1), 30},
		{"給付割合 80 overrides 本人", '1', '2', 80, false, d(1980, 1, 1), 20},
		{"給付割合 for a 7/8 receipt of a 76-year-old", '1', '8', 80, false, d(1948, 1, 1), 20},
	} {
		got, detail := copayPercent(rateInput{Insurance: c.insurance, Patient: c.patient, Kyufu: c.kyufu, KuKa: c.kuKa, Birth: c.birth, Month: m})
		if got != c.want || detail != "" {
			t.Errorf("%s: %d%% (%q), want %d%%", c.name, got, detail, c.want)
		}
	}
	for _, c := range []struct {
		name  string
		birth rules.Date
	}{
		{"under 70", d(1980, 1, 1)},
		{"70 this month, not yet 70+", d(1954, 5, 2)},
		{"75 on the 1st of the month", d(1949, 5, 1)},
		{"76", d(1948, 1, 1)},
	} {
		if got, detail := copayPercent(rateInput{Insurance: '1', Patient: '8', Kyufu: -1, Birth: c.birth, Month: m}); detail == "" {
			t.Errorf("高齢受給者 outside 後期, %s: %d%%, want no rate", c.name, got)
		}
	}
}

func TestCopayOfRounding(t *testing.T) {
	for _, c := range []struct{ points, pct, want int64 }{
		{1234, 30, 3700}, // 3,702 → 3,700
		{1235, 30, 3710}, // 3,705 → 3,710: half up
		{1, 10, 0},       // 1 → 0
		{5, 10, 10},      // 5 → 10
		{1005, 10, 1010}, // 1,005 → 1,010
		{100000, 20, 200000},
		{333, 25, 830}, // 832.5 → 830
		{338, 25, 850}, // 845 → 850
		{0, 30, 0},
	} {
		if got := copayOf(c.points, c.pct); got != c.want {
			t.Errorf("copayOf(%d, %d) = %d, want %d", c.points, c.pct, got, c.want)
		}
	}
}

func TestUKEDate(t *testing.T) {
	for _, c := range []struct {
		in      string
		withDay bool
		want    string // "" = invalid
	}{
		{"202110", false, "2021-10-01"},
		{"43101", false, "2019-01-01"},
		{"50105", false, "2019-05-01"}, // 令和元年5月
		{"20240229", true, "2024-02-29"},
		{"20230229", true, ""},
		{"3171224", true, "1942-12-24"},
		{"1450101", true, "1912-01-01"}, // 明治45年
		{"2150101", true, "1926-01-01"}, // 大正15年
		{" 202110", false, "2021-10-01"},
		{"0100101", true, ""}, // era 0
		{"6010101", true, ""}, // era 6
		{"4000101", true, ""}, // year 00
		{"202100", false, ""},
		{"2021100", false, ""},
		{"２０２１１０", false, ""},
		{"", false, ""},
	} {
		d, ok := ukeDate([]byte(c.in), c.withDay)
		got := ""
		if ok {
			got = d.String()
		}
		if got != c.want {
			t.Errorf("ukeDate(%q, %v) = %q, want %q", c.in, c.withDay, got, c.want)
		}
	}
}

func TestFoldID(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"１９Ｄ０００１", "19D0001", true},
		{"ａｂｃ１２", "abc12", true},
		{"１０－２３", "10-23", true},
		{"１０ー２３", "10-23", true},
		{"　１２　３　", "12 3", true},
		{" 12 ", "12", true},
		{"AB-12", "AB-12", true},
		{"", "", true},
		{"　", "", true},
		{"山田", "", false},
		{"テスト", "", false},
	} {
		got, ok := foldID([]byte("x"), sjis(t, c.in))
		if ok != c.ok || (ok && string(got) != "x"+c.want) || (!ok && string(got) != "x") {
			t.Errorf("foldID(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if _, ok := foldID(nil, []byte{0x82}); ok {
		t.Error("a lone lead byte folded")
	}
}

// TestUKERowsAreUTF8: every string a reader emits is valid UTF-8 (Arrow's string type).
func TestUKERowsAreUTF8(t *testing.T) {
	res := readUKEFile(t, sampleUKE, 0)
	for _, r := range res.rows {
		for _, s := range []string{r.ReceiptID, r.PersonID, r.InsurerNo, r.BirthDate, r.Sex} {
			if !utf8.ValidString(s) {
				t.Errorf("receipt %s: %q is not UTF-8", r.ReceiptID, s)
			}
		}
	}
}

// TestIssue18_UKEReceiptIDsUniqueAcrossPayers: one institution's 社保 file (IR 審査支払機関 1)
// and 国保 file (2) number their RE from 1 alike; read together, their receipt ids differ,
// each carrying its 審査支払機関. A header whose 審査支払機関 is not one digit names no receipt.
func TestIssue18_UKEReceiptIDsUniqueAcrossPayers(t *testing.T) {
	file := func(payer, insurer string) []byte {
		return uke(t,
			"IR,"+payer+",13,1,1234567,,山田医院,202405,00,03",
			medicalRE("1", "1112", "202404", "1", "19800101", "", ""),
			medicalHO(insurer, "１", "２", "100", ""),
			medicalRE("2", "1112", "202404", "1", "19800101", "", ""),
			medicalHO(insurer, "１", "３", "100", ""),
			"GO,2,200,99")
	}
	shaho := readUKEBytes(t, "RECEIPTC.UKE", file("1", "01130012"))
	kokuho := readUKEBytes(t, "RECEIPTC.UKE", file("2", "  138057"))
	seen := map[string]bool{}
	for _, res := range []ukeResult{shaho, kokuho} {
		checkUKEStats(t, res)
		for _, r := range res.rows {
			if seen[r.ReceiptID] {
				t.Errorf("receipt id %s comes from both files", r.ReceiptID)
			}
			seen[r.ReceiptID] = true
		}
	}
	want := map[string]bool{"1311234567-1-202405-00-1": true, "1311234567-1-202405-00-2": true,
		"1311234567-2-202405-00-1": true, "1311234567-2-202405-00-2": true}
	if len(seen) != 4 || !seen["1311234567-1-202405-00-1"] || !seen["1311234567-2-202405-00-2"] {
		t.Errorf("ids %v, want %v", seen, want)
	}
	bad := readUKEBytes(t, "RECEIPTC.UKE", file("X", "01130012"))
	if len(bad.rows) != 0 || len(bad.rejects) != 2 || !strings.Contains(bad.rejects[0].Detail, "審査支払機関") {
		t.Errorf("a header with 審査支払機関 X: rows %+v rejects %+v", bad.rows, bad.rejects)
	}
}
