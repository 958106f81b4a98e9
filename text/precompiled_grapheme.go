package text

import (
	"unicode"
	"unicode/utf8"
)

// graphemeLen is the length in bytes of the first extended grapheme cluster
// of s (Unicode's UAX #29 rules GB3-GB13 without GB9c), which is how Hugging
// Face's Precompiled normalizer walks a text. The properties are derived
// from Go's Unicode tables. Only clusters of under 6 bytes change what the
// normalizer does, and GB9c (Indic conjuncts) only joins clusters of 9 bytes
// or more, so it is left out; TestPrecompiledEveryCodePoint compares c, c +
// U+0301 and c + U+093E for every code point with tokenizers.
func graphemeLen(s []byte) int {
	r, n := utf8.DecodeRune(s)
	prev := gcbOf(r)
	pict := isExtPict(r)   // GB11: the cluster so far is ExtPict Extend*
	pictZWJ := false       // ... followed by ZWJ
	riOdd := prev == gcbRI // GB12-13: an odd number of regional indicators so far
	for n < len(s) {
		r, size := utf8.DecodeRune(s[n:])
		next := gcbOf(r)
		if !joins(prev, next, pictZWJ && isExtPict(r), riOdd) {
			break
		}
		switch {
		case next == gcbExtend && pict && !pictZWJ:
		case next == gcbZWJ && pict && !pictZWJ:
			pictZWJ = true
		default:
			pict, pictZWJ = isExtPict(r), false
		}
		riOdd = next == gcbRI && !riOdd
		prev = next
		n += size
	}
	return n
}

type gcb uint8

const (
	gcbOther gcb = iota
	gcbCR
	gcbLF
	gcbControl
	gcbExtend
	gcbZWJ
	gcbRI
	gcbPrepend
	gcbSpacingMark
	gcbL
	gcbV
	gcbT
	gcbLV
	gcbLVT
)

// joins reports whether there is no boundary between a character of class
// prev and one of class next.
func joins(prev, next gcb, pictAfterZWJ, riOdd bool) bool {
	switch {
	case prev == gcbCR && next == gcbLF: // GB3
		return true
	case prev == gcbCR || prev == gcbLF || prev == gcbControl: // GB4
		return false
	case next == gcbCR || next == gcbLF || next == gcbControl: // GB5
		return false
	case prev == gcbL && (next == gcbL || next == gcbV || next == gcbLV || next == gcbLVT): // GB6
		return true
	case (prev == gcbLV || prev == gcbV) && (next == gcbV || next == gcbT): // GB7
		return true
	case (prev == gcbLVT || prev == gcbT) && next == gcbT: // GB8
		return true
	case next == gcbExtend || next == gcbZWJ || next == gcbSpacingMark: // GB9, GB9a
		return true
	case prev == gcbPrepend: // GB9b
		return true
	case prev == gcbZWJ && pictAfterZWJ: // GB11
		return true
	case prev == gcbRI && next == gcbRI: // GB12, GB13
		return riOdd
	}
	return false
}

func gcbOf(r rune) gcb {
	switch {
	case r == '\r':
		return gcbCR
	case r == '\n':
		return gcbLF
	case r < 0x20 || r == 0x7f:
		return gcbControl
	case r < 0x7f:
		return gcbOther
	case r == 0x200d:
		return gcbZWJ
	case r >= 0x1f1e6 && r <= 0x1f1ff:
		return gcbRI
	case r >= 0xac00 && r <= 0xd7a3:
		if (r-0xac00)%28 == 0 {
			return gcbLV
		}
		return gcbLVT
	case r >= 0x1100 && r <= 0x115f, r >= 0xa960 && r <= 0xa97c:
		return gcbL
	case r >= 0x1160 && r <= 0x11a7, r >= 0xd7b0 && r <= 0xd7c6:
		return gcbV
	case r >= 0x11a8 && r <= 0x11ff, r >= 0xd7cb && r <= 0xd7fb:
		return gcbT
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Other_Grapheme_Extend) || (r >= 0x1f3fb && r <= 0x1f3ff):
		return gcbExtend
	case unicode.Is(unicode.Prepended_Concatenation_Mark, r) || unicode.Is(gcbPrependExtra, r):
		return gcbPrepend
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
		return gcbControl
	case unicode.Is(unicode.Mc, r):
		if unicode.Is(gcbNotSpacingMark, r) {
			return gcbOther
		}
		return gcbSpacingMark
	case r == 0x0e33 || r == 0x0eb3:
		return gcbSpacingMark
	case unicode.Is(gcbIgnorableUnassigned, r) && !unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) && !isAssigned(r):
		return gcbControl
	}
	return gcbOther
}

func isAssigned(r rune) bool {
	for _, t := range unicode.Categories {
		if unicode.Is(t, r) {
			return true
		}
	}
	return false
}

// gcbPrependExtra: Prepend characters that are not Prepended_Concatenation_Mark
// (Indic_Syllabic_Category Consonant_Preceding_Repha or Consonant_Prefixed).
var gcbPrependExtra = &unicode.RangeTable{
	R16: []unicode.Range16{{0x0d4e, 0x0d4e, 1}},
	R32: []unicode.Range32{
		{0x111c2, 0x111c3, 1}, {0x1193f, 0x1193f, 1}, {0x11941, 0x11941, 1},
		{0x11a3a, 0x11a3a, 1}, {0x11a84, 0x11a89, 1}, {0x11d46, 0x11d46, 1}, {0x11f02, 0x11f02, 1},
	},
}

