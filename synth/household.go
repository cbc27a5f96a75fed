package synth

import (
	"math"
	"math/rand/v2"

	"github.com/kougaku/batch/rules"
)

const (
	maxMembers = 6
	maxClinics = 4 // clinics a household uses; its hospital is a fifth outpatient place
	// openEnd is the valid_to of an open eligibility row.
	openEnd = rules.Month(math.MaxInt32)
	// noMonth marks an absent month (year 0 is never a service month).
	noMonth = rules.Month(0)
)

// ippan2From is the first service month of 後期 一般Ⅱ (窓口2割).
var ippan2From = rules.MonthOf(2022, 10)

// person is one member as the generator sees it; strings are formatted only when written.
type person struct {
	birth    rules.Date
	birthM   rules.Month
	age      int // reached by the end of the first month
	sex      string
	band     uint8
	frailty  float64 // multiplies the band's outpatient rate; 0 for a non-user
	dental   float64 // the same for dental
	dialysis bool
	// from and to bound eligibility; to is openEnd for an open row.
	from, to rules.Month
	// lost: eligibility ended before the first month, yet receipts keep coming (資格喪失後の受診).
	lost   bool
	halfAt rules.Month // half_limits_month, noMonth when none
	slot0  uint8       // the first of the household's outpatient places this person uses

	id, birthStr   string // formatted lazily
	kana, kanaHalf string // formatted lazily (names.go)

	// mover: joined this insurer in the year from another, where eligibility ran from
	// oldFrom (names.go); namesake: someone in force there has the same name and birth date.
	mover, namesake bool
	oldFrom         rules.Month
}

// classSeg is the household's classes from a month on.
type classSeg struct {
	from rules.Month
	u70  rules.ClassU70
	o70  rules.Class70
}

// household is one generated household, rebuilt identically from (seed, index) by every task
// that needs it, so that no task holds the population.
type household struct {
	index int64
	typ   insurerType
	ins   *insurer
	n     int
	p     [maxMembers]person
	start rules.Month
	segs  [3]classSeg
	nseg  int
	// moveAt: from this month the last member belongs to household id+"-1" (世帯分離).
	moveAt rules.Month

	instStr [instSlots]string // institution codes, formatted lazily

	id string // household_id, formatted lazily
}

// Institution slots of a household: the outpatient places first, so a person's j-th outpatient
// place is slot (slot0+j) mod outpatientSlots.
const (
	slotHospital    = maxClinics
	outpatientSlots = maxClinics + 1
	slotDialysis    = outpatientSlots
	slotDentist     = slotDialysis + 1
	slotPharmacy    = slotDentist + 1
	instSlots       = slotPharmacy + 2
)

// stream seeds r for one purpose of one household: streams never overlap between households
// or purposes, so any subset of households can be generated in any order.
func stream(src *rand.PCG, seed uint64, index int64, tag uint64) {
	src.Seed(seed, mix64(uint64(index)<<8|tag))
}

// mix64 is the splitmix64 finalizer: neighbouring indexes give unrelated PCG streams.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Stream tags.
const (
	tagBuild   = 0
	tagHistory = 1
	tagMonth0  = 2 // month k uses tagMonth0+k
)

// build makes household index from its stream.
func (g *generator) build(h *household, index int64, r *rand.Rand) {
	*h = household{index: index}
	m := g.model
	h.typ = insurerType(m.hhType.pick(r.Float64()))
	tm := &m.types[h.typ]
	h.ins = &tm.insurers[tm.insurer.pick(r.Float64())]
	shape := &tm.shapes[tm.shape.pick(r.Float64())]
	h.n = len(shape.Ages)
	h.start = g.first - 1 - rules.Month(r.IntN(m.d.Eligibility.StartBackMax))
	for i, a := range shape.Ages {
		g.buildPerson(h, i, a, r)
	}
	g.drawJoin(h, r)
	g.drawClasses(h, r)
	g.drawChanges(h, r)
	g.drawMovers(h)
}

