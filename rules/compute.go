package rules

import (
	"fmt"
)

// The household-month computation (CONTRACT.md §3). Invariants kept by Compute:
//   - every amount is int64 yen; no step's benefit is negative;
//   - a receipt's remaining amount (paid − its shares so far) never goes below zero, so
//     Σ cash ≤ Σ paid and cash + in kind + what the household still pays = Σ copay;
//   - Σ receipt shares = Σ stage benefits = Result.Cash, exactly;
//   - the result depends on the receipts, not on their order: receipts are visited in
//     receipt-id order and apportionment ties go to the smaller receipt id.

// Calculator computes household months against a set of tables. It keeps scratch space sized
// to the largest household seen, so steady-state computation allocates nothing. A Calculator
// is not safe for concurrent use: give each worker its own.
type Calculator struct {
	set  *Set
	last *Table

	order   []int32 // receipt indexes in receipt-id order
	rem     []int64 // what each receipt still has
	share   []int64 // each receipt's cash so far
	elderly []bool  // per receipt: 70+ rules
	half    []bool  // per receipt: its person has halved limits
	incl    []bool  // per receipt: entered the under-70 household sum
	unit    []int32 // per receipt: under-70 unit, −1 when it has none
	unitSum []int64
	ent     []int32  // entrants of the current step
	frac    []uint64 // apportionment remainders
	pick    []int32
	memOld  []bool
	memHalf []bool
	memN    []int32 // receipts per member
	nOld    int     // 70+ receipts
	nTok    int     // 特定疾病 receipts
}

// NewCalculator returns a calculator over the given tables.
func NewCalculator(set *Set) *Calculator { return &Calculator{set: set} }

func (c *Calculator) table(m Month) (*Table, error) {
	if c.last != nil && m >= c.last.From && m <= c.last.To {
		return c.last, nil
	}
	t, err := c.set.For(m)
	if err != nil {
		return nil, err
	}
	c.last = t
	return t, nil
}

func (c *Calculator) grow(receipts, members int) {
	if cap(c.order) < receipts {
		n := receipts * 2
		c.order, c.ent, c.pick, c.unit = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
		c.rem, c.share, c.unitSum = make([]int64, n), make([]int64, n), make([]int64, n)
		c.elderly, c.half, c.incl = make([]bool, n), make([]bool, n), make([]bool, n)
		c.frac = make([]uint64, n)
	}
	if cap(c.memOld) < members {
		c.memOld, c.memHalf, c.memN = make([]bool, members*2), make([]bool, members*2), make([]int32, members*2)
	}
}

// Compute works out the benefit of one household month into r, reusing r's slices.
func (c *Calculator) Compute(h *Household, r *Result) error {
	*r = Result{Receipts: r.Receipts[:0], Elderly: r.Elderly[:0]}
	t, err := c.table(h.Month)
	if err != nil {
		return err
	}
	r.Table = t
	n := len(h.Receipts)
	c.grow(n, len(h.Members))
	hasU70Member := false
	for i, m := range h.Members {
		// The age rules, inlined on the birth month (Elderly70From, Is75thBirthdayMonth).
		bm := MonthOf(m.BirthDate.Year, m.BirthDate.Month)
		from70 := bm + 70*12
		if m.BirthDate.Day != 1 {
			from70++
		}
		c.memOld[i] = h.Month >= from70
		c.memHalf[i] = m.HalfLimits
		c.memN[i] = 0
		hasU70Member = hasU70Member || !c.memOld[i]
		r.Elderly = append(r.Elderly, c.memOld[i])
	}
	if err := c.load(h, t, r); err != nil {
		return err
	}
	c.sortByID(h)

	lu, lo := &t.U70[h.ClassU70], &t.O70[h.Class70]
	tasukai := h.PriorMonths >= 3
	r.TasukaiApplied = tasukai && !c.onlyLowIncome(h, n)

	if c.nTok > 0 {
		r.StageTokutei = c.tokutei(h, t)
	}
	for mi := range h.Members {
		if !c.memHalf[mi] || c.memN[mi] == 0 {
			continue
		}
		if c.memOld[mi] {
			a, b := c.elderlyPerson(h, lo, mi, true, tasukai)
			r.StageA += a
			r.StageB += b
		} else if lu.Present {
			r.StageC += c.householdU70(h, t, lu, mi, tasukai)
		}
	}
	for mi := range h.Members {
		if c.memOld[mi] && !c.memHalf[mi] && c.memN[mi] > 0 && lo.HasOutpatient {
			a, _ := c.elderlyPerson(h, lo, mi, false, tasukai)
			r.StageA += a
		}
	}
	if c.nOld > 0 {
		r.StageB += c.household70(h, lo, tasukai)
	}
	if hasU70Member && lu.Present {
		r.StageC += c.householdU70(h, t, lu, -1, tasukai)
	}

	r.Cash = r.StageA + r.StageB + r.StageC + r.StageTokutei
	var shares int64
	for i := 0; i < n; i++ {
		rc := &h.Receipts[i]
		shares += c.share[i]
		r.Receipts = append(r.Receipts, ReceiptResult{Cash: c.share[i], Included: c.elderly[i] || c.incl[i]})
		if rc.Paid < rc.Copay && !(c.elderly[i] && rc.Setting == Outpatient && lo.HasOutpatient) {
			// In kind outside the 70+ outpatient special counts for 多数回 (§3.4).
			r.CountsForTasukai = true
		}
	}
	if r.StageB > 0 || r.StageC > 0 || r.StageTokutei > 0 {
		r.CountsForTasukai = true
	}
	if shares != r.Cash {
		return fmt.Errorf("rules: internal error: receipt shares %d != household cash %d", shares, r.Cash)
	}
	return nil
}

