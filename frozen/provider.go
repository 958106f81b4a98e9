package frozen

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	ort "github.com/yalue/onnxruntime_go"
)

// Provider names an ONNX Runtime execution provider.
type Provider string

const (
	CPU      Provider = "cpu"
	CUDA     Provider = "cuda"
	TensorRT Provider = "tensorrt"
)

// ParseProvider parses "cpu", "cuda" or "tensorrt".
func ParseProvider(s string) (Provider, error) {
	switch p := Provider(s); p {
	case CPU, CUDA, TensorRT:
		return p, nil
	}
	return "", fmt.Errorf("execution provider %q: want cpu, cuda or tensorrt", s)
}

// ErrProvider is wrapped when the asked-for provider cannot be used and
// RunnerOptions.StrictProvider forbids falling back to the CPU.
var ErrProvider = errors.New("execution provider unavailable")

// GraphOptimization is ONNX Runtime's graph optimization level.
type GraphOptimization int

const (
	OptimizeAll      GraphOptimization = iota // the default: every optimization, layout ones included
	OptimizeNone                              // run the graph as written
	OptimizeBasic                             // constant folding, redundant node removal
	OptimizeExtended                          // plus fusions (attention, GELU, LayerNorm, ...)
)

func (g GraphOptimization) ort() ort.GraphOptimizationLevel {
	switch g {
	case OptimizeNone:
		return ort.GraphOptimizationLevelDisableAll
	case OptimizeBasic:
		return ort.GraphOptimizationLevelEnableBasic
	case OptimizeExtended:
		return ort.GraphOptimizationLevelEnableExtended
	}
	return ort.GraphOptimizationLevelEnableAll
}

// sessionOptions builds ONNX Runtime's session options for o. With gpu
// false it leaves the providers out (the CPU fallback).
func (o RunnerOptions) sessionOptions(gpu bool) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*ort.SessionOptions, error) {
		so.Destroy()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if o.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return fail("intra-op threads", err)
		}
	}
	if o.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return fail("inter-op threads", err)
		}
	}
	if err := so.SetGraphOptimizationLevel(o.Optimization.ort()); err != nil {
		return fail("graph optimization level", err)
	}
	if o.OptimizedModelPath != "" {
		if err := so.SetOptimizedModelFilePath(o.OptimizedModelPath); err != nil {
			return fail("optimized model path", err)
		}
	}
	if gpu {
		if err := o.appendProvider(so); err != nil {
			so.Destroy()
			return nil, err
		}
	}
	return so, nil
}

// CheckGPUOptions checks the GPU settings. Those of another provider than
// the one in use are ignored (the TensorRT ones with --provider cuda, all
// of them on the CPU, as after a fallback).
func (o RunnerOptions) CheckGPUOptions() error {
	switch {
	case o.DeviceID < 0:
		return fmt.Errorf("GPU device id %d: want 0 or more", o.DeviceID)
	case o.TensorRTINT8Table != "" && !o.TensorRTINT8:
		return fmt.Errorf("a TensorRT int8 calibration table needs TensorRT int8 on")
	}
	return nil
}

// appendProvider adds the GPU provider o asks for. TensorRT gets CUDA
// behind it for the nodes TensorRT does not take; the CPU provider is
// always last, added by ONNX Runtime itself.
func (o RunnerOptions) appendProvider(so *ort.SessionOptions) error {
	switch o.provider() {
	case TensorRT:
		if err := o.appendTensorRT(so); err != nil {
			return err
		}
		return o.appendCUDA(so)
	case CUDA:
		return o.appendCUDA(so)
	}
	return nil
}

func (o RunnerOptions) appendCUDA(so *ort.SessionOptions) error {
	opts, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer opts.Destroy()
	settings := map[string]string{"device_id": strconv.Itoa(o.DeviceID)}
	if o.GPUMemLimit > 0 {
		settings["gpu_mem_limit"] = strconv.FormatInt(o.GPUMemLimit, 10)
	}
	if o.CUDAGraph && o.provider() == CUDA {
		settings["enable_cuda_graph"] = "1"
	}
	if err := opts.Update(settings); err != nil {
		return err
	}
	return so.AppendExecutionProviderCUDA(opts)
}

