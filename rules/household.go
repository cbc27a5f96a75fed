package rules

import "fmt"

// Kind is the receipt's 点数表.
type Kind uint8

// Receipt kinds (CONTRACT.md §1.1).
const (
	Medical Kind = iota
	DPC
	Dental
	Pharmacy
)

var kindCodes = [...]string{"medical", "dpc", "dental", "pharmacy"}

func (k Kind) String() string { return kindCodes[k] }

// ParseKind reads a kind code. (A switch, which tells the codes apart by their length before
// it compares bytes: a loop over kindCodes compared every receipt's kind with up to four
// strings, 0.1 s of the 10M month's intake.)
func ParseKind(s string) (Kind, error) {
	switch s {
	case "medical":
		return Medical, nil
	case "dpc":
		return DPC, nil
	case "dental":
		return Dental, nil
	case "pharmacy":
		return Pharmacy, nil
	}
	return 0, fmt.Errorf("kind %q: want medical, dpc, dental or pharmacy", s)
}

// Setting is inpatient or outpatient.
type Setting uint8

// Settings.
const (
	Outpatient Setting = iota
	Inpatient
)

func (s Setting) String() string {
	if s == Inpatient {
		return "inpatient"
	}
	return "outpatient"
}

// ParseSetting reads a setting code.
func ParseSetting(s string) (Setting, error) {
	switch s {
	case "outpatient":
		return Outpatient, nil
	case "inpatient":
		return Inpatient, nil
	}
	return 0, fmt.Errorf("setting %q: want inpatient or outpatient", s)
}

// Tokutei marks a 特定疾病 receipt.
type Tokutei uint8

// 特定疾病 marks: 特記事項 02 長 and 16 長２.
const (
	TokuteiNone Tokutei = iota
	Chou
	Chou2
)

func (t Tokutei) String() string { return [...]string{"", "chou", "chou2"}[t] }

// ParseTokutei reads a tokutei code; the empty string is TokuteiNone.
func ParseTokutei(s string) (Tokutei, error) {
	switch s {
	case "":
		return TokuteiNone, nil
	case "chou":
		return Chou, nil
	case "chou2":
		return Chou2, nil
	}
	return 0, fmt.Errorf("tokutei %q: want chou, chou2 or empty", s)
}

// Member is a person of the household in the service month.
type Member struct {
	BirthDate Date
	// HalfLimits applies the 75歳到達月特例 to this person this month. The caller decides it
	// from the members master (see HalfLimitsApply).
	HalfLimits bool
}

// Receipt is one レセプト of the household, its amounts in yen.
type Receipt struct {
	ID     string
	Member int // index into Household.Members
	// Institution and Prescriber are 10-digit institution codes; Prescriber only for pharmacy.
	Institution, Prescriber string
	Kind                    Kind
	Setting                 Setting
	Cost, Copay, Paid       int64
	Tokutei                 Tokutei
}

// Household is one household's receipts for one service month under one insurer.
type Household struct {
	Month    Month
	ClassU70 ClassU70
	Class70  Class70
	// PriorMonths is the number of counting months (CONTRACT.md §3.4) among the 11 before Month.
	PriorMonths int
	// Members may include persons with no receipt this month: an under-70 member decides
	// whether step (c) runs.
	Members  []Member
	Receipts []Receipt
}

// ReceiptResult is one receipt's part of the result, in the order of Household.Receipts.
type ReceiptResult struct {
	Cash int64 // its apportioned share of the household's cash benefit
	// Included: it entered the under-70 household sum, or it is a 70+ receipt.
	Included bool
}

// Result is the household-month benefit.
type Result struct {
	Table                  *Table
	CopayTotal, PaidTotal  int64
	InKind, Cash           int64
	StageA, StageB, StageC int64
	StageTokutei           int64 // 特定疾病 receipts above their own limit
	TasukaiApplied         bool
	CountsForTasukai       bool
	Receipts               []ReceiptResult
	Elderly                []bool // per member: the 70+ rules apply this month
}

// StillPays is what the household itself bears after every benefit.
func (r *Result) StillPays() int64 { return r.PaidTotal - r.Cash }

// InputError is inconsistent input for one household. Code is the reject reason of
// CONTRACT.md §4 the pipeline records for every receipt of the household.
type InputError struct {
	Code      string // AMOUNT_INVALID, CATEGORY_MISSING
	ReceiptID string
	Detail    string
}

func (e *InputError) Error() string {
	if e.ReceiptID != "" {
		return fmt.Sprintf("%s: receipt %s: %s", e.Code, e.ReceiptID, e.Detail)
	}
	return e.Code + ": " + e.Detail
}

// Reject codes an InputError carries.
const (
	CodeAmountInvalid   = "AMOUNT_INVALID"
	CodeCategoryMissing = "CATEGORY_MISSING"
)
