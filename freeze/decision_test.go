package freeze

import (
	"encoding/json"
	"math"
	"testing"
)

func TestFloatJSON(t *testing.T) {
	tests := []struct {
		v    float64
		json string
	}{
		{0.1, `0.1`},
		{0, `0`},
		{1e-300, `1e-300`},
		{0.09090909090909091, `0.09090909090909091`},
		{math.NaN(), `null`},
		{math.Inf(1), `"+Inf"`},
		{math.Inf(-1), `"-Inf"`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(Float(tc.v))
		if err != nil || string(b) != tc.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.v, b, err, tc.json)
			continue
		}
		var back Float
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("Unmarshal(%s): %v", b, err)
		}
		if math.Float64bits(float64(back)) != math.Float64bits(tc.v) && !(math.IsNaN(tc.v) && math.IsNaN(float64(back))) {
			t.Errorf("%v came back as %v", tc.v, back)
		}
	}
	for _, in := range []string{`"Inf"`, `"NaN"`} {
		var f Float
		if err := json.Unmarshal([]byte(in), &f); err != nil {
			t.Errorf("Unmarshal(%s): %v", in, err)
		}
	}
	for _, in := range []string{`"1.5"`, `"inf"`, `true`, `[]`} {
		var f Float
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("Unmarshal(%s) accepted %v", in, f)
		}
	}
}

// Every decision must be valid JSON, whatever values it holds: metrics.jsonl readers
// reject NaN and Inf numbers.
func TestDecisionJSONIsValid(t *testing.T) {
	d := Decision{
		Step: 7, Policy: Auto, Layers: 3, K: 1, OldK: 0, EmbeddingsFrozen: true, Norm: L1,
		Norms:     []float64{0, 1, 2},
		Changes:   []Float{0, Float(math.Inf(1)), 0.5},
		Threshold: Float(math.Inf(1)),
		Reason:    "test",
	}
	for _, th := range []float64{math.Inf(1), math.NaN(), 0.25} {
		d.Threshold = Float(th)
		b, err := json.Marshal(d)
		if err != nil || !json.Valid(b) {
			t.Fatalf("%s, %v", b, err)
		}
		var back Decision
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(b) {
			t.Errorf("round trip:\n%s\n%s", b, again)
		}
	}
	p, _ := NewStatic(3, 1)
	sd, _ := p.Observe(1, nil)
	var s map[string]any
	b, _ := json.Marshal(sd)
	json.Unmarshal(b, &s)
	if _, ok := s["norm"]; ok || s["threshold"] != nil || s["policy"] != "static" {
		t.Errorf("static decision JSON %s", b)
	}
}
