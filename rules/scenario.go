package rules

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/shopspring/decimal"
)

// StatusScenario marks a table that is not law but a what-if: a uniform raise made by Raised,
// or a scenario file read by ParseScenario. `batch simulate` computes with it; `batch run`
// never sees one, since only ParseScenario accepts the status.
const StatusScenario = "scenario"

// Raised returns a copy of t with every amount of a limit raised by pct percent: the base,
// threshold and cap of every formula (under 70 and 70+, the 70+ outpatient limits, the 一般Ⅱ
// 配慮措置 with its threshold and cap), every 多数回 amount and the annual outpatient cap. Each
// is rounded half up to a multiple of round yen (round ≤ 1: to the yen). Rates (the 1%) stay,
// and so do the amounts that are not limits: the 21,000 yen 合算対象基準額 and the 特定疾病
// limits (10,000 and 20,000), which a raise of 自己負担限度額 leaves alone. The version is
// suffixed with the raise ("2025-10+10%") and the status is StatusScenario.
//
// pct must be above −100. Rounding never turns a raise into a cut or a cut into a raise: no
// limit of the result is below t's at any cost when pct ≥ 0, nor above it when pct ≤ 0 (see
// raiser.formula), so that "a raise never increases the benefit" holds exactly, not only
// for pct large enough that rounding cannot matter.
func (t *Table) Raised(pct decimal.Decimal, round int64) *Table {
	r := raiser{factor: decimal.NewFromInt(100).Add(pct), up: !pct.IsNegative(), round: max(round, 1)}
	c := *t // the limit arrays are values: the copy shares nothing with t
	sign := "+"
	if pct.IsNegative() {
		sign = ""
	}
	c.Version = t.Version + sign + pct.String() + "%"
	c.Status = StatusScenario
	c.Source = fmt.Sprintf("scenario: every limit of %s %s%s%%, rounded half up to ¥%d (rates, 合算対象基準額 and 特定疾病 kept); %s",
		t.Version, sign, pct.String(), r.round, t.Source)
	c.AnnualOutpatientCap = r.amount(t.AnnualOutpatientCap)
	for i := range c.U70 {
		l := &c.U70[i]
		if !l.Present {
			continue
		}
		l.Monthly = r.formula(l.Monthly)
		l.Tasukai = r.amount(l.Tasukai)
	}
	for i := range c.O70 {
		l := &c.O70[i]
		if !l.Present {
			continue
		}
		if l.HasOutpatient {
			l.Outpatient = r.formula(l.Outpatient)
		}
		l.Household = r.formula(l.Household)
		l.Tasukai = r.amount(l.Tasukai)
	}
	return &c
}

// Raised returns the set with every table raised (Table.Raised).
func (s *Set) Raised(pct decimal.Decimal, round int64) *Set {
	out := &Set{tables: make([]*Table, len(s.tables))}
	for i, t := range s.tables {
		out.tables[i] = t.Raised(pct, round)
	}
	return out
}

// raiser applies one raise to amounts: × factor/100, half up to a multiple of round.
type raiser struct {
	factor decimal.Decimal // 100 + pct
	up     bool            // pct ≥ 0
	round  int64
}

var two, hundred = decimal.NewFromInt(2), decimal.NewFromInt(100)

// amount raises one amount; 0 (no cap, no 多数回 amount) stays 0, and under +0% every amount
// stays (rounding 24,600 to ¥1,000 would otherwise raise it). The result is never on the
// wrong side of a: an amount that is not a multiple of round could otherwise round back past
// where it started.
func (r raiser) amount(a int64) int64 {
	if a == 0 || r.factor.Equal(hundred) {
		return a // +0% is the table itself, whatever the rounding unit
	}
	// a × factor / 100 / round, exactly: the product is a finite decimal, and QuoRem at
	// precision 0 gives the whole quotient and the exact remainder, so the half-up decision
	// never depends on a rounded division.
	unit := decimal.NewFromInt(100 * r.round)
	q, rem := decimal.NewFromInt(a).Mul(r.factor).QuoRem(unit, 0)
	n := q.IntPart()
	if rem.Mul(two).GreaterThanOrEqual(unit) {
		n++
	}
	n *= r.round
	if r.up {
		return max(n, a)
	}
	return min(n, a)
}

// formula raises a formula's base, threshold and cap. Rounded separately, a threshold can
// move further than its base in the formula's terms: +0.03% to the yen hundred leaves
// 80,100 where it is but takes 267,000 to 267,100, which would lower the limit of every cost
// past the threshold by a yen. So the threshold gives back whole rounding steps until the
// base's move covers the rate times the threshold's, for the formula and for its halves (the
// 75歳到達月特例, Formula.Half): with |ΔBase| ≥ ⌈rate × |ΔThreshold|⌉ the limit moves the
// raise's way at every cost, since Limit rounds half up and shifting its argument by whole
// yen shifts the result by the same whole yen.
func (r raiser) formula(f Formula) Formula {
	out := f
	out.Base, out.Threshold, out.Cap = r.amount(f.Base), r.amount(f.Threshold), r.amount(f.Cap)
	if f.RateNum == 0 {
		return out
	}
	ceilRate := func(d int64) int64 { return (d*f.RateNum + f.RateDen - 1) / f.RateDen }
	// covered: a base move of db covers a threshold move of dt (both ≥ 0), whole and halved
	// (halving floors each amount, so the halves move by at least ⌊db/2⌋ and at most ⌈dt/2⌉).
	covered := func(db, dt int64) bool { return db >= ceilRate(dt) && db/2 >= ceilRate((dt+1)/2) }
	if r.up {
		for out.Threshold > f.Threshold && !covered(out.Base-f.Base, out.Threshold-f.Threshold) {
			out.Threshold = max(out.Threshold-r.round, f.Threshold)
		}
	} else {
		for out.Threshold < f.Threshold && !covered(f.Base-out.Base, f.Threshold-out.Threshold) {
			out.Threshold = min(out.Threshold+r.round, f.Threshold)
		}
	}
	return out
}

// ParseScenario reads a scenario table: a whole rule table in the JSON format of
// rules/tables/*.json (ParseTable), whose status may also be "scenario". Subdivided classes
// are not supported: the classes are the law's (ア〜オ, 現役並みⅢ〜低所得Ⅰ).
func ParseScenario(data []byte) (*Table, error) {
	var f tableFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("scenario table: %w", err)
	}
	scenario := f.Status == StatusScenario
	if scenario {
		f.Status = StatusProvisional // compile checks everything else as for any table
	}
	t, err := f.compile()
	if err != nil {
		return nil, err
	}
	if scenario {
		t.Status = StatusScenario
	}
	return t, nil
}
