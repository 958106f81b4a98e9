package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stFile assembles a safetensors file from a header and data.
func stFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func readST(b []byte) (map[string]*Tensor, error) {
	return readSafetensors(bytes.NewReader(b), int64(len(b)), "w.safetensors")
}

func TestSafetensorsRoundTrip(t *testing.T) {
	nan := math.Float32frombits(0x7fc00001) // a NaN with a payload
	tensors := map[string]*Tensor{
		"a":       {Shape: []int64{2, 3}, Data: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), nan}},
		"b.z":     {Shape: []int64{1}, Data: []float32{math.Float32frombits(0x80000000)}}, // -0
		"scalar":  {Shape: nil, Data: []float32{math.Float32frombits(1)}},                 // smallest subnormal
		"empty":   {Shape: []int64{0, 5}, Data: nil},
		"max":     {Shape: []int64{2}, Data: []float32{math.MaxFloat32, -math.SmallestNonzeroFloat32}},
		"unicode": {Shape: []int64{1}, Data: []float32{7}},
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteSafetensors(path, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, tensors)

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 {
		t.Errorf("header of %d bytes: data is not 8-byte aligned", n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(header["scalar"]), `"shape":[]`) {
		t.Errorf("scalar header %s: want shape [] (the reference reader rejects null)", header["scalar"])
	}
	if string(header["__metadata__"]) != `{"format":"pt"}` {
		t.Errorf("metadata %s", header["__metadata__"])
	}
}

func TestWriteSafetensorsRefusesBadTensors(t *testing.T) {
	dir := t.TempDir()
	for name, ts := range map[string]map[string]*Tensor{
		"count":    {"a": {Shape: []int64{2, 2}, Data: []float32{1, 2, 3}}},
		"negative": {"a": {Shape: []int64{-1, -1}, Data: []float32{1}}},
		"nil":      {"a": nil},
		"metadata": {"__metadata__": {Shape: []int64{1}, Data: []float32{1}}},
	} {
		path := filepath.Join(dir, name+".safetensors")
		if err := WriteSafetensors(path, ts, nil); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, path)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s: a file was written", name)
		}
	}
}

// TestHalfToFloat32 checks every binary16 value against its definition,
// computed in float64.
func TestHalfToFloat32(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		sign, exp, frac := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch exp {
		case 0:
			want = math.Ldexp(float64(frac), -24)
		case 0x1f:
			want = math.Inf(1)
		default:
			want = math.Ldexp(1+float64(frac)/1024, exp-15)
		}
		if sign == 1 {
			want = -want
		}
		got := HalfToFloat32(uint16(h))
		if exp == 0x1f && frac != 0 {
			// NaN: the payload moves to the top of float32's fraction, so
			// the quiet bit stays the quiet bit.
			if bits := math.Float32bits(got); !math.IsNaN(float64(got)) || bits != uint32(sign)<<31|0x7f800000|uint32(frac)<<13 {
				t.Fatalf("HalfToFloat32(%#04x) = %#08x, want NaN with payload %#x", h, bits, frac)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign == 1) {
			t.Fatalf("HalfToFloat32(%#04x) = %g, want %g", h, got, want)
		}
	}
	for _, tc := range []struct {
		h    uint16
		want uint32
	}{
		{0x0001, 0x33800000}, // smallest subnormal, 2^-24
		{0x03ff, 0x387fc000}, // largest subnormal
		{0x0400, 0x38800000}, // smallest normal, 2^-14
		{0x7bff, 0x477fe000}, // max, 65504
		{0xfbff, 0xc77fe000}, // -65504
		{0x7c00, 0x7f800000}, // +Inf
		{0xfc00, 0xff800000}, // -Inf
		{0x7e00, 0x7fc00000}, // quiet NaN
		{0x7c01, 0x7f802000}, // signalling NaN keeps its payload
		{0x8000, 0x80000000}, // -0
		{0x3c00, 0x3f800000}, // 1
	} {
		if got := math.Float32bits(HalfToFloat32(tc.h)); got != tc.want {
			t.Errorf("HalfToFloat32(%#04x) = %#08x, want %#08x", tc.h, got, tc.want)
		}
	}
}

