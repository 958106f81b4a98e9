package cli

import (
	"errors"

	"github.com/autofreeze/autofreeze/model"
)

func onnxEngine(cfg *model.Config, opts encodeOptions) (hiddenFunc, func(), error) {
	return nil, nil, errors.New("the onnx engine is not wired in yet")
}

func ortVersion(lib string) (string, error) { return "", errors.New("not wired in yet") }
