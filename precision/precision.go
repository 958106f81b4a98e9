// Package precision names the arithmetic the model runs in (--precision)
// and tells whether this machine's CPU runs it natively.
//
// bf16 means what PyTorch's autocast means: the linear layers and the
// attention products take bfloat16 inputs, while the embeddings, softmax,
// LayerNorm, the residual stream, the loss, the gradients the freeze policy
// reads, the master weights and AdamW's moments stay float32, and
// checkpoints are float32 Hugging Face files. On a CPU without
// AVX512-BF16 or AMX, libtorch emulates bfloat16 arithmetic through
// float32 conversions, which is slower than float32 itself; bf16 is then
// refused (auto picks fp32 there).
package precision

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Precision is fp32, bf16, or auto (bf16 where the CPU runs it natively).
type Precision string

const (
	FP32 Precision = "fp32"
	BF16 Precision = "bf16"
	Auto Precision = "auto"
)

// Parse reads a --precision value.
func Parse(s string) (Precision, error) {
	switch p := Precision(strings.ToLower(strings.TrimSpace(s))); p {
	case FP32, BF16, Auto:
		return p, nil
	case "":
		return FP32, nil
	}
	return "", fmt.Errorf("precision %q: want fp32, bf16 or auto", s)
}

// CPU is what the processor offers for low-precision arithmetic.
type CPU struct {
	Model string
	flags map[string]bool
}

// cpuFlags are the instruction-set extensions that matter here, in the
// order Summary prints them.
var cpuFlags = []string{"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8"}

// CPUInfoEnv names a file read instead of /proc/cpuinfo (for tests, and to
// ask what autofreeze would do on another machine).
const CPUInfoEnv = "AUTOFREEZE_CPUINFO"

// DetectCPU reads /proc/cpuinfo (or the file $AUTOFREEZE_CPUINFO names).
// Where it cannot be read, the CPU offers nothing.
func DetectCPU() CPU {
	path := "/proc/cpuinfo"
	if p := os.Getenv(CPUInfoEnv); p != "" {
		path = p
	}
	f, err := os.Open(path)
	if err != nil {
		return CPU{Model: "unknown (" + path + " unreadable)"}
	}
	defer f.Close()
	return ParseCPUInfo(f)
}

// ParseCPUInfo reads the first processor's model name and flags from text
// in /proc/cpuinfo's form.
func ParseCPUInfo(r io.Reader) CPU {
	c := CPU{flags: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "model name":
			if c.Model == "" {
				c.Model = strings.TrimSpace(val)
			}
		case "flags":
			if len(c.flags) == 0 {
				for _, f := range strings.Fields(val) {
					c.flags[f] = true
				}
			}
		}
	}
	if c.Model == "" {
		c.Model = "unknown"
	}
	return c
}

// Has reports whether the CPU lists flag (as /proc/cpuinfo spells it).
func (c CPU) Has(flag string) bool { return c.flags[flag] }

// NativeBF16 reports whether bfloat16 matrix products run in hardware
// (AVX512-BF16 or AMX-BF16), which is what makes bf16 pay on a CPU.
func (c CPU) NativeBF16() bool { return c.Has("avx512_bf16") || c.Has("amx_bf16") }

// Summary is one line for `autofreeze version`: the model and the relevant
// extensions it has and lacks.
func (c CPU) Summary() string {
	var has, lacks []string
	for _, f := range cpuFlags {
		if c.Has(f) {
			has = append(has, f)
		} else {
			lacks = append(lacks, f)
		}
	}
	native := "no (fp32 only; bf16 would be emulated)"
	if c.NativeBF16() {
		native = "yes"
	}
	return fmt.Sprintf("%s; has %s; lacks %s; native bf16: %s",
		c.Model, orNone(has), orNone(lacks), native)
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(slices.Clip(xs), " ")
}

// Resolve turns a requested precision into the one to run on this CPU
// (cuda: the model runs on a GPU, where bf16 needs no CPU support). auto
// becomes bf16 where the CPU has it natively and fp32 elsewhere; bf16 on a
// CPU without it is an error that says what to do.
func Resolve(p Precision, cpu CPU, cuda bool) (Precision, error) {
	switch p {
	case "", FP32:
		return FP32, nil
	case Auto:
		if cuda || cpu.NativeBF16() {
			return BF16, nil
		}
		return FP32, nil
	case BF16:
		if cuda || cpu.NativeBF16() {
			return BF16, nil
		}
		return "", fmt.Errorf("precision bf16: this CPU (%s) has neither AVX512-BF16 nor AMX-BF16, so libtorch would emulate bfloat16 more slowly than it runs float32; use --precision fp32, or --precision auto to take bf16 only where the CPU runs it natively", cpu.Model)
	}
	return "", fmt.Errorf("precision %q: want fp32, bf16 or auto", p)
}
