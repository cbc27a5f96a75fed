package synth

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// monthInfo is what every receipt of one service month shares.
type monthInfo struct {
	m     rules.Month
	str   string       // YYYY-MM
	claim string       // 請求年月 of its receipts, the month after, as YYYYMM
	prev  string       // the month before: the wrong month of a fault
	table *rules.Table // nil when no rule table covers m: no limit is then applied at the counter
	prior [11]string   // for the first month: the 11 months before it, oldest first
}

// Receipt field values.
const (
	kindMedical  = "medical"
	kindDPC      = "dpc"
	kindDental   = "dental"
	kindPharmacy = "pharmacy"
	outpatient   = "outpatient"
	inpatient    = "inpatient"
	tokuteiChou  = "chou"
	tokuteiChou2 = "chou2"
)

// Limits of a 特定疾病 receipt when no rule table covers the month (施行令42条9項).
const (
	defaultChou  = 10000
	defaultChou2 = 20000
)

// receiptGen writes the receipts of households for one service month. One per task.
type receiptGen struct {
	g   *generator
	mi  *monthInfo
	out *sink[receipt.Row]
	uke *ukeSet // the same receipts as UKE files, when Config.Format is "uke"
	r   *rand.Rand
	id  []byte // scratch for receipt ids
	no  int64  // the レセプト番号 of the last receipt id

	h     *household
	i     int // the person
	rate  int64
	old   bool // 70+ rules apply
	cls   classSeg
	seq   int64
	fault float64 // share of receipts made bad, 0 unless Config.Faults

	// The choice of the receipts to resolve, under Config.ResolveShare (resolve.go): nil
	// without it. A person-month's receipts wait in pending until it is chosen or not, as
	// a whole (a pharmacy receipt names whom its prescriber's names).
	res     *resolver
	pending []pendingReceipt
	chosen  int64 // receipts of the part chosen
	dryRun  bool  // writing nothing: counting a block, or replaying its households before the part's
}

// pendingReceipt is a receipt of the current person-month, written but for its claim, its
// fault and its UKE lines.
type pendingReceipt struct {
	row           *receipt.Row // in the sink, which is flushed only between households
	no            int64        // its レセプト番号
	spoil         int          // the fault to make of it, or -1
	kind, setting string
	copay         int64
}

// household writes the receipts of h in the month, person by person.
func (rg *receiptGen) household(h *household) {
	rg.h, rg.seq = h, 0
	m := rg.mi.m
	for i := range h.n {
		p := &h.p[i]
		if m < p.from || (m > p.to && !p.lost) {
			continue // not yet insured, or gone (a lost person's receipts still come: NOT_ELIGIBLE)
		}
		rg.i = i
		rg.old = rules.IsElderly(p.birth, m)
		rg.cls = h.classesOf(i, m)
		rg.rate = copayTenths(h.typ, p, rg.old, rg.cls.o70, m)
		rg.person(p)
		if rg.res != nil {
			rg.settle()
		}
	}
}

// person draws one person-month: outpatient visits at distinct places, each perhaps with a
// pharmacy receipt; a dental receipt; the monthly dialysis receipt; an inpatient stay.
func (rg *receiptGen) person(p *person) {
	g, h, r := rg.g, rg.h, rg.r
	u := &g.model.d.Utilisation
	b := &g.model.bands[p.band]
	for j := range poisson(r, b.Outpatient*p.frailty, u.MaxOutpatient) {
		inst := g.institution(h, (int(p.slot0)+j)%outpatientSlots)
		rg.emit(kindMedical, outpatient, inst, "", g.model.costs[costOutpatient].draw(r), "")
		if r.Float64() < u.PharmacyPerOut {
			rg.pharmacy(inst)
		}
	}
	if poisson(r, b.Dental*p.dental, 1) > 0 {
		inst := g.institution(h, slotDentist)
		rg.emit(kindDental, outpatient, inst, "", g.model.costs[costDental].draw(r), "")
		if r.Float64() < u.PharmacyPerDent {
			rg.pharmacy(inst)
		}
	}
	if p.dialysis {
		tk := tokuteiChou
		if !rg.old && (rg.cls.u70 == rules.U70A || rg.cls.u70 == rules.U70I) {
			tk = tokuteiChou2 // 長２: 人工透析 of a 上位所得者 under 70
		}
		rg.emit(kindMedical, outpatient, g.institution(h, slotDialysis), "", g.model.costs[costDialysis].draw(r), tk)
	}
	if r.Float64() < b.Inpatient {
		kind, c := kindMedical, costInpatient
		if r.Float64() < u.DPCShare {
			kind, c = kindDPC, costDPC
		}
		rg.emit(kind, inpatient, g.institution(h, slotHospital), "", g.inpatientCost(c, r), "")
	}
}

