package receipt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadMembers streams the members table (CSV or Parquet) to fn, with each row's line (CSV) or
// row number (Parquet), which Position formats. The row's strings are valid during fn only
// (from a Parquet file they alias the decoded page, sparing a master of millions of rows as
// many allocations): fn copies what it keeps. Unlike receipts, a bad member row is not
// skipped: a wrong master would misjudge every receipt of that person, so it stops the run
// with a *FileError that points at the row. fn's error stops the read and is returned as is.
func ReadMembers(ctx context.Context, file string, fn func(m MemberRow, line int64) error) error {
	return readTable(ctx, file, memberColumns, memberRequired, memberFromCSV, checkMember, true, fn)
}

// ReadMembersRows is ReadMembers over rows [from, to) of a Parquet members file (row numbers
// from 0), so that several goroutines can read one large master at once. The pipeline reads
// such ranges with ReadMembersParsed, which gives what this and ParseMember give
// (TestMembersParsedAgrees).
func ReadMembersRows(ctx context.Context, file string, from, to int64, fn func(m MemberRow, line int64) error) error {
	if formatOf(file) != extParquet {
		return &FileError{File: file, Err: errors.New("reading a range of rows needs a .parquet file")}
	}
	return readTableParquet(ctx, file, memberColumns, memberRequired, true, [][2]int64{{from, to}},
		checked(file, memberFromCSV, checkMember, fn))
}

// ReadHistory streams the counting-month history table (CSV or Parquet) to fn, like
// ReadMembers: a bad row is a *FileError.
func ReadHistory(ctx context.Context, file string, fn func(h HistoryRow, line int64) error) error {
	return readTable(ctx, file, historyColumns, historyRequired, historyFromCSV, checkHistory, false, fn)
}

// readTable reads a master table of row type T from CSV or Parquet (fromCSV builds T from
// the row's trimmed values in columns order), checks every row and passes it to fn. With
// transient, the strings of a Parquet row alias the page and are valid during fn only.
func readTable[T any](ctx context.Context, file string, columns, required []string,
	fromCSV func(v []string) T, check func(*T) error, transient bool,
	fn func(T, int64) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	deliver := checked(file, fromCSV, check, fn)
	switch formatOf(file) {
	case extParquet:
		return readTableParquet(ctx, file, columns, required, transient, nil, deliver)
	case extCSV:
		f, err := os.Open(file)
		if err != nil {
			return &FileError{File: file, Err: err}
		}
		defer f.Close()
		return readTableCSV(ctx, file, f, columns, required, deliver)
	}
	return &FileError{File: file, Err: errors.New("unknown input format: want a .csv or .parquet file")}
}

// checked builds each row of a table from its values, checks it and passes it to fn; a row
// that fails the check is a *FileError at its line.
func checked[T any](file string, fromCSV func(v []string) T, check func(*T) error, fn func(T, int64) error) func(v []string, line int64) error {
	var row T // one for the whole read: check takes its address
	return func(v []string, line int64) error {
		row = fromCSV(v)
		if err := check(&row); err != nil {
			return &FileError{File: file, Line: line, Err: err}
		}
		return fn(row, line)
	}
}

// readTableCSV reads a CSV table and gives fn each record's trimmed values in columns order
// ("" for an absent optional column). Any record that is not well formed is a *FileError.
func readTableCSV(ctx context.Context, file string, r io.Reader, columns, required []string, fn func(v []string, line int64) error) error {
	c := newCSVReader(r)
	h, err := readCSVHeader(c, file, columns, required)
	if err != nil {
		return err
	}
	v := make([]string, len(columns))
	for n := 1; ; n++ {
		if n%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		fields, line, syntax, err := c.read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvFileError(file, line, err)
		}
		if syntax != nil {
			return &FileError{File: file, Line: int64(syntax.Line), Err: fmt.Errorf("column %d: %w", syntax.Column, syntax.Err)}
		}
		if len(fields) != h.fields {
			return &FileError{File: file, Line: line, Err: fmt.Errorf("field count: got %d fields, want %d as in the header", len(fields), h.fields)}
		}
		for col, i := range h.idx {
			v[col] = ""
			if i >= 0 {
				v[col] = string(bytes.TrimSpace(fields[i]))
			}
		}
		if err := fn(v, line); err != nil {
			return err
		}
	}
}

