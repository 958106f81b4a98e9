package text

import (
	"runtime"
	"sync"
)

// Encoding is one model input, unpadded: [CLS] A [SEP] or [CLS] A [SEP] B [SEP]
// (RoBERTa and XLM-R: <s> A </s> or <s> A </s></s> B </s>).
// The three slices have the same length; Mask is all ones.
type Encoding struct {
	IDs     []int64
	TypeIDs []int64 // 0 for [CLS], A and its [SEP]; 1 for B and its [SEP] (0 for RoBERTa and XLM-R)
	Mask    []int64
}

// Len is the number of tokens, special tokens included.
func (e Encoding) Len() int { return len(e.IDs) }

// Encode tokenizes one text as [CLS] text [SEP], truncated to maxLen tokens
// in all. maxLen <= 0 means no limit; a maxLen below 2 still keeps both
// special tokens.
func (t *Tokenizer) Encode(text string, maxLen int) Encoding {
	sc := t.getScratch()
	defer t.scratchers.Put(sc)
	sc.a = t.appendPieces(sc.a[:0], text, sc)
	return t.assemble(sc.a, nil, false, maxLen)
}

// EncodePair tokenizes a text pair as [CLS] a [SEP] b [SEP], truncated to
// maxLen tokens in all with HF's longest_first strategy: tokens come off the
// end of the longer text first. maxLen <= 0 means no limit; a maxLen below 3
// still keeps the three special tokens.
func (t *Tokenizer) EncodePair(a, b string, maxLen int) Encoding {
	sc := t.getScratch()
	defer t.scratchers.Put(sc)
	sc.a = t.appendPieces(sc.a[:0], a, sc)
	sc.b = t.appendPieces(sc.b[:0], b, sc)
	return t.assemble(sc.a, sc.b, true, maxLen)
}

// Pieces returns the ids of text without special tokens and without
// truncation, for debugging and for counting tokens.
func (t *Tokenizer) Pieces(text string) []int64 {
	sc := t.getScratch()
	defer t.scratchers.Put(sc)
	return t.appendPieces(nil, text, sc)
}

func (t *Tokenizer) assemble(a, b []int64, pair bool, maxLen int) Encoding {
	added, sep2 := 2, 0
	if pair {
		added = 3
		if t.layout.doubleSep {
			added, sep2 = 4, 1
		}
	}
	na, nb := len(a), len(b)
	if maxLen > 0 {
		na, nb = truncatedLengths(na, nb, pair, max(maxLen-added, 0))
	}
	n := na + nb + added
	buf := make([]int64, 3*n) // one allocation for the three slices
	e := Encoding{IDs: buf[:n:n], TypeIDs: buf[n : 2*n : 2*n], Mask: buf[2*n:]}
	e.IDs[0] = t.special.CLS
	copy(e.IDs[1:], a[:na])
	e.IDs[1+na] = t.special.SEP
	if pair {
		if sep2 == 1 {
			e.IDs[2+na] = t.special.SEP
		}
		copy(e.IDs[2+na+sep2:], b[:nb])
		e.IDs[n-1] = t.special.SEP
		for i := 2 + na; i < n; i++ {
			e.TypeIDs[i] = t.layout.typeB
		}
	}
	for i := range e.Mask {
		e.Mask[i] = 1
	}
	return e
}

// truncatedLengths is HF's truncate_encodings with longest_first: a single
// text is cut to budget; for a pair, the shorter text is kept whole when the
// longer one can absorb the cut, otherwise both get half of budget, the
// originally longer one the odd token (the first one when they are equal).
func truncatedLengths(n1, n2 int, pair bool, budget int) (int, int) {
	if !pair {
		return min(n1, budget), 0
	}
	if n1+n2 <= budget {
		return n1, n2
	}
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > budget {
		n2 = n1
	} else {
		n2 = max(n1, budget-n1)
	}
	if n1+n2 > budget {
		n1 = budget / 2
		n2 = n1 + budget%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return n1, n2
}

// Batch is a padded batch, row-major [Size][SeqLen].
type Batch struct {
	IDs     []int64
	TypeIDs []int64
	Mask    []int64 // 1 for tokens, 0 for padding
	Size    int
	SeqLen  int   // the longest encoding of the batch
	Lengths []int // each row's length before padding
}

// Pad pads encodings on the right to the longest of them, with the pad id,
// type id 0 and mask 0.
func (t *Tokenizer) Pad(encodings []Encoding) Batch {
	b := Batch{Size: len(encodings), Lengths: make([]int, len(encodings))}
	for i, e := range encodings {
		b.Lengths[i] = e.Len()
		b.SeqLen = max(b.SeqLen, e.Len())
	}
	cells := b.Size * b.SeqLen
	buf := make([]int64, 3*cells)
	b.IDs, b.TypeIDs, b.Mask = buf[:cells:cells], buf[cells:2*cells:2*cells], buf[2*cells:]
	for i, e := range encodings {
		row := i * b.SeqLen
		copy(b.IDs[row:], e.IDs)
		copy(b.TypeIDs[row:], e.TypeIDs)
		copy(b.Mask[row:], e.Mask)
		for j := row + e.Len(); j < row+b.SeqLen; j++ {
			b.IDs[j] = t.special.PAD
		}
	}
	return b
}

// EncodeAll encodes examples (as pairs where HasPair is set) on up to
// GOMAXPROCS goroutines; out[i] is the encoding of examples[i].
func EncodeAll(tok *Tokenizer, examples []Example, maxLen int) []Encoding {
	out := make([]Encoding, len(examples))
	workers := min(runtime.GOMAXPROCS(0), (len(examples)+63)/64)
	if workers <= 1 {
		encodeRange(tok, examples, out, maxLen)
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(examples) + workers - 1) / workers
	for lo := 0; lo < len(examples); lo += chunk {
		hi := min(lo+chunk, len(examples))
		wg.Go(func() { encodeRange(tok, examples[lo:hi], out[lo:hi], maxLen) })
	}
	wg.Wait()
	return out
}

func encodeRange(tok *Tokenizer, examples []Example, out []Encoding, maxLen int) {
	for i, ex := range examples {
		if ex.HasPair {
			out[i] = tok.EncodePair(ex.Text, ex.TextPair, maxLen)
		} else {
			out[i] = tok.Encode(ex.Text, maxLen)
		}
	}
}
