package output

// The row types below are the output contract: one struct per Parquet file, one field per
// column, in contract order. The parquet tag is the column name; nothing else in the
// program may rename or reorder them, since downstream readers (the ledger, BI extracts)
// select columns by name and compare files byte for byte between runs.
//
// Amounts are int64 yen. Months are "YYYY-MM".
//
// Encoding choices, kept in the tags because they are part of what makes two runs' files
// identical:
//   - ",dict" on string columns whose values repeat within a row group (insurer numbers,
//     months, kinds, settings, categories, 特定疾病 codes). Once a chunk's dictionary passes dictMaxBytes (checked
//     when a page is flushed) the chunk falls back to PLAIN for the rest of the row group,
//     so a high-cardinality month cannot grow the dictionary without bound.
//   - no dictionary on ids that are unique or nearly so within their file (receipt_id
//     everywhere, the ids of household_month, person_month, annual_outpatient and
//     adjustments): a dictionary there is pure overhead. parquet-go writes these
//     DELTA_LENGTH_BYTE_ARRAY, which zstd then compresses well.
//   - no dictionary on institution_id and prescriber_id either: a row group of a national
//     month holds most of the country's institutions, past dictMaxBytes, and on a generated
//     month the plain file came out smaller and the writer a fifth faster.
//   - ",delta" (DELTA_BINARY_PACKED) on the amounts that are rarely zero (cost, copay, paid,
//     outpatient_paid, copay_total, paid_total): 8 bytes a value shrink to the bits their
//     differences need before zstd sees them, and zstd is most of the writers' time. On a
//     generated month this cut the CPU of writing receipt_benefit by 15% and of
//     person_month and household_month by a fifth, for files 2–6% larger. The amounts that
//     are mostly zero stay PLAIN: zstd takes runs of zeros quickly and to almost nothing,
//     and one nonzero value widens a whole block of 32 packed differences.

// File names inside a run directory.
const (
	HouseholdMonthFile   = "household_month.parquet"
	ReceiptBenefitFile   = "receipt_benefit.parquet"
	PersonMonthFile      = "person_month.parquet"
	RejectsFile          = "rejects.parquet" // rows are receipt.Reject
	AnnualOutpatientFile = "annual_outpatient.parquet"
	AdjustmentsFile      = "adjustments.parquet"
	ResolvedFile         = "resolved.parquet"
	ManifestFile         = "manifest.json"
)

// Values of PersonMonth.AgeGroup.
const (
	AgeGroupU70    = "u70"
	AgeGroup70Plus = "70plus"
)

// Values of Adjustment.Cause.
const (
	CauseCorrectedReceipts = "corrected_receipts"
	CauseTasukaiCascade    = "tasukai_cascade"
)

// ResolvedReceipt is a receipt the claimed insurer could not take, reassigned to the insurer,
// person and household found by name, birth date and sex (resolved.parquet, CONTRACT.md
// §3.8). Such a receipt is an accepted receipt: it is in receipt_benefit.parquet under the
// insurer and person found.
type ResolvedReceipt struct {
	ReceiptID        string `parquet:"receipt_id"`
	ServiceMonth     string `parquet:"service_month,dict"`
	ClaimedInsurerNo string `parquet:"claimed_insurer_no,dict"`
	ClaimedPersonID  string `parquet:"claimed_person_id"`
	InsurerNo        string `parquet:"insurer_no,dict"`
	PersonID         string `parquet:"person_id"`
	HouseholdID      string `parquet:"household_id"`
	Reason           string `parquet:"reason,dict"` // insurer_unknown, person_unknown or not_eligible
	Method           string `parquet:"method,dict"` // kana_birth_sex
	// The receipt's name_kana, birth_date and sex as claimed, which found the person: a
	// rerun of the month on a ledger looks the receipt up again with them.
	NameKana  string `parquet:"name_kana"`
	BirthDate string `parquet:"birth_date"`
	Sex       string `parquet:"sex,dict"`
}

