package text

import (
	"fmt"
	"unicode/utf8"
)

// unigram is Hugging Face's Unigram model (sentencepiece's): of all the ways
// to cut a word into vocabulary pieces, the one whose scores (log
// probabilities) sum highest, found by Viterbi over the word's bytes. A
// character no piece covers costs the lowest score minus 10 and becomes the
// unknown piece; neighbouring unknown pieces fuse into one.
type unigram struct {
	ids          map[string]int32 // a piece listed twice keeps its last id, as HF does
	scores       []float64
	maxLen       int // the longest piece, in bytes
	unk          int32
	unkScore     float64
	byteFallback bool
	byteIDs      [256]int32 // byte_fallback: the id of "<0xXX>", -1 when missing
}

type unigramNode struct {
	score float64
	start int32 // -1: not reached yet
	id    int32
}

// unkPenalty is what an unknown character costs below the lowest score.
const unkPenalty = 10.0

func newUnigram(pieces []string, scores []float64, unk int, byteFallback bool) (*unigram, error) {
	if unk < 0 || unk >= len(pieces) {
		return nil, fmt.Errorf("unk_id %d is not an index of the %d pieces", unk, len(pieces))
	}
	u := &unigram{ids: make(map[string]int32, len(pieces)), scores: scores, unk: int32(unk), byteFallback: byteFallback}
	minScore := scores[0]
	for i, p := range pieces {
		u.ids[p] = int32(i)
		u.maxLen = max(u.maxLen, len(p))
		minScore = min(minScore, scores[i])
	}
	u.unkScore = minScore - unkPenalty
	for i := range u.byteIDs {
		u.byteIDs[i] = -1
		if id, ok := u.ids[fmt.Sprintf("<0x%02X>", i)]; ok {
			u.byteIDs[i] = id
		}
	}
	return u, nil
}

// appendIDs appends the pieces of one pre-tokenized word.
func (u *unigram) appendIDs(dst []int64, word []byte, sc *scratch) []int64 {
	if len(word) == 0 {
		return dst
	}
	nodes := sc.lattice[:0]
	for range len(word) + 1 {
		nodes = append(nodes, unigramNode{start: -1})
	}
	sc.lattice = nodes
	for start := 0; start < len(word); {
		_, size := utf8.DecodeRune(word[start:])
		base := nodes[start].score // 0 at the start, as in HF
		single := false
		for end := start + 1; end <= min(len(word), start+u.maxLen); end++ {
			id, ok := u.ids[string(word[start:end])]
			if !ok {
				continue
			}
			if cand := u.scores[id] + base; nodes[end].start < 0 || cand > nodes[end].score {
				nodes[end] = unigramNode{score: cand, start: int32(start), id: id}
			}
			if end-start == size {
				single = true
			}
		}
		if !single {
			end := start + size
			if cand := u.unkScore + base; nodes[end].start < 0 || cand > nodes[end].score {
				nodes[end] = unigramNode{score: cand, start: int32(start), id: u.unk}
			}
		}
		start += size
	}
	// Walk back from the end; each piece's text is word[start:end].
	spans := sc.spans[:0]
	for end := len(word); end > 0; {
		nd := nodes[end]
		start := int(nd.start)
		if nd.id == u.unk && len(spans) > 0 && spans[len(spans)-1] == -1 {
			spans[len(spans)-3] = int32(start) // fuse with the unknown piece after it
		} else {
			tag := int32(0)
			if nd.id == u.unk {
				tag = -1
			}
			spans = append(spans, int32(start), int32(end), tag)
		}
		end = start
	}
	sc.spans = spans
	for k := len(spans) - 3; k >= 0; k -= 3 {
		dst = u.appendPiece(dst, word[spans[k]:spans[k+1]])
	}
	return dst
}

// appendPiece appends the id of a piece of the best path: its own, or, for
// fused unknown characters, their bytes' ids (byte_fallback) or unk.
func (u *unigram) appendPiece(dst []int64, piece []byte) []int64 {
	if id, ok := u.ids[string(piece)]; ok {
		return append(dst, int64(id))
	}
	if u.byteFallback {
		all := true
		for _, c := range piece {
			all = all && u.byteIDs[c] >= 0
		}
		if all {
			for _, c := range piece {
				dst = append(dst, int64(u.byteIDs[c]))
			}
			return dst
		}
	}
	return append(dst, int64(u.unk))
}
