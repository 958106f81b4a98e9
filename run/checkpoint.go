package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/autofreeze/autofreeze/freeze"
	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/trainable"
)

// A checkpoint is a Hugging Face model directory (config.json with the label
// maps, model.safetensors in the layout of the model type's
// *ForSequenceClassification, e.g. BertForSequenceClassification's,
// tokenizer files) plus what resuming needs: trainer_state.json and
// optimizer.safetensors. Checkpoints live in RUN/checkpoints/step-N;
// RUN/checkpoints/last and RUN/checkpoints/best point at the newest and the
// best one, and older ones are removed.

const (
	checkpointsDir   = "checkpoints"
	trainerStateFile = "trainer_state.json"
	optimizerFile    = "optimizer.safetensors"
	stateVersion     = 1
)

// tokenizerFiles are copied from the base model into each checkpoint.
var tokenizerFiles = []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}

// TrainerState is where a run stands: enough to resume it exactly.
type TrainerState struct {
	Version int `json:"version"`
	// Step is the number of optimizer steps done; Epoch and Micro the
	// epoch and the number of micro-batches of it done.
	Step       int `json:"step"`
	Epoch      int `json:"epoch"`
	Micro      int `json:"micro_batches_done"`
	TotalSteps int `json:"total_steps"`
	// ElapsedSeconds is the training time so far, across resumes.
	ElapsedSeconds float64 `json:"elapsed_seconds"`

	BestEvalLoss float64 `json:"best_eval_loss"` // math.MaxFloat64 before the first evaluation
	BestStep     int     `json:"best_step"`
	EvalsNoGain  int     `json:"evals_without_improvement"`

	Frozen int           `json:"frozen_layers"`
	Policy *freeze.State `json:"freeze_policy,omitempty"`
	// Cache is the activation cache training reads; PendingCache one built
	// for a newer freeze point that training switches to at its epoch.
	Cache        *CacheRef `json:"cache,omitempty"`
	PendingCache *CacheRef `json:"pending_cache,omitempty"`

	Labels     []string `json:"labels"`
	MaxLength  int      `json:"max_length"`
	ConfigHash string   `json:"config_hash"`
	// InitialWorldSize is the number of ranks the run started on: what
	// efficiency mode compares its steps with after giving workers back.
	InitialWorldSize int `json:"initial_world_size,omitempty"`
}

// CacheRef names the activation cache a run trains from.
type CacheRef struct {
	Dir         string `json:"dir"` // relative to the run directory
	K           int    `json:"k"`
	FromEpoch   int    `json:"from_epoch"`
	FromMicro   int    `json:"from_micro"`
	Fingerprint string `json:"fingerprint"`
}

// saveCheckpoint writes RUN/checkpoints/step-N atomically (a temporary
// directory renamed into place) and repoints "last" (and "best" when
// isBest), then removes checkpoints that are neither.
func saveCheckpoint(runDir, baseModel string, enc *trainable.Encoder, tr *trainable.Trainer, problem model.Problem, labels []string, st TrainerState, isBest bool) (string, error) {
	root := filepath.Join(runDir, checkpointsDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	name := "step-" + strconv.Itoa(st.Step)
	final := filepath.Join(root, name)
	tmp := filepath.Join(root, "."+name+atomicfile.TempSuffix)
	os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	if err := writeModelDir(tmp, baseModel, enc, problem, labels); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if tr != nil {
		moments, _, err := tr.OptimizerState()
		if err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
		if err := model.WriteSafetensors(filepath.Join(tmp, optimizerFile), moments, map[string]string{"format": "autofreeze-adamw"}); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, trainerStateFile), append(data, '\n')); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	os.RemoveAll(final) // a checkpoint of the same step from an earlier, killed attempt
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	if err := atomicfile.SyncDir(root); err != nil {
		return "", err
	}
	if err := pointTo(root, "last", name); err != nil {
		return "", err
	}
	if isBest {
		if err := pointTo(root, "best", name); err != nil {
			return "", err
		}
	}
	pruneCheckpoints(root)
	return final, nil
}

// writeModelDir writes a Hugging Face classification model directory.
func writeModelDir(dir, baseModel string, enc *trainable.Encoder, problem model.Problem, labels []string) error {
	if err := enc.Config().WithHead(problem, labels).Save(dir); err != nil {
		return err
	}
	w, err := enc.Weights()
	if err != nil {
		return err
	}
	// Under the names of the model type's *ForSequenceClassification
	// ("bert.encoder...", "distilbert.transformer...", "classifier.out_proj...").
	named := enc.Config().CheckpointTensors(w)
	if err := model.WriteSafetensors(filepath.Join(dir, model.SafetensorsFile), named, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	for _, f := range tokenizerFiles {
		if err := copyFile(filepath.Join(baseModel, f), filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// pointTo atomically makes root/link a symlink to target.
func pointTo(root, link, target string) error {
	tmp := filepath.Join(root, "."+link+atomicfile.TempSuffix)
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(root, link)); err != nil {
		return err
	}
	return atomicfile.SyncDir(root)
}

// pruneCheckpoints removes step-N directories that neither "last" nor
// "best" points at, and leftovers of interrupted saves.
func pruneCheckpoints(root string) {
	keep := map[string]bool{}
	for _, l := range []string{"last", "best"} {
		if t, err := os.Readlink(filepath.Join(root, l)); err == nil {
			keep[t] = true
		}
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		n := e.Name()
		if (strings.HasPrefix(n, "step-") && !keep[n]) || strings.HasSuffix(n, atomicfile.TempSuffix) {
			os.RemoveAll(filepath.Join(root, n))
		}
	}
}

// loadTrainerState reads a checkpoint's trainer_state.json.
func loadTrainerState(dir string) (TrainerState, error) {
	var st TrainerState
	data, err := os.ReadFile(filepath.Join(dir, trainerStateFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, trainerStateFile), err)
	}
	if st.Version != stateVersion {
		return st, fmt.Errorf("%s: trainer state version %d, this autofreeze reads %d", dir, st.Version, stateVersion)
	}
	return st, nil
}

// lastCheckpoint is RUN/checkpoints/last, resolved.
// HasCheckpoint reports whether runDir holds a checkpoint to resume from.
func HasCheckpoint(runDir string) bool {
	_, err := lastCheckpoint(runDir)
	return err == nil
}

func lastCheckpoint(runDir string) (string, error) {
	root := filepath.Join(runDir, checkpointsDir)
	t, err := os.Readlink(filepath.Join(root, "last"))
	if err != nil {
		// Fall back to the highest step-N, in case the link was lost.
		entries, _ := os.ReadDir(root)
		var steps []int
		for _, e := range entries {
			if n, ok := strings.CutPrefix(e.Name(), "step-"); ok {
				if v, err := strconv.Atoi(n); err == nil {
					steps = append(steps, v)
				}
			}
		}
		if len(steps) == 0 {
			return "", fmt.Errorf("%s has no checkpoint to resume from", runDir)
		}
		sort.Ints(steps)
		t = "step-" + strconv.Itoa(steps[len(steps)-1])
	}
	return filepath.Join(root, t), nil
}