// HouseholdMonth is one household's benefit for one service month (household_month.parquet).
type HouseholdMonth struct {
	InsurerNo    string `parquet:"insurer_no,dict"`
	HouseholdID  string `parquet:"household_id"`
	ServiceMonth string `parquet:"service_month,dict"`
	CategoryU70  string `parquet:"category_u70,dict"`
	Category70   string `parquet:"category_70,dict"`
	// PriorBenefitMonths is the number of benefit months in the 12 months before this one,
	// the count that decides whether 多数回該当 applies.
	PriorBenefitMonths int32 `parquet:"prior_benefit_months"`
	TasukaiApplied     bool  `parquet:"tasukai_applied"`
	// CountsForTasukai says whether this month counts toward later months' 多数回 count.
	CountsForTasukai bool   `parquet:"counts_for_tasukai"`
	Receipts         int    `parquet:"receipts"`
	CopayTotal       int64  `parquet:"copay_total,delta"`
	PaidTotal        int64  `parquet:"paid_total,delta"`
	BenefitInKind    int64  `parquet:"benefit_in_kind"`
	BenefitCash      int64  `parquet:"benefit_cash"`
	StageA           int64  `parquet:"stage_a"`
	StageB           int64  `parquet:"stage_b"`
	StageC           int64  `parquet:"stage_c"`
	StageTokutei     int64  `parquet:"stage_tokutei"`
	RulesVersion     string `parquet:"rules_version,dict"`
}

// ReceiptBenefit is one accepted receipt and the share of its household's cash benefit
// attributed to it (receipt_benefit.parquet).
type ReceiptBenefit struct {
	ReceiptID    string `parquet:"receipt_id"`
	InsurerNo    string `parquet:"insurer_no,dict"`
	HouseholdID  string `parquet:"household_id"`
	PersonID     string `parquet:"person_id"`
	ServiceMonth string `parquet:"service_month,dict"`
	Kind         string `parquet:"kind,dict"`
	Setting      string `parquet:"setting,dict"`
	Cost         int64  `parquet:"cost,delta"`
	Copay        int64  `parquet:"copay,delta"`
	Paid         int64  `parquet:"paid,delta"`
	// Included is false for receipts that did not enter the household sum (e.g. a u70
	// receipt below the 21,000 yen threshold).
	Included    bool  `parquet:"included"`
	BenefitCash int64 `parquet:"benefit_cash"`
	// Added beyond the contract's columns: what a later recomputation of the receipt needs,
	// so that the ledger can rerun a month from this file alone.
	InstitutionID string `parquet:"institution_id"`
	PrescriberID  string `parquet:"prescriber_id"`
	Tokutei       string `parquet:"tokutei,dict"`
}

// PersonMonth is one person's totals for one service month (person_month.parquet).
type PersonMonth struct {
	InsurerNo             string `parquet:"insurer_no,dict"`
	HouseholdID           string `parquet:"household_id"`
	PersonID              string `parquet:"person_id"`
	ServiceMonth          string `parquet:"service_month,dict"`
	AgeGroup              string `parquet:"age_group,dict"` // AgeGroupU70 or AgeGroup70Plus
	OutpatientPaid        int64  `parquet:"outpatient_paid,delta"`
	OutpatientBenefitCash int64  `parquet:"outpatient_benefit_cash"`
	InpatientPaid         int64  `parquet:"inpatient_paid"`
	BenefitCash           int64  `parquet:"benefit_cash"`
}

// AnnualOutpatient is one person's 外来年間合算 for the year starting PeriodStart
// (annual_outpatient.parquet).
type AnnualOutpatient struct {
	InsurerNo        string `parquet:"insurer_no,dict"`
	PersonID         string `parquet:"person_id"`
	HouseholdID      string `parquet:"household_id"`
	PeriodStart      string `parquet:"period_start,dict"` // "YYYY-08"
	MonthsCounted    int    `parquet:"months_counted"`
	OutpatientNetSum int64  `parquet:"outpatient_net_sum"`
	Payout           int64  `parquet:"payout"`
}

// Adjustment is a change to a household month already paid (adjustments.parquet).
type Adjustment struct {
	InsurerNo    string `parquet:"insurer_no,dict"`
	HouseholdID  string `parquet:"household_id"`
	ServiceMonth string `parquet:"service_month,dict"`
	PreviousCash int64  `parquet:"previous_cash"`
	NewCash      int64  `parquet:"new_cash"`
	Delta        int64  `parquet:"delta"`      // NewCash - PreviousCash
	Cause        string `parquet:"cause,dict"` // CauseCorrectedReceipts or CauseTasukaiCascade
}