func (g *generator) buildPerson(h *household, i int, ages [2]int, r *rand.Rand) {
	p := &h.p[i]
	m := g.model
	p.age = ages[0] + r.IntN(ages[1]-ages[0]+1)
	u := r.IntN(12) // months since this year's birthday
	day := 0
	// Crossing 70 or 75 is what the age rules turn on: make it a little more common than
	// 1 in 12 of that age, and born on the 1st more common than 1 in 30.
	if (p.age == 70 || p.age == 75) && r.Float64() < 0.2 {
		u = 0
		if r.Float64() < 0.3 {
			day = 1
		}
	}
	p.birthM = g.first - rules.Month(12*p.age+u)
	if day == 0 {
		day = 1 + r.IntN(daysIn(p.birthM))
	}
	p.birth = rules.Date{Year: p.birthM.Year(), Month: p.birthM.Num(), Day: day}
	p.sex = sexOf(r.IntN(2))
	if i == 1 && p.age >= 18 && h.p[0].age >= 18 {
		p.sex = sexOf(1 - int(h.p[0].sex[0]-'1')) // the spouse
	}
	p.band = m.bandOf[min(p.age, maxAge)]
	b := &m.bands[p.band]
	if r.Float64() >= b.NonUser {
		s := m.d.Utilisation.FrailtySigma
		p.frailty = math.Exp(s*r.NormFloat64()-s*s/2) / (1 - b.NonUser)
	}
	p.dental = math.Exp(0.6*r.NormFloat64() - 0.18)
	p.dialysis = r.Float64() < b.Dialysis
	p.slot0 = uint8(r.IntN(outpatientSlots))
	g.eligibility(h, p, r)
}

func sexOf(i int) string {
	if i == 0 {
		return "1"
	}
	return "2"
}

// eligibility sets the person's rows: from the household's start (or birth, or for 後期 the
// 75th birthday), until the 75th birthday for the other types, and for a few persons ended
// before the first month.
func (g *generator) eligibility(h *household, p *person, r *rand.Rand) {
	e := &g.model.d.Eligibility
	m75 := p.birthM + 75*12
	p.from, p.to = max(h.start, p.birthM), openEnd
	if h.typ == kouki {
		p.from = max(h.start, m75)
	} else if m75 <= g.last {
		// 後期 begins on the 75th birthday: the old insurer keeps the days before it.
		p.to = m75
		if p.birth.Day == 1 {
			p.to = m75 - 1
		}
	}
	if r.Float64() < e.LostShare {
		to := g.first - 1 - rules.Month(r.IntN(e.LostBackMax))
		if to >= p.from {
			p.to, p.lost = to, true
		}
	}
}

// drawClasses draws the household's classes from the head's age group and maps them to the
// other group when the household has both (CONTRACT.md §1.2: a class only for an age group
// the household has in some generated month).
func (g *generator) drawClasses(h *household, r *rand.Rand) {
	u, o := g.drawClassPair(h, r)
	h.segs[0] = classSeg{from: noMonth, u70: u, o70: o}
	h.nseg = 1
	if o == rules.O70Ippan2 {
		// 一般Ⅱ exists from 2022-10; before it the same household was 一般.
		h.segs[0].o70 = rules.O70Ippan
		h.segs[1] = classSeg{from: ippan2From, u70: u, o70: o}
		h.nseg = 2
	}
}

func (g *generator) drawClassPair(h *household, r *rand.Rand) (rules.ClassU70, rules.Class70) {
	tm := &g.model.types[h.typ]
	hasU70, has70 := false, false
	for i := range h.n {
		p := &h.p[i]
		lo, hi := max(g.first, p.from), min(g.last, p.to)
		if lo > hi {
			continue // not a member in any generated month
		}
		hasU70 = hasU70 || !rules.IsElderly(p.birth, lo)
		has70 = has70 || rules.IsElderly(p.birth, hi)
	}
	var u rules.ClassU70
	var o rules.Class70
	if tm.hasU70 && !rules.IsElderly(h.p[0].birth, g.first) {
		u = u70Order[tm.u70.pick(r.Float64())]
		o = u70To70(u, r.Float64() < tm.tei1)
	} else {
		o = o70Order[tm.o70.pick(r.Float64())]
		u = o70ToU70(o)
	}
	if !hasU70 {
		u = rules.U70None
	}
	if !has70 {
		o = rules.O70None
	}
	return u, o
}

