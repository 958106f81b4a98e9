package cachefmt

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestF32ToF16Examples(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		name string
		in   float32
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"tie rounds to even (down)", 1 + 1.0/2048, 0x3c00},
		{"tie rounds to even (up)", 1 + 3.0/2048, 0x3c02},
		{"just above a tie rounds up", math.Nextafter32(1+1.0/2048, 2), 0x3c01},
		{"largest finite", 65504, 0x7bff},
		{"just below the overflow tie", math.Nextafter32(65520, 0), 0x7bff},
		{"overflow tie goes to Inf", 65520, 0x7c00},
		{"far overflow", 1e10, 0x7c00},
		{"negative overflow", -1e10, 0xfc00},
		{"Inf", float32(math.Inf(1)), 0x7c00},
		{"minus zero", float32(math.Copysign(0, -1)), 0x8000},
		{"smallest subnormal 2^-24", 5.9604645e-08, 0x0001},
		{"2^-25 ties to zero", 2.9802322e-08, 0x0000},
		{"above 2^-25 rounds up", math.Nextafter32(2.9802322e-08, 1), 0x0001},
		{"1.5·2^-24 ties to even 2", 8.940697e-08, 0x0002},
		{"largest subnormal", 6.097555e-05, 0x03ff},
		{"rounds up into the smallest normal", 6.1035156e-05 - 1e-12, 0x0400},
		{"far underflow", 1e-30, 0x0000},
		{"float32 subnormal", math.Float32frombits(1), 0x0000},
		{"quiet NaN", nan, 0x7e00},
		{"signalling NaN stays NaN", math.Float32frombits(0x7f800001), 0x7e00},
		{"NaN payload kept", math.Float32frombits(0xffc12000), 0xfe09},
	} {
		if got := F32ToF16(c.in); got != c.want {
			t.Errorf("%s: F32ToF16(%v) = %#04x, want %#04x", c.name, c.in, got, c.want)
		}
	}
}

// f16Exact is the value of a finite fp16 bit pattern, by the definition of the format.
func f16Exact(h uint16) float64 {
	e, m := int(h>>10&0x1f), float64(h&0x3ff)
	v := math.Ldexp(m, -24)
	if e > 0 {
		v = math.Ldexp(1024+m, e-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

func TestF16ToF32AllValues(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := F16ToF32(h)
		switch {
		case h&0x7c00 == 0x7c00 && h&0x3ff != 0:
			if !math.IsNaN(float64(got)) || math.Float32bits(got)>>13&0x3ff != uint32(h&0x3ff) || math.Signbit(float64(got)) != (h&0x8000 != 0) {
				t.Fatalf("%#04x: got %08x, want NaN with the same sign and payload", h, math.Float32bits(got))
			}
		case h&0x7fff == 0x7c00:
			if !math.IsInf(float64(got), 0) || math.Signbit(float64(got)) != (h&0x8000 != 0) {
				t.Fatalf("%#04x: got %v, want Inf", h, got)
			}
		default:
			if want := f16Exact(h); float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
				t.Fatalf("%#04x: got %v, want %v", h, got, want)
			}
		}
	}
}

// refF16 rounds by searching the sorted fp16 values: the nearest wins, a tie goes to the
// even pattern, and Inf counts as the next value after 65504 (2^16), as IEEE 754 rounding
// with an unbounded exponent and then overflow prescribes.
func refF16(f float32) uint16 {
	if math.IsNaN(float64(f)) {
		return 0x7e00
	}
	x := math.Abs(float64(f))
	sign := uint16(0)
	if math.Signbit(float64(f)) {
		sign = 0x8000
	}
	n := 0x7c00 + 1 // patterns 0 ... 0x7c00 are increasing in value
	val := func(h int) float64 {
		if h == 0x7c00 {
			return 65536
		}
		return f16Exact(uint16(h))
	}
	i := sort.Search(n, func(h int) bool { return val(h) >= x })
	switch {
	case i == n:
		return sign | 0x7c00
	case val(i) == x || i == 0:
		return sign | uint16(i)
	}
	lo, hi := val(i-1), val(i)
	switch {
	case x-lo < hi-x:
		return sign | uint16(i-1)
	case x-lo > hi-x:
		return sign | uint16(i)
	case (i-1)%2 == 0:
		return sign | uint16(i-1)
	}
	return sign | uint16(i)
}

func TestF32ToF16AgainstReference(t *testing.T) {
	var inputs []float32
	// Every fp16 value, the midpoints to its neighbour, and one float32 ulp either side.
	for h := range 0x7c00 {
		lo := float32(f16Exact(uint16(h)))
		mid := float32((f16Exact(uint16(h)) + f16Exact(uint16(h+1))) / 2)
		if h == 0x7bff {
			mid = 65520
		}
		inputs = append(inputs, lo, mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, 1e9))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		inputs = append(inputs, math.Float32frombits(rng.Uint32()))
	}
	for _, f := range inputs {
		for _, v := range []float32{f, -f} {
			got, want := F32ToF16(v), refF16(v)
			if math.IsNaN(float64(v)) {
				if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
					t.Fatalf("F32ToF16(NaN %08x) = %#04x, not NaN", math.Float32bits(v), got)
				}
				continue
			}
			if got != want {
				t.Fatalf("F32ToF16(%v = %08x) = %#04x, want %#04x", v, math.Float32bits(v), got, want)
			}
		}
	}
}

