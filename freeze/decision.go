package freeze

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Decision is one Observe call's outcome and its reasons, written as one JSON object per
// decision into metrics.jsonl.
type Decision struct {
	Step   int  `json:"step"`
	Phase  int  `json:"phase"` // 1 for the first Observe call
	Policy Mode `json:"policy"`
	Layers int  `json:"layers"`
	OldK   int  `json:"old_k"`
	// K is the new freeze point: layers [0, K) are frozen, [K, Layers) train.
	K int `json:"k"`
	// EmbeddingsFrozen is K ≥ 1: the embeddings freeze with layer 0.
	EmbeddingsFrozen bool `json:"embeddings_frozen"`

	// Auto only.
	Norm       Norm      `json:"norm,omitempty"`
	Norms      []float64 `json:"norms,omitempty"`   // the input, one per layer
	Changes    []Float   `json:"changes,omitempty"` // r_i per layer; +Inf is "+Inf"
	Percentile float64   `json:"percentile,omitempty"`
	// Threshold is the percentile of the active layers' changes; NaN (null in JSON) when
	// none was computed.
	Threshold Float `json:"threshold"`

	// Schedule only.
	Alpha float64 `json:"alpha,omitempty"`

	Reason string `json:"reason"`
}

// Changed reports whether K moved.
func (d Decision) Changed() bool { return d.K != d.OldK }

// Float is a float64 whose JSON form survives NaN and infinities, which JSON numbers cannot
// hold: finite values are numbers, NaN is null, and ±Inf are the strings "+Inf" and "-Inf".
// All three read back to the same value.
type Float float64

var nan = Float(math.NaN())

// MarshalJSON writes f as described at Float.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte("null"), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a number, null (NaN), or one of the strings "+Inf", "Inf", "-Inf",
// "NaN".
func (f *Float) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = nan
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "+Inf", "Inf", "-Inf", "NaN":
			v, _ := strconv.ParseFloat(s, 64)
			*f = Float(v)
			return nil
		}
		return fmt.Errorf("freeze: %q is not a number", s)
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}