func (rg *receiptGen) pharmacy(prescriber string) {
	inst := rg.g.institution(rg.h, slotPharmacy+rg.r.IntN(2))
	rg.emit(kindPharmacy, outpatient, inst, prescriber, rg.g.model.costs[costPharmacy].draw(rg.r), "")
}

// emit writes one receipt of the current person.
func (rg *receiptGen) emit(kind, setting, inst, prescriber string, cost int64, tokutei string) {
	h, p := rg.h, &rg.h.p[rg.i]
	copay := copayOf(cost, rg.rate)
	row := rg.out.next()
	*row = receipt.Row{
		ReceiptID:     rg.receiptID(inst),
		ServiceMonth:  rg.mi.str,
		InsurerNo:     h.ins.No,
		PersonID:      h.personID(rg.i),
		InstitutionID: inst,
		Kind:          kind,
		Setting:       setting,
		PrescriberID:  prescriber,
		Cost:          cost,
		Copay:         copay,
		Paid:          rg.paid(cost, copay, setting == outpatient, tokutei),
		Tokutei:       tokutei,
		BirthDate:     h.birthDate(rg.i),
		Sex:           p.sex,
		NameKana:      rg.g.claimedKana(h, rg.i, inst),
	}
	if rg.res == nil {
		rg.g.claimAs(h, rg.i, rg.mi.m, row)
	}
	// Drawn for every receipt, faults or not, so that turning faults on changes only the
	// faulty receipts and not the rest of the stream.
	spoil := -1
	if f := rg.r.Float64(); f < rg.fault {
		spoil = int(f / rg.fault * 3)
	}
	if rg.res != nil {
		rg.pending = append(rg.pending, pendingReceipt{row: row, no: rg.no, spoil: spoil, kind: kind, setting: setting, copay: copay})
		return
	}
	rg.finish(row, rg.no, spoil, kind, setting, copay)
}

// finish makes the receipt a fault when spoil says so, and writes its UKE lines.
func (rg *receiptGen) finish(row *receipt.Row, no int64, spoil int, kind, setting string, copay int64) {
	if spoil >= 0 {
		rg.spoil(row, spoil)
	}
	if rg.uke != nil {
		month := rg.mi.m
		if row.ServiceMonth != rg.mi.str {
			month-- // a fault's wrong month
		}
		u := rg.ukeCodes(kind, setting, month)
		u.no = no
		u.futan = row.Paid != copay // HO 負担金額: a limit applied at the counter, or a fault
		rg.uke.write(row, &u)
	}
}

// paid is what the counter collected: the copay, or less where a limit applied in kind.
func (rg *receiptGen) paid(cost, copay int64, out bool, tokutei string) int64 {
	t := rg.mi.table
	switch tokutei {
	case tokuteiChou:
		return min(copay, chouLimit(t, false))
	case tokuteiChou2:
		return min(copay, chouLimit(t, true))
	}
	if t == nil {
		return copay
	}
	lim, ok := counterLimit(t, rg.old, rg.cls, out, cost)
	if ok && copay > lim && rg.r.Float64() < rg.g.model.d.Counter.AppliedShare {
		return lim
	}
	return copay
}

func chouLimit(t *rules.Table, chou2 bool) int64 {
	switch {
	case t == nil && chou2:
		return defaultChou2
	case t == nil:
		return defaultChou
	case chou2:
		return t.Chou2
	}
	return t.Chou
}

