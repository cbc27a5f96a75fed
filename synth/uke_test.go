package synth

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// ukeConfig is a small population over two months, faults on, in both formats.
var ukeConfig = Config{Households: 20_000, Month: rules.MonthOf(2024, 9), Months: 2, Seed: 5, Faults: true,
	FilesPerMonth: 2, Format: FormatUKE}

// TestUKEMatchesParquet: ReadUKE over a month's UKE files gives exactly the Parquet receipts
// (as a multiset: the files group receipts differently), with nothing rejected or warned of.
func TestUKEMatchesParquet(t *testing.T) {
	cfg := ukeConfig
	cfg.Out = filepath.Join(t.TempDir(), "out")
	d, err := generateAndRead(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var features ukeFeatures
	var faults int
	for k, want := range d.receipts {
		month := (cfg.Month + rules.Month(k)).String()
		files, err := receipt.ExpandUKEPaths([]string{filepath.Join(cfg.Out, UKEDir, month)})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 2*ukeMedicalGroups || len(files) > cfg.FilesPerMonth*ukeGroups {
			t.Errorf("%s: %d UKE files, want at most %d", month, len(files), cfg.FilesPerMonth*ukeGroups)
		}
		var got []receipt.Row
		var read int64
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			features.scan(data)
			rows, st := readUKEFile(t, f)
			got = append(got, rows...)
			read += st.Rows
		}
		if read != int64(len(want)) || len(got) != len(want) {
			t.Fatalf("%s: UKE %d receipts (%d accepted), Parquet %d", month, read, len(got), len(want))
		}
		byID := map[string]receipt.Row{}
		for _, r := range want {
			byID[r.ReceiptID] = r
		}
		for _, g := range got {
			w, ok := byID[g.ReceiptID]
			if !ok {
				t.Fatalf("%s: UKE receipt %s not in Parquet (or twice)", month, g.ReceiptID)
			}
			if g != w {
				t.Fatalf("%s: receipt %s differs:\n UKE     %+v\n Parquet %+v", month, g.ReceiptID, g, w)
			}
			delete(byID, g.ReceiptID)
			if w.ServiceMonth != month || w.Copay > w.Cost || strings.HasSuffix(w.PersonID, "-99") {
				faults++
			}
			// A paid below the copay can only come from a recorded HO 負担金額.
			features.Futan = features.Futan || g.Paid < g.Copay
		}
	}
	if faults == 0 {
		t.Error("no faulty receipt went through the UKE files")
	}
	t.Logf("%d faulty receipts; features %+v", faults, features)
	// What the files must have exercised.
	if !features.all() {
		t.Errorf("UKE features seen: %+v, want each", features)
	}
}

// ukeFeatures records which of the format's corners the generated files use.
type ukeFeatures struct {
	UK, YK, IR, SN, BU, FullWidth, PaddedInsurer, Futan, Kyufu, KuKa, Chou, Chou2, Kouki, Inpatient bool
}

func (f *ukeFeatures) scan(data []byte) {
	for _, line := range bytes.Split(data, []byte("\r\n")) {
		fs := bytes.Split(line, []byte(","))
		switch string(fs[0]) {
		case "UK":
			f.UK = true
		case "YK":
			f.YK = true
		case "IR":
			f.IR = true
		case "SN":
			f.SN = true
		case "BU":
			f.BU = true
		case "RE":
			sb := fs[2]
			f.Kouki = f.Kouki || sb[1] == '3'
			f.Inpatient = f.Inpatient || (sb[0] == '1' && (sb[3]-'0')%2 == 1)
			f.Kyufu = f.Kyufu || len(fs[7]) > 0
			tk := fs[11]
			switch sb[0] {
			case '3':
				tk = fs[13]
			case '4':
				tk = fs[8]
			}
			f.KuKa = f.KuKa || bytes.Contains(tk, []byte("41"))
			f.Chou = f.Chou || bytes.HasPrefix(tk, []byte("02"))
			f.Chou2 = f.Chou2 || bytes.HasPrefix(tk, []byte("16"))
		case "HO":
			f.PaddedInsurer = f.PaddedInsurer || bytes.HasPrefix(fs[1], []byte("  "))
			f.FullWidth = f.FullWidth || bytes.Contains(fs[3], []byte{0x82})
		}
	}
}

