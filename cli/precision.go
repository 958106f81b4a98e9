package cli

import (
	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/precision"
)

const precisionUsage = "arithmetic of the model: fp32, bf16 (mixed precision as autocast: matmuls in bfloat16, the rest and the weights float32; needs AVX512-BF16 or AMX on a CPU) or auto (bf16 where the CPU has it)"

// precisionFlag is --precision (also a key of train's --config file).
func precisionFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "precision", Value: string(precision.FP32), Usage: precisionUsage}
}

// resolvePrecision reads --precision and resolves it for this CPU; a
// request the CPU cannot serve is a usage error (exit 2).
func resolvePrecision(c *ucli.Context) (precision.Precision, error) {
	p, err := precision.Parse(c.String("precision"))
	if err != nil {
		return "", usageError(err)
	}
	if p, err = precision.Resolve(p, precision.DetectCPU(), false); err != nil {
		return "", usageError(err)
	}
	return p, nil
}
