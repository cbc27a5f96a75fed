package receipt

import (
	"github.com/kougaku/batch/rules"
)

// Field parsing for UKE records. Every function works on the record's bytes (Shift_JIS): the
// fields the batch needs are ASCII, apart from 記号/番号, whose full-width letters and digits
// are folded to ASCII. Nothing here allocates.

// eraBase is the year before 元年 of each 和暦 era code (別表 元号コード): year = base + YY.
var eraBase = [6]int{0, 1867, 1911, 1925, 1988, 2018} // 1 明治 2 大正 3 昭和 4 平成 5 令和

// ukeDate reads a UKE date, deciding the calendar by its length: 年月 is YYYYMM (西暦, 6) or
// GYYMM (和暦, 5); 年月日 (withDay) is YYYYMMDD (8) or GYYMMDD (7). It checks that the month
// and the day exist. Surrounding spaces are ignored.
func ukeDate(b []byte, withDay bool) (rules.Date, bool) {
	b = trimSpace(b)
	n := 6
	if withDay {
		n = 8
	}
	var y int
	switch {
	case len(b) == n && allDigits(b):
		y = num(b[:4])
		b = b[4:]
		if y < 1800 {
			return rules.Date{}, false
		}
	case len(b) == n-1 && allDigits(b):
		era := int(b[0] - '0')
		yy := num(b[1:3])
		if era < 1 || era >= len(eraBase) || yy < 1 {
			return rules.Date{}, false
		}
		y = eraBase[era] + yy
		b = b[3:]
	default:
		return rules.Date{}, false
	}
	d := rules.Date{Year: y, Month: num(b[:2]), Day: 1}
	if withDay {
		d.Day = num(b[2:4])
	}
	if d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > rules.DaysIn(d.Year, d.Month) {
		return rules.Date{}, false
	}
	return d, true
}