// drawJoin makes a few single 国保 members aged 65–74 newcomers in a generated month: the
// dependant of a 被用者保険 insured person who turned 75, whose own limits are halved in the
// month they join (half_limits_month). Drawn before the classes, which depend on eligibility.
func (g *generator) drawJoin(h *household, r *rand.Rand) {
	p := &h.p[0]
	if h.typ != kokuho || h.n != 1 || p.age < 65 || r.Float64() >= g.model.d.Eligibility.KokuhoHalfLimits {
		return
	}
	at := g.first + rules.Month(r.IntN(int(g.last-g.first+1)))
	if at <= p.to && !p.lost {
		p.from, p.halfAt = at, at
	}
}

// drawChanges adds the rare changes over time of the members table: a class change for the
// whole household, a member leaving to a household of their own (世帯分離).
func (g *generator) drawChanges(h *household, r *rand.Rand) {
	e := &g.model.d.Eligibility
	span := int(g.last - g.first + 1)
	if h.nseg == 1 && r.Float64() < e.ClassChangeShare {
		at := g.first - 3 + rules.Month(r.IntN(3+span))
		for range 8 {
			u, o := g.drawClassPair(h, r)
			if o != rules.O70Ippan2 && (u != h.segs[0].u70 || o != h.segs[0].o70) {
				h.segs[1] = classSeg{from: at, u70: u, o70: o}
				h.nseg = 2
				break
			}
		}
	}
	a, b := &h.p[h.n-1], &h.p[max(h.n-2, 0)]
	if h.typ == kokuho && h.n >= 2 && a.age < 65 && b.age < 65 && !a.lost && !b.lost && r.Float64() < e.HouseholdMove {
		at := g.first - 2 + rules.Month(r.IntN(2+span))
		if p := &h.p[h.n-1]; at > p.from && at <= p.to {
			h.moveAt = at
		}
	}
}

// Pools of institutions per prefecture, by index: a shared, realistic number of places, so
// that institution codes repeat across persons as they do in life.
const (
	poolHospitals  = 200 // medical [0,200): hospitals
	poolDialysis   = 100 // medical [200,300): dialysis clinics
	poolMedical    = 2400
	poolClinics    = poolMedical - poolHospitals - poolDialysis
	poolDental     = 1500
	poolPharmacies = 1300
)

// placeIndex is the pool index of a household's institution slot. It is a hash of (seed,
// household, slot) rather than a draw, so that only the places a receipt names cost anything
// and the members task skips them altogether. The places of one household are distinct where
// a person could otherwise get two receipts from one institution in a month.
func (g *generator) placeIndex(h *household, slot int) int {
	x := mix64(g.cfg.Seed ^ mix64(uint64(h.index)<<8|0xff))
	switch {
	case slot < maxClinics:
		// Steps below poolClinics/maxClinics keep the household's clinics apart.
		base, step := int(x%poolClinics), 1+int(x>>32%(poolClinics/maxClinics-1))
		return poolHospitals + poolDialysis + (base+slot*step)%poolClinics
	case slot == slotHospital:
		return int(x >> 16 % poolHospitals)
	case slot == slotDialysis:
		return poolHospitals + int(x>>24%poolDialysis)
	case slot == slotDentist:
		return int(x >> 40 % poolDental)
	}
	y := mix64(x)
	first := int(y % poolPharmacies)
	if slot == slotPharmacy {
		return first
	}
	return (first + 1 + int(y>>32%(poolPharmacies-1))) % poolPharmacies
}

// seg returns the household's classes in month m.
func (h *household) seg(m rules.Month) classSeg {
	s := h.segs[0]
	for _, x := range h.segs[1:h.nseg] {
		if m >= x.from {
			s = x
		}
	}
	return s
}

// classesOf returns person i's household classes in month m: after a move, those of the new
// household, which has only that under-70 member.
func (h *household) classesOf(i int, m rules.Month) classSeg {
	s := h.seg(m)
	if h.moved(i, m) {
		s.o70 = rules.O70None
	}
	return s
}

func (h *household) moved(i int, m rules.Month) bool {
	return h.moveAt != noMonth && i == h.n-1 && m >= h.moveAt
}

func daysIn(m rules.Month) int {
	switch m.Num() {
	case 2:
		if y := m.Year(); y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
