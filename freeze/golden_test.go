package freeze

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current code")

// trace is a testdata/<name>.json file: one norm vector per interval. Norms are Floats so a
// trace can hold NaN (null) and infinities to test their rejection.
type trace struct {
	Description      string    `json:"description"`
	Layers           int       `json:"layers"`
	Percentile       float64   `json:"percentile,omitempty"`
	Norm             Norm      `json:"norm,omitempty"`
	StepsPerInterval int       `json:"steps_per_interval"`
	Norms            [][]Float `json:"norms"`
}

// outcome is one interval's result in a golden file: a decision or an error.
type outcome struct {
	Decision *Decision `json:"decision,omitempty"`
	Error    string    `json:"error,omitempty"`
}

type golden struct {
	Outcomes []outcome `json:"outcomes"`
	Final    State     `json:"final_state"`
}

func loadTrace(t *testing.T, path string) trace {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr trace
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tr
}

// replay feeds a trace to a fresh AutoPolicy the way the trainer would: norms of layers
// already frozen are zeroed, since a frozen layer accumulates no gradient.
func replay(t *testing.T, tr trace) ([]outcome, *AutoPolicy) {
	t.Helper()
	p, err := NewAuto(tr.Layers, Config{Percentile: tr.Percentile, Norm: tr.Norm})
	if err != nil {
		t.Fatal(err)
	}
	return feed(p, tr), p
}

// feed gives p the trace's intervals in order, zeroing the norms of the
// layers already frozen, and returns each interval's outcome.
func feed(p *AutoPolicy, tr trace) []outcome {
	var out []outcome
	for i, row := range tr.Norms {
		norms := make([]float64, len(row))
		for j, v := range row {
			if j >= p.Frozen() {
				norms[j] = float64(v)
			}
		}
		d, err := p.Observe((i+1)*tr.StepsPerInterval, norms)
		if err != nil {
			out = append(out, outcome{Error: err.Error()})
			continue
		}
		out = append(out, outcome{Decision: &d})
	}
	return out
}

func TestGoldenTraces(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range paths {
		if strings.HasSuffix(path, ".golden.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			tr := loadTrace(t, path)
			out, p := replay(t, tr)
			checkInvariants(t, tr, out)
			got := marshalGolden(t, golden{Outcomes: out, Final: p.State()})
			gpath := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(gpath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gpath)
			if err != nil {
				t.Fatalf("%v (run go test ./freeze -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decisions differ from %s (go test ./freeze -update rewrites it; review the diff):\n%s",
					gpath, firstDiff(got, want))
			}
			// The golden file must read back to the same bytes: NaN and Inf survive JSON.
			var g golden
			if err := json.Unmarshal(want, &g); err != nil {
				t.Fatalf("%s does not parse: %v", gpath, err)
			}
			if !bytes.Equal(marshalGolden(t, g), want) {
				t.Errorf("%s does not round-trip through Decision", gpath)
			}
		})
	}
	if n < 2 {
		t.Fatalf("found %d traces in testdata", n)
	}
}

// checkInvariants holds for every trace whatever the golden file says.
func checkInvariants(t *testing.T, tr trace, out []outcome) {
	t.Helper()
	k, seen := 0, false
	for i, o := range out {
		if o.Decision == nil {
			if !strings.Contains(o.Error, ErrInput.Error()) {
				t.Errorf("interval %d: error %q is not an input error", i, o.Error)
			}
			continue
		}
		d := o.Decision
		if d.OldK != k || d.K < d.OldK || d.K > tr.Layers-1 {
			t.Errorf("interval %d: K %d→%d after K=%d (must not decrease, at most %d)", i, d.OldK, d.K, k, tr.Layers-1)
		}
		if d.EmbeddingsFrozen != (d.K >= 1) {
			t.Errorf("interval %d: embeddings_frozen %v with K=%d", i, d.EmbeddingsFrozen, d.K)
		}
		if !seen {
			if d.K != 0 || d.Reason != "first interval: storing baseline" || d.Changes != nil {
				t.Errorf("first accepted interval decided %+v", d)
			}
			seen = true
		} else {
			// K' is the first active layer at or above the threshold, capped at L−1.
			want := d.OldK
			for want < tr.Layers-1 && float64(d.Changes[want]) < float64(d.Threshold) {
				want++
			}
			if d.K != want {
				t.Errorf("interval %d: K=%d, the rule gives %d", i, d.K, want)
			}
		}
		k = d.K
	}
}

// marshalGolden writes one outcome a line, like metrics.jsonl, so a diff shows which
// interval changed.
func marshalGolden(t *testing.T, g golden) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("{\n \"outcomes\": [\n")
	for i, o := range g.Outcomes {
		line, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("  ")
		b.Write(line)
		if i < len(g.Outcomes)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	final, err := json.Marshal(g.Final)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(" ],\n \"final_state\": ")
	b.Write(final)
	b.WriteString("\n}\n")
	return b.Bytes()
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + g[i] + "\nwant: " + w[i]
		}
	}
	return "lengths differ"
}

// decisionsOf returns the decisions of a replay, failing on errors.
func decisionsOf(t *testing.T, out []outcome) []Decision {
	t.Helper()
	var ds []Decision
	for i, o := range out {
		if o.Decision == nil {
			t.Fatalf("interval %d: %s", i, o.Error)
		}
		ds = append(ds, *o.Decision)
	}
	return ds
}

func ks(ds []Decision) []int {
	k := make([]int, len(ds))
	for i, d := range ds {
		k[i] = d.K
	}
	return k
}
