package receipt

import (
	"context"
	"errors"
	"slices"
	"unsafe"

	"github.com/kougaku/batch/pqcol"
	"github.com/kougaku/batch/rules"
)

// ParsedMember is a member row checked (as ReadMembers checks it) and read: its dates, months
// and classes as the rules take them. Its strings are valid during the callback only, as a
// MemberRow's are.
type ParsedMember struct {
	InsurerNo, PersonID, HouseholdID, Sex string
	NameKana                              string
	Birth                                 rules.Date
	From                                  rules.Month
	To                                    rules.Month // 0 when the row is open-ended
	HalfMonth                             rules.Month // 0: none
	ClassU70                              rules.ClassU70
	Class70                               rules.Class70
}

// ParseMember reads the dates, months and classes of a row that checkMember passed. Its
// errors are the rules' own (a month before 1800 passes the check and fails here).
func ParseMember(m *MemberRow) (ParsedMember, error) {
	x := ParsedMember{InsurerNo: m.InsurerNo, PersonID: m.PersonID, HouseholdID: m.HouseholdID, Sex: m.Sex, NameKana: m.NameKana}
	var err error
	if x.Birth, err = rules.ParseDate(m.BirthDate); err != nil {
		return x, err
	}
	if x.From, err = rules.ParseMonth(m.ValidFrom); err != nil {
		return x, err
	}
	if m.ValidTo != "" {
		if x.To, err = rules.ParseMonth(m.ValidTo); err != nil {
			return x, err
		}
	}
	if m.HalfLimitsMonth != "" {
		if x.HalfMonth, err = rules.ParseMonth(m.HalfLimitsMonth); err != nil {
			return x, err
		}
	}
	if x.ClassU70, err = rules.ParseClassU70(m.CategoryU70); err != nil {
		return x, err
	}
	x.Class70, err = rules.ParseClass70(m.Category70)
	return x, err
}

// ReadMembersParsed is ReadMembersRows with every row checked and parsed (ParseMember), a
// row that fails either being a *FileError at its row, with the message the two give.
//
// It reads a batch column by column rather than as rows of strings: a dictionary column's
// values (an insurer number, a month, a class code, a sex) are checked and parsed once per
// dictionary value of a row group, and its rows take them by index. Only a row that fails
// is made into a MemberRow again, to be judged by checkMember and ParseMember themselves,
// so that the errors, and what passes, are theirs: the way of columns accepts a row only
// when every one of its fields passes both, and reads it as they would.
func ReadMembersParsed(ctx context.Context, file string, from, to int64, fn func(m *ParsedMember, line int64) error) error {
	return readMembersParsed(ctx, file, from, to, nil, fn)
}

// routeColumns are the columns ReadMemberRoutes reads.
var routeColumns = [numMemberColumns]bool{mInsurerNo: true, mPersonID: true, mHouseholdID: true, mValidFrom: true, mValidTo: true}

// ReadMemberRoutes is ReadMembersParsed reading only whose each row is and when it is in
// force (insurer_no, person_id, household_id, valid_from, valid_to): the other fields are
// left zero, and neither read nor checked, but for the required columns' presence. It is for
// a reader that routes persons (the person table), whose rows are read again whole: the
// name column alone is a third of a master's bytes.
func ReadMemberRoutes(ctx context.Context, file string, from, to int64, fn func(m *ParsedMember, line int64) error) error {
	return readMembersParsed(ctx, file, from, to, &routeColumns, fn)
}

// readMembersParsed is ReadMembersParsed reading the columns only names (nil: all).
func readMembersParsed(ctx context.Context, file string, from, to int64, only *[numMemberColumns]bool, fn func(m *ParsedMember, line int64) error) error {
	if formatOf(file) != extParquet {
		return &FileError{File: file, Err: errors.New("reading a range of rows needs a .parquet file")}
	}
	columns := memberColumns
	var mb memberBatch
	if only != nil {
		columns = slices.Clone(memberColumns)
		for c := range columns {
			if !only[c] {
				columns[c] = "" // no such column: not selected
				mb.skip[c] = true
			}
		}
	}
	r, pos, err := openColumns(file, columns, memberRequired)
	if err != nil {
		return err
	}
	defer r.Close()
	var x ParsedMember
	return scanColumnRanges(ctx, file, r, [][2]int64{{from, to}}, func(b *pqcol.Batch) error {
		mb.read(b, pos)
		for i := range b.Len {
			line := b.First + int64(i) + 1
			if !mb.row(i, &x) {
				if err := mb.judge(i, &x); err != nil {
					return &FileError{File: file, Line: line, Err: err}
				}
			}
			if err := fn(&x, line); err != nil {
				return err
			}
		}
		return nil
	})
}

// field is one value of a member column, read: its string (trimmed, aliasing the page or
// the dictionary), and what it parses to (n) when ok.
type field struct {
	s  string
	n  int32 // a month, a class, or a date as YYYYMMDD
	ok bool
}

// memberBatch is a batch of a members file read column by column: per column its rows'
// strings and numbers, and per row whether a field failed.
type memberBatch struct {
	skip [numMemberColumns]bool // columns not read: every row's field is zero, and passes
	s    [numMemberColumns][]string
	n    [numMemberColumns][]int32
	bad  []bool
	dict [numMemberColumns]struct {
		group uint64
		vals  []field
	}
}

