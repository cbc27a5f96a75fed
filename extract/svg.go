package extract

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are inline SVG built here, so that the report is one file with nothing to fetch.
// Every mark carries a <title> (the exact figure, shown on hover) and every chart a text
// alternative, so a reader without the picture loses nothing.

// series is one colour of a bar chart.
type series struct {
	name, color string
	values      []int64
}

const (
	colorInKind = "#4e79a7"
	colorCash   = "#f28e2b"
	colorBefore = "#9c755f"
	colorAfter  = "#59a14f"
	colorYes    = "#e15759"
	colorNo     = "#d3d3d3"
)

// yenUnit picks the unit that keeps an axis readable: 億円, 万円 or 円.
func yenUnit(max int64) (div float64, unit string) {
	switch {
	case max >= 100_000_000:
		return 1e8, "億円"
	case max >= 10_000:
		return 1e4, "万円"
	}
	return 1, "円"
}

// niceStep is a 1-2-5 step giving about five ticks up to max.
func niceStep(max float64) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// barChart draws vertical bars, one per category, its series stacked or side by side.
func barChart(id, title string, cats []string, ss []series, stacked bool) template.HTML {
	const w, h, left, right, top, bottom = 760.0, 320.0, 70.0, 20.0, 40.0, 60.0
	var maxV int64
	for i := range cats {
		var stack int64
		for _, s := range ss {
			if stacked {
				stack += max(s.values[i], 0)
			} else {
				maxV = max(maxV, s.values[i])
			}
		}
		maxV = max(maxV, stack)
	}
	div, unit := yenUnit(maxV)
	step := niceStep(float64(maxV) / div)
	top1 := math.Ceil(float64(maxV)/div/step) * step
	if top1 <= 0 {
		top1 = 1
	}
	plotH, plotW := h-top-bottom, w-left-right
	y := func(v float64) float64 { return top + plotH - v/top1*plotH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="%s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-labelledby="%s-t">`, id, w, h, w, h, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title>`, id, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14" font-weight="bold">%s</text>`, left, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="10" y="%.0f" font-size="11">(%s)</text>`, top-8, unit)
	for v := 0.0; v <= top1+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ccc"/>`, left, w-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="11" text-anchor="end">%s</text>`, left-6, y(v)+4, trimFloat(v))
	}
	slot := plotW / float64(max(len(cats), 1))
	barW := slot * 0.6
	if !stacked {
		barW = slot * 0.8 / float64(max(len(ss), 1))
	}
	for i, c := range cats {
		x0 := left + slot*float64(i) + (slot-barW)/2 // stacked: one bar centred in its slot
		if !stacked {
			x0 = left + slot*float64(i) + slot*0.1
		}
		acc := 0.0
		for k, s := range ss {
			v := float64(max(s.values[i], 0)) / div
			x := x0
			base := 0.0
			if stacked {
				base = acc
				acc += v
			} else {
				x = x0 + barW*float64(k)
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: ¥%s</title></rect>`,
				x, y(base+v), barW, y(base)-y(base+v), s.color, html.EscapeString(c), html.EscapeString(s.name), Group(s.values[i]))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="11" text-anchor="middle">%s</text>`, left+slot*float64(i)+slot/2, h-bottom+16, html.EscapeString(c))
	}
	lx := left
	for _, s := range ss {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f" font-size="12">%s</text>`,
			lx, h-22, s.color, lx+16, h-12, html.EscapeString(s.name))
		lx += 30 + 14*float64(len([]rune(s.name)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// shareBar is one row of a 100% bar: the share that reached a limit.
type shareBar struct {
	label   string
	reached int64
	of      int64
}

// shareChart draws 100% horizontal bars, 該当あり against 該当なし, as the published charts do.
func shareChart(id, title string, bars []shareBar) template.HTML {
	const w, left, right, rowH, top = 760.0, 190.0, 30.0, 30.0, 36.0
	h := top + rowH*float64(len(bars)) + 40
	plotW := w - left - right
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="%s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-labelledby="%s-t">`, id, w, h, w, h, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title>`, id, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`, html.EscapeString(title))
	for i, r := range bars {
		yy := top + rowH*float64(i)
		s := share(r.reached, r.of)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="12" text-anchor="end">%s</text>`, left-8, yy+16, html.EscapeString(r.label))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.1f" height="20" fill="%s"><title>%s 該当あり %s / %s 人</title></rect>`,
			left, yy, plotW*s, colorYes, html.EscapeString(r.label), Group(r.reached), Group(r.of))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="20" fill="%s"/>`, left+plotW*s, yy, plotW*(1-s), colorNo)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11">%s</text>`, left+4, yy+14, pct1(s))
	}
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f" font-size="12">該当あり</text>`, left, h-22, colorYes, left+16, h-12)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f" font-size="12">該当なし</text>`, left+90, h-22, colorNo, left+106, h-12)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Group writes 1234567 as 1,234,567 (the reports' and the command's way with yen).
func Group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pct1 writes a share as a percentage to one decimal.
func pct1(s float64) string { return fmt.Sprintf("%.1f%%", s*100) }