func TestF32ToBF16Examples(t *testing.T) {
	for _, c := range []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"tie rounds to even (down)", 0x3f808000, 0x3f80},
		{"tie rounds to even (up)", 0x3f818000, 0x3f82},
		{"above a tie rounds up", 0x3f808001, 0x3f81},
		{"largest float32 overflows to Inf", 0x7f7fffff, 0x7f80},
		{"largest bf16 stays", 0x7f7f0000, 0x7f7f},
		{"Inf", 0x7f800000, 0x7f80},
		{"minus Inf", 0xff800000, 0xff80},
		{"minus zero", 0x80000000, 0x8000},
		{"subnormal tie to zero", 0x00008000, 0x0000},
		{"subnormal tie to even 2", 0x00018000, 0x0002},
		{"subnormal rounds up to the smallest normal", 0x007fffff, 0x0080},
		{"signalling NaN becomes quiet NaN", 0x7f800001, 0x7fc0},
		{"NaN whose rounding would carry stays NaN", 0x7fffffff, 0x7fff},
		{"negative NaN", 0xffc00000, 0xffc0},
	} {
		if got := F32ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("%s: F32ToBF16(%08x) = %#04x, want %#04x", c.name, c.in, got, c.want)
		}
	}
}

// refBF16 picks the nearer of the two bf16 neighbours of f by exact float64 arithmetic.
func refBF16(b uint32) uint16 {
	lo := b &^ 0xffff
	hi := lo + 0x10000
	flo := math.Abs(float64(math.Float32frombits(lo)))
	fhi := math.Abs(float64(math.Float32frombits(hi)))
	if hi&0x7fffffff == 0x7f800000 {
		fhi = math.Ldexp(1, 128)
	}
	x := math.Abs(float64(math.Float32frombits(b)))
	switch {
	case x-flo < fhi-x:
		return uint16(lo >> 16)
	case x-flo > fhi-x:
		return uint16(hi >> 16)
	case lo>>16&1 == 0:
		return uint16(lo >> 16)
	}
	return uint16(hi >> 16)
}

func TestF32ToBF16AgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 1000000 {
		b := rng.Uint32()
		if i%4 == 0 {
			b = b&^0xffff | 0x8000 // an exact tie
		}
		f := math.Float32frombits(b)
		got := F32ToBF16(f)
		if math.IsNaN(float64(f)) {
			if got&0x7f80 != 0x7f80 || got&0x7f == 0 {
				t.Fatalf("F32ToBF16(NaN %08x) = %#04x, not NaN", b, got)
			}
			continue
		}
		if want := refBF16(b); got != want {
			t.Fatalf("F32ToBF16(%08x) = %#04x, want %#04x", b, got, want)
		}
		if back := BF16ToF32(got); math.Float32bits(back) != uint32(got)<<16 {
			t.Fatalf("BF16ToF32(%#04x) = %08x", got, math.Float32bits(back))
		}
	}
}
