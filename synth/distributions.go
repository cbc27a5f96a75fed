package synth

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"

	"github.com/kougaku/batch/rules"
)

// distributionsJSON is the calibration, kept beside the code because go:embed cannot reach
// ../fixtures; fixtures/synth/distributions.json is a copy a test keeps identical.
//
//go:embed distributions.json
var distributionsJSON []byte

// distributions is the calibration file as written: every table names its source.
type distributions struct {
	Note         string `json:"note"`
	InsurerTypes struct {
		Source  string             `json:"source"`
		Persons map[string]float64 `json:"persons"`
	} `json:"insurer_types"`
	Aged7074 struct {
		Source string             `json:"source"`
		Share  map[string]float64 `json:"share"`
	} `json:"aged_70_74_share"`
	ClassU70 classTable `json:"class_u70"`
	Class70  classTable `json:"class_70"`
	Shapes   struct {
		Source string                  `json:"source"`
		Shapes map[string][]shapeEntry `json:"shapes"`
	} `json:"household_shapes"`
	Utilisation utilisation `json:"utilisation"`
	Targets     struct {
		Source         string             `json:"source"`
		PerPersonMonth float64            `json:"per_person_month"`
		KindShare      map[string]float64 `json:"kind_share"`
	} `json:"receipt_targets"`
	Costs struct {
		Source            string    `json:"source"`
		MedicalOutpatient lognormal `json:"medical_outpatient"`
		Pharmacy          lognormal `json:"pharmacy"`
		Dental            lognormal `json:"dental"`
		MedicalInpatient  lognormal `json:"medical_inpatient"`
		DPC               lognormal `json:"dpc"`
		Dialysis          lognormal `json:"dialysis"`
	} `json:"costs"`
	Tail struct {
		Source       string  `json:"source"`
		PerInpatient float64 `json:"per_inpatient"`
		XMin         float64 `json:"x_min"`
		Alpha        float64 `json:"alpha"`
		Cap          float64 `json:"cap"`
	} `json:"high_cost_tail"`
	Counter struct {
		Source       string  `json:"source"`
		AppliedShare float64 `json:"limit_applied_share"`
	} `json:"counter"`
	Eligibility struct {
		Source           string  `json:"source"`
		StartBackMax     int     `json:"start_months_back_max"`
		LostShare        float64 `json:"lost_share"`
		LostBackMax      int     `json:"lost_months_back_max"`
		ClassChangeShare float64 `json:"class_change_share"`
		HouseholdMove    float64 `json:"household_move_share"`
		KokuhoHalfLimits float64 `json:"kokuho_half_limits_share"`
	} `json:"eligibility"`
	History struct {
		Source        string             `json:"source"`
		Share         map[string]float64 `json:"share"`
		MonthsWeights []float64          `json:"months_weights"`
	} `json:"history"`
	Faults struct {
		Source string  `json:"source"`
		Share  float64 `json:"share"`
	} `json:"faults"`
	BenefitReference json.RawMessage `json:"benefit_reference"`
}

type classTable struct {
	Source string                        `json:"source"`
	Shares map[string]map[string]float64 `json:"shares"`
}

type shapeEntry struct {
	Weight float64  `json:"weight"`
	Ages   [][2]int `json:"ages"`
}

type utilisation struct {
	Source          string  `json:"source"`
	Bands           []band  `json:"bands"`
	FrailtySigma    float64 `json:"frailty_sigma"`
	MaxOutpatient   int     `json:"max_outpatient_institutions"`
	PharmacyPerOut  float64 `json:"pharmacy_per_outpatient"`
	PharmacyPerDent float64 `json:"pharmacy_per_dental"`
	DPCShare        float64 `json:"dpc_share_of_inpatient"`
}

// band is the utilisation of one age band, in expected receipts per person-month.
type band struct {
	Ages       [2]int  `json:"ages"`
	Outpatient float64 `json:"outpatient"`
	Dental     float64 `json:"dental"`
	Inpatient  float64 `json:"inpatient"`
	Dialysis   float64 `json:"dialysis"` // share of persons on outpatient dialysis (特定疾病 長)
	NonUser    float64 `json:"non_user"`
}

// lognormal is a cost distribution in yen.
type lognormal struct {
	Median float64 `json:"median"`
	Sigma  float64 `json:"sigma"`
	Min    int64   `json:"min"`
}

// loadDistributions reads the embedded calibration.
func loadDistributions() (*distributions, error) { return parseDistributions(distributionsJSON) }

// parseDistributions reads a calibration file; unknown fields are errors, so that a typo does
// not silently fall back to a zero.
func parseDistributions(data []byte) (*distributions, error) {
	var d distributions
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("synth distributions: %w", err)
	}
	return &d, nil
}

// Insurer types, in the order the generator draws them.
type insurerType uint8

const (
	kyokai insurerType = iota // 協会けんぽ
	kumiai                    // 組合健保
	kyosai                    // 共済組合
	kokuho                    // 市町村国保
	kouki                     // 後期高齢者医療
	numTypes
)

var typeNames = [numTypes]string{"kyokai", "kumiai", "kyosai", "kokuho", "kouki"}

func (t insurerType) String() string { return typeNames[t] }

// employee: a 被用者保険 type, whose household is an insured person and dependants.
func (t insurerType) employee() bool { return t <= kyosai }

// weighted draws an index in proportion to its weights.
type weighted struct{ cum []float64 }

func newWeighted(w []float64) (weighted, error) {
	cum := make([]float64, len(w))
	var s float64
	for i, x := range w {
		if x < 0 || math.IsNaN(x) {
			return weighted{}, fmt.Errorf("negative weight %v", x)
		}
		s += x
		cum[i] = s
	}
	if s <= 0 {
		return weighted{}, fmt.Errorf("weights sum to zero")
	}
	return weighted{cum}, nil
}

// pick maps u ∈ [0,1) to an index (binary search: the insurer lists run to dozens).
func (w weighted) pick(u float64) int {
	x := u * w.cum[len(w.cum)-1]
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if w.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// share returns the normalised weight of index i.
func (w weighted) share(i int) float64 {
	prev := 0.0
	if i > 0 {
		prev = w.cum[i-1]
	}
	return (w.cum[i] - prev) / w.cum[len(w.cum)-1]
}

// classCodes are the classes the tables may name, in a fixed order (map order is random).
var (
	u70Order = []rules.ClassU70{rules.U70A, rules.U70I, rules.U70U, rules.U70E, rules.U70O}
	o70Order = []rules.Class70{rules.O70Gen3, rules.O70Gen2, rules.O70Gen1, rules.O70Ippan,
		rules.O70Ippan2, rules.O70Tei2, rules.O70Tei1}
)

func u70Weights(m map[string]float64) ([]float64, error) {
	w := make([]float64, len(u70Order))
	for code, x := range m {
		c, err := rules.ParseClassU70(code)
		if err != nil || c == rules.U70None {
			return nil, fmt.Errorf("class %q", code)
		}
		for i, o := range u70Order {
			if o == c {
				w[i] = x
			}
		}
	}
	return w, nil
}

func o70Weights(m map[string]float64) ([]float64, error) {
	w := make([]float64, len(o70Order))
	for code, x := range m {
		c, err := rules.ParseClass70(code)
		if err != nil || c == rules.O70None {
			return nil, fmt.Errorf("class %q", code)
		}
		for i, o := range o70Order {
			if o == c {
				w[i] = x
			}
		}
	}
	return w, nil
}
