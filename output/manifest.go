package output

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Manifest is manifest.json: what a run read, what it wrote, and the proof that the money
// balances. It holds no wall-clock time, host or process id on purpose: two runs over the
// same inputs with the same command line must produce the same bytes, manifest included.
type Manifest struct {
	// RunID identifies the run by what determines its output; see RunID.
	RunID           string           `json:"run_id"`
	CommandLine     []string         `json:"command_line"`
	RulesVersion    string           `json:"rules_version"`
	ServiceMonth    string           `json:"service_month"` // "YYYY-MM"
	Inputs          []Input          `json:"inputs"`
	Outputs         []OutputFile     `json:"outputs"`
	Reconciliation  Reconciliation   `json:"reconciliation"`
	RejectsByReason map[string]int64 `json:"rejects_by_reason"` // encoding/json sorts the keys
	// MembersConflicting counts the persons whose eligibility rows in force in the month
	// disagree on household, birth date or sex: their receipts are MEMBER_CONFLICT.
	MembersConflicting int64 `json:"members_conflicting"`
	// ResolvedByReason counts the receipts reassigned to the person found by name, birth
	// date and sex (resolved.parquet), by the reason they needed it; they are among the
	// accepted receipts.
	ResolvedByReason map[string]int64 `json:"resolved_by_reason"`
	Warnings         []string         `json:"warnings"`
}

// Input is one file the run read. Size and SHA256 come from Digest.
type Input struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows"`
}

// OutputFile is one file the run wrote, by its name inside the run directory.
type OutputFile struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// MarshalJSON writes the manifest with the order-sensitive parts made canonical, so that
// the goroutine schedule of a run cannot make two runs' manifests differ:
// outputs sorted by name, warnings sorted, and nil lists and maps written as [] and {}
// rather than null. Inputs keep the caller's order, which is the command line's.
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest // drops this method, so the call below does not recurse
	p := plain(m)
	p.CommandLine = orEmpty(p.CommandLine)
	p.Inputs = orEmpty(p.Inputs)
	p.Outputs = slices.SortedStableFunc(slices.Values(p.Outputs), func(a, b OutputFile) int {
		return cmp.Compare(a.Name, b.Name)
	})
	p.Outputs = orEmpty(p.Outputs)
	p.Warnings = orEmpty(slices.Sorted(slices.Values(p.Warnings)))
	if p.RejectsByReason == nil {
		p.RejectsByReason = map[string]int64{}
	}
	if p.ResolvedByReason == nil {
		p.ResolvedByReason = map[string]int64{}
	}
	return json.Marshal(p)
}

func orEmpty[E any](s []E) []E {
	if s == nil {
		return []E{}
	}
	return s
}

// RunID derives a run's id from the things that determine its output: typically the
// command arguments, the rules version and each input's digest. The same parts give the
// same id; the parts are length-prefixed, so ("ab","c") and ("a","bc") differ.
// The id is the first 128 bits of a SHA-256, in hex.
func RunID(parts ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Reconciliation is the run's balance sheet. Counts are receipts, amounts are yen.
type Reconciliation struct {
	ReceiptsRead     int64 `json:"receipts_read"`
	ReceiptsAccepted int64 `json:"receipts_accepted"`
	ReceiptsRejected int64 `json:"receipts_rejected"`
	PaidRead         int64 `json:"paid_read"`
	PaidAccepted     int64 `json:"paid_accepted"`
	PaidRejected     int64 `json:"paid_rejected"`
	// In a correction run, rows with cancel set remove a receipt from the month: they are
	// read, and neither accepted nor rejected.
	ReceiptsCancelled int64 `json:"receipts_cancelled"`
	PaidCancelled     int64 `json:"paid_cancelled"`
	// The cash benefit summed three ways: over household_month, receipt_benefit and
	// person_month. They must agree to the yen.
	BenefitCashHouseholds int64 `json:"benefit_cash_households"`
	BenefitCashReceipts   int64 `json:"benefit_cash_receipts"`
	BenefitCashPersons    int64 `json:"benefit_cash_persons"`
	// Balanced records Check() == nil at the time the manifest was written; see Settle.
	Balanced bool `json:"balanced"`
}

// Equations checked by Reconciliation.Check, as reported in ImbalanceError.Equation.
const (
	EqReceipts        = "receipts_read = receipts_accepted + receipts_rejected"
	EqPaid            = "paid_read = paid_accepted + paid_rejected"
	EqBenefitReceipts = "benefit_cash_households = benefit_cash_receipts"
	EqBenefitPersons  = "benefit_cash_households = benefit_cash_persons"
)

// ImbalanceError is one equation of a Reconciliation that does not hold:
// Left should equal Right.
type ImbalanceError struct {
	Equation    string
	Left, Right int64
}

func (e *ImbalanceError) Error() string {
	return fmt.Sprintf("reconciliation: %s does not hold: %d ≠ %d (off by %d)",
		e.Equation, e.Left, e.Right, e.Left-e.Right)
}

// Check returns nil when the run balances, and otherwise one *ImbalanceError per failing
// equation (joined with errors.Join; use Imbalances to list them). The three benefit sums
// are compared to the household sum, which is the amount actually paid out.
func (r Reconciliation) Check() error {
	var errs []error
	eq := func(equation string, left, right int64) {
		if left != right {
			errs = append(errs, &ImbalanceError{Equation: equation, Left: left, Right: right})
		}
	}
	eq(EqReceipts, r.ReceiptsRead, r.ReceiptsAccepted+r.ReceiptsRejected+r.ReceiptsCancelled)
	eq(EqPaid, r.PaidRead, r.PaidAccepted+r.PaidRejected+r.PaidCancelled)
	eq(EqBenefitReceipts, r.BenefitCashHouseholds, r.BenefitCashReceipts)
	eq(EqBenefitPersons, r.BenefitCashHouseholds, r.BenefitCashPersons)
	return errors.Join(errs...)
}

// Settle sets Balanced from Check and returns Check's error.
func (r *Reconciliation) Settle() error {
	err := r.Check()
	r.Balanced = err == nil
	return err
}

// Imbalances lists the *ImbalanceError values in an error returned by Check.
func Imbalances(err error) []*ImbalanceError {
	var out []*ImbalanceError
	var walk func(error)
	walk = func(err error) {
		if e, ok := err.(*ImbalanceError); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}
