package text

import (
	"unicode"
	"unicode/utf8"
)

// byteLevel is Hugging Face's ByteLevel pre-tokenizer (GPT-2's, RoBERTa's):
// it splits the text with GPT-2's regular expression
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// (written out by hand below, as Go's regexp has no look-ahead) and spells
// each piece's UTF-8 bytes with one printable character per byte.
type byteLevel struct {
	addPrefixSpace bool // a space before a text that does not start with one
	useRegex       bool // false: the text is one piece
}

// byteChars[b] is the character that stands for byte b: printable Latin-1
// bytes stand for themselves, the others for U+0100 onwards, in order.
var byteChars = func() (t [256]string) {
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xa1 && b <= 0xac || b >= 0xae {
			t[b] = string(rune(b))
		} else {
			t[b] = string(rune(256 + n))
			n++
		}
	}
	return t
}()

func (p *byteLevel) appendWords(dst []int64, n []byte, _ bool, sc *scratch, m subwordModel) []int64 {
	if p.addPrefixSpace && n[0] != ' ' {
		n = append([]byte{' '}, n...)
	}
	word := func(piece []byte) {
		w := sc.word[:0]
		for _, c := range piece {
			w = append(w, byteChars[c]...)
		}
		sc.word = w
		dst = m.appendIDs(dst, w, sc)
	}
	if !p.useRegex {
		word(n)
		return dst
	}
	for len(n) > 0 {
		k := gpt2Match(n)
		word(n[:k])
		n = n[k:]
	}
	return dst
}

type charClass uint8

const (
	classOther charClass = iota
	classLetter
	classNumber
	classSpace
)

// classOf is how Oniguruma, which tokenizers' regex runs on, classes r: \p{L},
// \p{N}, \s (White_Space) or none of them.
func classOf(r rune) charClass {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			return classLetter
		case '0' <= r && r <= '9':
			return classNumber
		case r == ' ' || '\t' <= r && r <= '\r':
			return classSpace
		}
		return classOther
	}
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	case unicode.Is(onigLetters, r):
		return classLetter
	case unicode.Is(onigNumbers, r):
		return classNumber
	}
	return classOther
}

// gpt2Match returns the length of the regular expression's match at the
// start of s (never 0 for a non-empty s: the alternatives cover every character).
func gpt2Match(s []byte) int {
	if s[0] == '\'' && len(s) > 1 {
		for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if len(s) > len(c) && string(s[1:1+len(c)]) == c {
				return 1 + len(c)
			}
		}
	}
	i := 0
	if s[0] == ' ' {
		i = 1
	}
	if i < len(s) {
		r, size := utf8.DecodeRune(s[i:])
		if c := classOf(r); c != classSpace {
			return i + size + run(s[i+size:], c)
		}
	}
	// \s+(?!\S), else \s+: a run of spaces, less its last one when something follows.
	_, size := utf8.DecodeRune(s)
	end := size + run(s[size:], classSpace)
	if end == len(s) {
		return end
	}
	if end > size { // at least two: give the last one back
		_, last := utf8.DecodeLastRune(s[:end])
		return end - last
	}
	return end
}

// run is the length of the longest prefix of s whose characters are all of class c.
func run(s []byte, c charClass) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRune(s[n:])
		if classOf(r) != c {
			break
		}
		n += size
	}
	return n
}

// Oniguruma in tokenizers 0.23.3 has newer Unicode tables than Go's 15.0:
// these are the code points it classes as letters or numbers and Go does
// not (all assigned after Unicode 15.0), found by comparing every code point
// (TestByteLevelEveryCodePoint, testdata/hf_bytelevel_classes.txt).

// onigLetters: \p{L} to Oniguruma, unassigned to Go.
var onigLetters = &unicode.RangeTable{
	R16: []unicode.Range16{
		{0x1c89, 0x1c8a, 1},
		{0xa7cb, 0xa7cd, 1},
		{0xa7da, 0xa7dc, 1},
	},
	R32: []unicode.Range32{
		{0x105c0, 0x105f3, 1},
		{0x10d4a, 0x10d65, 1},
		{0x10d6f, 0x10d85, 1},
		{0x10ec2, 0x10ec4, 1},
		{0x11380, 0x11389, 1},
		{0x1138b, 0x1138b, 1},
		{0x1138e, 0x1138e, 1},
		{0x11390, 0x113b5, 1},
		{0x113b7, 0x113b7, 1},
		{0x113d1, 0x113d1, 1},
		{0x113d3, 0x113d3, 1},
		{0x11bc0, 0x11be0, 1},
		{0x13460, 0x143fa, 1},
		{0x16100, 0x1611d, 1},
		{0x16d40, 0x16d6c, 1},
		{0x18cff, 0x18cff, 1},
		{0x1e5d0, 0x1e5ed, 1},
		{0x1e5f0, 0x1e5f0, 1},
		{0x2ebf0, 0x2ee5d, 1},
	},
}

// onigNumbers: \p{N} to Oniguruma, unassigned to Go.
var onigNumbers = &unicode.RangeTable{
	R32: []unicode.Range32{
		{0x10d40, 0x10d49, 1},
		{0x116d0, 0x116e3, 1},
		{0x11bf0, 0x11bf9, 1},
		{0x16130, 0x16139, 1},
		{0x16d70, 0x16d79, 1},
		{0x1ccf0, 0x1ccf9, 1},
		{0x1e5f1, 0x1e5fa, 1},
	},
}
