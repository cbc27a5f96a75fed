package synth

import "strconv"

// insurer is one 保険者番号 and the prefecture its households live in.
type insurer struct {
	No   string
	Pref int
}

// insurerLists are a few dozen insurers of each type, fixed (independent of the seed) so that
// runs with different seeds share their insurers, as an operator's months do.
func insurerLists() [numTypes][]insurer {
	var out [numTypes][]insurer
	for p := 1; p <= 47; p++ {
		// 協会けんぽ: 法別番号 01, one branch per prefecture (01130012 is Tokyo).
		out[kyokai] = append(out[kyokai], newInsurer("01", p, 1))
		// 後期高齢者医療広域連合: 法別番号 39, one per prefecture.
		out[kouki] = append(out[kouki], newInsurer("39", p, 100))
	}
	// 健保組合 and 共済 cluster where employers have their head offices.
	hq := []int{13, 13, 13, 13, 27, 27, 23, 14, 11, 12, 28, 40}
	for i := range 36 {
		out[kumiai] = append(out[kumiai], newInsurer("06", hq[i%len(hq)], 100+7*i))
	}
	for i := range 24 {
		law := strconv.Itoa(31 + i%4) // 31 国家公務員, 32 地方公務員, 33 警察, 34 公立学校・私学
		out[kyosai] = append(out[kyosai], newInsurer(law, 1+(i*13)%47, 100+i))
	}
	// 市町村国保: no 法別番号, six digits (138057 is 世田谷区).
	for i := range 48 {
		out[kokuho] = append(out[kokuho], newInsurer("", 1+(i*29)%47, 101+19*i))
	}
	return out
}

// newInsurer builds law (法別番号, may be empty) + prefecture (2) + number (3) + 検証番号.
func newInsurer(law string, pref, num int) insurer {
	b := []byte(law)
	b = append(b, byte('0'+pref/10), byte('0'+pref%10))
	b = append(b, byte('0'+num/100%10), byte('0'+num/10%10), byte('0'+num%10))
	b = append(b, checkDigit(b))
	return insurer{No: string(b), Pref: pref}
}

// checkDigit is the 保険者番号 検証番号: the digits weighted 2,1,2,1,… from the right, the
// digits of each product summed, and 10 minus the last digit of that sum (0 for 10).
func checkDigit(d []byte) byte {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		x := int(d[i] - '0')
		if (len(d)-1-i)%2 == 0 {
			x *= 2
		}
		sum += x/10 + x%10
	}
	return byte('0' + (10-sum%10)%10)
}
