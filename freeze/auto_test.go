package freeze

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The golden files pin every decision; these tests say, independently of them, what each
// edge-case trace is there to show.
func TestEdgeTraces(t *testing.T) {
	replayFile := func(name string) []Decision {
		out, _ := replay(t, loadTrace(t, "testdata/"+name+".json"))
		return decisionsOf(t, out)
	}

	t.Run("first interval stores the baseline", func(t *testing.T) {
		d := replayFile("bert6")[0]
		if d.K != 0 || d.Changes != nil || !math.IsNaN(float64(d.Threshold)) || d.Reason != "first interval: storing baseline" {
			t.Errorf("first decision %+v", d)
		}
	})

	t.Run("all changes equal", func(t *testing.T) {
		ds := replayFile("edge_equal")
		if got := ks(ds); !slices.Equal(got, []int{0, 0, 0, 2}) {
			t.Errorf("K = %v, want [0 0 0 2]", got)
		}
		for _, d := range ds[1:3] {
			for _, r := range d.Changes {
				if r != d.Threshold {
					t.Errorf("step %d: changes %v are not all at the threshold %v", d.Step, d.Changes, d.Threshold)
				}
			}
		}
	})

	t.Run("zero norms", func(t *testing.T) {
		ds := replayFile("edge_zero_norm")
		if ds[1].Changes[2] != 0 {
			t.Errorf("a zero norm gave change %v, want 0", ds[1].Changes[2])
		}
		if !math.IsInf(float64(ds[2].Changes[2]), 1) {
			t.Errorf("a norm after a zero gave change %v, want +Inf", ds[2].Changes[2])
		}
		if !math.IsInf(float64(ds[4].Threshold), 1) || ds[4].K != 2 {
			t.Errorf("mostly +Inf changes: threshold %v, K %d; want +Inf, 2", ds[4].Threshold, ds[4].K)
		}
		b, err := json.Marshal(ds[4])
		if err != nil || !json.Valid(b) || !strings.Contains(string(b), `"threshold":"+Inf"`) {
			t.Errorf("decision with +Inf threshold marshals as %s, %v", b, err)
		}
	})

	t.Run("several layers at once, then only the last layer trains", func(t *testing.T) {
		ds := replayFile("edge_last_layer")
		if got := ks(ds); !slices.Equal(got, []int{0, 2, 3, 3, 3, 3}) {
			t.Errorf("K = %v, want [0 2 3 3 3 3]", got)
		}
		for _, d := range ds[3:] {
			if !strings.HasPrefix(d.Reason, "only the last encoder layer (3) trains") {
				t.Errorf("step %d reason %q", d.Step, d.Reason)
			}
		}
	})

	t.Run("a later layer converging first does not freeze out of order", func(t *testing.T) {
		ds := replayFile("edge_out_of_order")
		for _, d := range ds[1:3] {
			smallest := slices.Index(d.Changes, slices.Min(d.Changes))
			if smallest != 3 || d.K != 0 {
				t.Errorf("step %d: smallest change at layer %d, K=%d; want layer 3 and K=0", d.Step, smallest, d.K)
			}
		}
		if last := ds[3]; last.K != 2 || last.Changes[3] >= last.Threshold {
			t.Errorf("last step: K=%d, layer 3 at %v, threshold %v; want K=2 with layer 3 below it",
				last.K, last.Changes[3], last.Threshold)
		}
	})

	t.Run("invalid input is rejected without touching the state", func(t *testing.T) {
		out, p := replay(t, loadTrace(t, "testdata/edge_invalid.json"))
		for _, o := range out[1:5] {
			if o.Error == "" {
				t.Errorf("accepted %+v", o.Decision)
			}
		}
		last := out[5].Decision
		if last == nil || last.Phase != 2 || !reflect.DeepEqual(last.Changes, []Float{0.1, 0.2, Float(1.0 / 30)}) {
			t.Errorf("after the errors: %+v; want phase 2 compared with the first interval", last)
		}
		if p.State().LastStep != 60 {
			t.Errorf("last step %d", p.State().LastStep)
		}
	})
}