// num reads a short run of ASCII digits (checked by the caller).
func num(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

// appendDigits appends v as exactly n decimal digits (v >= 0 and fits).
func appendDigits(b []byte, v, n int) []byte {
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

// appendMonth appends d's month as YYYY-MM (sep '-') or YYYYMM (sep 0).
func appendMonth(b []byte, d rules.Date, sep byte) []byte {
	b = appendDigits(b, d.Year, 4)
	if sep != 0 {
		b = append(b, sep)
	}
	return appendDigits(b, d.Month, 2)
}

// appendDate appends d as YYYY-MM-DD.
func appendDate(b []byte, d rules.Date) []byte {
	b = appendMonth(b, d, '-')
	b = append(b, '-')
	return appendDigits(b, d.Day, 2)
}

// appendPadded appends the digits of b left-padded with zeros to n bytes; false when b is
// empty, longer than n or not all digits. UKE 数字 fields may drop leading zeros.
func appendPadded(dst, b []byte, n int) ([]byte, bool) {
	b = trimSpace(b)
	if len(b) == 0 || len(b) > n || !allDigits(b) {
		return dst, false
	}
	for range n - len(b) {
		dst = append(dst, '0')
	}
	return append(dst, b...), true
}

// parseUint reads a trimmed field of 1..maxDigits ASCII digits.
func parseUint(b []byte, maxDigits int) (int64, bool) {
	b = trimSpace(b)
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// foldID appends a 記号, 番号 or 枝番 to dst in half-width ASCII: full-width digits and
// letters (Shift_JIS 0x82 0x4F–0x58, 0x60–0x79, 0x81–0x9A) become their ASCII twins, the
// full-width space (0x81 0x40) a space, and the dashes clerks type between parts — ー 0x815B,
// ― 0x815C, ‐ 0x815D, －/− 0x817C — a '-'. Spaces at either end are dropped. ok is false
// for anything else that is not printable ASCII (kana, kanji, control bytes): such a key
// could not be matched against the members table without decoding Shift_JIS.
func foldID(dst, b []byte) ([]byte, bool) {
	start := len(dst)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 0x20 && c < 0x7F {
			dst = append(dst, c)
			continue
		}
		if i+1 >= len(b) {
			return dst[:start], false
		}
		t := b[i+1]
		i++
		switch {
		case c == 0x82 && t >= 0x4F && t <= 0x58:
			dst = append(dst, '0'+t-0x4F)
		case c == 0x82 && t >= 0x60 && t <= 0x79:
			dst = append(dst, 'A'+t-0x60)
		case c == 0x82 && t >= 0x81 && t <= 0x9A:
			dst = append(dst, 'a'+t-0x81)
		case c == 0x81 && t == 0x40:
			dst = append(dst, ' ')
		case c == 0x81 && (t == 0x5B || t == 0x5C || t == 0x5D || t == 0x7C):
			dst = append(dst, '-')
		default:
			return dst[:start], false
		}
	}
	// Trim the spaces (either width) at both ends of what was appended.
	lo, hi := start, len(dst)
	for lo < hi && dst[lo] == ' ' {
		lo++
	}
	for hi > lo && dst[hi-1] == ' ' {
		hi--
	}
	n := copy(dst[start:], dst[lo:hi])
	return dst[:start+n], true
}

// tokki is what the batch takes from レセプト特記事項 (2-digit codes concatenated).
type tokki struct {
	chou, chou2 bool // 02 長, 16 長２
	kuKa        bool // 41 区カ or 43 多カ: 後期高齢者 一般Ⅱ, 2割
}

// parseTokki reads 特記事項: empty, or an even number of digits.
func parseTokki(b []byte) (tokki, bool) {
	b = trimSpace(b)
	var t tokki
	if len(b)%2 != 0 || !allDigits(b) {
		return t, false
	}
	for i := 0; i < len(b); i += 2 {
		switch string(b[i : i+2]) {
		case "02":
			t.chou = true
		case "16":
			t.chou2 = true
		case "41", "43":
			t.kuKa = true
		}
	}
	return t, true
}

// rateInput is what a receipt says about its patient's 一部負担 rate.
type rateInput struct {
	Insurance byte        // レセプト種別 digit 2: '1' 医保・国保, '3' 後期高齢者, '4' 退職者
	Patient   byte        // レセプト種別 digit 4: 患者区分 × 入院/入院外
	Kyufu     int         // RE 給付割合 in percent, or -1 when not recorded
	KuKa      bool        // 特記事項 41 区カ (or 43 多カ): 後期 一般Ⅱ
	Birth     rules.Date  // RE 生年月日
	Month     rules.Month // RE 診療年月
}

// copayPercent is the 一部負担 rate, in percent, that a receipt implies. detail is non-empty
// (and the rate 0) when the receipt contradicts itself and no rate can be told.
//
//   - A recorded 給付割合 decides: 100 − 給付割合 (国保 and 退職者医療 record it).
//   - 患者区分 (digit 4) 3/4 未就学者: 20%.
//   - 7/8 高齢受給者 一般・低所得: 後期 (digit 2 = 3) 10%, or 20% with 区カ/多カ (一般Ⅱ);
//     elsewhere 20%, for a person who is 70–74 in the service month (rules.IsElderly, and not
//     yet 75 on the 1st of the month). A 7/8 receipt outside 後期 for anyone else contradicts
//     itself: the 1割 特例 for persons born before 1944-04-02 ended in 2019-03, and is not
//     modelled.
//   - 9/0 高齢受給者 7割 (現役並み), and 1/2 本人, 5/6 家族 (and anything else): 30%.
func copayPercent(in rateInput) (pct int64, detail string) {
	if in.Kyufu >= 0 {
		return int64(100 - in.Kyufu), ""
	}
	switch in.Patient {
	case '3', '4':
		return 20, ""
	case '7', '8':
		if in.Insurance == '3' {
			if in.KuKa {
				return 20, ""
			}
			return 10, ""
		}
		if rules.IsElderly(in.Birth, in.Month) && under75(in.Birth, in.Month) {
			return 20, ""
		}
		return 0, "高齢受給者 (患者区分 " + string(in.Patient) + ") outside 後期 for a person born " +
			in.Birth.String() + ", who is not 70–74 in " + in.Month.String() + ", and no 給付割合 to take the rate from"
	}
	return 30, ""
}

// under75 reports whether a person born on birth is not yet 75 on the 1st of month m.
func under75(birth rules.Date, m rules.Month) bool {
	m75 := rules.MonthOf(birth.Year+75, birth.Month)
	return m < m75 || (m == m75 && birth.Day != 1)
}

// copayOf is the 一部負担金 of a receipt of points 点 at pct percent: points × 10 yen × pct,
// rounded to 10 yen half up (counter rounding, 健康保険法75条: below 5 yen dropped, 5 yen and
// up raised).
func copayOf(points, pct int64) int64 {
	// points × 10 × pct/100 yen, in units of 10 yen: points × pct / 100, half up.
	return (points*pct + 50) / 100 * 10
}
