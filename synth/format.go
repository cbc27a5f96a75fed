package synth

import "github.com/kougaku/batch/rules"

// The formatting here is by hand rather than fmt: it runs for every receipt, and fmt would
// cost a good part of the time budget of one receipt.

// digits appends v as exactly n decimal digits.
func digits(b []byte, v int64, n int) []byte {
	start := len(b)
	for range n {
		b = append(b, '0')
	}
	for i := len(b) - 1; i >= start && v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

func monthString(m rules.Month) string {
	b := make([]byte, 0, 7)
	b = digits(b, int64(m.Year()), 4)
	b = append(b, '-')
	return string(digits(b, int64(m.Num()), 2))
}

func dateString(d rules.Date) string {
	b := make([]byte, 0, 10)
	b = digits(b, int64(d.Year), 4)
	b = append(b, '-')
	b = digits(b, int64(d.Month), 2)
	b = append(b, '-')
	return string(digits(b, int64(d.Day), 2))
}

// householdID is 9 digits of index+1; a member who leaves to a household of their own takes
// the same id with "-1".
func (h *household) householdID() string {
	if h.id == "" {
		h.id = string(digits(make([]byte, 0, 9), h.index+1, 9))
	}
	return h.id
}

// personID is the household id and a 2-digit 枝番: unique within the insurer.
func (h *household) personID(i int) string {
	p := &h.p[i]
	if p.id == "" {
		b := append(make([]byte, 0, 12), h.householdID()...)
		b = append(b, '-')
		p.id = string(digits(b, int64(i+1), 2))
	}
	return p.id
}

func (h *household) birthDate(i int) string {
	p := &h.p[i]
	if p.birthStr == "" {
		p.birthStr = dateString(p.birth)
	}
	return p.birthStr
}

// 点数表 digits of an institution code.
const (
	tensuMedical  = '1'
	tensuDental   = '3'
	tensuPharmacy = '4'
)

// institution returns the 10-digit code of slot: prefecture (2) + 点数表 (1) + 7 digits.
func (g *generator) institution(h *household, slot int) string {
	if h.instStr[slot] != "" {
		return h.instStr[slot]
	}
	tensu := byte(tensuMedical)
	switch {
	case slot == slotDentist:
		tensu = tensuDental
	case slot >= slotPharmacy:
		tensu = tensuPharmacy
	}
	b := digits(make([]byte, 0, 10), int64(h.ins.Pref), 2)
	b = append(b, tensu)
	// A fixed bijection of the pool index (4099 is prime to 10^7), so codes look scattered.
	b = digits(b, (int64(g.placeIndex(h, slot))*4099+int64(tensu)*977)%10_000_000, 7)
	h.instStr[slot] = string(b)
	return h.instStr[slot]
}