// read reads every column of b (pos[c]: column c's index in b, -1 when absent).
func (mb *memberBatch) read(b *pqcol.Batch, pos []int) {
	n := b.Len
	if cap(mb.bad) < n {
		mb.bad = make([]bool, n)
	}
	mb.bad = mb.bad[:n]
	clear(mb.bad)
	for c := range numMemberColumns {
		strs, nums := mb.s[c][:0], mb.n[c][:0]
		switch {
		case mb.skip[c]:
			strs, nums = slices.Grow(strs, n)[:n], slices.Grow(nums, n)[:n]
			clear(strs)
			clear(nums)
		case pos[c] < 0: // absent: every row empty
			f := readField(c, nil)
			for i := 0; i < n; i++ {
				strs, nums = append(strs, f.s), append(nums, f.n)
			}
			if !f.ok {
				for i := range mb.bad {
					mb.bad[i] = true
				}
			}
		default:
			strs, nums = mb.readColumn(c, b, b.Bytes(pos[c]), strs, nums)
		}
		mb.s[c], mb.n[c] = strs, nums
	}
}

// readColumn reads column c's values of the batch into strs and nums.
func (mb *memberBatch) readColumn(c int, b *pqcol.Batch, view pqcol.Bytes, strs []string, nums []int32) ([]string, []int32) {
	data, offs, idx, ok := view.Dictionary()
	if !ok {
		for i := range b.Len {
			f := readField(c, view.At(i))
			strs, nums = append(strs, f.s), append(nums, f.n)
			if !f.ok {
				mb.bad[i] = true
			}
		}
		return strs, nums
	}
	d := &mb.dict[c]
	if d.group != b.Group() {
		d.vals = d.vals[:0]
		for k := 1; k < len(offs); k++ {
			d.vals = append(d.vals, readField(c, data[offs[k-1]:offs[k]]))
		}
		d.vals = append(d.vals, readField(c, nil)) // a null's, at index -1 below
		d.group = b.Group()
	}
	null := len(d.vals) - 1
	for i, k := range idx {
		if k < 0 {
			k = int32(null)
		}
		f := &d.vals[k]
		strs, nums = append(strs, f.s), append(nums, f.n)
		if !f.ok {
			mb.bad[i] = true
		}
	}
	return strs, nums
}

// row reads row i into x when every field passes, and reports whether it did.
func (mb *memberBatch) row(i int, x *ParsedMember) bool {
	from, to := rules.Month(mb.n[mValidFrom][i]), rules.Month(mb.n[mValidTo][i])
	if mb.bad[i] || (to != 0 && to < from) { // checkMember's valid_to before valid_from
		return false
	}
	birth := mb.n[mBirthDate][i]
	*x = ParsedMember{InsurerNo: mb.s[mInsurerNo][i], PersonID: mb.s[mPersonID][i], HouseholdID: mb.s[mHouseholdID][i],
		Sex: mb.s[mSex][i], NameKana: mb.s[mNameKana][i], Birth: rules.Date{Year: int(birth / 10000), Month: int(birth / 100 % 100), Day: int(birth % 100)},
		From: from, To: to, HalfMonth: rules.Month(mb.n[mHalfLimitsMonth][i]),
		ClassU70: rules.ClassU70(mb.n[mCategoryU70][i]), Class70: rules.Class70(mb.n[mCategory70][i])}
	return true
}

// judge judges row i as ReadMembers would, with checkMember then ParseMember.
func (mb *memberBatch) judge(i int, x *ParsedMember) error {
	var v [numMemberColumns]string
	for c := range v {
		v[c] = mb.s[c][i]
	}
	if mb.skip[mBirthDate] { // a date that passes, for the columns read to be judged alone
		v[mBirthDate] = "2000-01-01"
	}
	row := memberFromCSV(v[:])
	if err := checkMember(&row); err != nil {
		return err
	}
	p, err := ParseMember(&row)
	*x = p
	return err
}

// readField reads a value of column c (nil: an empty value): ok when it passes both
// checkMember's test of that column and ParseMember's reading of it.
func readField(c int, b []byte) field {
	b = trimSpace(b)
	var f field
	if len(b) > 0 {
		f.s = unsafe.String(&b[0], len(b))
	}
	switch c {
	case mInsurerNo:
		f.ok = checkInsurerNo(f.s) == nil
	case mPersonID, mHouseholdID:
		f.ok = f.s != ""
	case mNameKana:
		f.ok = true // any text: it is compared normalized, never parsed
	case mBirthDate:
		d, err := rules.ParseDate(f.s)
		f.n, f.ok = int32(d.Year*10000+d.Month*100+d.Day), isDate(f.s) && err == nil
	case mSex:
		f.ok = f.s == "" || f.s == "1" || f.s == "2"
	case mValidFrom:
		f.ok = readMonth(&f, false)
	case mValidTo, mHalfLimitsMonth:
		f.ok = readMonth(&f, true)
	case mCategoryU70:
		u, err := rules.ParseClassU70(f.s)
		f.n, f.ok = int32(u), err == nil
	case mCategory70:
		o, err := rules.ParseClass70(f.s)
		f.n, f.ok = int32(o), err == nil
	}
	return f
}

// readMonth reads f as a month (0 when empty and empty is allowed).
func readMonth(f *field, emptyOK bool) bool {
	if f.s == "" {
		return emptyOK
	}
	m, err := rules.ParseMonth(f.s)
	f.n = int32(m)
	return isMonth([]byte(f.s)) && err == nil
}
