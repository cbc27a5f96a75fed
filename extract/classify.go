package extract

import (
	"strings"

	"github.com/kougaku/batch/rules"
)

// Insurer types, from the insurer number (保険者番号): the 法別番号 of an 8-digit number, or
// for a 6-digit 国保 number (prefecture, 3-digit 保険者別番号, 検証番号) the first digit of its
// 保険者別番号, which is 3 for a 国民健康保険組合 (医師国保, 建設国保, …) and anything else for
// a 市町村. The published statistics count the two apart, and so do the tables; the order is
// theirs.
const (
	TypeKyokai       = "kyokai"        // 協会けんぽ: 01
	TypeKumiai       = "kumiai"        // 組合健保: 06
	TypeKyosai       = "kyosai"        // 共済組合: 31–34
	TypeKokuho       = "kokuho"        // 市町村国保: six digits, the third not 3
	TypeKokuhoKumiai = "kokuho_kumiai" // 国保組合: six digits, the third 3
	TypeKouki        = "kouki"         // 後期高齢者医療: 39
	TypeOther        = "other"         // anything else (船員保険 02, …)
)

// InsurerTypes lists the types in table order.
var InsurerTypes = []string{TypeKyokai, TypeKumiai, TypeKyosai, TypeKokuho, TypeKokuhoKumiai, TypeKouki, TypeOther}

var typeLabels = map[string]string{TypeKyokai: "協会けんぽ", TypeKumiai: "組合健保", TypeKyosai: "共済組合",
	TypeKokuho: "市町村国保", TypeKokuhoKumiai: "国保組合", TypeKouki: "後期高齢者医療", TypeOther: "その他"}

// InsurerType classifies an insurer number.
func InsurerType(no string) string {
	if strings.Trim(no, "0123456789") != "" {
		return TypeOther
	}
	switch len(no) {
	case 6:
		if no[2] == '3' {
			return TypeKokuhoKumiai
		}
		return TypeKokuho
	case 8:
		switch law := no[:2]; law {
		case "01":
			return TypeKyokai
		case "06":
			return TypeKumiai
		case "31", "32", "33", "34":
			return TypeKyosai
		case "39":
			return TypeKouki
		}
	}
	return TypeOther
}

// Age groups. A person's is person_month's (u70 or 70plus, by the 70+ rules of the month); a
// household's is that of its patients of the month, mixed when it has both.
const (
	AgeU70    = "u70"
	Age70Plus = "70plus"
	AgeMixed  = "mixed"
)

var ageLabels = map[string]string{AgeU70: "70歳未満", Age70Plus: "70歳以上", AgeMixed: "混在世帯"}

// householdAge is the age group of a household from its patients' age groups.
func householdAge(young, old bool) string {
	switch {
	case young && old:
		return AgeMixed
	case old:
		return Age70Plus
	}
	return AgeU70
}

// incomeClass is the class that sets the limits of the unit counted: the under-70 class for
// u70, the 70+ class for 70plus, both ("U/IPPAN") for a mixed household, whose two tables
// both apply.
func incomeClass(age, u70, o70 string) string {
	switch age {
	case AgeU70:
		return u70
	case Age70Plus:
		return o70
	}
	return u70 + "/" + o70
}

var classLabels = map[string]string{
	"A": "ア", "I": "イ", "U": "ウ", "E": "エ", "O": "オ",
	"GEN3": "現役並みⅢ", "GEN2": "現役並みⅡ", "GEN1": "現役並みⅠ", "IPPAN": "一般", "IPPAN2": "一般Ⅱ",
	"TEI2": "低所得Ⅱ", "TEI1": "低所得Ⅰ", "": "(なし)",
}

func classLabel(c string) string {
	if u, o, ok := strings.Cut(c, "/"); ok {
		return classLabel(u) + "・" + classLabel(o)
	}
	if l, ok := classLabels[c]; ok {
		return l
	}
	return c
}

func typeLabel(t string) string { return typeLabels[t] }
func ageLabel(a string) string  { return ageLabels[a] }
func annualClass(c string) bool { return c == "IPPAN" || c == "IPPAN2" || c == "TEI2" || c == "TEI1" }
func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return len(s)
}

var ageOrder = []string{AgeU70, Age70Plus, AgeMixed}

// classRank orders class labels: under-70 ア〜オ, then 70+ 現役並みⅢ〜低所得Ⅰ, mixed ones after
// by their under-70 class then their 70+ class.
func classRank(c string) int {
	if u, o, ok := strings.Cut(c, "/"); ok {
		return 100 + classRank(u)*20 + classRank(o)
	}
	if x, err := rules.ParseClassU70(c); err == nil && x != rules.U70None {
		return int(x)
	}
	if x, err := rules.ParseClass70(c); err == nil && x != rules.O70None {
		return 10 + int(x)
	}
	return 99
}