func (o RunnerOptions) appendTensorRT(so *ort.SessionOptions) error {
	opts, err := ort.NewTensorRTProviderOptions()
	if err != nil {
		return err
	}
	defer opts.Destroy()
	settings := map[string]string{
		"device_id":       strconv.Itoa(o.DeviceID),
		"trt_fp16_enable": boolFlag(o.TensorRTFP16),
	}
	if o.TensorRTCacheDir != "" {
		settings["trt_engine_cache_enable"] = "1"
		settings["trt_engine_cache_path"] = o.TensorRTCacheDir
	}
	if o.GPUMemLimit > 0 {
		settings["trt_max_workspace_size"] = strconv.FormatInt(o.GPUMemLimit, 10)
	}
	if o.TensorRTINT8 {
		settings["trt_int8_enable"] = "1"
		if o.TensorRTINT8Table != "" {
			settings["trt_int8_calibration_table_name"] = o.TensorRTINT8Table
		}
	}
	if o.CUDAGraph {
		settings["trt_cuda_graph_enable"] = "1"
	}
	if err := opts.Update(settings); err != nil {
		return err
	}
	return so.AppendExecutionProviderTensorRT(opts)
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (o RunnerOptions) provider() Provider {
	if o.Provider == "" {
		return CPU
	}
	return o.Provider
}

// newSession opens path with o's provider, falling back to the CPU (with a
// warning) when the provider cannot be set up or the session cannot start
// on it, unless o.StrictProvider. It returns the provider in use.
func (o RunnerOptions) newSession(path string, inputs, outputs []string, log *slog.Logger) (*ort.DynamicAdvancedSession, Provider, error) {
	want := o.provider()
	if err := o.CheckGPUOptions(); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrProvider, err)
	}
	if want != CPU {
		// checkGPUProvider's error says what is missing; ONNX Runtime's
		// gets the general hint.
		var hint string
		err := checkGPUProvider(want)
		if err == nil {
			var so *ort.SessionOptions
			if so, err = o.sessionOptions(true); err == nil {
				var s *ort.DynamicAdvancedSession
				s, err = ort.NewDynamicAdvancedSession(path, inputs, outputs, so)
				so.Destroy()
				if err == nil {
					return s, want, nil
				}
			}
			libs := "CUDA and cuDNN"
			if want == TensorRT {
				libs = "CUDA, cuDNN and TensorRT"
			}
			hint = fmt.Sprintf(" (the ONNX Runtime library at %s may be a CPU-only build, %s may be missing, or there is no GPU: nvidia-smi should list one; "+
				"build the CUDA variant with GPU=1 make setup, or set ORT_LIB to a GPU build of ONNX Runtime)", loadedPath(), libs)
		}
		if o.StrictProvider {
			return nil, "", fmt.Errorf("%w: %s provider for %s: %v%s", ErrProvider, want, path, err, hint)
		}
		log.Warn("execution provider unavailable, falling back to CPU",
			"provider", string(want), "model", path, "err", err.Error()+hint)
	}
	so, err := o.sessionOptions(false)
	if err != nil {
		return nil, "", err
	}
	defer so.Destroy()
	s, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, so)
	if err != nil {
		return nil, "", err
	}
	return s, CPU, nil
}

func loadedPath() string {
	loaded.Lock()
	defer loaded.Unlock()
	return loaded.path
}

func (g GraphOptimization) String() string {
	switch g {
	case OptimizeNone:
		return "none"
	case OptimizeBasic:
		return "basic"
	case OptimizeExtended:
		return "extended"
	}
	return "all"
}

// ParseGraphOptimization parses "all", "extended", "basic" or "none".
func ParseGraphOptimization(s string) (GraphOptimization, error) {
	for _, g := range []GraphOptimization{OptimizeAll, OptimizeExtended, OptimizeBasic, OptimizeNone} {
		if g.String() == s {
			return g, nil
		}
	}
	return 0, fmt.Errorf("graph optimization %q: want all, extended, basic or none", s)
}
