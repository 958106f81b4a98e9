package precision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two real /proc/cpuinfo excerpts: an AMD EPYC of the Zen 3 generation
// (AVX2 only) and one of Zen 4 (AVX512 with BF16 and VNNI).
const zen3 = `processor	: 0
vendor_id	: AuthenticAMD
model name	: AMD EPYC 7B13
flags		: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni vaes vpclmulqdq

processor	: 1
model name	: AMD EPYC 7B13
flags		: fpu avx512_bf16
`

const zen4 = `processor	: 0
model name	: AMD EPYC 9B14
flags		: fpu sse avx avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni avx512_vbmi
`

func cpu(text string) CPU { return ParseCPUInfo(strings.NewReader(text)) }

func TestParse(t *testing.T) {
	for in, want := range map[string]Precision{"fp32": FP32, "BF16": BF16, " auto ": Auto, "": FP32} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"fp16", "bfloat16", "32"} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), "want fp32, bf16 or auto") {
			t.Errorf("Parse(%q) = %v, want an error listing the choices", in, err)
		}
	}
}

func TestParseCPUInfoReadsTheFirstProcessor(t *testing.T) {
	c := cpu(zen3)
	if c.Model != "AMD EPYC 7B13" {
		t.Errorf("model %q", c.Model)
	}
	if !c.Has("avx2") || c.Has("avx512_bf16") || c.NativeBF16() {
		t.Errorf("zen3: avx2 %v, avx512_bf16 %v (from the second processor's line?)", c.Has("avx2"), c.Has("avx512_bf16"))
	}
	if c := cpu(zen4); !c.NativeBF16() || !c.Has("avx512_vnni") {
		t.Errorf("zen4: native bf16 %v, vnni %v", c.NativeBF16(), c.Has("avx512_vnni"))
	}
	if c := cpu("flags : amx_bf16 amx_tile\n"); !c.NativeBF16() || c.Model != "unknown" {
		t.Errorf("AMX alone: native bf16 %v, model %q", c.NativeBF16(), c.Model)
	}
}

func TestResolve(t *testing.T) {
	cases := []struct {
		p     Precision
		cpu   string
		cuda  bool
		want  Precision
		error string
	}{
		{FP32, zen3, false, FP32, ""},
		{FP32, zen4, false, FP32, ""},
		{Auto, zen3, false, FP32, ""},
		{Auto, zen4, false, BF16, ""},
		{Auto, zen3, true, BF16, ""},
		{BF16, zen4, false, BF16, ""},
		{BF16, zen3, true, BF16, ""},
		{BF16, zen3, false, "", "this CPU (AMD EPYC 7B13) has neither AVX512-BF16 nor AMX-BF16"},
		{"fp8", zen4, false, "", `precision "fp8"`},
	}
	for _, c := range cases {
		got, err := Resolve(c.p, cpu(c.cpu), c.cuda)
		if c.error != "" {
			if err == nil || !strings.Contains(err.Error(), c.error) {
				t.Errorf("Resolve(%s, cuda %v) = %q, %v; want an error containing %q", c.p, c.cuda, got, err, c.error)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Resolve(%s, cuda %v) = %q, %v; want %q", c.p, c.cuda, got, err, c.want)
		}
	}
	// The refusal says what to do instead.
	_, err := Resolve(BF16, cpu(zen3), false)
	if !strings.Contains(err.Error(), "--precision fp32") || !strings.Contains(err.Error(), "--precision auto") {
		t.Errorf("the message does not say what to use instead: %v", err)
	}
}

func TestDetectCPUReadsTheOverride(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpuinfo")
	if err := os.WriteFile(path, []byte(zen4), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(CPUInfoEnv, path)
	if c := DetectCPU(); c.Model != "AMD EPYC 9B14" || !c.NativeBF16() {
		t.Errorf("DetectCPU with %s set: %+v", CPUInfoEnv, c)
	}
	t.Setenv(CPUInfoEnv, filepath.Join(t.TempDir(), "missing"))
	if c := DetectCPU(); c.NativeBF16() || !strings.Contains(c.Model, "unreadable") {
		t.Errorf("an unreadable cpuinfo should offer nothing: %+v", c)
	}
}

func TestSummary(t *testing.T) {
	s := cpu(zen4).Summary()
	for _, want := range []string{"AMD EPYC 9B14", "has avx2 avx512f avx512_bf16 avx512_vnni", "lacks avx_vnni amx_bf16 amx_int8", "native bf16: yes"} {
		if !strings.Contains(s, want) {
			t.Errorf("Summary() = %q, missing %q", s, want)
		}
	}
	if s := cpu(zen3).Summary(); !strings.Contains(s, "native bf16: no") {
		t.Errorf("zen3 summary %q", s)
	}
}
