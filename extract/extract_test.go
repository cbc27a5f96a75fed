package extract

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kougaku/batch/ledger"
	"github.com/kougaku/batch/output"
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

func TestInsurerType(t *testing.T) {
	cases := map[string]string{
		"01130012": TypeKyokai, "06139999": TypeKumiai, "31130018": TypeKyosai, "34271234": TypeKyosai,
		"39131004": TypeKouki, "138057": TypeKokuho, "35130011": TypeOther, "02130010": TypeOther,
		"0113001": TypeOther, "0613999X": TypeOther, "": TypeOther, "1380570": TypeOther,
	}
	for no, want := range cases {
		if got := InsurerType(no); got != want {
			t.Errorf("InsurerType(%q) = %s, want %s", no, got, want)
		}
	}
}

// ledgerTotals sums the ledger's household rows of the months, independently of Run.
type ledgerTotals struct {
	households, cases, inKind, cash, tasukai int64
	byType                                   map[string][2]int64 // in kind, cash
}

func sumLedger(t *testing.T, l *ledger.Ledger, from, to rules.Month) ledgerTotals {
	t.Helper()
	tot := ledgerTotals{byType: map[string][2]int64{}}
	for m := from; m <= to; m++ {
		if !l.Has(m) {
			continue
		}
		v, err := l.Current(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.HouseholdMonths(func(h *output.HouseholdMonth) error {
			tot.households++
			tot.inKind += h.BenefitInKind
			tot.cash += h.BenefitCash
			if h.BenefitInKind+h.BenefitCash > 0 {
				tot.cases++
				if h.TasukaiApplied {
					tot.tasukai++
				}
			}
			bt := tot.byType[InsurerType(h.InsurerNo)]
			bt[0] += h.BenefitInKind
			bt[1] += h.BenefitCash
			tot.byType[InsurerType(h.InsurerNo)] = bt
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return tot
}

// readCSV reads a table's CSV into maps by column name.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, c := range recs[0] {
			m[c] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func csvSum(t *testing.T, rows []map[string]string, col string, keep func(map[string]string) bool) int64 {
	t.Helper()
	var s int64
	for _, r := range rows {
		if keep != nil && !keep(r) {
			continue
		}
		v, err := strconv.ParseInt(r[col], 10, 64)
		if err != nil {
			t.Fatalf("column %s: %v", col, err)
		}
		s += v
	}
	return s
}

// TestExtractReconciles: over twelve months of a ledger (one month rerun with corrections, its
// 多数回 cascade giving later months a second layer), every table's yen, in Parquet and in CSV,
// sums to the ledger's household rows, by insurer type too; the annual table is ledger.Annual's.
func TestExtractReconciles(t *testing.T) {
	l := synthLedger(t, 3000, 12, month(t, "2024-08"), 1, true)
	from, to := month(t, "2024-08"), month(t, "2025-07")
	out := filepath.Join(t.TempDir(), "x")
	sum, err := Run(context.Background(), Config{Ledger: l, From: from, To: to, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	want := sumLedger(t, l, from, to)
	if want.cases == 0 || want.inKind == 0 || want.cash == 0 || want.tasukai == 0 {
		t.Fatalf("the test ledger should have in kind, cash and 多数回 benefit: %+v", want)
	}
	check := func(what string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %d, ledger %d (off by %d)", what, got, want, got-want)
		}
	}
	benefit, err := output.ReadAll[BenefitRow](filepath.Join(out, BenefitFile+".parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var inKind, cash, households, cases, tasukai int64
	byType := map[string][2]int64{}
	for _, r := range benefit {
		inKind += r.YenInKind
		cash += r.YenCash
		households += r.Households
		cases += r.Cases
		tasukai += r.TasukaiCases
		if r.YenTotal != r.YenInKind+r.YenCash || r.Cases > r.Households || r.CasesInKind > r.Cases || r.CasesCash > r.Cases ||
			r.Cases > r.CasesInKind+r.CasesCash {
			t.Errorf("inconsistent row %+v", r)
		}
		bt := byType[r.InsurerType]
		bt[0] += r.YenInKind
		bt[1] += r.YenCash
		byType[r.InsurerType] = bt
	}
	check("household table in kind", inKind, want.inKind)
	check("household table cash", cash, want.cash)
	check("household table households", households, want.households)
	check("household table cases", cases, want.cases)
	check("household table 多数回 cases", tasukai, want.tasukai)
	for typ, w := range want.byType {
		check(typ+" in kind", byType[typ][0], w[0])
		check(typ+" cash", byType[typ][1], w[1])
	}
	rows := readCSV(t, filepath.Join(out, BenefitFile+".csv"))
	check("household CSV in kind", csvSum(t, rows, "yen_in_kind", nil), want.inKind)
	check("household CSV cash", csvSum(t, rows, "yen_cash", nil), want.cash)
	check("household CSV total", csvSum(t, rows, "yen_total", nil), want.inKind+want.cash)
	check("person CSV cash", csvSum(t, readCSV(t, filepath.Join(out, PersonFile+".csv")), "yen_cash", nil), want.cash)
	deciles := readCSV(t, filepath.Join(out, DecileFile+".csv"))
	for _, ranking := range []string{"before", "after"} {
		keep := func(r map[string]string) bool { return r["ranking"] == ranking }
		check("deciles by "+ranking+" benefit", csvSum(t, deciles, "benefit_yen", keep), want.inKind+want.cash)
		check("deciles by "+ranking+" households", csvSum(t, deciles, "households", keep), want.households)
	}
	months := readCSV(t, filepath.Join(out, MonthFile+".csv"))
	check("months in kind", csvSum(t, months, "yen_in_kind", nil), want.inKind)
	check("months cash", csvSum(t, months, "yen_cash", nil), want.cash)
	if len(months) != 12 {
		t.Errorf("%d months", len(months))
	}
	var layered bool
	for _, m := range sum.Months {
		v, _ := l.Current(m)
		layered = layered || len(v.Layers) > 1
	}
	if !layered {
		t.Error("no month was read through several layers")
	}

	// The annual table against ledger.Annual run here.
	if len(sum.AnnualPeriods) != 1 || sum.AnnualPeriods[0] != from {
		t.Fatalf("annual periods %v, want 2024-08", sum.AnnualPeriods)
	}
	tmp := filepath.Join(t.TempDir(), "annual")
	as, err := l.Annual(from, nil, tmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	annual := readCSV(t, filepath.Join(out, AnnualFile+".csv"))
	check("annual persons", csvSum(t, annual, "persons", nil), as.Persons)
	check("annual persons reached", csvSum(t, annual, "persons_reached", nil), as.PersonsPaid)
	check("annual payout", csvSum(t, annual, "payout_yen", nil), as.Payout)
	if as.PersonsPaid == 0 {
		t.Error("nobody reached the annual cap in the test ledger")
	}

	// The outpatient table: shares are fractions of the counts.
	op, err := output.ReadAll[OutpatientRow](filepath.Join(out, OutpatientFile+".parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var reached int64
	for _, r := range op {
		if r.PersonsReached > r.Persons || r.PersonMonthsReached > r.PersonMonths || r.Persons > r.PersonMonths ||
			r.SharePersons != share(r.PersonsReached, r.Persons) || !annualClass(r.IncomeClass) {
			t.Errorf("outpatient row %+v", r)
		}
		reached += r.PersonsReached
	}
	if reached == 0 {
		t.Error("nobody reached an outpatient limit in the test ledger")
	}
	m, err := os.ReadFile(filepath.Join(out, output.ManifestFile))
	if err != nil || !bytes.Contains(m, []byte(`"reconciled": true`)) {
		t.Errorf("manifest: %v\n%s", err, m)
	}
}

// TestExtractGolden: one household month, G01 of the golden cases (ウ, cost 1,000,000, paid
// 300,000 at the counter): one case, cash 212,570, under 組合健保 (06), u70, class U.
func TestExtractGolden(t *testing.T) {
	l, dir := openLedger(t)
	handLedger(t, dir, l, "2025-10", nil,
		[]receipt.MemberRow{{InsurerNo: "06139999", PersonID: "P1", HouseholdID: "H-G01", BirthDate: "1992-04-01", Sex: "1", ValidFrom: "2020-01", CategoryU70: "U"}},
		[]receipt.Row{{ReceiptID: "R1", ServiceMonth: "2025-10", InsurerNo: "06139999", PersonID: "P1", InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 1000000, Copay: 300000, Paid: 300000}})
	out := filepath.Join(dir, "x")
	sum, err := Run(context.Background(), Config{Ledger: l, From: month(t, "2025-09"), To: month(t, "2025-10"), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	b := sum.Tables.Benefit
	want := BenefitRow{InsurerType: TypeKumiai, AgeGroup: AgeU70, IncomeClass: "U", Households: 1, Cases: 1, CasesCash: 1,
		YenCash: 212570, YenTotal: 212570, YenPerCase: 212570, YenPerCaseCash: 212570, CopayTotal: 300000, PaidTotal: 300000}
	if len(b) != 1 || b[0] != want {
		t.Fatalf("benefit rows %+v, want %+v", b, want)
	}
	if len(sum.Warnings) != 1 || !strings.Contains(sum.Warnings[0], "2025-09 is not in the ledger") {
		t.Errorf("warnings %q", sum.Warnings)
	}
	d := sum.Tables.Deciles
	if d[9].Households != 1 || d[9].YenBefore != 300000 || d[9].YenAfter != 87430 || d[9].YenBenefit != 212570 {
		t.Errorf("top decile %+v", d[9])
	}
}

// TestOutpatientLimit: 70+ patients of 一般 and 一般Ⅱ against the outpatient limit, under the
// 2022-10 table (一般Ⅱ 配慮措置: 6,000 + (cost − 30,000) × 10%, at most 18,000).
func TestOutpatientLimit(t *testing.T) {
	l, dir := openLedger(t)
	mem := func(id, hh, class string) receipt.MemberRow {
		return receipt.MemberRow{InsurerNo: "39131004", PersonID: id, HouseholdID: hh, BirthDate: "1945-05-05", Sex: "2", ValidFrom: "2020-01", Category70: class}
	}
	rec := func(id, person string, cost, paid int64) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: "2024-04", InsurerNo: "39131004", PersonID: person, InstitutionID: "1311111111",
			Kind: "medical", Setting: "outpatient", Cost: cost, Copay: cost / 10 * 2, Paid: paid}
	}
	members := []receipt.MemberRow{mem("A", "HA", "IPPAN"), mem("B", "HB", "IPPAN"), mem("C", "HC", "IPPAN2"), mem("D", "HD", "IPPAN2")}
	rows := []receipt.Row{
		rec("RA", "A", 200000, 18000), // 一般: limit 18,000 applied at the counter: reached
		rec("RB", "B", 50000, 10000),  // 一般: 10,000 < 18,000
		rec("RC", "C", 100000, 13000), // 一般Ⅱ: limit 6,000 + 7,000 = 13,000, at the counter: reached
		rec("RD", "D", 100000, 12000), // 一般Ⅱ: 12,000 < 13,000 (a flat 18,000 would say the same, a flat 6,000 not)
	}
	rows[1].Copay, rows[3].Copay = 10000, 12000
	handLedger(t, dir, l, "2024-04", nil, members, rows)
	sum, err := Run(context.Background(), Config{Ledger: l, From: month(t, "2024-04"), To: month(t, "2024-04"), Out: filepath.Join(dir, "x")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]OutpatientRow{}
	for _, r := range sum.Tables.Outpatient {
		got[r.IncomeClass] = r
	}
	for class, n := range map[string]int64{"IPPAN": 1, "IPPAN2": 1} {
		r := got[class]
		if r.Persons != 2 || r.PersonsReached != n || r.PersonMonths != 2 || r.PersonMonthsReached != n || r.SharePersons != 0.5 || r.InsurerType != TypeKouki {
			t.Errorf("%s: %+v, want 1 of 2 reached", class, r)
		}
	}
}

// TestReportSelfContained: the report fetches nothing (no script, stylesheet, image or font
// from elsewhere) and has its charts inline.
func TestReportSelfContained(t *testing.T) {
	l := synthLedger(t, 3000, 12, month(t, "2024-08"), 1, true)
	out := filepath.Join(t.TempDir(), "x")
	if _, err := Run(context.Background(), Config{Ledger: l, From: month(t, "2024-08"), To: month(t, "2025-07"), Out: out}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	html := strings.ReplaceAll(string(data), `xmlns="http://www.w3.org/2000/svg"`, "") // a namespace name, never fetched
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "src=", "url(", "@import", "http://", "https://"} {
		if strings.Contains(html, bad) {
			t.Errorf("report.html contains %q", bad)
		}
	}
	for _, id := range []string{`id="chart-benefit"`, `id="chart-outpatient"`, `id="chart-annual"`, `id="chart-deciles"`, `id="t-benefit"`, `id="t-months"`} {
		if !strings.Contains(html, id) {
			t.Errorf("report.html lacks %s", id)
		}
	}
	// The same ledger and command give the same bytes.
	out2 := filepath.Join(t.TempDir(), "x")
	if _, err := Run(context.Background(), Config{Ledger: l, From: month(t, "2024-08"), To: month(t, "2025-07"), Out: out2}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		a, _ := os.ReadFile(filepath.Join(out, e.Name()))
		b, _ := os.ReadFile(filepath.Join(out2, e.Name()))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two extracts of the same ledger", e.Name())
		}
	}
}

func TestExtractEmptyRange(t *testing.T) {
	l, dir := openLedger(t)
	out := filepath.Join(dir, "x")
	_, err := Run(context.Background(), Config{Ledger: l, From: month(t, "2024-04"), To: month(t, "2024-05"), Out: out})
	if err == nil || !strings.Contains(err.Error(), "holds no month in 2024-04..2024-05") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed extract left its output directory")
	}
}

// TestIssue17_15_KokuhoKumiaiIsOwnType: a 6-digit insurer number whose 保険者別番号 begins with
// 3 (its third digit) is a 国民健康保険組合, counted apart from the 市町村国保 as the published
// statistics count it; an extract of one household of each shows two rows, labelled apart in
// report.html.
func TestIssue17_15_KokuhoKumiaiIsOwnType(t *testing.T) {
	cases := []struct{ no, want string }{
		{"138057", TypeKokuho},       // 世田谷区
		{"010108", TypeKokuho},       // third digit 0
		{"271007", TypeKokuho},       // third digit 1
		{"232009", TypeKokuho},       // third digit 2
		{"133033", TypeKokuhoKumiai}, // 東京都医師国保
		{"273011", TypeKokuhoKumiai}, // third digit 3, another prefecture
		{"01130012", TypeKyokai},     // 8 digits: by 法別番号
		{"06139999", TypeKumiai},     //
		{"32130019", TypeKyosai},     //
		{"39131004", TypeKouki},      //
		{"02130010", TypeOther},      // 船員保険
		{"13303X", TypeOther},        // not a number
		{"1330334", TypeOther},       // seven digits
	}
	for _, c := range cases {
		if got := InsurerType(c.no); got != c.want {
			t.Errorf("InsurerType(%q) = %s, want %s", c.no, got, c.want)
		}
	}

	l, dir := openLedger(t)
	mem := func(ins, person, hh string) receipt.MemberRow {
		return receipt.MemberRow{InsurerNo: ins, PersonID: person, HouseholdID: hh, BirthDate: "1992-04-01", Sex: "1", ValidFrom: "2020-01", CategoryU70: "U"}
	}
	rec := func(id, ins, person string) receipt.Row {
		return receipt.Row{ReceiptID: id, ServiceMonth: "2025-10", InsurerNo: ins, PersonID: person, InstitutionID: "1311111111",
			Kind: "medical", Setting: "inpatient", Cost: 1000000, Copay: 300000, Paid: 300000}
	}
	handLedger(t, dir, l, "2025-10", nil,
		[]receipt.MemberRow{mem("138057", "P1", "H1"), mem("133033", "P2", "H2")},
		[]receipt.Row{rec("R1", "138057", "P1"), rec("R2", "133033", "P2")})
	out := filepath.Join(dir, "x")
	sum, err := Run(context.Background(), Config{Ledger: l, From: month(t, "2025-10"), To: month(t, "2025-10"), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range sum.Tables.Benefit {
		types = append(types, r.InsurerType)
		if r.Households != 1 || r.YenCash != 212570 {
			t.Errorf("row %+v: want one household with cash 212,570 (G01)", r)
		}
	}
	if want := []string{TypeKokuho, TypeKokuhoKumiai}; !slices.Equal(types, want) {
		t.Errorf("benefit rows of types %v, want %v", types, want)
	}
	rows := readCSV(t, filepath.Join(out, BenefitFile+".csv"))
	if got := csvSum(t, rows, "yen_cash", func(r map[string]string) bool { return r["insurer_type"] == "kokuho_kumiai" }); got != 212570 {
		t.Errorf("CSV kokuho_kumiai cash %d, want 212,570", got)
	}
	html, err := os.ReadFile(filepath.Join(out, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"市町村国保", "国保組合"} {
		if !bytes.Contains(html, []byte(">"+label+"<")) {
			t.Errorf("report.html has no cell labelled %s", label)
		}
	}
}
