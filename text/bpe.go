package text

import (
	"container/heap"
	"fmt"
	"unicode/utf8"
)

// bpe is Hugging Face's BPE model: a word starts as one symbol per character
// and the adjacent pair with the lowest merge rank is merged, the leftmost
// first, until no pair has a merge. With byte-level pre-tokenization (RoBERTa,
// GPT-2) every character is in the vocabulary and nothing is unknown.
type bpe struct {
	vocab        map[string]int32
	merges       map[[2]int32]bpeMerge
	prefix       string // continuing_subword_prefix, on every symbol but a word's first
	suffix       string // end_of_word_suffix, on a word's last symbol
	unk          int32  // -1: unknown characters are dropped, as HF does without an unk_token
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	byteIDs      [256]int32 // byte_fallback: the id of "<0xXX>", -1 when missing
}

type bpeMerge struct {
	rank uint32
	id   int32 // the merged token
}

// bpeSym is a symbol of a word being merged: a doubly linked list in an
// array, as in HF, so that a merge's position stays valid.
type bpeSym struct {
	id         int32
	prev, next int32
	removed    bool
}

type bpeItem struct {
	pos  int32
	rank uint32
	id   int32
}

// bpeHeap orders pending merges by rank, then position.
type bpeHeap []bpeItem

func (h bpeHeap) Len() int { return len(h) }
func (h bpeHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h bpeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *bpeHeap) Push(x any)   { *h = append(*h, x.(bpeItem)) }
func (h *bpeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// newBPE checks the merges against the vocabulary: each of their two parts
// and their concatenation (the second without its prefix) must be tokens.
// A pair listed twice keeps its last rank, as HF's loader does.
func newBPE(vocab map[string]int32, merges [][2]string, prefix, suffix string) (*bpe, error) {
	b := &bpe{vocab: vocab, merges: make(map[[2]int32]bpeMerge, len(merges)), prefix: prefix, suffix: suffix, unk: -1}
	for i, m := range merges {
		a, ok1 := vocab[m[0]]
		c, ok2 := vocab[m[1]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("merge %d (%q %q) uses a token that is not in model.vocab", i, m[0], m[1])
		}
		right := m[1]
		if len(prefix) > 0 && len(right) >= len(prefix) {
			right = right[len(prefix):]
		}
		id, ok := vocab[m[0]+right]
		if !ok {
			return nil, fmt.Errorf("merge %d (%q %q) makes %q, which is not in model.vocab", i, m[0], m[1], m[0]+right)
		}
		b.merges[[2]int32{a, c}] = bpeMerge{rank: uint32(i), id: id}
	}
	for i := range b.byteIDs {
		b.byteIDs[i] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", i)]; ok {
			b.byteIDs[i] = id
		}
	}
	return b, nil
}

// appendIDs appends the tokens of one pre-tokenized word.
func (b *bpe) appendIDs(dst []int64, word []byte, sc *scratch) []int64 {
	if len(word) == 0 {
		return dst
	}
	if b.ignoreMerges {
		if id, ok := b.vocab[string(word)]; ok {
			return append(dst, int64(id))
		}
	}
	syms := sc.syms[:0]
	add := func(id int32) {
		n := int32(len(syms))
		syms = append(syms, bpeSym{id: id, prev: n - 1, next: n + 1})
	}
	pendingUnk := false
	var key []byte
	for i := 0; i < len(word); {
		_, size := utf8.DecodeRune(word[i:])
		ch := word[i : i+size]
		key = key[:0]
		if i > 0 {
			key = append(key, b.prefix...)
		}
		key = append(key, ch...)
		if i+size == len(word) {
			key = append(key, b.suffix...)
		}
		i += size
		if id, ok := b.vocab[string(key)]; ok {
			if pendingUnk {
				add(b.unk)
				pendingUnk = false
			}
			add(id)
			continue
		}
		if b.byteFallback && b.allBytes(key) {
			for _, c := range key {
				add(b.byteIDs[c]) // HF adds them before a pending unk
			}
			continue
		}
		if b.unk < 0 {
			continue
		}
		if pendingUnk && !b.fuseUnk {
			add(b.unk)
		}
		pendingUnk = true
	}
	if pendingUnk {
		add(b.unk)
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	sc.syms = b.mergeAll(syms, sc)
	for _, s := range sc.syms {
		if !s.removed {
			dst = append(dst, int64(s.id))
		}
	}
	return dst
}

func (b *bpe) allBytes(key []byte) bool {
	for _, c := range key {
		if b.byteIDs[c] < 0 {
			return false
		}
	}
	return true
}

func (b *bpe) mergeAll(syms []bpeSym, sc *scratch) []bpeSym {
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if m, ok := b.merges[[2]int32{syms[i].id, syms[i+1].id}]; ok {
			h = append(h, bpeItem{pos: int32(i), rank: m.rank, id: m.id})
		}
	}
	heap.Init(&h)
	for h.Len() > 0 {
		top := heap.Pop(&h).(bpeItem)
		cur := &syms[top.pos]
		if cur.removed || cur.next < 0 {
			continue
		}
		right := syms[cur.next]
		if m, ok := b.merges[[2]int32{cur.id, right.id}]; !ok || m.id != top.id {
			continue // stale: one of the two has merged with something else
		}
		syms[cur.next].removed = true
		cur.id = top.id
		cur.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if m, ok := b.merges[[2]int32{syms[cur.prev].id, cur.id}]; ok {
				heap.Push(&h, bpeItem{pos: cur.prev, rank: m.rank, id: m.id})
			}
		}
		if cur.next >= 0 {
			if m, ok := b.merges[[2]int32{cur.id, syms[cur.next].id}]; ok {
				heap.Push(&h, bpeItem{pos: top.pos, rank: m.rank, id: m.id})
			}
		}
	}
	sc.heap = h
	return syms
}
