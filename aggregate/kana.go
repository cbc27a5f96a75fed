package aggregate

import (
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/unicode/norm"
)

// Kana names are compared as 名寄せ compares them (CONTRACT.md §3.8): the join is the one
// place that looks a person up by name, when a receipt's claimed insurer cannot take it, so
// the normalization lives beside it.
//
// The steps, in order: NFKC (half-width katakana become full-width, a combining 濁点 or
// 半濁点 is composed with its kana, a full-width space becomes a space); hiragana become
// katakana; spaces and the name separator ・ are dropped; small kana are read as large
// (ァ→ア, ッ→ツ, ャ→ヤ, ヮ→ワ, ヵ→カ, ヶ→ケ); ヂ→ジ, ヅ→ズ, ヲ→オ; every long-vowel mark or dash
// a clerk may have typed for ー (ｰ, ‐, -, ─, ―, −, 〜 …) is ー.

// AppendKanaKey appends to dst the normalized form of a kana name, the key two names are
// compared by. A name that normalizes to nothing (empty, spaces) appends nothing.
func AppendKanaKey(dst []byte, name string) []byte {
	var k kanaKeyer
	return append(dst, k.key(name)...)
}

// KanaKey is AppendKanaKey as a string.
func KanaKey(name string) string { return string(AppendKanaKey(nil, name)) }

// kanaKeyer normalizes names in buffers of its own, reused from name to name: one per
// goroutine (a directory shard keeps one), so that a master's names cost no allocation.
type kanaKeyer struct {
	it     norm.Iter // held here: an Iter or a buffer handed to norm on the stack escapes
	folded []byte
}

// key returns the key of name, valid until the next call.
func (k *kanaKeyer) key(name string) []byte {
	k.folded = k.folded[:0]
	// Full-width katakana, as masters mostly write names, is NFKC already: the quick check
	// says so without normalizing.
	if norm.NFKC.QuickSpanString(name) == len(name) {
		k.fold(name)
		return k.folded
	}
	k.it.InitString(norm.NFKC, name)
	for !k.it.Done() {
		seg := k.it.Next() // a segment starts at a rune: folded rune by rune as they come
		k.fold(unsafe.String(unsafe.SliceData(seg), len(seg)))
	}
	return k.folded
}

// fold appends the runes of an NFKC-normalized text to k.folded, each folded by foldKana.
func (k *kanaKeyer) fold(s string) {
	for _, r := range s {
		if r = foldKana(r); r >= 0 {
			k.folded = utf8.AppendRune(k.folded, r)
		}
	}
}

// hash is the hash of a name's key, 0 for a name whose key is empty (no name): what a
// directory keeps of every member row's name, and what a receipt to resolve is looked up by
// beside its birth date and sex.
func (k *kanaKeyer) hash(name string) uint64 {
	if name == "" {
		return 0
	}
	key := k.key(name)
	if len(key) == 0 {
		return 0
	}
	return max(Hash2(unsafe.String(unsafe.SliceData(key), len(key)), ""), 1)
}

// kanaHash is kanaKeyer.hash with buffers of its own, for a few names.
func kanaHash(name string) uint64 {
	var k kanaKeyer
	return k.hash(name)
}

// foldKana maps one rune of an NFKC-normalized name to its normalized rune, or -1 for a rune
// that is dropped.
func foldKana(r rune) rune {
	if r >= 'ぁ' && r <= 'ゖ' || r == 'ゝ' || r == 'ゞ' { // hiragana → katakana
		r += 'ァ' - 'ぁ'
	}
	switch r {
	case 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ッ', 'ャ', 'ュ', 'ョ', 'ヮ':
		return r + 1 // the large kana follows its small one
	case 'ヵ':
		return 'カ'
	case 'ヶ':
		return 'ケ'
	case 'ヂ':
		return 'ジ'
	case 'ヅ':
		return 'ズ'
	case 'ヲ':
		return 'オ'
	case 'ー', '-', '‐', '‑', '‒', '–', '—', '―', '−', '─', '━', '〜', '~':
		return 'ー'
	case '・':
		return -1
	}
	if unicode.IsSpace(r) {
		return -1
	}
	return r
}
