package text

import (
	"bytes"
	"regexp"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer is Hugging Face's BertNormalizer. The steps run in its order:
// clean the text, pad Chinese characters with spaces, strip accents (NFD, then
// drop nonspacing marks), lowercase.
type normalizer struct {
	cleanText    bool
	chineseChars bool
	stripAccents bool
	lowercase    bool
}

// ASCII character classes, shared by the normalizer and the pre-tokenizer.
const (
	asciiOther   = iota
	asciiSpace   // \t \n \r and ' ': whitespace, kept by clean_text (as ' ')
	asciiControl // other C0 controls and DEL: dropped by clean_text
	asciiPunct   // HF's ASCII punctuation: 33-47, 58-64, 91-96, 123-126
	asciiVSpace  // \v and \f: controls to clean_text but whitespace to the pre-tokenizer
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 0; c < utf8.RuneSelf; c++ {
		switch {
		case c == '\t' || c == '\n' || c == '\r' || c == ' ':
			t[c] = asciiSpace
		case c == '\v' || c == '\f':
			t[c] = asciiVSpace
		case c < 0x20 || c == 0x7f:
			t[c] = asciiControl
		case c >= 33 && c <= 47, c >= 58 && c <= 64, c >= 91 && c <= 96, c >= 123 && c <= 126:
			t[c] = asciiPunct
		}
	}
	return t
}()

// normalize appends the normalized form of s to dst and returns it. tmp is
// scratch space, returned for reuse. The result is valid UTF-8 even when s
// is not: invalid bytes read as U+FFFD, which clean_text drops.
func (n *normalizer) normalize(dst, tmp []byte, s string) (out, scratch []byte) {
	tmp = tmp[:0]
	ascii, keepWhole := true, false
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			i++
			if n.cleanText {
				switch asciiClass[c] {
				case asciiControl, asciiVSpace:
					continue
				case asciiSpace:
					c = ' '
				}
			}
			tmp = append(tmp, c)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if n.cleanText {
			if r == utf8.RuneError || isControl(r) {
				continue
			}
			if isWhitespace(r) {
				tmp = append(tmp, ' ')
				continue
			}
		}
		ascii = false
		keepWhole = keepWhole || unicode.Is(hfNoDecompose, r)
		if n.chineseChars && isChinese(r) {
			tmp = append(tmp, ' ')
			tmp = utf8.AppendRune(tmp, r)
			tmp = append(tmp, ' ')
			continue
		}
		tmp = utf8.AppendRune(tmp, r)
	}

	if ascii {
		if !n.lowercase {
			return append(dst, tmp...), tmp
		}
		for _, c := range tmp {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst, tmp
	}

	src := tmp
	if n.stripAccents {
		// NFD the whole string, as HF does, so that canonical reordering
		// sees the same neighbours; decompose into the free tail of dst.
		start := len(dst)
		dst = appendNFD(dst, tmp, keepWhole)
		src = append(tmp[:0], dst[start:]...)
		dst = dst[:start]
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			i++
			if n.lowercase && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		i += size
		if n.stripAccents && isNonspacingMark(r) {
			continue
		}
		if n.lowercase {
			dst = appendLower(dst, r)
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst, src
}

// appendLower appends Rust's char::to_lowercase(r), which applies the
// unconditional full mappings of SpecialCasing.txt; the only one that differs
// from the simple mapping is U+0130.
func appendLower(dst []byte, r rune) []byte {
	if r == 'İ' {
		return append(dst, "i\u0307"...)
	}
	if l, ok := hfLower(r); ok {
		return utf8.AppendRune(dst, l)
	}
	return utf8.AppendRune(dst, unicode.ToLower(r))
}

// isWhitespace is Rust's char::is_whitespace, the White_Space property.
func isWhitespace(r rune) bool {
	if r < utf8.RuneSelf {
		k := asciiClass[r]
		return k == asciiSpace || k == asciiVSpace
	}
	return unicode.Is(unicode.White_Space, r)
}

// isControl is HF's is_control: the categories Cc, Cf and Co, except \t, \n
// and \r (which count as whitespace). Unassigned code points are kept.
func isControl(r rune) bool {
	if r < utf8.RuneSelf {
		k := asciiClass[r]
		return k == asciiControl || k == asciiVSpace
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co) && !unicode.Is(hfNotOther, r)
}

// isPunct is HF's is_bert_punc: ASCII punctuation (which includes symbols
// such as $ + < = > ^ ` | ~) or a Unicode P* category.
func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r] == asciiPunct
	}
	if unicode.IsPunct(r) {
		return !unicode.Is(hfNotPunct, r)
	}
	return unicode.Is(hfPunctExtra, r)
}

// isNonspacingMark is Unicode category Mn, as HF's tables have it.
func isNonspacingMark(r rune) bool {
	if unicode.Is(unicode.Mn, r) {
		return !unicode.Is(hfNotMn, r)
	}
	return unicode.Is(hfMnExtra, r)
}

// isChinese reports whether r is in one of the CJK ideograph blocks that
// HF's BertNormalizer surrounds with spaces. The ranges are HF's, including
// its gap at U+2B820..U+2B91F.
func isChinese(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// appendNFD appends the NFD of s; with keepWhole set it leaves the runes of
// hfNoDecompose as they are (they are starters, so nothing reorders across them).
func appendNFD(dst, s []byte, keepWhole bool) []byte {
	if !keepWhole {
		return norm.NFD.Append(dst, s...)
	}
	from := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r >= utf8.RuneSelf && unicode.Is(hfNoDecompose, r) {
			dst = norm.NFD.Append(dst, s[from:i]...)
			dst = append(dst, s[i:i+size]...)
			from = i + size
		}
		i += size
	}
	return norm.NFD.Append(dst, s[from:]...)
}

// normStep is one step of a tokenizer.json normalizer sequence, as the
// BPE and Unigram families use them.
type normStep interface {
	apply(dst, src []byte) []byte // appends the normalized src to dst
}

// stripStep is HF's Strip: whitespace (White_Space) off either end.
type stripStep struct{ left, right bool }

func (s stripStep) apply(dst, src []byte) []byte {
	if s.left {
		src = bytes.TrimLeftFunc(src, unicode.IsSpace)
	}
	if s.right {
		src = bytes.TrimRightFunc(src, unicode.IsSpace)
	}
	return append(dst, src...)
}

// replaceStep is HF's Replace: every non-overlapping match, leftmost first,
// of a string or of a regular expression (only those that mean the same in
// Go's RE2 and Oniguruma; see load.go) becomes content.
type replaceStep struct {
	literal string
	re      *regexp.Regexp
	content string
}

func (r replaceStep) apply(dst, src []byte) []byte {
	if r.re != nil {
		return append(dst, r.re.ReplaceAllLiteral(src, []byte(r.content))...)
	}
	for {
		i := bytes.Index(src, []byte(r.literal))
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i]...)
		dst = append(dst, r.content...)
		src = src[i+len(r.literal):]
	}
}

func (p *precompiled) apply(dst, src []byte) []byte { return p.appendNormalized(dst, src) }

// appendValidUTF8 appends s with every byte that is not part of valid UTF-8
// replaced by U+FFFD: Hugging Face only ever sees valid text.
func appendValidUTF8(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}
