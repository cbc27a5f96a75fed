package synth

import (
	"fmt"
	"math"
	"sync"

	"github.com/kougaku/batch/rules"
)

// model is the calibration compiled into what the generator draws from.
type model struct {
	d      *distributions
	hhType weighted // households (not persons) per insurer type
	types  [numTypes]typeModel
	bands  []band
	bandOf [maxAge + 1]uint8
	costs  [numCosts]costModel
	// histMonths draws the number of counting months (index+1) of a household with history.
	histMonths weighted
	// meanPersons is the expected household size over all types, for sizing files.
	meanPersons float64
}

const maxAge = 120

type typeModel struct {
	shapes   []shapeEntry
	shape    weighted
	u70, o70 weighted // over u70Order / o70Order; u70 empty for 後期
	hasU70   bool
	history  float64
	insurers []insurer
	insurer  weighted
	// tei1 is P(TEI1 | 低所得) for mapping an under-70 オ household to a 70+ class.
	tei1 float64
}

// Cost kinds.
const (
	costOutpatient = iota
	costPharmacy
	costDental
	costInpatient
	costDPC
	costDialysis
	numCosts
)

// costModel is a log-normal in yen: exp(mu + sigma·N), at least min.
type costModel struct {
	mu, sigma float64
	min       int64
}

var (
	defaultModel    *model
	defaultModelErr error
	defaultOnce     sync.Once
)

// loadModel compiles the embedded calibration once.
func loadModel() (*model, error) {
	defaultOnce.Do(func() {
		d, err := loadDistributions()
		if err != nil {
			defaultModelErr = err
			return
		}
		defaultModel, defaultModelErr = compile(d)
	})
	return defaultModel, defaultModelErr
}

func compile(d *distributions) (*model, error) {
	m := &model{d: d, bands: d.Utilisation.Bands}
	lists := insurerLists()
	hhWeights := make([]float64, numTypes)
	var persons, households float64
	for t := range numTypes {
		tm, size, err := compileType(d, t, lists[t])
		if err != nil {
			return nil, fmt.Errorf("synth distributions, %s: %w", t, err)
		}
		m.types[t] = tm
		// The calibration gives persons per type; households are drawn, so divide by size.
		hhWeights[t] = d.InsurerTypes.Persons[t.String()] / size
		persons += hhWeights[t] * size
		households += hhWeights[t]
	}
	var err error
	if m.hhType, err = newWeighted(hhWeights); err != nil {
		return nil, fmt.Errorf("synth distributions, insurer_types: %w", err)
	}
	m.meanPersons = persons / households
	if err := m.compileBands(); err != nil {
		return nil, err
	}
	c := &d.Costs
	for i, l := range []lognormal{c.MedicalOutpatient, c.Pharmacy, c.Dental, c.MedicalInpatient, c.DPC, c.Dialysis} {
		if l.Median <= 0 || l.Sigma < 0 {
			return nil, fmt.Errorf("synth distributions: cost %d: median must be positive", i)
		}
		m.costs[i] = costModel{mu: math.Log(l.Median), sigma: l.Sigma, min: l.Min}
	}
	if m.histMonths, err = newWeighted(d.History.MonthsWeights); err != nil || len(d.History.MonthsWeights) != 11 {
		return nil, fmt.Errorf("synth distributions: history months_weights: want 11 weights (%v)", err)
	}
	if err := checkScalars(d); err != nil {
		return nil, fmt.Errorf("synth distributions: %w", err)
	}
	return m, nil
}