func TestAutoRejects(t *testing.T) {
	p, _ := NewAuto(3, Config{})
	tests := []struct {
		name  string
		step  int
		norms []float64
	}{
		{"nil norms", 1, nil},
		{"too few", 1, []float64{1, 2}},
		{"too many", 1, []float64{1, 2, 3, 4}},
		{"NaN", 1, []float64{1, math.NaN(), 3}},
		{"negative", 1, []float64{1, -0.5, 3}},
		{"-Inf", 1, []float64{math.Inf(-1), 2, 3}},
		{"negative step", -1, []float64{1, 2, 3}},
	}
	for _, tc := range tests {
		before := p.State()
		if _, err := p.Observe(tc.step, tc.norms); !errors.Is(err, ErrInput) {
			t.Errorf("%s: error %v, want ErrInput", tc.name, err)
		}
		if !reflect.DeepEqual(p.State(), before) {
			t.Errorf("%s: state changed on error", tc.name)
		}
	}
	if _, err := p.Observe(5, []float64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []int{5, 4} {
		if _, err := p.Observe(step, []float64{1, 2, 3}); !errors.Is(err, ErrInput) {
			t.Errorf("step %d after step 5: error %v, want ErrInput", step, err)
		}
	}
}

func TestNewAutoRejects(t *testing.T) {
	for _, tc := range []struct {
		layers int
		cfg    Config
	}{
		{0, Config{}},
		{12, Config{Percentile: -5}},
		{12, Config{Percentile: 101}},
		{12, Config{Percentile: math.NaN()}},
		{12, Config{Norm: 7}},
	} {
		if _, err := NewAuto(tc.layers, tc.cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewAuto(%d, %+v) error %v, want ErrConfig", tc.layers, tc.cfg, err)
		}
	}
}

func TestAutoPercentileAndNormAreRecorded(t *testing.T) {
	p, err := NewAuto(4, Config{Percentile: 25, Norm: L2})
	if err != nil {
		t.Fatal(err)
	}
	p.Observe(1, []float64{10, 20, 30, 40})
	d, err := p.Observe(2, []float64{10.5, 22, 36, 48})
	if err != nil {
		t.Fatal(err)
	}
	// Changes 0.05, 0.1, 0.2, 0.2; the 25th percentile is 0.0875: layer 0 alone freezes.
	if d.K != 1 || d.Percentile != 25 || d.Norm != L2 || math.Abs(float64(d.Threshold)-0.0875) > 1e-15 {
		t.Errorf("decision %+v", d)
	}
	if !strings.HasPrefix(d.Reason, "p25 change of active layers 0-3 is 0.0875; layer 0 below it (0.05); layer 1 at 0.1") {
		t.Errorf("reason %q", d.Reason)
	}
	b, _ := json.Marshal(d)
	if !strings.Contains(string(b), `"norm":"l2"`) {
		t.Errorf("JSON %s lacks the norm kind", b)
	}
}

// A run stopped after any interval and resumed from its saved state (through JSON, as in a
// checkpoint) decides exactly as the run that never stopped.
func TestAutoStateRestoreDecidesIdentically(t *testing.T) {
	for _, name := range []string{"bert12", "bert6", "edge_zero_norm"} {
		tr := loadTrace(t, "testdata/"+name+".json")
		want, _ := replay(t, tr)
		for cut := 0; cut <= len(tr.Norms); cut++ {
			first := tr
			first.Norms = tr.Norms[:cut]
			_, p := replay(t, first)
			saved, err := json.Marshal(p.State())
			if err != nil {
				t.Fatal(err)
			}
			var s State
			if err := json.Unmarshal(saved, &s); err != nil {
				t.Fatal(err)
			}
			resumed, _ := NewAuto(tr.Layers, Config{Percentile: tr.Percentile, Norm: tr.Norm})
			if err := resumed.Restore(s); err != nil {
				t.Fatalf("%s cut %d: %v", name, cut, err)
			}
			for i := cut; i < len(tr.Norms); i++ {
				norms := make([]float64, tr.Layers)
				for j := resumed.Frozen(); j < tr.Layers; j++ {
					norms[j] = float64(tr.Norms[i][j])
				}
				d, err := resumed.Observe((i+1)*tr.StepsPerInterval, norms)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := json.Marshal(d)
				exp, _ := json.Marshal(want[i].Decision)
				if string(got) != string(exp) {
					t.Fatalf("%s resumed after %d intervals, interval %d:\n got %s\nwant %s", name, cut, i, got, exp)
				}
			}
		}
	}
}

func TestAutoRestoreRejects(t *testing.T) {
	p, _ := NewAuto(3, Config{})
	p.Observe(1, []float64{1, 2, 3})
	good := p.State()
	tests := map[string]func(s *State){
		"other mode":         func(s *State) { s.Mode = Schedule },
		"other layer count":  func(s *State) { s.Layers = 4 },
		"K past L-1":         func(s *State) { s.K = 3 },
		"negative K":         func(s *State) { s.K = -1 },
		"other percentile":   func(s *State) { s.Percentile = 75 },
		"other norm":         func(s *State) { s.Norm = L2 },
		"missing prev norms": func(s *State) { s.PrevNorms = nil },
		"short prev norms":   func(s *State) { s.PrevNorms = []float64{1, 2} },
		"NaN prev norm":      func(s *State) { s.PrevNorms = []float64{1, math.NaN(), 3} },
		"prev before phase 1": func(s *State) {
			s.Phase = 0
		},
	}
	for name, mutate := range tests {
		s := good
		s.PrevNorms = slices.Clone(good.PrevNorms)
		mutate(&s)
		fresh, _ := NewAuto(3, Config{})
		if err := fresh.Restore(s); !errors.Is(err, ErrState) {
			t.Errorf("%s: error %v, want ErrState", name, err)
		}
		if !reflect.DeepEqual(fresh.State(), State{Mode: Auto, Layers: 3, Percentile: 50, Norm: L1}) {
			t.Errorf("%s: failed Restore changed the state", name)
		}
	}
}
