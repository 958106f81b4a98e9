package text

import (
	"unicode/utf8"
)

// splitWords is HF's BertPreTokenizer: it splits s on whitespace and makes
// every punctuation character a word of its own. It appends each word's
// [start, end) byte offsets to spans.
func splitWords(s []byte, spans []int32) []int32 {
	start := -1
	for i := 0; i < len(s); {
		j := i
		var space, punct bool
		if c := s[i]; c < utf8.RuneSelf {
			i++
			switch asciiClass[c] {
			case asciiSpace, asciiVSpace:
				space = true
			case asciiPunct:
				punct = true
			}
		} else {
			r, size := utf8.DecodeRune(s[i:])
			i += size
			space = isWhitespace(r)
			punct = !space && isPunct(r)
		}
		switch {
		case space || punct:
			if start >= 0 {
				spans = append(spans, int32(start), int32(j))
				start = -1
			}
			if punct {
				spans = append(spans, int32(j), int32(i))
			}
		case start < 0:
			start = j
		}
	}
	if start >= 0 {
		spans = append(spans, int32(start), int32(len(s)))
	}
	return spans
}

// wordPiece is HF's WordPiece model: greedy longest-match-first over a
// vocabulary, continuation pieces carrying a prefix ("##").
type wordPiece struct {
	vocab    map[string]int32 // every token, prefixed or not: matches at a word's start
	cont     map[string]int32 // tokens that carry the prefix, without it: matches inside a word
	maxVocab int              // longest key of vocab, in bytes
	maxCont  int              // longest key of cont, in bytes
	maxChars int              // longer words become unk
	unk      int64
}

func newWordPiece(vocab map[string]int32, prefix string, maxChars int, unk int64) *wordPiece {
	w := &wordPiece{
		vocab:    vocab,
		cont:     make(map[string]int32),
		maxChars: maxChars,
		unk:      unk,
	}
	for tok, id := range vocab {
		w.maxVocab = max(w.maxVocab, len(tok))
		if len(tok) > len(prefix) && tok[:len(prefix)] == prefix {
			rest := tok[len(prefix):]
			w.cont[rest] = id
			w.maxCont = max(w.maxCont, len(rest))
		}
	}
	return w
}

// appendIDs appends the pieces of one pre-tokenized word. A word that cannot
// be covered by pieces, or that has more than maxChars characters, is one unk.
func (w *wordPiece) appendIDs(dst []int64, word []byte) []int64 {
	if len(word) > w.maxChars && utf8.RuneCount(word) > w.maxChars {
		return append(dst, w.unk)
	}
	mark := len(dst)
	for start := 0; start < len(word); {
		table, longest := w.vocab, w.maxVocab
		if start > 0 {
			table, longest = w.cont, w.maxCont
		}
		end := min(len(word), start+longest)
		for end < len(word) && !utf8.RuneStart(word[end]) {
			end-- // no key is longer than longest bytes: start at a character boundary within it
		}
		found := false
		for end > start {
			if id, ok := table[string(word[start:end])]; ok {
				dst = append(dst, int64(id))
				found = true
				break
			}
			end--
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		if !found {
			return append(dst[:mark], w.unk)
		}
		start = end
	}
	return dst
}