func (f *ukeFeatures) all() bool {
	return f.UK && f.YK && f.IR && f.SN && f.BU && f.FullWidth && f.PaddedInsurer && f.Futan && f.Kyufu && f.KuKa &&
		f.Chou && f.Chou2 && f.Kouki && f.Inpatient
}

// rowsOf decodes a record of receipt.Schema into rows.
func rowsOf(rec arrow.Record) []receipt.Row {
	str := func(c int) *array.String { return rec.Column(c).(*array.String) }
	i64 := func(c int) *array.Int64 { return rec.Column(c).(*array.Int64) }
	out := make([]receipt.Row, rec.NumRows())
	for i := range out {
		out[i] = receipt.Row{
			ReceiptID:     str(receipt.ColReceiptID).Value(i),
			ServiceMonth:  str(receipt.ColServiceMonth).Value(i),
			InsurerNo:     str(receipt.ColInsurerNo).Value(i),
			PersonID:      str(receipt.ColPersonID).Value(i),
			InstitutionID: str(receipt.ColInstitutionID).Value(i),
			Kind:          str(receipt.ColKind).Value(i),
			Setting:       str(receipt.ColSetting).Value(i),
			PrescriberID:  str(receipt.ColPrescriberID).Value(i),
			Cost:          i64(receipt.ColCost).Value(i),
			Copay:         i64(receipt.ColCopay).Value(i),
			Paid:          i64(receipt.ColPaid).Value(i),
			Tokutei:       str(receipt.ColTokutei).Value(i),
			BirthDate:     str(receipt.ColBirthDate).Value(i),
			Sex:           str(receipt.ColSex).Value(i),
			NameKana:      str(receipt.ColNameKana).Value(i),
			Cancel:        rec.Column(receipt.ColCancel).(*array.Boolean).Value(i),
		}
	}
	return out
}

