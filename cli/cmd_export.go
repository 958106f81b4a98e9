package cli

import (
	"fmt"
	"os"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/model"
)

func exportCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "export",
		Usage:     "export encoder layers [A, B) with their weights to ONNX",
		UsageText: "autofreeze export --model DIR --layers A:B --output FILE.onnx [--dtype fp32|fp16] [--fused [--int8]] [--opset N]",
		Description: "With A = 0 the graph takes input_ids, token_type_ids and attention_mask (int64,\n" +
			"[batch, seq]); with A > 0 it takes hidden_states [batch, seq, hidden] and\n" +
			"attention_mask. It outputs hidden_states_out. Batch and sequence are dynamic. The\n" +
			"model's metadata records the weights' fingerprint and the layer range.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model", Usage: "Hugging Face model directory", Required: true},
			&ucli.StringFlag{Name: "layers", Usage: "A:B (default: all layers)", Value: ":"},
			&ucli.StringFlag{Name: "output", Usage: "ONNX file to write", Required: true},
			&ucli.StringFlag{Name: "dtype", Value: "fp32", Usage: "fp32, or fp16 (for the CUDA and TensorRT providers)"},
			&ucli.BoolFlag{Name: "fused", Usage: "use ONNX Runtime's fused operators (com.microsoft domain)"},
			&ucli.BoolFlag{Name: "int8", Usage: "with --fused: int8 weights in the projections (DynamicQuantizeMatMul); faster on CPU, not bit-for-bit fp32"},
			&ucli.IntFlag{Name: "opset", Value: export.DefaultOpset, Usage: fmt.Sprintf("ONNX opset, %d..%d", export.MinOpset, export.MaxOpset)},
		},
		Action: func(c *ucli.Context) error {
			if err := checkOutputFile(c.String("output"), "model.onnx"); err != nil {
				return err
			}
			cfg, err := model.LoadConfig(c.String("model"))
			if err != nil {
				return usageError(err)
			}
			rng, err := model.ParseRange(c.String("layers"), cfg.NumLayers)
			if err != nil {
				return usageError(err)
			}
			dtype, err := export.ParseDType(c.String("dtype"))
			if err != nil {
				return usageError(err)
			}
			w, err := model.LoadWeights(c.String("model"), cfg)
			if err != nil {
				return usageError(err)
			}
			m, err := export.Export(cfg, w.Tensors, export.ExportOptions{Range: rng, DType: dtype, Fused: c.Bool("fused"), Int8: c.Bool("int8"), Opset: c.Int("opset")})
			if err != nil {
				return usageError(err)
			}
			if err := export.WriteModel(c.String("output"), m); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote layers %s of %s to %s\n", rng, c.String("model"), c.String("output"))
			return nil
		},
	}
}

// checkOutputFile refuses, as a usage error, an output path that cannot be
// a file to write: an existing directory, or one in a directory that does
// not exist. example is a file name to suggest.
func checkOutputFile(path, example string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usagef("--output %s is a directory: give the file to write, e.g. %s", path, filepath.Join(path, example))
	}
	if dir := filepath.Dir(path); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return usagef("--output %s: directory %s does not exist; create it first", path, dir)
		}
	}
	return nil
}
