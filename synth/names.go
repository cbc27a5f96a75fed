package synth

import (
	"strings"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"

	"github.com/kougaku/batch/receipt"
	"github.com/kougaku/batch/rules"
)

// Kana names, and the receipts a claimed insurer cannot take (CONTRACT.md §3.8): persons who
// changed insurer in the year, whose receipts institutions still claim under the old card
// (資格返戻: 71,639 in 2024-01 against some 100 million receipts a month, about 0.07%), a few
// 不詳 receipts with the all-7 number, and now and then a namesake born the same day under
// another insurer, so that a look-up by name, birth date and sex is sometimes ambiguous.
//
// Everything here is a hash of (seed, household, person, receipt), never a draw from the
// household's streams: the persons, receipts and amounts of a seed are those it made before
// names were generated, only their names and, for the few movers, the claimed insurer change.
// Config.ResolveShare replaces these shares with one chosen share of receipts to resolve
// (resolve.go).

// Shares of the receipts to resolve.
const (
	moverShare    = 0.002  // persons under 75 who joined their insurer in the last 11 months, from another
	claimOldShare = 0.5    // of a mover's months, those claimed under the old card
	namesakeShare = 0.05   // of movers, those with a namesake born the same day, in force elsewhere
	allSevenShare = 0.0002 // of every person-month: 不詳, the insurer and person numbers all 7s
	halfWidthInst = 8      // 1 in halfWidthInst institutions writes カタカナ氏名 in half-width
	allSevens     = "77777777"
	allSevenIDs   = "7777777"
)

// Common family and given names, full-width as members masters write them.
var (
	familyKana = [...]string{"サトウ", "スズキ", "タカハシ", "タナカ", "イトウ", "ワタナベ", "ヤマモト", "ナカムラ",
		"コバヤシ", "カトウ", "ヨシダ", "ヤマダ", "ササキ", "ヤマグチ", "マツモト", "イノウエ", "キムラ", "ハヤシ",
		"サイトウ", "シミズ", "ヤマザキ", "モリ", "アベ", "イケダ", "ハシモト", "ヤマシタ", "イシカワ", "ナカジマ",
		"マエダ", "フジタ", "オガワ", "ゴトウ", "オカダ", "ハセガワ", "ムラカミ", "コンドウ", "イシイ", "サカモト",
		"エンドウ", "アオキ"}
	givenKana = [2][30]string{
		{"ヒロシ", "タカシ", "マコト", "ケンジ", "ユウキ", "ダイスケ", "ショウタ", "タロウ", "イチロウ", "ケンイチ",
			"カズヤ", "ヨウイチ", "ツヨシ", "アキラ", "サトシ", "マサル", "ユウタ", "ハルト", "ソウタ", "リョウ",
			"ショウ", "ナオキ", "ヒデキ", "コウジ", "シュウヘイ", "タクヤ", "トモヤ", "ジュン", "ユウスケ", "ケイ"},
		{"ヨウコ", "ケイコ", "ユウコ", "トモコ", "ヒロミ", "アキコ", "マユミ", "サチコ", "ユミ", "ハナコ",
			"ミホ", "メグミ", "アヤ", "サクラ", "ユイ", "ミサキ", "ナツミ", "カオリ", "エミ", "マイ",
			"ヒナ", "ミユ", "アオイ", "リコ", "ナナ", "チヒロ", "マリ", "シオリ", "ユカ", "キョウコ"},
	}
)

// Hash tags of the purposes below (the household streams use 0 up to tagMonth0+months).
const (
	hashName     = 0xfe
	hashMover    = 0xfd
	hashClaim    = 0xfc
	hashAllSeven = 0xfb
)

// hashOf is a hash of (seed, household, purpose, k), uniform over 64 bits.
func (g *generator) hashOf(h *household, purpose uint64, k uint64) uint64 {
	return mix64(g.cfg.Seed ^ mix64(uint64(h.index)<<8|purpose) ^ mix64(k))
}