// counterLimit is the limit a counter applies to one receipt on its own: the under-70 monthly
// limit, or for 70+ the per-person outpatient limit (外来特例) or the household formula.
func counterLimit(t *rules.Table, old bool, c classSeg, out bool, cost int64) (int64, bool) {
	if !old {
		l := &t.U70[c.u70]
		return l.Monthly.Limit(cost), l.Present
	}
	l := &t.O70[c.o70]
	if out && l.HasOutpatient {
		return l.Outpatient.Limit(cost), l.Present
	}
	return l.Household.Limit(cost), l.Present
}

// receiptID is the id a UKE file gives the receipt (receipt.ReadUKE): institution_id, 審査支払機関 1, 請求年月
// (the month after the service month), マルチボリューム 00 and the レセプト番号, which is
// (household index + 1) × 100 + the receipt's place in the household-month: unique in the
// month, and the same whichever task writes it and whichever format. A household has at most
// 6 members of at most 14 receipts each (5 outpatient places and their pharmacies, a dentist
// and a pharmacy, dialysis, a stay), so the place stays below 100.
func (rg *receiptGen) receiptID(inst string) string {
	rg.no = (rg.h.index+1)*100 + rg.seq
	b := append(rg.id[:0], inst...)
	b = append(b, "-1-"...) // 審査支払機関 1, as the UKE headers say (synth/uke.go)
	b = append(b, rg.mi.claim...)
	b = append(b, "-00-"...)
	b = strconv.AppendInt(b, rg.no, 10)
	rg.seq++
	rg.id = b
	return string(b)
}

// spoil makes a receipt bad in one of the ways the batch must reject.
func (rg *receiptGen) spoil(row *receipt.Row, how int) {
	switch how {
	case 0:
		row.PersonID = rg.h.householdID() + "-99" // UNKNOWN_PERSON
	case 1:
		// AMOUNT_INVALID: collected more than the cost. (Not paid > copay, which a UKE file
		// cannot say: a 負担金額 above the copay the receipt implies raises the copay.)
		row.Copay = row.Cost + 10
		row.Paid = row.Copay
	default:
		row.ServiceMonth = rg.mi.prev // MONTH_MISMATCH
	}
}

// copayTenths is the person's 一部負担 rate in tenths.
func copayTenths(t insurerType, p *person, old bool, o rules.Class70, m rules.Month) int64 {
	gen := o == rules.O70Gen3 || o == rules.O70Gen2 || o == rules.O70Gen1
	switch {
	case gen && (old || t == kouki):
		return 3
	case t == kouki && o == rules.O70Ippan2:
		return 2
	case t == kouki:
		return 1
	case old:
		return 2
	case preschool(p.birth, m):
		return 2
	}
	return 3
}

// preschool reports 義務教育就学前 in month m: before the April after the 6th birthday, a child
// born 1 January – 1 April entering school a year earlier than one born later.
func preschool(b rules.Date, m rules.Month) bool {
	entry := b.Year + 7
	if b.Month < 4 || (b.Month == 4 && b.Day == 1) {
		entry = b.Year + 6
	}
	return m < rules.MonthOf(entry, 4)
}

// copayOf is cost × rate rounded to 10 yen, half up (健康保険法75条).
func copayOf(cost, tenths int64) int64 {
	y := cost / 10 * tenths // exact: cost is a multiple of 10
	return (y + 5) / 10 * 10
}

// draw returns a cost: log-normal, rounded to 10 yen, at least min.
func (c costModel) draw(r *rand.Rand) int64 {
	x := math.Exp(c.mu + c.sigma*r.NormFloat64())
	return max(int64(x/10+0.5)*10, c.min)
}

// inpatientCost is the log-normal body with, rarely, a Pareto tail above 10 million yen.
func (g *generator) inpatientCost(c int, r *rand.Rand) int64 {
	t := &g.model.d.Tail
	if r.Float64() < t.PerInpatient {
		x := t.XMin * math.Pow(1-r.Float64(), -1/t.Alpha)
		return int64(math.Min(x, t.Cap)/10) * 10
	}
	return g.model.costs[c].draw(r)
}

// poisson draws a Poisson count by Knuth's product method, stopping at max (the rates are
// small, so the loop is short).
func poisson(r *rand.Rand, lambda float64, max int) int {
	if lambda <= 0 {
		return 0
	}
	limit := math.Exp(-lambda)
	k, prod := 0, r.Float64()
	for prod > limit && k < max {
		k++
		prod *= r.Float64()
	}
	return k
}
