package receipt

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Column names of the input tables (CONTRACT.md §1).
var (
	// receiptColumns is in Schema order (ColReceiptID..ColCancel), so a column's position here
	// is its Col* constant.
	receiptColumns = []string{
		"receipt_id", "service_month", "insurer_no", "person_id", "institution_id", "kind",
		"setting", "prescriber_id", "cost", "copay", "paid", "tokutei", "birth_date", "sex",
		"name_kana", "cancel",
	}
	receiptRequired = []string{
		"receipt_id", "service_month", "insurer_no", "person_id", "institution_id", "kind",
		"setting", "cost", "copay", "paid",
	}

	memberColumns = []string{
		"insurer_no", "person_id", "household_id", "birth_date", "sex", "valid_from", "valid_to",
		"category_u70", "category_70", "half_limits_month", "name_kana",
	}
	memberRequired = []string{"insurer_no", "person_id", "household_id", "birth_date", "valid_from"}

	historyColumns  = []string{"insurer_no", "household_id", "service_month"}
	historyRequired = historyColumns
)

// Member table column positions in memberColumns.
const (
	mInsurerNo = iota
	mPersonID
	mHouseholdID
	mBirthDate
	mSex
	mValidFrom
	mValidTo
	mCategoryU70
	mCategory70
	mHalfLimitsMonth
	mNameKana
	numMemberColumns // len(memberColumns)
)

// History table column positions in historyColumns.
const (
	hInsurerNo = iota
	hHouseholdID
	hServiceMonth
)

// csvHeader is a CSV file's header line mapped onto the columns a reader wants.
type csvHeader struct {
	idx    []int // per wanted column, its index in a record, or -1 when the file lacks it
	fields int   // number of fields in the header: every record must have as many
}

// readCSVHeader reads the header line and finds the wanted columns in it. Column names are
// matched after trimming spaces and ignoring case; columns the reader does not want are
// ignored. Missing required columns and wanted columns named twice are errors: the file
// cannot be read without guessing.
func readCSVHeader(c *csvReader, file string, wanted, required []string) (csvHeader, error) {
	fields, line, syntax, err := c.read()
	if errors.Is(err, io.EOF) {
		return csvHeader{}, &FileError{File: file, Line: 1, Err: errors.New("empty file: no header line")}
	}
	if err != nil {
		return csvHeader{}, csvFileError(file, line, err)
	}
	if syntax != nil {
		return csvHeader{}, &FileError{File: file, Line: int64(syntax.Line), Err: fmt.Errorf("header: column %d: %w", syntax.Column, syntax.Err)}
	}
	h := csvHeader{idx: make([]int, len(wanted)), fields: len(fields)}
	for i := range h.idx {
		h.idx[i] = -1
	}
	for j, f := range fields {
		name := strings.ToLower(string(bytes.TrimSpace(f)))
		for i, w := range wanted {
			if name != w {
				continue
			}
			if h.idx[i] >= 0 {
				return csvHeader{}, &FileError{File: file, Line: line, Err: fmt.Errorf("column %q appears twice in the header", w)}
			}
			h.idx[i] = j
		}
	}
	var missing []string
	for _, r := range required {
		for i, w := range wanted {
			if w == r && h.idx[i] < 0 {
				missing = append(missing, r)
			}
		}
	}
	if len(missing) > 0 {
		return csvHeader{}, &FileError{File: file, Line: line, Err: fmt.Errorf("missing required column(s) %s in the header", strings.Join(missing, ", "))}
	}
	return h, nil
}

// csvFileError places a fatal read error. For a quoted field left open at the end of the
// input the useful line is where the record (and so the stray quote) starts, not the end of
// the file where encoding/csv notices it.
func csvFileError(file string, line int64, err error) *FileError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FileError{File: file, Line: int64(pe.StartLine), Err: fmt.Errorf("%w: quoted field opened in this record is not closed (input ends at line %d, column %d)", pe.Err, pe.Line, pe.Column)}
	}
	return &FileError{File: file, Line: line, Err: err}
}