// chance turns a hash into a draw in [0, 1).
func chance(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// kana is person i's name: the household's family name and a given name for their sex,
// with a full-width space between, as a master writes it.
func (g *generator) kana(h *household, i int) string {
	p := &h.p[i]
	if p.kana == "" {
		family := familyKana[g.hashOf(h, hashName, 0)%uint64(len(familyKana))]
		given := givenKana[p.sex[0]-'1']
		p.kana = family + "　" + given[g.hashOf(h, hashName, uint64(i+1))%uint64(len(given))]
	}
	return p.kana
}

// claimedKana is the name as institution inst writes it: in half-width at some.
func (g *generator) claimedKana(h *household, i int, inst string) string {
	p := &h.p[i]
	if mix64(g.cfg.Seed^instHash(inst))%halfWidthInst != 0 {
		return g.kana(h, i)
	}
	if p.kanaHalf == "" {
		// Decomposed first: ガ has no half-width form of its own, only ｶ and ﾞ.
		p.kanaHalf = strings.ReplaceAll(width.Narrow.String(norm.NFD.String(g.kana(h, i))), "　", " ")
	}
	return p.kanaHalf
}

// instHash is FNV-1a of an institution code.
func instHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// drawMovers makes a few persons movers: they joined the household's insurer in the 11
// months before the first month, from another insurer (oldInsurer), where their row ended
// the month before. Their eligibility here starts then. Persons whose eligibility has other
// turns (lost, the 75歳 move, a newcomer's halving, a 世帯分離) are left alone.
func (g *generator) drawMovers(h *household) {
	if h.typ == kouki || h.moveAt != noMonth {
		return
	}
	for i := range h.n {
		p := &h.p[i]
		x := g.hashOf(h, hashMover, uint64(i))
		if p.lost || p.halfAt != noMonth || p.to != openEnd || p.age >= 74 || chance(x) >= moverShare {
			continue
		}
		at := g.first - 1 - rules.Month(x>>8%11)
		if at <= p.from {
			continue
		}
		p.oldFrom, p.from, p.mover = p.from, at, true
		p.namesake = chance(mix64(x)) < namesakeShare
	}
}

// oldInsurer is the insurer a mover of h came from: one of another type than h's.
func (g *generator) oldInsurer(h *household, i int) *insurer {
	x := g.hashOf(h, hashMover, uint64(i)+maxMembers)
	t := insurerType(x % uint64(kokuho))
	if t >= h.typ {
		t++ // the four types under 75 but h's
	}
	ins := g.model.types[t].insurers
	return &ins[x>>8%uint64(len(ins))]
}

// oldID is a mover's person (or household, for prefix 'K') id under the old insurer; a
// namesake's ids take prefix 'N'.
func oldID(prefix byte, id string) string { return string(prefix) + id }

// moverRows writes, for a mover, the row under the old insurer that ended when they moved,
// and for one with a namesake, the namesake's row there (in force, no receipts).
func (g *generator) moverRows(h *household, i int, c classSeg, out *sink[receipt.MemberRow]) {
	p := &h.p[i]
	if !p.mover {
		return
	}
	old := g.oldInsurer(h, i)
	row := out.next()
	*row = receipt.MemberRow{InsurerNo: old.No, PersonID: oldID('K', h.personID(i)), HouseholdID: oldID('K', h.householdID()),
		BirthDate: h.birthDate(i), Sex: p.sex, ValidFrom: g.monthStr(p.oldFrom), ValidTo: g.monthStr(p.from - 1),
		CategoryU70: c.u70.String(), Category70: c.o70.String(), NameKana: g.kana(h, i)}
	if p.namesake {
		twin := out.next()
		*twin = *row
		twin.PersonID, twin.HouseholdID, twin.ValidTo = oldID('N', h.personID(i)), oldID('N', h.householdID()), ""
	}
}

// claimAs sets who a receipt of person i in month m is claimed under: for some of a mover's
// months the old card, for a few person-months of anyone the all-7 不詳 number; otherwise
// as it is. A person-month is claimed one way at every institution, so that a pharmacy
// receipt names the person its prescriber's receipt names.
func (g *generator) claimAs(h *household, i int, m rules.Month, row *receipt.Row) {
	p := &h.p[i]
	k := uint64(m)<<8 | uint64(i)
	switch {
	case chance(g.hashOf(h, hashAllSeven, k)) < allSevenShare:
		row.InsurerNo, row.PersonID = allSevens, allSevenIDs
	case p.mover && chance(g.hashOf(h, hashClaim, k)) < claimOldShare:
		row.InsurerNo, row.PersonID = g.oldInsurer(h, i).No, oldID('K', h.personID(i))
	}
}
