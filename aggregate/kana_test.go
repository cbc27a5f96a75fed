package aggregate

import (
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestIssue19_KanaNormalization compares real pairs of a name as a members master and a
// receipt may write it: each pair must normalize to the same key, and the names of
// different persons must not.
func TestIssue19_KanaNormalization(t *testing.T) {
	same := []struct{ name, a, b string }{
		{"half-width with 濁点", "ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"},
		{"half-width 半濁点", "ポール", "ﾎﾟｰﾙ"},
		{"full-width space dropped", "サトウ　ハナコ", "サトウハナコ"},
		{"spaces of both widths", "スズキ 　イチロウ", "スズキイチロウ"},
		{"hiragana", "たなか　けんじ", "タナカ ケンジ"},
		{"combining 濁点", "カ\u3099トウ ユウコ", "ガトウ ユウコ"},
		{"small tsu and ya", "ハットリ キョウコ", "ハツトリ キヨウコ"},
		{"small vowels", "フィッシャー", "フイツシヤー"},
		{"ヂ as ジ", "ハナヂ サトシ", "ハナジ サトシ"},
		{"ヅ as ズ", "ミヅノ アキラ", "ミズノ アキラ"},
		{"ヲ as オ", "ヲノ マコト", "オノ マコト"},
		{"long vowel: half-width mark", "ユーコ", "ﾕｰｺ"},
		{"long vowel: hyphen", "ユーコ", "ユ-コ"},
		{"long vowel: box drawing", "ユーコ", "ユ─コ"},
		{"long vowel: dash", "ユーコ", "ユ―コ"},
		{"long vowel: hyphen U+2010", "ユーコ", "ユ‐コ"},
		{"long vowel: minus", "ユーコ", "ユ−コ"},
		{"small ケ", "イチヶヤ", "イチケヤ"},
		{"name separator", "スミス・ジョン", "スミス ジョン"},
		{"hiragana small kana", "きょうこ", "キヨウコ"},
		{"surrounding spaces", " ヤマモト ", "ヤマモト"},
	}
	for _, c := range same {
		t.Run(c.name, func(t *testing.T) {
			ka, kb := KanaKey(c.a), KanaKey(c.b)
			if ka != kb {
				t.Fatalf("%q → %q, %q → %q: want the same key", c.a, ka, c.b, kb)
			}
			if kanaHash(c.a) != kanaHash(c.b) || kanaHash(c.a) == 0 {
				t.Fatalf("hashes %x and %x", kanaHash(c.a), kanaHash(c.b))
			}
		})
	}
	differ := [][2]string{
		{"ヤマダ タロウ", "ヤマダ ジロウ"},
		{"カトウ", "ガトウ"},
		{"サトウ", "サイトウ"},
		{"ハタ", "ハダ"},
		{"ホール", "ポール"},
	}
	for _, c := range differ {
		if KanaKey(c[0]) == KanaKey(c[1]) {
			t.Errorf("%q and %q: the same key %q, want different", c[0], c[1], KanaKey(c[0]))
		}
	}
	for _, empty := range []string{"", " ", "　", "・"} {
		if k := KanaKey(empty); k != "" || kanaHash(empty) != 0 {
			t.Errorf("%q: key %q, hash %x; want none", empty, k, kanaHash(empty))
		}
	}
	if k := KanaKey("ﾔﾏﾀﾞ ﾀﾛｳ"); k != "ヤマダタロウ" {
		t.Errorf("key %q, want ヤマダタロウ", k)
	}
}

// TestKanaHashAllocations holds the hash of a member's name, taken for every member row a
// directory holds, to no allocation once a shard's buffers have grown: full-width as masters
// mostly write names, half-width, hiragana.
func TestKanaHashAllocations(t *testing.T) {
	var k kanaKeyer
	for _, name := range []string{"ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ", "やまだ　たろう"} {
		k.hash(name) // the buffers grow once
		k.cachedHash(name)
		if n := testing.AllocsPerRun(100, func() { k.hash(name) }); n != 0 {
			t.Errorf("kanaHash(%q): %v allocations, want 0", name, n)
		}
		if k.cachedHash(name) != k.hash(name) {
			t.Errorf("%q: cached hash %x, hash %x", name, k.cachedHash(name), k.hash(name))
		}
		if n := testing.AllocsPerRun(100, func() { k.cachedHash(name) }); n != 0 {
			t.Errorf("kanaHash(%q): %v allocations, want 0", name, n)
		}
	}
}

// TestPlainKanaAgreesWithNFKC: the names plainKana lets past the normalizer get the key the
// normalizer would give them, and the names it sends to the normalizer are those that need it.
func TestPlainKanaAgreesWithNFKC(t *testing.T) {
	for _, c := range []struct {
		name  string
		plain bool
	}{
		{"サトウ　ハナコ", true}, {"ヤマダ タロウ", true}, {"きょうこ", true}, {"ヴァイオレット", true},
		{"ユーコ", true}, {"ABC ｱ", false}, {"ﾔﾏﾀﾞ", false}, {"カ\u3099", false}, {"ガ゛", false},
		{"ヿ", false}, {"〜", false}, {"・", false}, {"山田", false}, {"タ\x00", false}, {"\xe3\x82", false},
	} {
		if got := plainKana(c.name); got != c.plain {
			t.Errorf("plainKana(%q) = %v, want %v", c.name, got, c.plain)
		}
		if !c.plain {
			continue
		}
		var slow kanaKeyer
		slow.it.InitString(norm.NFKC, c.name)
		for !slow.it.Done() {
			slow.fold(string(slow.it.Next()))
		}
		if fast := KanaKey(c.name); fast != string(slow.folded) {
			t.Errorf("%q: key %q without the normalizer, %q with it", c.name, fast, slow.folded)
		}
	}
}
