package cachefmt

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
)

// The test rows are a pure function of their id, so any row read back from any file these
// tests write (or a fuzzer mutates) can be checked on its own: a row that reads without error
// but differs from wantRow is wrong data.

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// specials are placed among the values to exercise rounding edges: NaN, infinities, zeros,
// fp16 subnormals, fp16 overflow and exact fp16/bf16 ties.
var specials = []float32{
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	0, float32(math.Copysign(0, -1)),
	5.9604645e-08,        // 2^-24, the smallest fp16 subnormal
	2.9802322e-08,        // 2^-25, a tie between 0 and 2^-24
	6.097555e-05,         // the largest fp16 subnormal
	65504, 65520, -70000, // fp16 max, the first value rounding to Inf, beyond
	1 + 1.0/2048, 1 + 3.0/2048, // fp16 ties: to 1 (even) and to 1+2^-9
	1 + 1.0/256, 1 + 3.0/256, // bf16 ties
	math.Float32frombits(0x7f800001), // a signalling NaN
	math.Float32frombits(0x00000001), // the smallest fp32 subnormal
	math.MaxFloat32,
}

// testValue is element (t, c) of row id: mostly a Gaussian-like value with a per-channel scale
// (sums of uniforms: only exact IEEE operations, so every platform computes the same bits).
func testValue(id uint64, t, c int) float32 {
	h := splitmix(id<<32 ^ uint64(t)<<12 ^ uint64(c))
	if h%29 == 0 {
		return specials[(h>>8)%uint64(len(specials))]
	}
	u := float32(h>>40&0xffff)/65536 + float32(h>>24&0xffff)/65536 + float32(h>>8&0xffff)/65536 - 1.5
	scale := float32(1 + c%7)
	if c%13 == 5 {
		scale = 40 // an outlier channel, as BERT has
	}
	return u * scale
}

func testTokens(id uint64) int  { return int(splitmix(id^0xabc) % 48) }
func testLabel(id uint64) int32 { return int32(splitmix(id^0xdef)%5) - 2 }

func testRow(id uint64, hidden int) []float32 {
	n := testTokens(id)
	out := make([]float32, n*hidden)
	for t := range n {
		for c := range hidden {
			out[t*hidden+c] = testValue(id, t, c)
		}
	}
	return out
}

// checkRow compares a row read back from a file of dtype d against what was written,
// bit for bit after rounding.
func checkRow(d Dtype, hidden int, got Row) error {
	if want := testLabel(got.ID); got.Label != want {
		return fmt.Errorf("row id %d: label %d, want %d", got.ID, got.Label, want)
	}
	if want := testTokens(got.ID); got.Tokens != want || len(got.Hidden) != want*hidden {
		return fmt.Errorf("row id %d: %d tokens (%d floats), want %d", got.ID, got.Tokens, len(got.Hidden), want)
	}
	for k, f := range got.Hidden {
		want := RoundTo(d, testValue(got.ID, k/hidden, k%hidden))
		if math.Float32bits(f) != math.Float32bits(want) {
			return fmt.Errorf("row id %d: element %d is %v (%08x), want %v (%08x)", got.ID, k, f, math.Float32bits(f), want, math.Float32bits(want))
		}
	}
	return nil
}

// writeTestFile writes the rows ids with opts into memory.
func writeTestFile(t testing.TB, hidden int, ids []uint64, opts *WriterOptions) ([]byte, WriterStats) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, hidden, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := w.Append(id, testLabel(id), testRow(id, hidden)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Bytes != int64(buf.Len()) {
		t.Fatalf("stats say %d bytes, wrote %d", st.Bytes, buf.Len())
	}
	return buf.Bytes(), w.Stats()
}

// readAllRows opens data and reads every row and then verifies every chunk. It returns the
// first error, or an error if any row is wrong data.
func readAllRows(data []byte) (rows int, err error) {
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), &ReaderOptions{Name: "test.afc", CacheBytes: 1 << 20})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var row Row
	for i := range r.Rows() {
		if err := r.ReadRow(i, &row); err != nil {
			return i, err
		}
		if err := checkRow(r.Header().Dtype, r.Header().Hidden, row); err != nil {
			return i, fmt.Errorf("%w: %v", errWrongData, err)
		}
	}
	return r.Rows(), r.Verify()
}

var errWrongData = errors.New("WRONG DATA")

func seq(lo, n uint64) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = lo + uint64(i)
	}
	return ids
}
