package text

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// metaspace is Hugging Face's Metaspace pre-tokenizer (sentencepiece's
// convention): spaces become "▁", one is put in front of the text
// (prepend_scheme "always", or "first" for the start of the text only), and
// the text is cut before every "▁". whitespaceSplit puts a WhitespaceSplit in
// front of it, as xlm-roberta-base's published tokenizer.json does: the text
// is first cut at whitespace, which is dropped.
type metaspace struct {
	replacement     string
	prepend         prependScheme
	split           bool
	whitespaceSplit bool
}

type prependScheme uint8

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

func (p *metaspace) appendWords(dst []int64, n []byte, first bool, sc *scratch, m subwordModel) []int64 {
	if !p.whitespaceSplit {
		return p.appendPiece(dst, n, first, sc, m)
	}
	for start := 0; start < len(n); {
		r, size := utf8.DecodeRune(n[start:])
		if unicode.IsSpace(r) {
			start += size
			continue
		}
		end := start
		for end < len(n) {
			r, size := utf8.DecodeRune(n[end:])
			if unicode.IsSpace(r) {
				break
			}
			end += size
		}
		dst = p.appendPiece(dst, n[start:end], first && start == 0, sc, m)
		start = end
	}
	return dst
}

// appendPiece runs Metaspace on one piece of text; atStart: it begins the text.
func (p *metaspace) appendPiece(dst []int64, n []byte, atStart bool, sc *scratch, m subwordModel) []int64 {
	w := sc.tmp[:0]
	if !bytes.HasPrefix(n, []byte(" ")) && !bytes.HasPrefix(n, []byte(p.replacement)) &&
		(p.prepend == prependAlways || p.prepend == prependFirst && atStart) {
		w = append(w, p.replacement...)
	}
	for _, c := range n {
		if c == ' ' {
			w = append(w, p.replacement...)
		} else {
			w = append(w, c)
		}
	}
	sc.tmp = w
	if !p.split {
		return m.appendIDs(dst, w, sc)
	}
	for len(w) > 0 {
		next := bytes.Index(w[1:], []byte(p.replacement))
		if next < 0 {
			return m.appendIDs(dst, w, sc)
		}
		dst = m.appendIDs(dst, w[:1+next], sc)
		w = w[1+next:]
	}
	return dst
}
