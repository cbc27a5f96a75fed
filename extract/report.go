package extract

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"

	"github.com/kougaku/batch/rules"
)

// The report: one HTML file, its style inline and its charts inline SVG, that opens anywhere
// with nothing to fetch. It shows the tables laid out as the published statistics lay theirs
// (社会保障審議会医療保険部会 資料: by insurer type, 現物給付・現金給付・計 under 支給件数, 支給金額
// and 1件当たり金額), with the unit of every table said, and ends with the reconciliation.

// table is a rendered table: header rows (cells may span) and body rows.
type table struct {
	ID, Caption string
	Head        [][]hcell
	Rows        [][]cell
	Note        string
}

type hcell struct {
	Text             string
	ColSpan, RowSpan int
}

type cell struct {
	Text  string
	Num   bool
	Class string // "total" for a total row's cells
}

func num(n int64) cell       { return cell{Text: Group(n), Num: true} }
func txt(s string) cell      { return cell{Text: s} }
func pctCell(s float64) cell { return cell{Text: pct1(s), Num: true} }
func totalRow(r []cell) []cell {
	for i := range r {
		r[i].Class = "total"
	}
	return r
}

type section struct {
	ID, Title string
	Intro     string
	Tables    []table
	Charts    []template.HTML
}

type reportData struct {
	Title    string
	Meta     []string
	Sections []section
	Warnings []string
}

var reportTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; border-bottom: 2px solid #4e79a7; padding-bottom: .3em; }
h2 { font-size: 1.2em; margin-top: 2.2em; border-left: 6px solid #4e79a7; padding-left: .5em; }
p.meta { color: #555; margin: .2em 0; }
table { border-collapse: collapse; margin: 1em 0; font-size: 12px; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #bbb; padding: 3px 7px; }
th { background: #eef2f7; font-weight: normal; white-space: nowrap; }
td { white-space: nowrap; }
div.scroll { overflow-x: auto; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.total { font-weight: bold; background: #f7f7f7; }
p.note, p.intro { font-size: 13px; color: #444; max-width: 60em; }
ul.warn { color: #a33; }
nav a { margin-right: 1em; }
figure { margin: 1em 0; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Meta}}<p class="meta">{{.}}</p>
{{end}}{{if .Warnings}}<ul class="warn">{{range .Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
<nav>{{range .Sections}}<a href="#{{.ID}}">{{.Title}}</a> {{end}}</nav>
{{range .Sections}}
<section id="{{.ID}}">
<h2>{{.Title}}</h2>
{{if .Intro}}<p class="intro">{{.Intro}}</p>{{end}}
{{range .Tables}}<div class="scroll"><table id="{{.ID}}">
<caption>{{.Caption}}</caption>
<thead>{{range .Head}}<tr>{{range .}}<th{{if gt .ColSpan 1}} colspan="{{.ColSpan}}"{{end}}{{if gt .RowSpan 1}} rowspan="{{.RowSpan}}"{{end}}>{{.Text}}</th>{{end}}</tr>
{{end}}</thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td class="{{if .Num}}num{{end}} {{.Class}}">{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
{{end}}{{range .Charts}}<figure>{{.}}</figure>
{{end}}</section>
{{end}}
</body>
</html>
`))

// renderReport builds report.html from the tables.
func renderReport(cfg Config, sum *Summary) ([]byte, error) {
	t := sum.Tables
	first, last := sum.Months[0], sum.Months[len(sum.Months)-1]
	d := reportData{
		Title: fmt.Sprintf("高額療養費 支給実績と自己負担の分布 (診療月 %s〜%s)", first, last),
		Meta: []string{
			fmt.Sprintf("台帳 %s: 診療月 %d か月 (%s)", cfg.Ledger.Dir(), len(sum.Months), monthList(sum.Months)),
			fmt.Sprintf("世帯月 %s, 支給件数 %s, 現物給付 ¥%s, 現金給付 ¥%s: どの表の合計も台帳の世帯行の合計に一致することを確かめてから出力している (8 節)。",
				Group(sum.Totals.Households), Group(sum.Totals.Cases), Group(sum.Totals.YenInKind), Group(sum.Totals.YenCash)),
		},
		Warnings: sum.Warnings,
	}
	d.Sections = append(d.Sections, benefitSection(t), tasukaiSection(t), ageClassSection(t), personSection(t),
		outpatientSection(t), annualSection(t, sum.AnnualPeriods), decileSection(t), monthSection(t, sum.Totals))
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func monthList(ms []rules.Month) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return strings.Join(s, ", ")
}

// byType sums the household table by insurer type (and the total, last).
func byType(t *Tables) (types []string, sums []benefitAcc) {
	idx := map[string]int{}
	for _, typ := range InsurerTypes {
		for i := range t.Benefit {
			if t.Benefit[i].InsurerType == typ {
				if _, ok := idx[typ]; !ok {
					idx[typ] = len(types)
					types = append(types, typ)
					sums = append(sums, benefitAcc{})
				}
				a := fromRow(&t.Benefit[i])
				sums[idx[typ]].add(&a)
			}
		}
	}
	var total benefitAcc
	for i := range sums {
		total.add(&sums[i])
	}
	return types, append(sums, total)
}

func benefitSection(t *Tables) section {
	types, sums := byType(t)
	head := [][]hcell{{{Text: "区分", RowSpan: 2}}, {}}
	for _, typ := range append(types, "") {
		name := "計"
		if typ != "" {
			name = typeLabel(typ)
		}
		head[0] = append(head[0], hcell{Text: name, ColSpan: 3})
		head[1] = append(head[1], hcell{Text: "現物給付"}, hcell{Text: "現金給付"}, hcell{Text: "計"})
	}
	rows := [][]cell{{txt("支給件数 (件)")}, {txt("支給金額 (円)")}, {txt("1件当たり金額 (円)")}}
	for _, a := range sums {
		rows[0] = append(rows[0], num(a.casesInKind), num(a.casesCash), num(a.cases))
		rows[1] = append(rows[1], num(a.inKind), num(a.cash), num(a.inKind+a.cash))
		rows[2] = append(rows[2], num(perCase(a.inKind, a.casesInKind)), num(perCase(a.cash, a.casesCash)), num(perCase(a.inKind+a.cash, a.cases)))
	}
	var cats []string
	in, cash := series{name: "現物給付", color: colorInKind}, series{name: "現金給付", color: colorCash}
	for i, typ := range types {
		cats = append(cats, typeLabel(typ))
		in.values = append(in.values, sums[i].inKind)
		cash.values = append(cash.values, sums[i].cash)
	}
	return section{ID: "benefit", Title: "1. 支給件数・支給金額・1件当たり金額",
		Intro: "保険者種別 (保険者番号の法別番号: 01 協会けんぽ, 06 組合健保, 31〜34 共済組合, 39 後期高齢者医療; 6桁 国保: 保険者別番号が 3 で始まる (3桁目が 3) ものは国保組合、その他は市町村国保) ごとに、現物給付 (窓口で限度額が適用された分) と現金給付 (償還払い) を分けて示す。",
		Tables: []table{{ID: "t-benefit", Caption: "高額療養費の支給実績 (単位: 世帯月)", Head: head, Rows: rows,
			Note: "件数は世帯月で数える: ある診療月に給付のあった世帯が 1 件。現物給付と現金給付の両方があった世帯月は両方の列に 1 件ずつ数え、計では 1 件とする (公表資料の件数は現物給付をレセプト単位で数え、計は両者の和であるため、件数と 1 件当たり金額はそのままは比べられない。金額は比べられる)。"}},
		Charts: []template.HTML{barChart("chart-benefit", "保険者種別 支給金額 (現物給付・現金給付)", cats, []series{in, cash}, true)}}
}

func tasukaiSection(t *Tables) section {
	types, sums := byType(t)
	head := [][]hcell{{{Text: "保険者種別", RowSpan: 2}, {Text: "合計", ColSpan: 3}, {Text: "うち多数回該当分", ColSpan: 4}},
		{{Text: "件数 (件)"}, {Text: "金額 (円)"}, {Text: "1件当金額 (円)"}, {Text: "件数 (件)"}, {Text: "金額 (円)"}, {Text: "1件当金額 (円)"}, {Text: "うち現金給付 (円)"}}}
	var rows [][]cell
	for i, a := range sums {
		name := "計"
		if i < len(types) {
			name = typeLabel(types[i])
		}
		tas := a.tasukaiInKind + a.tasukaiCash
		r := []cell{txt(name), num(a.cases), num(a.inKind + a.cash), num(perCase(a.inKind+a.cash, a.cases)),
			num(a.tasukaiCases), num(tas), num(perCase(tas, a.tasukaiCases)), num(a.tasukaiCash)}
		if i == len(types) {
			r = totalRow(r)
		}
		rows = append(rows, r)
	}
	return section{ID: "tasukai", Title: "2. 合計とうち多数回該当分",
		Tables: []table{{ID: "t-tasukai", Caption: "支給実績 合計・うち多数回該当分 (単位: 世帯月)", Head: head, Rows: rows,
			Note: "多数回該当分: 多数回該当の限度額が適用され (tasukai_applied)、給付のあった世帯月。金額は現物給付と現金給付の計で、公表資料の協会・組合健保の多数回該当分 (現金給付分のみ) と並べるための現金給付分を右端に示す。"}}}
}

func ageClassSection(t *Tables) section {
	type key struct{ age, class string }
	acc := map[key]*benefitAcc{}
	var keys []key
	for i := range t.Benefit {
		r := &t.Benefit[i]
		k := key{r.AgeGroup, r.IncomeClass}
		if acc[k] == nil {
			acc[k] = &benefitAcc{}
			keys = append(keys, k)
		}
		a := fromRow(r)
		acc[k].add(&a)
	}
	sortKeys(keys, func(k key) cellKey { return cellKey{"", k.age, k.class} })
	head := [][]hcell{{{Text: "年齢区分"}, {Text: "所得区分"}, {Text: "世帯月"}, {Text: "支給件数"}, {Text: "現物給付 (円)"},
		{Text: "現金給付 (円)"}, {Text: "計 (円)"}, {Text: "1件当たり (円)"}, {Text: "多数回該当 件数"}}}
	var rows [][]cell
	var total benefitAcc
	for _, k := range keys {
		a := acc[k]
		total.add(a)
		rows = append(rows, []cell{txt(ageLabel(k.age)), txt(classLabel(k.class)), num(a.households), num(a.cases),
			num(a.inKind), num(a.cash), num(a.inKind + a.cash), num(perCase(a.inKind+a.cash, a.cases)), num(a.tasukaiCases)})
	}
	rows = append(rows, totalRow([]cell{txt("計"), txt(""), num(total.households), num(total.cases), num(total.inKind),
		num(total.cash), num(total.inKind + total.cash), num(perCase(total.inKind+total.cash, total.cases)), num(total.tasukaiCases)}))
	return section{ID: "age-class", Title: "3. 年齢区分・所得区分別",
		Intro:  "単位は世帯月。年齢区分はその月の受診者 (person_month の age_group) で決め、70歳未満と70歳以上の受診者がいる世帯は「混在世帯」とする。所得区分は、70歳未満の世帯は 70歳未満の区分 (ア〜オ)、70歳以上の世帯は 70歳以上の区分、混在世帯は両方。保険者種別ごとの内訳は benefit_households.csv にある。",
		Tables: []table{{ID: "t-age-class", Caption: "年齢区分・所得区分別 支給実績 (単位: 世帯月)", Head: head, Rows: rows}}}
}

func sortKeys[K any](keys []K, cell func(K) cellKey) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && compareCells(cell(keys[j-1]), cell(keys[j])) > 0; j-- {
			keys[j-1], keys[j] = keys[j], keys[j-1]
		}
	}
}

func personSection(t *Tables) section {
	type key struct{ typ, age string }
	acc := map[key]*PersonRow{}
	var keys []key
	for _, r := range t.Persons {
		k := key{r.InsurerType, r.AgeGroup}
		if acc[k] == nil {
			acc[k] = &PersonRow{}
			keys = append(keys, k)
		}
		a := acc[k]
		a.Persons += r.Persons
		a.PersonsCash += r.PersonsCash
		a.YenCash += r.YenCash
		a.OutpatientCash += r.OutpatientCash
	}
	sortKeys(keys, func(k key) cellKey { return cellKey{k.typ, k.age, ""} })
	head := [][]hcell{{{Text: "保険者種別"}, {Text: "年齢区分"}, {Text: "受診者 (人月)"}, {Text: "現金給付のあった人月"}, {Text: "現金給付 (円)"}, {Text: "うち外来分 (円)"}}}
	var rows [][]cell
	var tot PersonRow
	for _, k := range keys {
		a := acc[k]
		tot.Persons += a.Persons
		tot.PersonsCash += a.PersonsCash
		tot.YenCash += a.YenCash
		tot.OutpatientCash += a.OutpatientCash
		rows = append(rows, []cell{txt(typeLabel(k.typ)), txt(ageLabel(k.age)), num(a.Persons), num(a.PersonsCash), num(a.YenCash), num(a.OutpatientCash)})
	}
	rows = append(rows, totalRow([]cell{txt("計"), txt(""), num(tot.Persons), num(tot.PersonsCash), num(tot.YenCash), num(tot.OutpatientCash)}))
	return section{ID: "persons", Title: "4. 現金給付の人単位の内訳",
		Intro:  "単位は人月 (その月に受診のあった人)。台帳は現金給付をレセプトごと・人ごとに按分して持つので、人の年齢区分 (70歳未満・70歳以上) で分けられる。現物給付は窓口での給付で人単位の列がないため、世帯単位の表 (1〜3 節) に示す。",
		Tables: []table{{ID: "t-persons", Caption: "年齢区分別 現金給付 (単位: 人月)", Head: head, Rows: rows}}}
}

func outpatientSection(t *Tables) section {
	classes := []string{"IPPAN2", "IPPAN", "TEI2", "TEI1"}
	type agg struct{ months, reachedM, persons, reachedP int64 }
	groups := []struct {
		name string
		in   func(string) bool
	}{
		{"後期高齢者医療 (75歳以上に相当)", func(typ string) bool { return typ == TypeKouki }},
		{"その他の保険者 (70〜74歳に相当)", func(typ string) bool { return typ != TypeKouki }},
	}
	head := [][]hcell{{{Text: "保険者"}, {Text: "所得区分"}, {Text: "受診者 (人)"}, {Text: "該当者 (人)"}, {Text: "該当者の割合"},
		{Text: "受診 (人月)"}, {Text: "該当 (人月)"}, {Text: "人月の割合"}}}
	var rows [][]cell
	var bars []shareBar
	for _, g := range groups {
		for _, c := range classes {
			var a agg
			for _, r := range t.Outpatient {
				if r.IncomeClass == c && g.in(r.InsurerType) {
					a.months += r.PersonMonths
					a.reachedM += r.PersonMonthsReached
					a.persons += r.Persons
					a.reachedP += r.PersonsReached
				}
			}
			if a.months == 0 {
				continue
			}
			rows = append(rows, []cell{txt(g.name), txt(classLabel(c)), num(a.persons), num(a.reachedP), pctCell(share(a.reachedP, a.persons)),
				num(a.months), num(a.reachedM), pctCell(share(a.reachedM, a.months))})
			short := "後期"
			if !strings.HasPrefix(g.name, "後期") {
				short = "その他"
			}
			bars = append(bars, shareBar{label: short + " " + classLabel(c), reached: a.reachedP, of: a.persons})
		}
	}
	s := section{ID: "outpatient", Title: "5. 外来特例 (外来の月額上限) に該当する患者の割合",
		Intro: "70歳以上で一般・一般Ⅱ・低所得Ⅱ・低所得Ⅰの区分の世帯の受診者のうち、その月の外来の自己負担 (outpatient_paid) がその月の規則表の外来限度額 (一般 18,000 円、低所得 8,000 円、一般Ⅱの配慮措置期間は 6,000 + (外来医療費 − 30,000) × 10%、上限 18,000 円) に達した者。公表資料と同じく、期間中に 1 回以上該当した者の受診者に占める割合 (人) を主とし、人月の割合も示す。台帳は満年齢を持たないため、後期高齢者医療を 75歳以上、その他の保険者を 70〜74歳の目安とする。",
		Tables: []table{{ID: "t-outpatient", Caption: "外来特例に該当する患者の割合", Head: head, Rows: rows,
			Note: "75歳到達月の特例 (限度額が 2 分の 1) の月も通常の限度額と比べている (台帳は人ごとにこの特例を記録しない)。"}}}
	if len(bars) > 0 {
		s.Charts = []template.HTML{shareChart("chart-outpatient", "外来の月額上限に該当する患者の割合", bars)}
	}
	return s
}

func annualSection(t *Tables, periods []rules.Month) section {
	s := section{ID: "annual", Title: "6. 外来の年間上限に該当する患者の割合"}
	if len(periods) == 0 {
		s.Intro = "抽出した月の範囲に、台帳がそろって持つ 8 月〜翌 7 月の 1 年がないため、この表はない。"
		return s
	}
	s.Intro = "8 月〜翌 7 月の 1 年 (ledger.Annual と同じ計算: 7 月に 70歳以上で一般・一般Ⅱ・低所得の者の、その区分にあった月の外来の自己負担の合計) が年間上限を超えた者の割合。所得区分は 7 月の区分。年間上限の支給額は月々の高額療養費とは別の給付で、1〜5 節の金額には含まない。"
	head := [][]hcell{{{Text: "期間"}, {Text: "保険者種別"}, {Text: "所得区分 (7月)"}, {Text: "対象者 (人)"}, {Text: "該当者 (人)"}, {Text: "割合"}, {Text: "支給額 (円)"}, {Text: "年間上限 (円)"}}}
	var rows [][]cell
	var bars []shareBar
	for _, r := range t.Annual {
		p, _ := rules.ParseMonth(r.PeriodStart)
		period := fmt.Sprintf("%s〜%s", p, p+11)
		rows = append(rows, []cell{txt(period), txt(typeLabel(r.InsurerType)), txt(classLabel(r.IncomeClass)), num(r.Persons),
			num(r.PersonsReached), pctCell(r.Share), num(r.PayoutYen), num(r.Cap)})
		bars = append(bars, shareBar{label: typeLabel(r.InsurerType) + " " + classLabel(r.IncomeClass), reached: r.PersonsReached, of: r.Persons})
	}
	s.Tables = []table{{ID: "t-annual", Caption: "外来の年間上限に該当する患者の割合 (単位: 人)", Head: head, Rows: rows}}
	s.Charts = []template.HTML{shareChart("chart-annual", "外来の年間上限に該当する患者の割合", bars)}
	return s
}

func decileSection(t *Tables) section {
	head := [][]hcell{{{Text: "十分位", RowSpan: 2}, {Text: "世帯月", RowSpan: 2}, {Text: "並べた負担の範囲 (円)", ColSpan: 2},
		{Text: "平均 (円)", ColSpan: 2}, {Text: "合計 (円)", ColSpan: 3}},
		{{Text: "最小"}, {Text: "最大"}, {Text: "給付前"}, {Text: "給付後"}, {Text: "給付前"}, {Text: "給付後"}, {Text: "給付"}}}
	var tables []table
	var before, after series
	var cats []string
	for _, ranking := range []string{"before", "after"} {
		var rows [][]cell
		for _, r := range t.Deciles {
			if r.Ranking != ranking {
				continue
			}
			rows = append(rows, []cell{num(int64(r.Decile)), num(r.Households), num(r.Min), num(r.Max), num(r.MeanBefore),
				num(r.MeanAfter), num(r.YenBefore), num(r.YenAfter), num(r.YenBenefit)})
			if ranking == "before" {
				cats = append(cats, fmt.Sprintf("第%d", r.Decile))
				before.values = append(before.values, r.MeanBefore)
				after.values = append(after.values, r.MeanAfter)
			}
		}
		caption := "給付前の負担で並べた十分位 (単位: 世帯月)"
		if ranking == "after" {
			caption = "給付後の負担で並べた十分位 (単位: 世帯月)"
		}
		tables = append(tables, table{ID: "t-deciles-" + ranking, Caption: caption, Head: head, Rows: rows})
	}
	before.name, before.color = "給付前 (窓口負担)", colorBefore
	after.name, after.color = "給付後 (自己負担)", colorAfter
	return section{ID: "deciles", Title: "7. 世帯の自己負担の十分位",
		Intro:  "単位は世帯月。給付前の負担は窓口負担 (copay_total: 高額療養費がなければ世帯が負う額)、給付後の負担は窓口で支払った額から現金給付を引いた額 (paid_total − benefit_cash)。それぞれで並べて 10 等分した。各十分位の給付 = 給付前 − 給付後 = 現物給付 + 現金給付。",
		Tables: tables,
		Charts: []template.HTML{barChart("chart-deciles", "給付前の負担の十分位ごとの平均負担 (給付前・給付後)", cats, []series{before, after}, false)}}
}

func monthSection(t *Tables, tot Totals) section {
	head := [][]hcell{{{Text: "診療月"}, {Text: "台帳の版"}, {Text: "規則"}, {Text: "世帯月"}, {Text: "支給件数"}, {Text: "現物給付 (円)"},
		{Text: "現金給付 (円)"}, {Text: "多数回該当"}, {Text: "受診者 (人月)"}, {Text: "人の現金給付 (円)"}}}
	var rows [][]cell
	var tasukai, persons, personsCash int64
	for _, r := range t.Months {
		rows = append(rows, []cell{txt(r.ServiceMonth), num(int64(r.LedgerVersion)), txt(r.RulesVersion), num(r.Households), num(r.Cases),
			num(r.YenInKind), num(r.YenCash), num(r.TasukaiCases), num(r.Persons), num(r.PersonsCash)})
		tasukai += r.TasukaiCases
		persons += r.Persons
		personsCash += r.PersonsCash
	}
	rows = append(rows, totalRow([]cell{txt("計"), txt(""), txt(""), num(tot.Households), num(tot.Cases), num(tot.YenInKind), num(tot.YenCash),
		num(tasukai), num(persons), num(personsCash)}))
	return section{ID: "months", Title: "8. 台帳との照合",
		Intro:  "読んだ台帳の月とその合計。1〜4 節と 7 節の表の円の合計は、この表の現物給付・現金給付の合計に 1 円まで一致する (一致しなければ出力しない)。",
		Tables: []table{{ID: "t-months", Caption: "診療月ごとの台帳の合計", Head: head, Rows: rows}}}
}
