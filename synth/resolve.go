package synth

import (
	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// The share of receipts to resolve, when Config.ResolveShareSet (issue 19's cost target: a
// month with a chosen share of resolution candidates, against the same month with none).
//
// A receipt is a candidate of the batch's resolution when the join refuses it for an
// unknown insurer (the all-7 number among them), an unknown person, or a person not eligible
// in the month, and it carries a kana name (aggregate.Unresolved.take). The generator makes
// three kinds (names.go, household.go): the receipts of lost persons, which carry their
// names; some of a mover's months claimed under the old card (claimOldShare); a few 不詳
// person-months of anyone (allSevenShare). Under ResolveShare the persons, receipts, amounts
// and every other column are those the same seed gives without it; only these change:
//
//   - a lost person's receipts carry the name only when chosen (otherwise they are plain
//     NOT_ELIGIBLE rejects, as before names existed);
//   - a mover's person-month is claimed under the old card only when chosen, under the new
//     card otherwise;
//   - anyone else's person-month is claimed under the all-7 number only when chosen;
//   - with Faults, an unknown-person fault carries its name only when its person-month is
//     chosen.
//
// The three pools keep today's proportions: the share of a pool's receipts chosen (its rate)
// is λ times today's (1 for lost persons, claimOldShare for movers, allSevenShare for the
// others), at most 1, one λ for the three, such that the receipts chosen are ResolveShare of
// all. A share above today's (about 0.4%) thus takes every lost person's receipt, then every
// mover's month, then more all-7s.
//
// A hash per person-month (chosen when below the rate, as claimAs does) would leave the
// count to chance where the month is small: on 20,000 households the lost persons' receipts
// alone vary by ±20% from seed to seed, and the person-months chosen add as much again. So
// the rates are solved on the month's own receipts, block by block (resolveBlock households,
// from a multiple of it), in a first pass that counts each pool's receipts and writes nothing;
// the second pass chooses a pool's person-months whole (a pharmacy receipt names whom its
// prescriber's names), in household order, by error diffusion: a person-month is chosen when
// that brings the pool's receipts chosen nearer its target, the rate times the pool's receipts
// so far. Each pool then ends within half a person-month of its target. Nothing is drawn from
// the household's streams, so nothing else changes. A file that starts inside a block replays
// the block's households before it, writing nothing, so that the rows do not depend on how
// the month is cut into files.

// resolveBlock is the number of households whose counts give the rates, from a multiple of
// it (a variable for the tests, which make blocks small).
var resolveBlock int64 = 1 << 16

// Pools of the receipts that may be made to need resolution.
const (
	poolRest  = iota // anyone else's: claimed under the all-7 number
	poolMover        // a mover's: claimed under the old card
	poolLost         // a lost person's: written with the name
	pools
)

// baseRate is each pool's rate without ResolveShare: the proportions kept.
var baseRate = [pools]float64{poolRest: allSevenShare, poolMover: claimOldShare, poolLost: 1}

// resolver is the choice over one block of households.
type resolver struct {
	share    float64
	counting bool // the first pass: count, choose nothing
	rates    [pools]float64
	n        [pools]int64 // receipts of each pool so far
	chosen   [pools]int64 // of them, chosen
}

// solve sets the rates from the counts: λ solves Σ min(1, λ·baseRate[k])·n[k] = share·Σ n[k].
func (s *resolver) solve() {
	s.rates = [pools]float64{}
	if s.share <= 0 {
		return
	}
	var total float64
	for _, n := range s.n {
		total += float64(n)
	}
	want := s.share * total
	// The pools saturate in the order of their base rates, highest first: with order[:sat]
	// at rate 1, λ spreads the rest of want over the others.
	order := [pools]int{poolLost, poolMover, poolRest}
	for sat := range order {
		var full, weighted float64
		for t, k := range order {
			if t < sat {
				full += float64(s.n[k])
			} else {
				weighted += baseRate[k] * float64(s.n[k])
			}
		}
		if weighted == 0 {
			continue // no receipts in the pools left
		}
		if lambda := (want - full) / weighted; lambda*baseRate[order[sat]] <= 1 {
			for t, k := range order {
				s.rates[k] = 1
				if t >= sat {
					s.rates[k] = min(1, max(0, lambda*baseRate[k]))
				}
			}
			return
		}
	}
	s.rates = [pools]float64{1, 1, 1}
}

// poolOf is the pool of person p's receipts in month m.
func poolOf(p *person, m rules.Month) int {
	switch {
	case p.lost && m > p.to:
		return poolLost
	case p.mover:
		return poolMover
	}
	return poolRest
}

// startBlock readies the choice for household i, the first of the part or of a block: it
// counts the block's households (writing nothing), solves the rates, and replays the
// block's households before i (writing nothing) for what they chose. At share 0 nothing is
// chosen, and nothing need be counted.
func (rg *receiptGen) startBlock(w *worker, i int64, tag uint64) {
	s := rg.res
	if s.share == 0 {
		return
	}
	from := i - i%resolveBlock
	to := min(from+resolveBlock, int64(rg.g.cfg.Households))
	*s = resolver{share: s.share, counting: true}
	rg.dry(w, from, to, tag)
	s.solve()
	s.counting, s.n = false, [pools]int64{}
	rg.dry(w, from, i, tag)
}

// dry runs households [from, to) through rg, writing nothing.
func (rg *receiptGen) dry(w *worker, from, to int64, tag uint64) {
	out, uke := rg.out, rg.uke
	scratch := &sink[receipt.Row]{buf: make([]receipt.Row, 0, chunkSlack)}
	rg.out, rg.uke, rg.dryRun = scratch, nil, true
	for i := from; i < to; i++ {
		w.load(i, tag)
		rg.household(&w.h)
		clear(scratch.buf)
		scratch.buf = scratch.buf[:0]
	}
	rg.out, rg.uke, rg.dryRun = out, uke, false
}

// settle chooses whether the current person-month's receipts (rg.pending) need resolution,
// all of them or none, makes their claims so and finishes them (receiptGen.finish): claimAs
// under Config.ResolveShare.
func (rg *receiptGen) settle() {
	c := len(rg.pending)
	if c == 0 {
		return
	}
	s, g, h, i, m := rg.res, rg.g, rg.h, rg.i, rg.mi.m
	pool := poolOf(&h.p[i], m)
	s.n[pool] += int64(c)
	// Chosen when the pool's receipts chosen, with these, are nearer the target than without.
	chosen := !s.counting && float64(s.chosen[pool])+float64(c)/2 < s.rates[pool]*float64(s.n[pool])
	if chosen {
		s.chosen[pool] += int64(c)
		if !rg.dryRun {
			rg.chosen += int64(c)
		}
	}
	for _, x := range rg.pending {
		row := x.row
		switch {
		case pool == poolLost && !chosen:
			row.NameKana = ""
		case pool == poolMover && chosen:
			row.InsurerNo, row.PersonID = g.oldInsurer(h, i).No, oldID('K', h.personID(i))
		case pool == poolRest && chosen:
			row.InsurerNo, row.PersonID = allSevens, allSevenIDs
		}
		if x.spoil == 0 && !chosen {
			row.NameKana = "" // an unknown-person fault: refused, not resolved
		}
		rg.finish(row, x.no, x.spoil, x.kind, x.setting, x.copay)
	}
	clear(rg.pending)
	rg.pending = rg.pending[:0]
}