// TestUKEReproducibleAndLaidOut: the UKE files are the same bytes at any worker count, are
// listed in the summary after the Parquet files, and no temporary is left behind.
func TestUKEReproducibleAndLaidOut(t *testing.T) {
	cfg := ukeConfig
	cfg.Households, cfg.Months = 2000, 1
	a, b := cfg, cfg
	a.Out, a.Workers = filepath.Join(t.TempDir(), "a"), 1
	b.Out, b.Workers = filepath.Join(t.TempDir(), "b"), 3
	sa, err := Generate(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Generate(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.Files) != len(sb.Files) || len(sa.Files) <= 4 {
		t.Fatalf("files %d and %d", len(sa.Files), len(sb.Files))
	}
	var uke []string
	for i := range sa.Files {
		ra, _ := filepath.Rel(a.Out, sa.Files[i])
		rb, _ := filepath.Rel(b.Out, sb.Files[i])
		if ra != rb {
			t.Fatalf("file %d: %s and %s", i, ra, rb)
		}
		x, err := os.ReadFile(sa.Files[i])
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(sb.Files[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between workers 1 and 3", ra)
		}
		if i >= 4 {
			uke = append(uke, ra)
		}
	}
	if uke[0] != filepath.Join(UKEDir, "2024-09", "RECEIPTC-0000-0.UKE") || len(uke) > cfg.FilesPerMonth*ukeGroups {
		t.Errorf("UKE files %v", uke)
	}
	filepath.Walk(a.Out, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !slices.Contains(sa.Files, p) {
			t.Errorf("unexpected file %s", p)
		}
		return err
	})
	if _, err := Generate(context.Background(), Config{Households: 1, Month: cfg.Month, Out: t.TempDir(), Format: "csv"}); err == nil {
		t.Error("format csv accepted")
	}
}

// TestUKECodes: レセプト種別 and 給付割合 for the persons whose rate the reader must be told.
func TestUKECodes(t *testing.T) {
	m := rules.MonthOf(2024, 5)
	d := func(y, mo, day int) rules.Date { return rules.Date{Year: y, Month: mo, Day: day} }
	for _, c := range []struct {
		name     string
		typ      insurerType
		i        int
		birth    rules.Date
		old      bool
		o70      rules.Class70
		rate     int64
		kind     string
		setting  string
		shubetsu string
		kyufu    int64
		kuKa     bool
	}{
		{"本人", kyokai, 0, d(1980, 1, 2), false, rules.O70None, 3, kindMedical, outpatient, "1112", -1, false},
		{"家族 入院", kyokai, 1, d(1980, 1, 2), false, rules.O70None, 3, kindDPC, inpatient, "1115", -1, false},
		{"未就学 歯科", kumiai, 2, d(2021, 1, 2), false, rules.O70None, 2, kindDental, outpatient, "3114", -1, false},
		{"70–74 一般 調剤", kyosai, 0, d(1952, 1, 2), true, rules.O70Ippan, 2, kindPharmacy, outpatient, "4118", -1, false},
		{"70–74 現役並み", kyokai, 0, d(1952, 1, 2), true, rules.O70Gen2, 3, kindMedical, outpatient, "1110", -1, false},
		{"国保 本人", kokuho, 0, d(1980, 1, 2), false, rules.O70None, 3, kindMedical, outpatient, "1112", 70, false},
		{"国保 70–74 入院", kokuho, 0, d(1952, 1, 2), true, rules.O70Tei2, 2, kindMedical, inpatient, "1117", 80, false},
		{"後期 一般", kouki, 0, d(1940, 1, 2), true, rules.O70Ippan, 1, kindMedical, outpatient, "1318", -1, false},
		{"後期 一般Ⅱ", kouki, 0, d(1940, 1, 2), true, rules.O70Ippan2, 2, kindPharmacy, outpatient, "4318", -1, true},
		{"後期 現役並み", kouki, 0, d(1940, 1, 2), true, rules.O70Gen3, 3, kindMedical, outpatient, "1310", -1, false},
		// Eligibility lost yet receipts keep coming, past 75, under the old insurer: 種別 and
		// age do not say 20%, so 給付割合 does.
		{"76 outside 後期", kyokai, 0, d(1948, 1, 2), true, rules.O70Ippan, 2, kindMedical, outpatient, "1118", 80, false},
	} {
		h := &household{typ: c.typ, n: c.i + 1}
		h.p[c.i].birth = c.birth
		rg := &receiptGen{h: h, i: c.i, old: c.old, rate: c.rate, cls: classSeg{o70: c.o70}, mi: &monthInfo{m: m}}
		u := rg.ukeCodes(c.kind, c.setting, m)
		if string(u.shubetsu[:]) != c.shubetsu || u.kyufu != c.kyufu || u.kuKa != c.kuKa {
			t.Errorf("%s: 種別 %s 給付割合 %d 区カ %v, want %s %d %v", c.name, u.shubetsu[:], u.kyufu, u.kuKa, c.shubetsu, c.kyufu, c.kuKa)
		}
	}
}

// readUKEFile reads a UKE file gen wrote, which must have no warning and no reject.
func readUKEFile(t *testing.T, f string) ([]receipt.Row, receipt.ReadStats) {
	t.Helper()
	var got []receipt.Row
	st, err := receipt.ReadUKE(context.Background(), f, receipt.ReadOptions{BatchRows: 1000, Warn: func(m string) { t.Errorf("warning: %s", m) }},
		func(b receipt.Batch) error {
			defer b.Record.Release()
			got = append(got, rowsOf(b.Record)...)
			return nil
		},
		func(r receipt.Reject) error {
			t.Errorf("reject %+v", r)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return got, st
}
