package text

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// precompiled is sentencepiece's precompiled_charsmap, the normalizer that
// XLM-RoBERTa, mBART and other sentencepiece models carry (tokenizer.json's
// "Precompiled" normalizer, base64). Its bytes are:
//
//	trie size  <4 bytes, little-endian uint32>   N, a multiple of 4
//	trie       <N bytes>                         N/4 little-endian uint32 units of a
//	                                             darts-clone double-array trie
//	strings    <the rest>                        the replacement strings, each ended by a 0 byte
//
// The trie maps a UTF-8 sequence to the offset of its replacement in
// strings. A unit holds, from the low bit: the label (8 bits), a has-leaf
// flag (bit 8), an offset-extension flag (bit 9) and the offset to the
// children (bits 10-31, shifted left by 8 when bit 9 is set); a child's index
// is the parent's index XOR offset XOR the byte; a leaf unit holds the value
// in its low 31 bits.
//
// Hugging Face applies it per extended grapheme cluster: a cluster under 6
// bytes is replaced by the value of the shortest key that is a prefix of it
// (the rest of the cluster is dropped); otherwise, and when no key matches,
// each character is replaced by its own entry or kept. That is not what
// sentencepiece itself does (longest match), but it is what the ids of
// transformers' models come from, so it is what this does.
type precompiled struct {
	units   []uint32
	strings []byte
}

func parsePrecompiled(b []byte) (*precompiled, error) {
	if len(b) < 4 {
		return nil, errors.New("shorter than its 4-byte header")
	}
	n := binary.LittleEndian.Uint32(b)
	if n%4 != 0 || uint64(n) > uint64(len(b)-4) {
		return nil, fmt.Errorf("its trie of %d bytes does not fit in %d bytes or is not a whole number of 4-byte units", n, len(b)-4)
	}
	p := &precompiled{units: make([]uint32, n/4), strings: b[4+n:]}
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(b[4+4*i:])
	}
	if !utf8.Valid(p.strings) {
		return nil, errors.New("its replacement strings are not valid UTF-8")
	}
	return p, nil
}

func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// firstMatch returns the replacement of the shortest key that is a prefix of
// key (a 0 byte ends the key, as in darts-clone).
func (p *precompiled) firstMatch(key []byte) ([]byte, bool) {
	if len(p.units) == 0 {
		return nil, false
	}
	pos := unitOffset(p.units[0])
	for _, c := range key {
		if c == 0 {
			return nil, false
		}
		pos ^= uint32(c)
		if pos >= uint32(len(p.units)) {
			return nil, false
		}
		u := p.units[pos]
		if u&(1<<31|0xff) != uint32(c) {
			return nil, false
		}
		pos ^= unitOffset(u)
		if (u>>8)&1 == 1 {
			if pos >= uint32(len(p.units)) {
				return nil, false
			}
			start := int(p.units[pos] & (1<<31 - 1))
			if start > len(p.strings) {
				return nil, false // a corrupt value: leave the text as it is
			}
			end := start
			for end < len(p.strings) && p.strings[end] != 0 {
				end++
			}
			return p.strings[start:end], true
		}
	}
	return nil, false
}

// appendNormalized appends the normalization of s (valid UTF-8) to dst.
func (p *precompiled) appendNormalized(dst, s []byte) []byte {
	for len(s) > 0 {
		g := graphemeLen(s)
		cluster := s[:g]
		s = s[g:]
		if g < 6 {
			if rep, ok := p.firstMatch(cluster); ok {
				dst = append(dst, rep...)
				continue
			}
		}
		for len(cluster) > 0 {
			_, size := utf8.DecodeRune(cluster)
			if rep, ok := p.firstMatch(cluster[:size]); ok {
				dst = append(dst, rep...)
			} else {
				dst = append(dst, cluster[:size]...)
			}
			cluster = cluster[size:]
		}
	}
	return dst
}
