package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The paper's distributed results (Liu, Agarwal, Venkataraman, arXiv 2102.01386, abstract):
// BERT-base fine-tuned on AG's News on 64 GPUs.
const (
	PaperWorkers       = 64
	PaperSpeedup       = 4.38 // performance mode against full fine-tuning, end-to-end time
	PaperCostReduction = 5.03 // efficiency mode against full fine-tuning, total cost
)

// MarkdownTable predicts p and s on base with each of the given world sizes (base.Workers is
// replaced) and formats the results as a Markdown table, one row per world size, with the
// paper's figures beside the row for [PaperWorkers] workers. A line under the table states the
// cluster assumptions.
func MarkdownTable(p Profile, s Schedule, base Cluster, workers []int) (string, error) {
	var b strings.Builder
	b.WriteString("| workers | full fine-tuning | performance mode | speedup | paper speedup¹ | full fine-tuning worker-hours | efficiency mode worker-hours | cost reduction | paper cost reduction¹ | efficiency mode world sizes |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, w := range workers {
		c := base
		c.Workers = w
		pr, err := Predict(p, s, c)
		if err != nil {
			return "", fmt.Errorf("%d workers: %w", w, err)
		}
		paperS, paperC := "—", "—"
		if w == PaperWorkers {
			paperS, paperC = ratio(PaperSpeedup), ratio(PaperCostReduction)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w,
			Duration(pr.Full.Seconds), Duration(pr.Performance.Seconds), ratio(pr.Speedup), paperS,
			hours(pr.Full.WorkerHours), hours(pr.Efficiency.WorkerHours), ratio(pr.CostReduction), paperC,
			worldSizes(pr.Efficiency))
	}
	fmt.Fprintf(&b, "\n¹ The paper's figures (BERT-base, AG's News, %d GPUs), for reference only: a different model, task and cluster.\n", PaperWorkers)
	fmt.Fprintf(&b, "Profile: %s, %d layers, %d examples × %d epochs, global batch %d (%d steps). Cluster: %s.\n",
		p.Model, p.Layers, p.Examples, p.Epochs, p.GlobalBatch, p.Steps(), base.describe())
	return b.String(), nil
}

// describe states the cluster assumptions other than the world size.
func (c Cluster) describe() string {
	bw := "free communication"
	if !math.IsInf(c.BandwidthBytesPerS, 1) {
		bw = fmt.Sprintf("%s/s per worker link", bytesSI(c.BandwidthBytesPerS))
	}
	e := c.ScalingEfficiency
	if e == 0 {
		e = 1
	}
	return fmt.Sprintf("ring all-reduce over %s, %s per hop, not overlapped with compute; scaling efficiency %s; restart %s",
		bw, Duration(c.LatencyS), strconv.FormatFloat(e, 'g', -1, 64), Duration(c.RestartS))
}

// worldSizes lists a mode's world sizes as they change, e.g. "64 → 16 → 4".
func worldSizes(m Mode) string {
	var parts []string
	for i, ph := range m.Phases {
		if i == 0 || ph.Workers != m.Phases[i-1].Workers {
			parts = append(parts, strconv.Itoa(ph.Workers))
		}
	}
	return strings.Join(parts, " → ")
}

// Duration formats seconds for a reader: µs, ms, s, min or h with three significant digits.
func Duration(s float64) string {
	switch {
	case s == 0:
		return "0 s"
	case s < 1e-3:
		return fmt.Sprintf("%.3g µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.3g ms", s*1e3)
	case s < 120:
		return fmt.Sprintf("%.3g s", s)
	case s < 7200:
		return fmt.Sprintf("%.3g min", s/60)
	}
	return fmt.Sprintf("%.3g h", s/3600)
}

func hours(h float64) string { return fmt.Sprintf("%.3g", h) }
func ratio(r float64) string { return fmt.Sprintf("%.2f×", r) }
func bytesSI(b float64) string {
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if b < 1000 {
			return fmt.Sprintf("%.3g %s", b, u)
		}
		b /= 1000
	}
	return fmt.Sprintf("%.3g PB", b)
}
