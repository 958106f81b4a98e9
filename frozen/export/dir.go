package export

import (
	"fmt"

	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

// FromDir exports layers of the Hugging Face model in dir (config.json and
// model.safetensors or pytorch_model.bin), for exporting a saved checkpoint
// rather than live weights.
func FromDir(dir string, opts ExportOptions) (*onnxpb.ModelProto, error) {
	cfg, err := model.LoadConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if _, err := opts.resolve(cfg); err != nil {
		return nil, err // before reading the weights
	}
	w, err := model.LoadWeights(dir, cfg)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return Export(cfg, w.Tensors, opts)
}
