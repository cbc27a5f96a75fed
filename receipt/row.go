// Package receipt turns every input format (normalized CSV or Parquet, UKE files) into Arrow
// record batches of one schema, plus rejects for rows that cannot be read. Nothing downstream
// knows where a receipt came from.
package receipt

import (
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
)

// Row is one normalized receipt (CONTRACT.md §1.1). Its parquet tags are the contract's column
// names, so the same struct reads and writes the normalized Parquet input. Columns of a few
// distinct values are written dictionary-encoded, as most Parquet writers (Arrow, Spark,
// DuckDB) write them by default; the readers take both encodings at the same pace.
type Row struct {
	ReceiptID     string `parquet:"receipt_id"`
	ServiceMonth  string `parquet:"service_month,dict"`
	InsurerNo     string `parquet:"insurer_no,dict"`
	PersonID      string `parquet:"person_id"`
	InstitutionID string `parquet:"institution_id"`
	Kind          string `parquet:"kind,dict"`
	Setting       string `parquet:"setting,dict"`
	PrescriberID  string `parquet:"prescriber_id"`
	Cost          int64  `parquet:"cost"`
	Copay         int64  `parquet:"copay"`
	Paid          int64  `parquet:"paid"`
	Tokutei       string `parquet:"tokutei,dict"`
	BirthDate     string `parquet:"birth_date"`
	Sex           string `parquet:"sex,dict"`
	// NameKana is the カタカナ氏名 as claimed, used only to find the insurer of a receipt
	// the claimed insurer cannot take (CONTRACT.md §3.8).
	NameKana string `parquet:"name_kana,dict"`
	// Cancel marks, in a correction run, a receipt to remove from the month.
	Cancel bool `parquet:"cancel"`
}

// MemberRow is one eligibility row of the members table (CONTRACT.md §1.2).
type MemberRow struct {
	InsurerNo       string `parquet:"insurer_no,dict"`
	PersonID        string `parquet:"person_id"`
	HouseholdID     string `parquet:"household_id"`
	BirthDate       string `parquet:"birth_date"`
	Sex             string `parquet:"sex,dict"`
	ValidFrom       string `parquet:"valid_from,dict"`
	ValidTo         string `parquet:"valid_to,dict"`
	CategoryU70     string `parquet:"category_u70,dict"`
	Category70      string `parquet:"category_70,dict"`
	HalfLimitsMonth string `parquet:"half_limits_month,dict"`
	NameKana        string `parquet:"name_kana,dict"` // optional: for resolving 不詳 and 旧資格 receipts
}

// HistoryRow is one prior counting month of a household (CONTRACT.md §1.3).
type HistoryRow struct {
	InsurerNo    string `parquet:"insurer_no,dict"`
	HouseholdID  string `parquet:"household_id"`
	ServiceMonth string `parquet:"service_month,dict"`
}

// Column indexes of Schema, for readers and consumers of the record batches.
const (
	ColReceiptID = iota
	ColServiceMonth
	ColInsurerNo
	ColPersonID
	ColInstitutionID
	ColKind
	ColSetting
	ColPrescriberID
	ColCost
	ColCopay
	ColPaid
	ColTokutei
	ColBirthDate
	ColSex
	ColNameKana
	ColCancel
	// ColSourceLine is the 1-based line (CSV, UKE RE record) or row number (Parquet) the
	// receipt came from; the file is carried beside the batch (Batch.File).
	ColSourceLine
)

// Schema is the one schema every reader produces.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "receipt_id", Type: arrow.BinaryTypes.String},
	{Name: "service_month", Type: arrow.BinaryTypes.String},
	{Name: "insurer_no", Type: arrow.BinaryTypes.String},
	{Name: "person_id", Type: arrow.BinaryTypes.String},
	{Name: "institution_id", Type: arrow.BinaryTypes.String},
	{Name: "kind", Type: arrow.BinaryTypes.String},
	{Name: "setting", Type: arrow.BinaryTypes.String},
	{Name: "prescriber_id", Type: arrow.BinaryTypes.String},
	{Name: "cost", Type: arrow.PrimitiveTypes.Int64},
	{Name: "copay", Type: arrow.PrimitiveTypes.Int64},
	{Name: "paid", Type: arrow.PrimitiveTypes.Int64},
	{Name: "tokutei", Type: arrow.BinaryTypes.String},
	{Name: "birth_date", Type: arrow.BinaryTypes.String},
	{Name: "sex", Type: arrow.BinaryTypes.String},
	{Name: "name_kana", Type: arrow.BinaryTypes.String},
	{Name: "cancel", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "source_line", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// Reject reason codes (CONTRACT.md §4).
const (
	BadRecord         = "BAD_RECORD"
	DuplicateReceipt  = "DUPLICATE_RECEIPT"
	UnknownInsurer    = "UNKNOWN_INSURER"
	UnknownPerson     = "UNKNOWN_PERSON"
	NotEligible       = "NOT_ELIGIBLE"
	BirthdateMismatch = "BIRTHDATE_MISMATCH"
	SexMismatch       = "SEX_MISMATCH"
	MonthMismatch     = "MONTH_MISMATCH"
	OutOfScope        = "OUT_OF_SCOPE"
	AmountInvalid     = "AMOUNT_INVALID"
	CategoryMissing   = "CATEGORY_MISSING"
	CategoryConflict  = "CATEGORY_CONFLICT"
	MemberConflict    = "MEMBER_CONFLICT" // the person's rows in force disagree on household, birth date or sex
	UnknownReceipt    = "UNKNOWN_RECEIPT"
	UnknownMonth      = "UNKNOWN_MONTH"    // a correction for a service month the ledger does not hold
	AmbiguousPerson   = "AMBIGUOUS_PERSON" // a receipt to resolve matches more than one person (CONTRACT.md §3.8)
)

// Reject is a receipt that was not accepted, with where it came from and why.
type Reject struct {
	Source    string `parquet:"source"` // "file:line" or "file:row N"
	ReceiptID string `parquet:"receipt_id"`
	InsurerNo string `parquet:"insurer_no"`
	PersonID  string `parquet:"person_id"`
	Reason    string `parquet:"reason_code"`
	Detail    string `parquet:"detail"`
	// Paid is the receipt's paid amount when it could be read (0 otherwise); the manifest
	// reconciles Σ paid read = Σ paid accepted + Σ paid rejected with it.
	Paid int64 `parquet:"paid"`
}

// MaxRejectText bounds each text of a reject (source, ids, detail), in bytes: room for any
// real id and message, where a field of megabytes in a broken file, quoted in the detail,
// went whole into the rejects file.
const MaxRejectText = 512

// Cut returns r with each text longer than MaxRejectText cut to that length on a rune
// boundary, its end marked "… (cut; N bytes)" with the length it had. A cut text is a copy:
// it keeps nothing of the long one alive.
func (r Reject) Cut() Reject {
	r.Source, r.ReceiptID, r.InsurerNo = cutText(r.Source), cutText(r.ReceiptID), cutText(r.InsurerNo)
	r.PersonID, r.Detail = cutText(r.PersonID), cutText(r.Detail)
	return r
}

func cutText(s string) string {
	if len(s) <= MaxRejectText {
		return s
	}
	mark := "… (cut; " + strconv.Itoa(len(s)) + " bytes)"
	n := MaxRejectText - len(mark)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}
