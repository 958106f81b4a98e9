package cachefmt

import (
	"math"
	"sync"
)

// F32ToF16 rounds f to the nearest IEEE binary16 value, ties to even. Values beyond the fp16
// range become ±Inf, values below half the smallest subnormal become ±0, NaN stays NaN (quiet,
// with the top payload bits kept).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	if a := b & 0x7fffffff; a-0x38800000 < 0x47800000-0x38800000 {
		// The common case, a normal fp16 (2^-14 <= |f| < 2^16): rebias the exponent, then
		// add just under half an fp16 ulp plus the kept lsb, so ties go to even. A carry out
		// of the mantissa raises the exponent, and out of the largest binade gives Inf.
		r := a - (127-15)<<23
		r += 0xfff + r>>13&1
		return sign | uint16(r>>13)
	}
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(man>>13)
	}
	e := exp - 127 + 15 // fp16 biased exponent
	switch {
	case e >= 0x1f: // |f| >= 2^16: beyond the largest finite fp16 even before rounding
		return sign | 0x7c00
	case e <= 0: // fp16 subnormal or zero: shift the full significand into the 10-bit field
		if e < -10 { // |f| < 2^-25, at most half the smallest subnormal: rounds to zero
			return sign
		}
		m := man | 0x800000
		shift := uint(14 - e)
		r := m >> shift
		rem, half := m&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || rem == half && r&1 == 1 {
			r++ // may carry into the exponent field: the smallest normal, correctly
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && r&1 == 1 {
		r++ // a carry out of the mantissa raises the exponent; out of the top gives Inf
	}
	return sign | uint16(r)
}

// F16ToF32 widens an IEEE binary16 value exactly.
func F16ToF32(h uint16) float32 { return f16Table()[h] }

func f16ToF32Slow(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalize
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// f16Table maps every fp16 bit pattern to its float32 value (256 KiB, built on first use);
// a lookup is faster than the branches above in the decode loop.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16ToF32Slow(uint16(i))
	}
	return &t
})

// F32ToBF16 rounds f to the nearest bfloat16, ties to even. bfloat16 has float32's exponent
// range, so overflow to Inf and subnormals fall out of the rounding; NaN stays NaN (quiet).
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BF16ToF32 widens a bfloat16 value exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundTo returns f as it reads back after storing it as d.
func RoundTo(d Dtype, f float32) float32 {
	switch d {
	case Float16:
		return F16ToF32(F32ToF16(f))
	case BFloat16:
		return BF16ToF32(F32ToBF16(f))
	}
	return f
}
