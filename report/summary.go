package report

import (
	"fmt"
	"io"
	"time"
)

func dur(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// Summary writes the one-screen text summary of a run.
func Summary(w io.Writer, r *Run) {
	fmt.Fprintf(w, "run          %s\n", r.Dir)
	last := r.Steps[len(r.Steps)-1]
	fmt.Fprintf(w, "training     %d steps (%d planned), %d examples, %d layers, wall time %s", last.Step, r.Total, r.TrainSize, r.Layers, dur(r.Elapsed()))
	if r.End != nil && r.End.Stopped != "" {
		fmt.Fprintf(w, ", %s", r.End.Stopped)
	}
	fmt.Fprintln(w)
	if b := r.Best(); b != nil {
		fmt.Fprintf(w, "best eval    accuracy %.4f, macro-F1 %.4f, loss %.4f at step %d (%s)\n", b.Accuracy, b.MacroF1, b.Loss, b.Step, dur(b.Elapsed))
	}
	if e := r.LastEval(); e != nil {
		fmt.Fprintf(w, "last eval    accuracy %.4f, loss %.4f at step %d\n", e.Accuracy, e.Loss, e.Step)
	}
	if len(r.Freezes) == 0 {
		fmt.Fprintf(w, "freezing     no layer froze\n")
	} else {
		fmt.Fprintf(w, "freezing     ")
		for i, f := range r.Freezes {
			if i > 0 {
				fmt.Fprint(w, ", ")
			}
			fmt.Fprintf(w, "K %d->%d at step %d (%s)", f.OldK, f.K, f.Step, dur(f.Elapsed))
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "             ideal speedup from this timeline: %.2fx (trainable layers' share of each step, no overhead)\n", r.IdealSpeedup())
	}
	for _, c := range r.Caches {
		switch c.Event {
		case "built":
			fmt.Fprintf(w, "cache        K=%d built from layer %d by %s in %.1fs, %.1f MB\n", c.K, c.FromLayer, c.Engine, c.BuildSeconds, float64(c.Bytes)/1e6)
		case "active":
			fmt.Fprintf(w, "cache        K=%d in use from step %d (%s)\n", c.K, c.Step, dur(c.Elapsed))
		}
	}
	fmt.Fprintf(w, "throughput   %s\n", phaseThroughput(r))
}

// phaseThroughput reports examples/s for each number of frozen layers.
func phaseThroughput(r *Run) string {
	type acc struct {
		sum float64
		n   int
	}
	by := map[int]*acc{}
	var order []int
	for _, p := range r.Steps {
		a, ok := by[p.Frozen]
		if !ok {
			a = &acc{}
			by[p.Frozen] = a
			order = append(order, p.Frozen)
		}
		a.sum += p.ExamplesPerS
		a.n++
	}
	s := ""
	for i, k := range order {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.1f ex/s with %d frozen", by[k].sum/float64(by[k].n), k)
	}
	return s
}
