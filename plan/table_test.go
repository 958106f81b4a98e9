package plan

import (
	"strconv"
	"strings"
	"testing"
)

// The table `autofreeze plan` prints: one row per world size, the paper's figures beside 64.
func TestMarkdownTable(t *testing.T) {
	p, err := ReadProfile(syntheticProfile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ScheduleFromMetrics("testdata/autofreeze-imdb.metrics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	c := Cluster{BandwidthBytesPerS: 1.25e9, LatencyS: 50e-6, RestartS: 60, ScalingEfficiency: 0.9}
	out, err := MarkdownTable(p, s, c, []int{8, 16, 64})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "| workers | full fine-tuning | performance mode | speedup | paper speedup¹ |") ||
		!strings.HasPrefix(lines[1], "|---:|") {
		t.Fatalf("header:\n%s", out)
	}
	for i, w := range []int{8, 16, 64} {
		cells := strings.Split(strings.Trim(lines[2+i], "| "), " | ")
		if len(cells) != 10 {
			t.Fatalf("row %q has %d cells, want 10", lines[2+i], len(cells))
		}
		c.Workers = w
		pr, err := Predict(p, s, c)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{strconv.Itoa(w), Duration(pr.Full.Seconds), Duration(pr.Performance.Seconds), ratio(pr.Speedup), "—",
			hours(pr.Full.WorkerHours), hours(pr.Efficiency.WorkerHours), ratio(pr.CostReduction), "—", worldSizes(pr.Efficiency)}
		if w == 64 {
			want[4], want[8] = "4.38×", "5.03×"
		}
		for j := range want {
			if cells[j] != want[j] {
				t.Errorf("%d workers, column %d: %q, want %q", w, j, cells[j], want[j])
			}
		}
	}
	for _, want := range []string{"BERT-base, AG's News, 64 GPUs", "1173 steps", "1.25 GB/s per worker link", "50 µs per hop", "restart 60 s", "scaling efficiency 0.9"} {
		if !strings.Contains(out, want) {
			t.Errorf("the notes under the table do not say %q:\n%s", want, out)
		}
	}
	if _, err := MarkdownTable(p, s, c, []int{128}); err == nil || !strings.Contains(err.Error(), "128 workers") {
		t.Errorf("128 workers on a batch of 64: err = %v", err)
	}
}

func TestDuration(t *testing.T) {
	cases := map[float64]string{0: "0 s", 50e-6: "50 µs", 0.877: "877 ms", 87.7: "87.7 s", 550: "9.17 min", 3 * 3600: "3 h"}
	for s, want := range cases {
		if got := Duration(s); got != want {
			t.Errorf("Duration(%v) = %q, want %q", s, got, want)
		}
	}
}