// compileType returns a type's model and its mean household size.
func compileType(d *distributions, t insurerType, ins []insurer) (typeModel, float64, error) {
	tm := typeModel{shapes: d.Shapes.Shapes[t.String()], insurers: ins, history: d.History.Share[t.String()]}
	if len(tm.shapes) == 0 {
		return tm, 0, fmt.Errorf("no household shapes")
	}
	ws := make([]float64, len(tm.shapes))
	var size, total float64
	for i, s := range tm.shapes {
		if len(s.Ages) == 0 || len(s.Ages) > maxMembers {
			return tm, 0, fmt.Errorf("shape %d: want 1..%d members", i, maxMembers)
		}
		for _, a := range s.Ages {
			if a[0] < 0 || a[1] < a[0] || a[1] > maxAge || (t == kouki) != (a[0] >= 75) || (t != kouki && a[1] >= 75) {
				return tm, 0, fmt.Errorf("shape %d: age range %v (後期 is 75+, the others under 75)", i, a)
			}
		}
		ws[i] = s.Weight
		size += s.Weight * float64(len(s.Ages))
		total += s.Weight
	}
	var err error
	if tm.shape, err = newWeighted(ws); err != nil {
		return tm, 0, err
	}
	if t != kouki {
		w, err := u70Weights(d.ClassU70.Shares[t.String()])
		if err != nil {
			return tm, 0, fmt.Errorf("class_u70: %w", err)
		}
		if tm.u70, err = newWeighted(w); err != nil {
			return tm, 0, fmt.Errorf("class_u70: %w", err)
		}
		tm.hasU70 = true
	}
	w, err := o70Weights(d.Class70.Shares[t.String()])
	if err != nil {
		return tm, 0, fmt.Errorf("class_70: %w", err)
	}
	if t != kouki && w[4] != 0 {
		return tm, 0, fmt.Errorf("class_70: IPPAN2 is a 後期 class only")
	}
	if tm.o70, err = newWeighted(w); err != nil {
		return tm, 0, fmt.Errorf("class_70: %w", err)
	}
	tm.tei1 = w[6] / math.Max(w[5]+w[6], 1e-9)
	ww := make([]float64, len(ins))
	for i := range ww {
		// Uneven insurer sizes, as in life: the first of a list is the largest.
		ww[i] = 1 / math.Sqrt(float64(i+1))
	}
	if tm.insurer, err = newWeighted(ww); err != nil {
		return tm, 0, err
	}
	return tm, size / total, nil
}

func (m *model) compileBands() error {
	covered := 0
	for i, b := range m.bands {
		if b.Ages[0] != covered || b.Ages[1] < b.Ages[0] || b.Ages[1] > maxAge {
			return fmt.Errorf("synth distributions: utilisation band %d %v: bands must cover 0..%d in order", i, b.Ages, maxAge)
		}
		if b.NonUser < 0 || b.NonUser >= 1 {
			return fmt.Errorf("synth distributions: utilisation band %d: non_user must be in [0,1)", i)
		}
		for a := b.Ages[0]; a <= b.Ages[1]; a++ {
			m.bandOf[a] = uint8(i)
		}
		covered = b.Ages[1] + 1
	}
	if covered != maxAge+1 {
		return fmt.Errorf("synth distributions: utilisation bands end at %d, want %d", covered-1, maxAge)
	}
	return nil
}

// Mapping between the two class ladders: the seed's table puts ア〜オ and 現役並みⅢ〜低所得 on
// the same income rows, so a household with both age groups gets matching classes.
func u70To70(c rules.ClassU70, lowTei1 bool) rules.Class70 {
	switch c {
	case rules.U70A:
		return rules.O70Gen3
	case rules.U70I:
		return rules.O70Gen2
	case rules.U70U:
		return rules.O70Gen1
	case rules.U70E:
		return rules.O70Ippan
	}
	if lowTei1 {
		return rules.O70Tei1
	}
	return rules.O70Tei2
}

func o70ToU70(c rules.Class70) rules.ClassU70 {
	switch c {
	case rules.O70Gen3:
		return rules.U70A
	case rules.O70Gen2:
		return rules.U70I
	case rules.O70Gen1:
		return rules.U70U
	case rules.O70Ippan, rules.O70Ippan2:
		return rules.U70E
	}
	return rules.U70O
}

// checkScalars rejects settings the generator cannot use (a zero range would panic a draw).
func checkScalars(d *distributions) error {
	u, e := &d.Utilisation, &d.Eligibility
	for name, p := range map[string]float64{
		"pharmacy_per_outpatient": u.PharmacyPerOut, "pharmacy_per_dental": u.PharmacyPerDent,
		"dpc_share_of_inpatient": u.DPCShare, "limit_applied_share": d.Counter.AppliedShare,
		"lost_share": e.LostShare, "class_change_share": e.ClassChangeShare,
		"household_move_share": e.HouseholdMove, "kokuho_half_limits_share": e.KokuhoHalfLimits,
		"high_cost_tail.per_inpatient": d.Tail.PerInpatient, "faults.share": d.Faults.Share,
	} {
		if p < 0 || p > 1 {
			return fmt.Errorf("%s %v: want a share in [0,1]", name, p)
		}
	}
	switch {
	case u.MaxOutpatient < 1 || u.MaxOutpatient > outpatientSlots:
		return fmt.Errorf("max_outpatient_institutions must be 1..%d", outpatientSlots)
	case e.StartBackMax < 1 || e.LostBackMax < 1:
		return fmt.Errorf("start_months_back_max and lost_months_back_max must be at least 1")
	case d.Tail.XMin <= 0 || d.Tail.Alpha <= 0 || d.Tail.Cap < d.Tail.XMin:
		return fmt.Errorf("high_cost_tail: want 0 < x_min <= cap and alpha > 0")
	}
	return nil
}
