package frozen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

// RunnerOptions configure a Runner; the zero value runs on the CPU with
// ONNX Runtime's default threads and every graph optimization.
type RunnerOptions struct {
	// IntraOpThreads parallelise one operator; 0 means ONNX Runtime's
	// default (one per physical core).
	IntraOpThreads int
	// InterOpThreads run independent operators at once; 0 means default.
	InterOpThreads int
	// Optimization is the graph optimization level (default OptimizeAll).
	Optimization GraphOptimization
	// OptimizedModelPath, when set, is where ONNX Runtime saves the graph
	// after optimization, to inspect what it fused.
	OptimizedModelPath string

	// Provider is the execution provider: cpu (default), cuda or tensorrt.
	Provider Provider
	// DeviceID is the GPU to use.
	DeviceID int
	// GPUMemLimit caps the CUDA arena (and TensorRT's workspace), in bytes;
	// 0 means no cap.
	GPUMemLimit int64
	// TensorRTFP16 lets TensorRT compute in fp16.
	TensorRTFP16 bool
	// TensorRTCacheDir, when set, keeps built TensorRT engines there, so a
	// later process skips the minutes of building them.
	TensorRTCacheDir string
	// TensorRTINT8 lets TensorRT compute in int8, calibrated by the table
	// TensorRTINT8Table names (TensorRT's calibration cache; without one,
	// only a graph with quantize/dequantize nodes has int8 scales).
	TensorRTINT8      bool
	TensorRTINT8Table string
	// CUDAGraph captures the session in a CUDA graph and replays it (CUDA
	// and TensorRT providers). It applies only when every run has the same
	// input shapes (pad to a fixed length); see provider.go.
	CUDAGraph bool
	// StrictProvider makes NewRunner fail with ErrProvider when Provider
	// cannot be used, instead of warning and running on the CPU.
	StrictProvider bool

	// Logger gets warnings such as a provider fallback; nil discards them.
	Logger *slog.Logger
}

// Runner runs one exported layer range (or any ONNX encoder with the same
// inputs, such as a Hugging Face export) in one ONNX Runtime session. Run
// may be called from several goroutines at once; Close must not race with
// it.
type Runner struct {
	path     string
	sess     *ort.DynamicAdvancedSession
	info     *export.Info
	inputs   []role // in session order
	tokens   bool   // the model takes input_ids
	outFP16  bool
	inFP16   bool // hidden_states is fp16
	hidden   int
	maxSeq   int // 0: unknown
	provider Provider
}

// role is what the runner feeds an input.
type role int

const (
	roleIDs role = iota
	roleTypes
	roleMask
	roleHidden
)

var roles = map[string]role{
	export.InputIDs:      roleIDs,
	export.TokenTypeIDs:  roleTypes,
	export.AttentionMask: roleMask,
	export.HiddenStates:  roleHidden,
}

// ErrModel is wrapped by errors about ONNX files the runner cannot use.
var ErrModel = errors.New("unusable ONNX model")

// NewRunner opens the ONNX model at onnxPath. InitRuntime must have been
// called. A missing, truncated or corrupt file gives an error naming it.
func NewRunner(onnxPath string, opts RunnerOptions) (*Runner, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if !ort.IsInitialized() {
		return nil, fmt.Errorf("%w: InitRuntime was not called", ErrRuntime)
	}
	if opts.Provider != "" {
		if _, err := ParseProvider(string(opts.Provider)); err != nil {
			return nil, err
		}
	}
	info, err := export.Inspect(onnxPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	r := &Runner{path: onnxPath, info: info}
	if err := r.plan(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, onnxPath, err)
	}
	names := make([]string, len(info.Inputs))
	for i, in := range info.Inputs {
		names[i] = in.Name
	}
	sess, provider, err := opts.newSession(onnxPath, names, []string{info.Outputs[0].Name}, log)
	if err != nil {
		if errors.Is(err, ErrProvider) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: ONNX Runtime cannot load it (corrupt, or written for a newer runtime? export it again): %v", ErrModel, onnxPath, err)
	}
	r.sess, r.provider = sess, provider
	return r, nil
}

// plan maps the model's inputs and output to what Run feeds and returns.
func (r *Runner) plan() error {
	seen := map[role]bool{}
	for _, in := range r.info.Inputs {
		ro, ok := roles[in.Name]
		if !ok {
			return fmt.Errorf("input %q is not one of input_ids, token_type_ids, attention_mask, hidden_states", in.Name)
		}
		if ro == roleHidden {
			switch in.ElemType {
			case onnxpb.TensorProto_FLOAT:
			case onnxpb.TensorProto_FLOAT16:
				r.inFP16 = true
			default:
				return fmt.Errorf("input %s has element type %v, want float or float16", in.Name, in.ElemType)
			}
		} else if in.ElemType != onnxpb.TensorProto_INT64 {
			return fmt.Errorf("input %s has element type %v, want int64", in.Name, in.ElemType)
		}
		r.inputs = append(r.inputs, ro)
		seen[ro] = true
	}
	r.tokens = seen[roleIDs]
	if seen[roleIDs] == seen[roleHidden] {
		return errors.New("the model must take either input_ids or hidden_states")
	}
	if !seen[roleMask] {
		return errors.New("the model takes no attention_mask")
	}
	out := r.info.Outputs[0]
	switch out.ElemType {
	case onnxpb.TensorProto_FLOAT:
	case onnxpb.TensorProto_FLOAT16:
		r.outFP16 = true
	default:
		return fmt.Errorf("output %s has element type %v, want float or float16", out.Name, out.ElemType)
	}
	if len(out.Dims) != 3 {
		return fmt.Errorf("output %s has %d dimensions, want [batch, seq, hidden]", out.Name, len(out.Dims))
	}
	r.hidden = int(out.Dims[2])
	if r.hidden <= 0 {
		r.hidden, _ = strconv.Atoi(r.info.Metadata[export.MetaHiddenSize])
	}
	if r.hidden <= 0 {
		return fmt.Errorf("cannot tell the hidden size: output %s's last dimension is dynamic and metadata has no %s", out.Name, export.MetaHiddenSize)
	}
	r.maxSeq, _ = strconv.Atoi(r.info.Metadata[export.MetaMaxPositions])
	return nil
}

