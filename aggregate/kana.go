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
	cache  *nameCache // see cachedHash
}

// nameCache holds the hashes of the names a keyer saw last, by a hash of the name as written:
// a master of millions of rows repeats its common names, so most rows find theirs here,
// compared byte for byte, instead of folding it again.
type nameCache [8192]struct {
	n    uint8
	name [nameCacheBytes]byte
	hash uint64
}

// nameCacheBytes is the longest name the cache holds (13 full-width kana and a space).
const nameCacheBytes = 42

// cachedHash is hash, looked up in the keyer's cache first.
func (k *kanaKeyer) cachedHash(name string) uint64 {
	if len(name) == 0 || len(name) > nameCacheBytes {
		return k.hash(name)
	}
	if k.cache == nil {
		k.cache = new(nameCache)
	}
	e := &k.cache[Hash2(name, "")&uint64(len(k.cache)-1)]
	if int(e.n) == len(name) && string(e.name[:e.n]) == name {
		return e.hash
	}
	h := k.hash(name)
	e.n, e.hash = uint8(len(name)), h
	copy(e.name[:], name)
	return h
}

// key returns the key of name, valid until the next call.
func (k *kanaKeyer) key(name string) []byte {
	k.folded = k.folded[:0]
	// Full-width katakana, as masters mostly write names (with a full-width space between
	// the family and the given name), needs no normalizer: plainKana tells such a name, whose
	// NFKC form differs only in its spaces, which are dropped anyway. It took a directory of
	// 7 million names from 5 s of CPU to well under one.
	if plainKana(name) || norm.NFKC.QuickSpanString(name) == len(name) {
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

// plainKana reports whether name holds only precomposed hiragana and katakana, ー, visible
// ASCII and spaces (U+0020, U+3000): characters NFKC leaves as they are, or (U+3000) maps to
// a space, and that compose with nothing, so that folding the name as it is gives its key.
// A 濁点 written apart, a half-width kana or anything else takes the normalizer.
func plainKana(name string) bool {
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		// U+3000–U+30FF is E3 80 80 – E3 83 BF; of it only the space, the kana and ー pass.
		if c != 0xE3 || i+2 >= len(name) {
			return false
		}
		r := rune(name[i+1]&0x3f)<<6 | rune(name[i+2]&0x3f) | 0x3000
		if name[i+1]&0xc0 != 0x80 || name[i+2]&0xc0 != 0x80 ||
			!(r == '　' || r >= 'ぁ' && r <= 'ゖ' || r >= 'ァ' && r <= 'ヺ' || r == 'ー') {
			return false
		}
		i += 3
	}
	return true
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