// load validates the receipts and sets up the per-receipt state.
func (c *Calculator) load(h *Household, t *Table, r *Result) error {
	c.nOld, c.nTok = 0, 0
	if int64(len(h.Receipts)) > MaxSummed { // beyond it, the household's sums could wrap
		return fmt.Errorf("rules: a household of %d receipts, more than sums of amounts can hold", len(h.Receipts))
	}
	for i := range h.Receipts {
		rc := &h.Receipts[i]
		if rc.Member < 0 || rc.Member >= len(h.Members) {
			return &InputError{Code: CodeCategoryMissing, ReceiptID: rc.ID, Detail: "receipt's person is not a member of the household"}
		}
		if d := ValidateAmounts(rc.Cost, rc.Copay, rc.Paid); d != "" {
			return &InputError{Code: CodeAmountInvalid, ReceiptID: rc.ID, Detail: d}
		}
		old := c.memOld[rc.Member]
		if c.memN[rc.Member] == 0 { // a member's class is checked at their first receipt
			if err := checkClass(h, t, old, rc.ID); err != nil {
				return err
			}
		}
		if rc.Tokutei != TokuteiNone {
			c.nTok++
		}
		c.order[i] = int32(i)
		c.rem[i], c.share[i] = rc.Paid, 0
		c.elderly[i], c.half[i], c.incl[i] = old, c.memHalf[rc.Member], false
		c.memN[rc.Member]++
		if old {
			c.nOld++
		}
		r.CopayTotal += rc.Copay
		r.PaidTotal += rc.Paid
		r.InKind += rc.Copay - rc.Paid
	}
	return nil
}

func checkClass(h *Household, t *Table, old bool, id string) error {
	switch {
	case old && h.Class70 == O70None:
		return &InputError{Code: CodeCategoryMissing, ReceiptID: id, Detail: "a 70+ member's receipt, but the household has no category_70"}
	case old && !t.O70[h.Class70].Present:
		return &InputError{Code: CodeCategoryMissing, ReceiptID: id, Detail: fmt.Sprintf("category_70 %s has no limits in rule table %s", h.Class70, t.Version)}
	case !old && h.ClassU70 == U70None:
		return &InputError{Code: CodeCategoryMissing, ReceiptID: id, Detail: "an under-70 member's receipt, but the household has no category_u70"}
	case !old && !t.U70[h.ClassU70].Present:
		return &InputError{Code: CodeCategoryMissing, ReceiptID: id, Detail: fmt.Sprintf("category_u70 %s has no limits in rule table %s", h.ClassU70, t.Version)}
	}
	return nil
}

// sortByID orders c.order by receipt id (insertion sort: households are small, and it
// allocates nothing).
func (c *Calculator) sortByID(h *Household) {
	o := c.order[:len(h.Receipts)]
	for i := 1; i < len(o); i++ {
		x := o[i]
		j := i
		for j > 0 && h.Receipts[o[j-1]].ID > h.Receipts[x].ID {
			o[j] = o[j-1]
			j--
		}
		o[j] = x
	}
}

// onlyLowIncome: every member with a receipt is 70+ in a 低所得 class, which has no 多数回.
func (c *Calculator) onlyLowIncome(h *Household, n int) bool {
	for i := 0; i < n; i++ {
		if !c.elderly[i] || !h.Class70.LowIncome() {
			return false
		}
	}
	return true
}

// tokutei applies a 特定疾病 receipt's own limit: 10,000, or 20,000 for 長２ under 70.
func (c *Calculator) tokutei(h *Household, t *Table) int64 {
	var total int64
	for _, i := range c.order[:len(h.Receipts)] {
		switch h.Receipts[i].Tokutei {
		case Chou, Chou2:
			lim := t.Chou
			if h.Receipts[i].Tokutei == Chou2 && !c.elderly[i] {
				lim = t.Chou2
			}
			if b := c.rem[i] - lim; b > 0 {
				c.rem[i] -= b
				c.share[i] += b
				total += b
			}
		}
	}
	return total
}

