package text

import (
	"math/bits"
	"math/rand/v2"
)

// splitStream is the second PCG seed word of Split, apart from any epoch's.
const splitStream = 0x53504c4954 // "SPLIT"

// EpochOrder returns the order in which to visit n examples in the given
// epoch: a permutation of 0..n-1 that depends only on (n, seed, epoch).
// The trainer and the activation cache must agree on it across runs and Go
// versions, so the algorithm is fixed here rather than left to rand.Shuffle,
// whose output Go does not promise to keep:
//
//	src := rand.NewPCG(seed, uint64(epoch))  // state hi, lo = seed, epoch
//	p := [0, 1, ..., n-1]
//	for i := n-1; i > 0; i-- {               // Fisher–Yates
//		j := bounded(src, i+1)               // Lemire's multiply-shift, with rejection
//		p[i], p[j] = p[j], p[i]
//	}
//
// math/rand/v2's PCG is PCG-DXSM: a 128-bit LCG, state = state*M + I with
// M = 0x2360ed051fc65da4_4385df649fccf645 and I = 0x5851f42d4c957f2d_14057b7ef767814f,
// stepped before each output; the output takes the new state's halves hi, lo:
// hi ^= hi>>32; hi *= 0xda942042e4dd58b5; hi ^= hi>>48; hi *= lo|1.
// TestEpochOrderGolden pins the values; they were checked against an
// independent implementation of the above.
func EpochOrder(n int, seed uint64, epoch int) []int {
	return permutation(n, seed, uint64(epoch))
}

func permutation(n int, seed1, seed2 uint64) []int {
	p := make([]int, max(n, 0))
	for i := range p {
		p[i] = i
	}
	src := rand.NewPCG(seed1, seed2)
	for i := len(p) - 1; i > 0; i-- {
		j := bounded(src, uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// bounded returns a uniform value in [0, n) (Lemire 2019, "Fast random
// integer generation in an interval").
func bounded(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}