func TestReadSafetensorsHalfAndBFloat16(t *testing.T) {
	f16 := []uint16{0x0000, 0x8000, 0x0001, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00}
	bf16 := []uint16{0x3f80, 0xc000, 0x7f80, 0x0001, 0xff7f}
	var data []byte
	for _, h := range append(append([]uint16{}, f16...), bf16...) {
		data = binary.LittleEndian.AppendUint16(data, h)
	}
	data = append(data, f32s(2.5)...)
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(-1.25))
	data = binary.LittleEndian.AppendUint64(data, 42) // an I64 buffer
	header := `{"h":{"dtype":"F16","shape":[8],"data_offsets":[0,16]},
		"b":{"dtype":"BF16","shape":[5],"data_offsets":[16,26]},
		"f":{"dtype":"F32","shape":[],"data_offsets":[26,30]},
		"d":{"dtype":"F64","shape":[1],"data_offsets":[30,38]},
		"ids":{"dtype":"I64","shape":[1,1],"data_offsets":[38,46]},
		"__metadata__":{"format":"pt"}}`
	got, err := readST(stFile(header, data))
	if err != nil {
		t.Fatal(err)
	}
	inf := float32(math.Inf(1))
	sameTensors(t, got, map[string]*Tensor{
		"h": {Shape: []int64{8}, Data: []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(0x33800000), 1, -2, 65504, inf, -inf}},
		// BF16 is the top half of a float32: 1, -2, Inf, the smallest
		// subnormal and -(the largest finite BF16).
		"b": {Shape: []int64{5}, Data: []float32{1, -2, inf, math.Float32frombits(0x00010000), math.Float32frombits(0xff7f0000)}},
		"f": {Shape: []int64{}, Data: []float32{2.5}},
		"d": {Shape: []int64{1}, Data: []float32{-1.25}},
	})
}

func TestReadSafetensorsBroken(t *testing.T) {
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short for a safetensors header"},
		{"7 bytes", []byte("\x10\x00\x00\x00\x00\x00\x00"), "too short"},
		{"absurd header length", binary.LittleEndian.AppendUint64(nil, 1<<63), "header length 9223372036854775808 does not fit"},
		{"header past the end", stFile(ok, nil)[:20], "does not fit in a 20-byte file"},
		{"header over the limit", binary.LittleEndian.AppendUint64(nil, maxHeader+1), "does not fit"},
		{"lfs pointer", []byte("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n"), "Git LFS pointer"},
		{"not json", stFile("{nope", make([]byte, 8)), "header is not a JSON object"},
		{"json array", stFile("[1,2]", nil), "header is not a JSON object"},
		{"entry not an object", stFile(`{"a":5}`, nil), `tensor "a"`},
		{"unknown dtype", stFile(`{"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), `unknown dtype "F17"`},
		{"negative shape", stFile(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8)), "invalid shape [-2]"},
		{"overflowing shape", stFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)), "invalid shape"},
		{"huge shape", stFile(`{"a":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,8]}}`, make([]byte, 8)), "needs 4000000000 bytes, offsets give 8"},
		{"offsets past the end", stFile(ok, make([]byte, 4)), "data offsets [0, 8) outside the 4 data bytes"},
		{"offsets reversed", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, make([]byte, 8)), "data offsets [8, 0)"},
		{"negative offset", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, make([]byte, 8)), "data offsets [-8, 0)"},
		{"three offsets", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}}`, make([]byte, 16)), "data_offsets has 3 numbers"},
		{"no offsets", stFile(`{"a":{"dtype":"F32","shape":[2]}}`, make([]byte, 8)), "data_offsets has 0 numbers"},
		{"shape and offsets disagree", stFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "shape [3] of F32 needs 12 bytes, offsets give 8"},
		{"int tensor checked too", stFile(`{"i":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "i": shape [2] of I64 needs 16 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readST(tc.file)
			wantCorrupt(t, err, "w.safetensors", tc.want)
		})
	}
	// A float format that exists but autofreeze does not convert.
	_, err := readST(stFile(`{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 2)))
	wantErr(t, err, ErrUnsupported, "w.safetensors", `tensor "a" has dtype F8_E4M3`)
}

func TestReadSafetensorsFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadSafetensors(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(dir, "cut.safetensors")
	if err := os.WriteFile(path, readFixture(t, "bert_model.safetensors")[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSafetensors(path)
	wantCorrupt(t, err, path, "header length")
}

// TestReadSafetensorsTruncated cuts a real file at every length: each must
// fail with ErrCorrupt, never panic or succeed.
func TestReadSafetensorsTruncated(t *testing.T) {
	full := readFixture(t, "bert_model.safetensors")
	if _, err := readST(full); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(full); n++ {
		_, err := readST(full[:n])
		if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "w.safetensors: ") {
			t.Fatalf("%d of %d bytes: %v", n, len(full), err)
		}
	}
}

// FuzzReadSafetensors: no input may panic, and whatever is read must be
// self-consistent. Seeds are the files in testdata plus broken ones.
func FuzzReadSafetensors(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.safetensors"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in %s: %v", fixtureDir, err)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add(stFile(`{"a":{"dtype":"BF16","shape":[2,0],"data_offsets":[0,0]},"__metadata__":{}}`, nil))
	f.Add(stFile(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0x7c}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := readST(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither ErrCorrupt nor ErrUnsupported: %v", err)
			}
			return
		}
		for name, tensor := range ts {
			if int64(len(tensor.Data)) != NumElements(tensor.Shape) {
				t.Fatalf("%q: shape %v but %d values", name, tensor.Shape, len(tensor.Data))
			}
		}
	})
}
