package rules

import (
	"fmt"
	"testing"
)

// The hand-written formatting agrees with fmt over the years any data can hold.
func TestFormatting(t *testing.T) {
	for y := 1800; y <= 2999; y += 7 {
		for m := 1; m <= 12; m++ {
			if got, want := MonthOf(y, m).String(), fmt.Sprintf("%04d-%02d", y, m); got != want {
				t.Fatalf("month %s, want %s", got, want)
			}
			d := Date{y, m, DaysIn(y, m)}
			if got, want := d.String(), fmt.Sprintf("%04d-%02d-%02d", y, m, d.Day); got != want {
				t.Fatalf("date %s, want %s", got, want)
			}
		}
	}
}

// Every code reads back as what it names, and anything else is refused.
func TestParseCodes(t *testing.T) {
	for k := Medical; k <= Pharmacy; k++ {
		if got, err := ParseKind(k.String()); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	for _, s := range []Setting{Outpatient, Inpatient} {
		if got, err := ParseSetting(s.String()); err != nil || got != s {
			t.Errorf("ParseSetting(%q) = %v, %v", s.String(), got, err)
		}
	}
	for _, tk := range []Tokutei{TokuteiNone, Chou, Chou2} {
		if got, err := ParseTokutei(tk.String()); err != nil || got != tk {
			t.Errorf("ParseTokutei(%q) = %v, %v", tk.String(), got, err)
		}
	}
	for _, bad := range []string{"", "Medical", "medical ", "dpcx", "denta", "pharmacyy"} {
		if k, err := ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) = %v, want an error", bad, k)
		}
	}
	for _, bad := range []string{"", "out", "Inpatient"} {
		if s, err := ParseSetting(bad); err == nil {
			t.Errorf("ParseSetting(%q) = %v, want an error", bad, s)
		}
	}
	if tk, err := ParseTokutei("chou3"); err == nil {
		t.Errorf("ParseTokutei(chou3) = %v, want an error", tk)
	}
}
