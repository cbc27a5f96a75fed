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
