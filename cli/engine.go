package cli

import (
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// torchEngine runs the whole encoder in libtorch.
func torchEngine(cfg *model.Config, opts encodeOptions) (hiddenFunc, func(), error) {
	w, err := model.LoadWeights(opts.ModelDir, cfg)
	if err != nil {
		return nil, nil, usageError(err)
	}
	trainable.SetThreads(opts.Threads)
	enc, err := trainable.New(cfg, w.Tensors, 0, trainable.Options{BF16: opts.BF16})
	if err != nil {
		return nil, nil, err
	}
	all := model.Range{Start: 0, End: cfg.NumLayers}
	return func(b text.Batch) ([]float32, error) { return enc.Hidden(b, all, nil) }, enc.Close, nil
}