// elderlyPerson runs step (a) for one 70+ person with the 外来特例 and, when halved is set
// (75歳到達月特例), the person's own halved household step too. It returns the two benefits.
func (c *Calculator) elderlyPerson(h *Household, lo *Limits70, mi int, halved, tasukai bool) (a, b int64) {
	if lo.HasOutpatient {
		ent, cost := c.entrants(h, func(i int) bool {
			return h.Receipts[i].Member == mi && h.Receipts[i].Setting == Outpatient
		})
		f := lo.Outpatient
		if halved {
			f = f.Half()
		}
		a = c.step(ent, f.Limit(cost))
	}
	if halved {
		ent, cost := c.entrants(h, func(i int) bool { return h.Receipts[i].Member == mi })
		limit := lo.Household.Half().Limit(cost)
		if tasukai && lo.Tasukai > 0 {
			limit = lo.Tasukai / 2
		}
		b = c.step(ent, limit)
	}
	return a, b
}

// household70 is step (b): every 70+ receipt against the 70+ household limit, the 1% term over
// the cost of every 70+ receipt.
func (c *Calculator) household70(h *Household, lo *Limits70, tasukai bool) int64 {
	ent, cost := c.entrants(h, func(i int) bool { return c.elderly[i] })
	if len(ent) == 0 {
		return 0
	}
	limit := lo.Household.Limit(cost)
	if tasukai && lo.Tasukai > 0 {
		limit = lo.Tasukai
	}
	return c.step(ent, limit)
}

// householdU70 is step (c) under the under-70 table: what remains of the 70+ receipts and every
// under-70 unit whose paid sum reaches the threshold (halved for a person with halved limits).
// With only ≥ 0 it is one person's own halved step, over that person's units alone.
func (c *Calculator) householdU70(h *Household, t *Table, lu *LimitsU70, only int, tasukai bool) int64 {
	c.markUnits(h, t)
	ent, cost := c.entrants(h, func(i int) bool {
		if only >= 0 {
			return h.Receipts[i].Member == only && c.incl[i]
		}
		return c.elderly[i] || c.incl[i]
	})
	if len(ent) == 0 {
		return 0
	}
	f := lu.Monthly
	tas := lu.Tasukai
	if only >= 0 {
		f, tas = f.Half(), tas/2
	}
	limit := f.Limit(cost)
	if tasukai && tas > 0 {
		limit = tas
	}
	return c.step(ent, limit)
}

// markUnits groups the under-70 receipts into units (person × institution × inpatient/
// outpatient × medical/dental, a pharmacy receipt joining its prescriber's outpatient unit) and
// marks the receipts of units whose paid sum reaches the threshold. 特定疾病 receipts stay out:
// their own limit (10,000 or 20,000) is below the threshold.
func (c *Calculator) markUnits(h *Household, t *Table) {
	n := len(h.Receipts)
	units := 0
	for i := 0; i < n; i++ {
		c.unit[i] = -1
		rc := &h.Receipts[i]
		if c.elderly[i] || rc.Tokutei != TokuteiNone {
			continue
		}
		u := -1
		for j := 0; j < i && u < 0; j++ {
			if c.unit[j] >= 0 && sameUnit(rc, &h.Receipts[j]) {
				u = int(c.unit[j])
			}
		}
		if u < 0 {
			u = units
			c.unitSum[u] = 0
			units++
		}
		c.unit[i] = int32(u)
		c.unitSum[u] += rc.Paid
	}
	for i := 0; i < n; i++ {
		if c.unit[i] < 0 {
			continue
		}
		threshold := t.UnitThreshold
		if c.half[i] {
			threshold /= 2
		}
		c.incl[i] = c.unitSum[c.unit[i]] >= threshold
	}
}

func sameUnit(a, b *Receipt) bool {
	return a.Member == b.Member && unitInstitution(a) == unitInstitution(b) &&
		unitSetting(a) == unitSetting(b) && unitDental(a) == unitDental(b)
}

func unitInstitution(r *Receipt) string {
	if r.Kind == Pharmacy && r.Prescriber != "" {
		return r.Prescriber
	}
	return r.Institution
}

func unitSetting(r *Receipt) Setting {
	if r.Kind == Pharmacy {
		return Outpatient
	}
	return r.Setting
}

// unitDental: a dental receipt, or a pharmacy receipt whose prescriber's 点数表 digit (the third
// of the institution code) is 3, 歯科.
func unitDental(r *Receipt) bool {
	if r.Kind == Pharmacy {
		return len(r.Prescriber) >= 3 && r.Prescriber[2] == '3'
	}
	return r.Kind == Dental
}

// entrants collects, in receipt-id order, the receipts for which in is true, and their cost.
func (c *Calculator) entrants(h *Household, in func(i int) bool) ([]int32, int64) {
	ent := c.ent[:0]
	var cost int64
	for _, i := range c.order[:len(h.Receipts)] {
		if in(int(i)) {
			ent = append(ent, i)
			cost += h.Receipts[i].Cost
		}
	}
	return ent, cost
}