func memberFromCSV(v []string) MemberRow {
	return MemberRow{
		InsurerNo:       v[mInsurerNo],
		PersonID:        v[mPersonID],
		HouseholdID:     v[mHouseholdID],
		BirthDate:       v[mBirthDate],
		Sex:             v[mSex],
		ValidFrom:       v[mValidFrom],
		ValidTo:         v[mValidTo],
		CategoryU70:     v[mCategoryU70],
		Category70:      v[mCategory70],
		HalfLimitsMonth: v[mHalfLimitsMonth],
		NameKana:        v[mNameKana],
	}
}

func historyFromCSV(v []string) HistoryRow {
	return HistoryRow{InsurerNo: v[hInsurerNo], HouseholdID: v[hHouseholdID], ServiceMonth: v[hServiceMonth]}
}

// checkMember checks a member row against the contract's formats and codes, and that its
// validity period is not reversed.
func checkMember(m *MemberRow) error {
	if err := checkInsurerNo(m.InsurerNo); err != nil {
		return err
	}
	switch {
	case m.PersonID == "":
		return errors.New("person_id: empty")
	case m.HouseholdID == "":
		return errors.New("household_id: empty")
	}
	if !isDate(m.BirthDate) {
		return fmt.Errorf("birth_date: bad date %q (want YYYY-MM-DD)", m.BirthDate)
	}
	switch m.Sex {
	case "", "1", "2":
	default:
		return fmt.Errorf("sex: unknown code %q (want 1, 2 or empty)", m.Sex)
	}
	if !isMonth([]byte(m.ValidFrom)) {
		return fmt.Errorf("valid_from: bad month %q (want YYYY-MM)", m.ValidFrom)
	}
	if m.ValidTo != "" {
		if !isMonth([]byte(m.ValidTo)) {
			return fmt.Errorf("valid_to: bad month %q (want YYYY-MM or empty)", m.ValidTo)
		}
		// YYYY-MM strings order as the months do.
		if m.ValidTo < m.ValidFrom {
			return fmt.Errorf("valid_to %s is before valid_from %s", m.ValidTo, m.ValidFrom)
		}
	}
	switch m.CategoryU70 {
	case "", "A", "I", "U", "E", "O":
	default:
		return fmt.Errorf("category_u70: unknown code %q (want A, I, U, E, O or empty)", m.CategoryU70)
	}
	switch m.Category70 {
	case "", "GEN3", "GEN2", "GEN1", "IPPAN", "IPPAN2", "TEI2", "TEI1":
	default:
		return fmt.Errorf("category_70: unknown code %q (want GEN3, GEN2, GEN1, IPPAN, IPPAN2, TEI2, TEI1 or empty)", m.Category70)
	}
	if m.HalfLimitsMonth != "" && !isMonth([]byte(m.HalfLimitsMonth)) {
		return fmt.Errorf("half_limits_month: bad month %q (want YYYY-MM or empty)", m.HalfLimitsMonth)
	}
	return nil
}

func checkHistory(h *HistoryRow) error {
	if err := checkInsurerNo(h.InsurerNo); err != nil {
		return err
	}
	if h.HouseholdID == "" {
		return errors.New("household_id: empty")
	}
	if !isMonth([]byte(h.ServiceMonth)) {
		return fmt.Errorf("service_month: bad month %q (want YYYY-MM)", h.ServiceMonth)
	}
	return nil
}

// checkInsurerNo checks the 保険者番号 format: 6 digits (国保) or 8 digits.
func checkInsurerNo(s string) error {
	if (len(s) != 6 && len(s) != 8) || !allDigits([]byte(s)) {
		return fmt.Errorf("insurer_no: bad number %q (want 6 or 8 digits)", s)
	}
	return nil
}

// isDate reports whether s is a valid YYYY-MM-DD date, as time.Parse(time.DateOnly, s) would
// (without its cost, which showed in reading a members master of millions of rows).
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits([]byte(s[:4])) || !allDigits([]byte(s[5:7])) || !allDigits([]byte(s[8:])) {
		return false
	}
	y := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	m := int(s[5]-'0')*10 + int(s[6]-'0')
	d := int(s[8]-'0')*10 + int(s[9]-'0')
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}
