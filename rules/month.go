package rules

import "fmt"

// Month is a calendar month as a count of months since year 0 (year*12 + month-1), so that
// month arithmetic is integer arithmetic.
type Month int32

// MonthOf returns the Month of a year and a 1-based month.
func MonthOf(year, month int) Month { return Month(year*12 + month - 1) }

// Year returns the calendar year.
func (m Month) Year() int { return int(m) / 12 }

// Num returns the 1-based month of the year.
func (m Month) Num() int { return int(m)%12 + 1 }

// String formats the month as YYYY-MM (without fmt: it is called per member and per row).
func (m Month) String() string {
	var b [7]byte
	put4(b[0:4], m.Year())
	b[4] = '-'
	put2(b[5:7], m.Num())
	return string(b[:])
}

func put4(b []byte, v int) { put2(b[0:2], v/100%100); put2(b[2:4], v%100) }
func put2(b []byte, v int) { b[0], b[1] = byte('0'+v/10), byte('0'+v%10) }

// ParseMonth reads YYYY-MM.
func ParseMonth(s string) (Month, error) {
	if len(s) != 7 || s[4] != '-' {
		return 0, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	if !ok1 || !ok2 || mo < 1 || mo > 12 || y < 1800 {
		return 0, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	return MonthOf(y, mo), nil
}

// Date is a calendar date. Only its month and whether it falls on the 1st matter to the law
// (the age rules), so it is kept as plain fields.
type Date struct {
	Year, Month, Day int
}

// ParseDate reads YYYY-MM-DD and checks that the day exists.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1800 || m < 1 || m > 12 || d < 1 || d > DaysIn(y, m) {
		return Date{}, fmt.Errorf("date %q: not a valid YYYY-MM-DD date", s)
	}
	return Date{y, m, d}, nil
}

// String formats the date as YYYY-MM-DD.
func (d Date) String() string {
	var b [10]byte
	put4(b[0:4], d.Year)
	b[4] = '-'
	put2(b[5:7], d.Month)
	b[7] = '-'
	put2(b[8:10], d.Day)
	return string(b[:])
}

// MonthOfDate returns the month the date falls in.
func (d Date) MonthOfDate() Month { return MonthOf(d.Year, d.Month) }

// Elderly70From is the first service month in which the 70+ rules apply to a person born on
// d: the month after the month that holds the day before the 70th birthday (「70歳に達する日」),
// which is the birthday month itself for a person born on the 1st (CONTRACT.md §3.5).
func Elderly70From(birth Date) Month {
	m := MonthOf(birth.Year+70, birth.Month)
	if birth.Day == 1 {
		return m
	}
	return m + 1
}

// IsElderly reports whether the 70+ rules apply to a person born on birth in month m.
func IsElderly(birth Date, m Month) bool { return m >= Elderly70From(birth) }

// Is75thBirthdayMonth reports whether m is the month of the 75th birthday on a day other than
// the 1st: the month in which the person's own limits are halved (75歳到達月特例).
func Is75thBirthdayMonth(birth Date, m Month) bool {
	return birth.Day != 1 && m == MonthOf(birth.Year+75, birth.Month)
}

// HalfLimitsApply decides the 75歳到達月特例 for one person in month m: the members master says
// so (half_limits_month, for a dependant who moves with the person turning 75), or it is the
// person's own 75th-birthday month (birthday not on the 1st) and their eligibility under this
// insurer ends or begins in that month (a change of class within the insurer is not an end). The special exists because such a month is split
// between the old insurer and 後期; a person whose eligibility runs through the month unbroken
// is not split, and keeps the whole limits.
func HalfLimitsApply(birth Date, m Month, flagged, startsOrEnds bool) bool {
	return flagged || (Is75thBirthdayMonth(birth, m) && startsOrEnds)
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// DaysIn is the number of days of month m of year y.
func DaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
