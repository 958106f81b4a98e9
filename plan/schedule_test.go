package plan

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testdata/autofreeze-imdb.metrics.jsonl is the benchmark run of BENCHMARKS.md (MiniLM, 4,000
// IMDb reviews, 3 epochs, 750 steps, --freeze auto --cache disk) with most step records left
// out. Its policy froze layers 0-2 after step 148, layer 3 after step 296 and layer 4 after
// step 333; the other freeze records kept K.
func TestScheduleFromBenchmarkRun(t *testing.T) {
	s, err := ScheduleFromMetrics("testdata/autofreeze-imdb.metrics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := Schedule{{0, 0}, {148.0 / 750, 3}, {296.0 / 750, 4}, {333.0 / 750, 5}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("schedule = %v, want %v", s, want)
	}
}

func writeMetrics(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const start100 = `{"type":"start","step":0,"total_steps":100,"layers":6}`

// --freeze 5 freezes before the first step and logs no freeze records; the step records say K.
func TestScheduleOfStaticFreezing(t *testing.T) {
	path := writeMetrics(t, start100,
		`{"type":"step","step":10,"frozen_layers":5}`,
		`{"type":"step","step":20,"frozen_layers":5}`)
	s, err := ScheduleFromMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Schedule{{0, 5}}); !reflect.DeepEqual(s, want) {
		t.Errorf("schedule = %v, want %v", s, want)
	}
}

func TestScheduleOfFullFineTuning(t *testing.T) {
	path := writeMetrics(t, start100, `{"type":"step","step":10,"frozen_layers":0}`, `{"type":"end","step":100}`)
	s, err := ScheduleFromMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Schedule{{0, 0}}); !reflect.DeepEqual(s, want) {
		t.Errorf("schedule = %v, want %v", s, want)
	}
}

// A resumed run's log reads as one run (training drops the records after the checkpoint), with
// a resume record in it; record types the schedule does not use are skipped.
func TestScheduleIgnoresResumeAndUnknownRecords(t *testing.T) {
	path := writeMetrics(t, start100,
		`{"type":"step","step":10,"frozen_layers":0}`,
		`{"type":"freeze","step":20,"k":2,"old_k":0}`,
		`{"type":"checkpoint","step":20,"dir":"x"}`,
		`{"type":"resume","step":20,"epoch":0,"checkpoint":"x"}`,
		`{"type":"step","step":30,"frozen_layers":2}`,
		`{"type":"something_new","step":35,"k":99}`,
		``,
		`{"type":"freeze","step":40,"k":2,"old_k":2}`,
		`{"type":"freeze","step":100,"k":3,"old_k":2}`)
	s, err := ScheduleFromMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	// The freeze after the last step trains nothing and is dropped.
	if want := (Schedule{{0, 0}, {0.2, 2}}); !reflect.DeepEqual(s, want) {
		t.Errorf("schedule = %v, want %v", s, want)
	}
}

// A step record logged at the step of a freeze decision still shows the old K: the decision
// comes after the step.
func TestScheduleStepRecordAtTheFreezeStep(t *testing.T) {
	path := writeMetrics(t, start100,
		`{"type":"step","step":20,"frozen_layers":0}`,
		`{"type":"freeze","step":20,"k":1,"old_k":0}`,
		`{"type":"step","step":21,"frozen_layers":1}`)
	if _, err := ScheduleFromMetrics(path); err != nil {
		t.Fatal(err)
	}
}

func TestScheduleFromMetricsRejectsBadFiles(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"not JSON", []string{start100, `{"type":"step","step":10,"frozen_layers":0}`, `{"type":"step",`},
			":3: not a metrics record"},
		{"no type", []string{start100, `{"step":10}`}, ":2: record has no \"type\""},
		{"no start record", []string{`{"type":"step","step":10,"frozen_layers":0}`}, ":1: step record before the start record"},
		{"empty", []string{``}, "no start record"},
		{"two runs appended", []string{start100, `{"type":"step","step":10,"frozen_layers":0}`, start100},
			":3: a second start record"},
		{"steps going back", []string{start100, `{"type":"step","step":50,"frozen_layers":0}`, `{"type":"step","step":10,"frozen_layers":0}`},
			":3: step 10 comes after step 50"},
		{"a step past the end", []string{start100, `{"type":"step","step":101,"frozen_layers":0}`},
			":2: step 101 is outside 0..total_steps (100)"},
		{"unfreezing", []string{start100, `{"type":"freeze","step":10,"k":1,"old_k":3}`},
			":2: freeze record moves K from 3 to 1"},
		{"freeze without k", []string{start100, `{"type":"freeze","step":10,"old_k":0}`},
			":2: freeze record without k and old_k"},
		{"step without frozen_layers", []string{start100, `{"type":"step","step":10}`},
			":2: step record without a frozen_layers"},
		{"freeze records disagreeing", []string{start100, `{"type":"freeze","step":10,"k":2,"old_k":0}`, `{"type":"freeze","step":20,"k":3,"old_k":1}`},
			":3: freeze record has old_k 1, but K was 2"},
		{"step records disagreeing with freezes", []string{start100,
			`{"type":"freeze","step":10,"k":2,"old_k":0}`, `{"type":"step","step":20,"frozen_layers":0}`},
			":3: frozen_layers is 0 at step 20, but the freeze records put K at 2 for that step"},
		{"no total_steps", []string{`{"type":"start","step":0}`}, ":1: start record without a positive total_steps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeMetrics(t, c.lines...)
			_, err := ScheduleFromMetrics(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to contain %q and the path", msg, c.want)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	good := []Schedule{nil, {{0, 0}}, {{0.5, 2}}, {{0, 1}, {0.3, 1}, {1, 4}}}
	for _, s := range good {
		if err := s.Validate(); err != nil {
			t.Errorf("%v: %v", s, err)
		}
	}
	bad := map[string]Schedule{
		"outside [0, 1]":          {{1.5, 1}},
		"does not come after":     {{0.5, 1}, {0.5, 2}},
		"only ever frozen":        {{0, 3}, {0.5, 2}},
		"negative":                {{0, -1}},
		"progress NaN is outside": {{math.NaN(), 1}},
	}
	for want, s := range bad {
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), strings.Fields(want)[0]) {
			t.Errorf("%v: err = %v, want one about %q", s, err, want)
		}
	}
}