// gcbNotSpacingMark: Mc characters that UAX #29 excludes from SpacingMark.
var gcbNotSpacingMark = &unicode.RangeTable{
	R16: []unicode.Range16{
		{0x102b, 0x102c, 1}, {0x1038, 0x1038, 1}, {0x1062, 0x1064, 1}, {0x1067, 0x106d, 1},
		{0x1083, 0x1083, 1}, {0x1087, 0x108c, 1}, {0x108f, 0x108f, 1}, {0x109a, 0x109c, 1},
		{0x1a61, 0x1a61, 1}, {0x1a63, 0x1a64, 1}, {0xaa7b, 0xaa7b, 1}, {0xaa7d, 0xaa7d, 1},
	},
	R32: []unicode.Range32{{0x11720, 0x11721, 1}},
}

// gcbIgnorableUnassigned: where unassigned code points are Default_Ignorable
// (and so Control to UAX #29).
var gcbIgnorableUnassigned = &unicode.RangeTable{
	R16: []unicode.Range16{{0x2065, 0x2065, 1}, {0xfff0, 0xfff8, 1}},
	R32: []unicode.Range32{{0xe0000, 0xe0fff, 1}},
}

func isExtPict(r rune) bool { return r >= 0xa9 && unicode.Is(extPict, r) }

// extPict is Extended_Pictographic (emoji-data.txt), which Go's tables lack.
var extPict = &unicode.RangeTable{
	R16: []unicode.Range16{
		{0x00a9, 0x00a9, 1}, {0x00ae, 0x00ae, 1}, {0x203c, 0x203c, 1}, {0x2049, 0x2049, 1},
		{0x2122, 0x2122, 1}, {0x2139, 0x2139, 1}, {0x2194, 0x2199, 1}, {0x21a9, 0x21aa, 1},
		{0x231a, 0x231b, 1}, {0x2328, 0x2328, 1}, {0x2388, 0x2388, 1}, {0x23cf, 0x23cf, 1},
		{0x23e9, 0x23f3, 1}, {0x23f8, 0x23fa, 1}, {0x24c2, 0x24c2, 1}, {0x25aa, 0x25ab, 1},
		{0x25b6, 0x25b6, 1}, {0x25c0, 0x25c0, 1}, {0x25fb, 0x25fe, 1}, {0x2600, 0x2605, 1},
		{0x2607, 0x2612, 1}, {0x2614, 0x2685, 1}, {0x2690, 0x2705, 1}, {0x2708, 0x2712, 1},
		{0x2714, 0x2714, 1}, {0x2716, 0x2716, 1}, {0x271d, 0x271d, 1}, {0x2721, 0x2721, 1},
		{0x2728, 0x2728, 1}, {0x2733, 0x2734, 1}, {0x2744, 0x2744, 1}, {0x2747, 0x2747, 1},
		{0x274c, 0x274c, 1}, {0x274e, 0x274e, 1}, {0x2753, 0x2755, 1}, {0x2757, 0x2757, 1},
		{0x2763, 0x2767, 1}, {0x2795, 0x2797, 1}, {0x27a1, 0x27a1, 1}, {0x27b0, 0x27b0, 1},
		{0x27bf, 0x27bf, 1}, {0x2934, 0x2935, 1}, {0x2b05, 0x2b07, 1}, {0x2b1b, 0x2b1c, 1},
		{0x2b50, 0x2b50, 1}, {0x2b55, 0x2b55, 1}, {0x3030, 0x3030, 1}, {0x303d, 0x303d, 1},
		{0x3297, 0x3297, 1}, {0x3299, 0x3299, 1},
	},
	R32: []unicode.Range32{
		{0x1f000, 0x1f0ff, 1}, {0x1f10d, 0x1f10f, 1}, {0x1f12f, 0x1f12f, 1}, {0x1f16c, 0x1f171, 1},
		{0x1f17e, 0x1f17f, 1}, {0x1f18e, 0x1f18e, 1}, {0x1f191, 0x1f19a, 1}, {0x1f1ad, 0x1f1e5, 1},
		{0x1f201, 0x1f20f, 1}, {0x1f21a, 0x1f21a, 1}, {0x1f22f, 0x1f22f, 1}, {0x1f232, 0x1f23a, 1},
		{0x1f23c, 0x1f23f, 1}, {0x1f249, 0x1f3fa, 1}, {0x1f400, 0x1f53d, 1}, {0x1f546, 0x1f64f, 1},
		{0x1f680, 0x1f6ff, 1}, {0x1f774, 0x1f77f, 1}, {0x1f7d5, 0x1f7ff, 1}, {0x1f80c, 0x1f80f, 1},
		{0x1f848, 0x1f84f, 1}, {0x1f85a, 0x1f85f, 1}, {0x1f888, 0x1f88f, 1}, {0x1f8ae, 0x1f8ff, 1},
		{0x1f90c, 0x1f93a, 1}, {0x1f93c, 0x1f945, 1}, {0x1f947, 0x1faff, 1}, {0x1fc00, 0x1fffd, 1},
	},
}
