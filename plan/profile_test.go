package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const syntheticProfile = "testdata/profile-synthetic.json"

func TestReadProfile(t *testing.T) {
	p, err := ReadProfile(syntheticProfile)
	if err != nil {
		t.Fatal(err)
	}
	if p.Layers != 6 || len(p.StepSeconds) != 6 || p.GradBytes[0] != 90855944 || p.CacheSecondsPerExample[5] != 0.0148 {
		t.Fatalf("read %+v", p)
	}
	// 25,000 examples in batches of 64 are 391 steps an epoch (the last batch is partial).
	if got := p.Steps(); got != 3*391 {
		t.Errorf("Steps() = %d, want %d", got, 3*391)
	}
}

func TestProfileWriteReadRoundTrip(t *testing.T) {
	p, err := ReadProfile(syntheticProfile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "profile.json")
	if err := p.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip changed the profile:\n got %+v\nwant %+v", back, p)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files after Write, want only profile.json (no temporary left behind)", len(entries))
	}
}

func TestWriteRefusesAnInvalidProfileAndKeepsTheOldFile(t *testing.T) {
	p, err := ReadProfile(syntheticProfile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := p.Write(path); err != nil {
		t.Fatal(err)
	}
	p.StepSeconds = p.StepSeconds[:3]
	err = p.Write(path)
	if err == nil || !strings.Contains(err.Error(), "step_seconds") {
		t.Fatalf("Write of a profile with 3 step times for 6 layers: %v", err)
	}
	if back, err := ReadProfile(path); err != nil || len(back.StepSeconds) != 6 {
		t.Errorf("the old file was damaged: %v", err)
	}
}

// Each bad profile must be rejected with the file, the field and what to do.
func TestReadProfileRejectsBadFiles(t *testing.T) {
	good, err := os.ReadFile(syntheticProfile)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(change func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name, content, want string
	}{
		{"too few step times", edit(func(m map[string]any) { m["step_seconds"] = []float64{1, 2} }),
			"step_seconds: has 2 values, want one per freeze point k = 0..5 (layers = 6)"},
		{"a zero step time", edit(func(m map[string]any) { m["step_seconds"] = []float64{1, 1, 0, 1, 1, 1} }),
			"step_seconds: [2] is 0"},
		{"gradient bytes growing with k", edit(func(m map[string]any) { m["grad_bytes"] = []int64{10, 9, 9, 12, 5, 4} }),
			"grad_bytes: [3] = 12 is more than [2] = 9"},
		{"no gradient bytes", edit(func(m map[string]any) { delete(m, "grad_bytes") }),
			"grad_bytes: has 0 values"},
		{"a cache cost with nothing frozen", edit(func(m map[string]any) { m["cache_seconds_per_example"] = []float64{0.1, 1, 1, 1, 1, 1} }),
			"cache_seconds_per_example: [0] is 0.1, want 0"},
		{"a negative cache cost", edit(func(m map[string]any) { m["cache_seconds_per_example"] = []float64{0, 1, -1, 1, 1, 1} }),
			"cache_seconds_per_example: [2] is -1"},
		{"zero layers", edit(func(m map[string]any) { m["layers"] = 0 }), "layers: is 0"},
		{"no global batch", edit(func(m map[string]any) { delete(m, "global_batch") }), "global_batch: is 0"},
		{"no model", edit(func(m map[string]any) { delete(m, "model") }), "model: missing"},
		{"a string where numbers go", edit(func(m map[string]any) { m["step_seconds"] = "fast" }),
			"step_seconds: want []float64, got a JSON string"},
		{"bytes as fractions", edit(func(m map[string]any) { m["grad_bytes"] = []float64{1.5, 1, 1, 1, 1, 1} }),
			"grad_bytes"},
		{"broken JSON", "{\n  \"model\": \"m\",\n  \"layers\": 6,,\n}", ":3: not valid JSON"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadProfile(path)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, want := range []string{path, c.want, "autofreeze plan profile"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func TestReadProfileMissingFile(t *testing.T) {
	_, err := ReadProfile(filepath.Join(t.TempDir(), "nope.json"))
	if err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("err = %v, want it to name the file", err)
	}
}