// Close releases the session.
func (r *Runner) Close() error {
	if r.sess == nil {
		return nil
	}
	err := r.sess.Destroy()
	r.sess = nil
	return err
}

// Path is the model file.
func (r *Runner) Path() string { return r.path }

// Provider is the execution provider the session runs on.
func (r *Runner) Provider() Provider { return r.provider }

// HiddenSize is the last dimension of the output.
func (r *Runner) HiddenSize() int { return r.hidden }

// TakesTokens reports whether the model starts at the embeddings (Run
// wants token ids) rather than at a hidden layer (Run wants Hidden).
func (r *Runner) TakesTokens() bool { return r.tokens }

// Metadata is the model's metadata_props (see export.Meta*).
func (r *Runner) Metadata() map[string]string { return r.info.Metadata }

// Layers is the layer range the model was exported for, from its metadata.
func (r *Runner) Layers() (model.Range, error) {
	s, ok := r.info.Metadata[export.MetaLayers]
	if !ok {
		return model.Range{}, fmt.Errorf("%s: no %s in the model's metadata (not exported by autofreeze?)", r.path, export.MetaLayers)
	}
	n, err := strconv.Atoi(r.info.Metadata[export.MetaNumLayers])
	if err != nil {
		return model.Range{}, fmt.Errorf("%s: metadata %s: %v", r.path, export.MetaNumLayers, err)
	}
	return model.ParseRange(s, n)
}

// RunTokens runs token ids (and type ids and mask, each [batch*seq]) through
// a model that starts at the embeddings and returns the output hidden
// states, [batch*seq*hidden].
func (r *Runner) RunTokens(ids, typeIDs, mask []int64, batch, seq int) ([]float32, error) {
	return r.Run(Batch{Size: batch, SeqLen: seq, InputIDs: ids, TokenTypeIDs: typeIDs, Mask: mask})
}

// RunHidden runs hidden states [batch*seq*hidden] and the mask through a
// model that starts at a layer.
func (r *Runner) RunHidden(hidden []float32, mask []int64, batch, seq int) ([]float32, error) {
	return r.Run(Batch{Size: batch, SeqLen: seq, Hidden: hidden, Mask: mask})
}

// Run runs one batch and returns the output hidden states,
// [Size*SeqLen*HiddenSize] float32 (converted from fp16 when the model's
// output is fp16).
func (r *Runner) Run(b Batch) ([]float32, error) {
	if r.sess == nil {
		return nil, fmt.Errorf("%s: runner is closed", r.path)
	}
	if err := r.check(b); err != nil {
		return nil, fmt.Errorf("%s: %w", r.path, err)
	}
	tokens := int64(b.Size) * int64(b.SeqLen)
	shape := ort.NewShape(int64(b.Size), int64(b.SeqLen))
	hiddenShape := ort.NewShape(int64(b.Size), int64(b.SeqLen), int64(r.hidden))

	values := make([]ort.Value, 0, len(r.inputs)+1)
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for _, ro := range r.inputs {
		var v ort.Value
		var err error
		switch ro {
		case roleIDs:
			v, err = ort.NewTensor(shape, b.InputIDs)
		case roleTypes:
			v, err = ort.NewTensor(shape, orFill(b.TokenTypeIDs, tokens, 0))
		case roleMask:
			v, err = ort.NewTensor(shape, orFill(b.Mask, tokens, 1))
		case roleHidden:
			if r.inFP16 {
				v, err = ort.NewCustomDataTensor(hiddenShape, halves(b.Hidden), ort.TensorElementDataTypeFloat16)
			} else {
				v, err = ort.NewTensor(hiddenShape, b.Hidden)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: input tensor: %w", r.path, err)
		}
		values = append(values, v)
	}
	// Outputs are allocated here, never by ONNX Runtime: it cannot allocate
	// fp16 outputs for Go, and this way fp32 results land in place.
	out := make([]float32, tokens*int64(r.hidden))
	var outBytes []byte
	var ov ort.Value
	var err error
	if r.outFP16 {
		outBytes = make([]byte, 2*len(out))
		ov, err = ort.NewCustomDataTensor(hiddenShape, outBytes, ort.TensorElementDataTypeFloat16)
	} else {
		ov, err = ort.NewTensor(hiddenShape, out)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: output tensor: %w", r.path, err)
	}
	values = append(values, ov)
	n := len(r.inputs)
	if err := r.sess.Run(values[:n], values[n:]); err != nil {
		return nil, fmt.Errorf("%s: run batch of %dx%d: %w", r.path, b.Size, b.SeqLen, err)
	}
	if r.outFP16 {
		for i := range out {
			out[i] = model.HalfToFloat32(binary.LittleEndian.Uint16(outBytes[2*i:]))
		}
	}
	return out, nil
}
