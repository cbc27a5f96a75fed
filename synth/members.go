package synth

import (
	"math/rand/v2"
	"slices"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// memberRows writes the household's eligibility rows: one per person, split where the
// household's classes change or the person moves to a household of their own, so that every
// row of one household and month carries the same classes.
func (g *generator) memberRows(h *household, out *sink[receipt.MemberRow]) {
	for i := range h.n {
		p := &h.p[i]
		var cuts [4]rules.Month
		breaks := cuts[:0]
		for _, s := range h.segs[1:h.nseg] {
			breaks = append(breaks, s.from)
		}
		if h.moveAt != noMonth && i == h.n-1 {
			breaks = append(breaks, h.moveAt)
		}
		slices.Sort(breaks)
		from := p.from
		for _, b := range breaks {
			if b > from && b <= p.to {
				g.memberRow(h, i, from, b-1, out.next())
				from = b
			}
		}
		g.memberRow(h, i, from, p.to, out.next())
		g.moverRows(h, i, h.classesOf(i, p.from), out)
	}
}

func (g *generator) memberRow(h *household, i int, from, to rules.Month, row *receipt.MemberRow) {
	p := &h.p[i]
	c := h.classesOf(i, from)
	hid := h.householdID()
	if h.moved(i, from) {
		hid += "-1"
	}
	*row = receipt.MemberRow{
		InsurerNo:   h.ins.No,
		PersonID:    h.personID(i),
		HouseholdID: hid,
		BirthDate:   h.birthDate(i),
		Sex:         p.sex,
		ValidFrom:   g.monthStr(from),
		CategoryU70: c.u70.String(),
		Category70:  c.o70.String(),
		NameKana:    g.kana(h, i),
	}
	if to != openEnd {
		row.ValidTo = g.monthStr(to)
	}
	if p.halfAt != noMonth {
		row.HalfLimitsMonth = g.monthStr(p.halfAt)
	}
}

// historyMonths draws the household's counting months among the 11 before the first month,
// as a bit set (bit i is month first−11+i). A household on dialysis counts every month: its
// 特定疾病 limit is applied in kind each month.
func (g *generator) historyMonths(h *household, r *rand.Rand) uint16 {
	var bits uint16
	dialysis := false
	for i := range h.n {
		dialysis = dialysis || h.p[i].dialysis
	}
	switch {
	case dialysis:
		bits = 1<<11 - 1
	case r.Float64() < g.model.types[h.typ].history:
		k := g.model.histMonths.pick(r.Float64()) + 1
		var idx [11]int
		for i := range idx {
			idx[i] = i
		}
		for i := range k { // partial Fisher–Yates: k distinct months
			j := i + r.IntN(11-i)
			idx[i], idx[j] = idx[j], idx[i]
			bits |= 1 << idx[i]
		}
	}
	for i := range 11 {
		if g.first-11+rules.Month(i) < h.start {
			bits &^= 1 << i // the household was not insured here yet
		}
	}
	return bits
}

func (g *generator) historyRows(h *household, bits uint16, out *sink[receipt.HistoryRow]) {
	for i := range 11 {
		if bits&(1<<i) != 0 {
			*out.next() = receipt.HistoryRow{
				InsurerNo:    h.ins.No,
				HouseholdID:  h.householdID(),
				ServiceMonth: g.months[0].prior[i],
			}
		}
	}
}
