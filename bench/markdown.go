package bench

import (
	"fmt"
	"io"
	"strings"
)

// Markdown writes the comparison tables.
func Markdown(w io.Writer, o Options, results []*Result, pc *PrefixCosts, command, machine string) {
	fmt.Fprintf(w, "Command: `%s`\n\n", command)
	fmt.Fprintf(w, "Machine: %s\n\n", machine)
	fmt.Fprintf(w, "Data: %d training examples (seed %d), %d held out for evaluation each epoch, "+
		"test accuracy on %d examples of `%s`; max length %d, batch %d, %d epochs, lr %g, %d threads.\n\n",
		o.TrainLimit, o.Seed, o.EvalLimit, results[0].TestExamples, shortPath(o.Test), o.MaxLength, o.BatchSize, o.Epochs, o.LR, o.Threads)
	var full *Result
	for _, r := range results {
		if r.Mode.Name == "full" {
			full = r
		}
	}
	fmt.Fprintln(w, "| mode | test accuracy | best eval accuracy | wall time | speedup vs full | examples/s | peak RSS | cache bytes | frozen at end | ideal speedup |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		speedup := "—"
		if full != nil && r.WallSeconds > 0 {
			speedup = fmt.Sprintf("%.2fx", full.WallSeconds/r.WallSeconds)
		}
		cache := "—"
		if r.CacheBytes > 0 {
			cache = fmt.Sprintf("%.1f MB", float64(r.CacheBytes)/1e6)
		}
		fmt.Fprintf(w, "| %s | %.2f%% | %.2f%% | %s | %s | %.1f | %.0f MB | %s | %d | %.2fx |\n",
			r.Mode.Name, 100*r.TestAccuracy, 100*r.BestEvalAcc, dur(r.WallSeconds), speedup, r.ExamplesPerSec,
			float64(r.PeakRSSBytes)/(1<<20), cache, r.FinalFrozen, r.IdealSpeedup)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Modes:")
	for _, r := range results {
		fmt.Fprintf(w, "- `%s`: %s (`%s`)\n", r.Mode.Name, r.Mode.About, strings.Join(r.Mode.Args, " "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Wall time is the whole `autofreeze train` process (loading, tokenizing, training, the evaluation"+
		" after each epoch, checkpoints, exports and cache builds). Ideal speedup is what the run's freeze timeline"+
		" would give if a step cost only its trainable layers' share, (L-K)/L, with no overhead.")
	for _, r := range results {
		if len(r.Run.Freezes) > 0 && strings.HasPrefix(r.Mode.Name, "autofreeze") {
			fmt.Fprintf(w, "\nFreeze timeline of `%s`: ", r.Mode.Name)
			for i, f := range r.Run.Freezes {
				if i > 0 {
					fmt.Fprint(w, ", ")
				}
				fmt.Fprintf(w, "K %d→%d at step %d of %d (%s)", f.OldK, f.K, f.Step, r.Run.Total, dur(f.Elapsed))
			}
			fmt.Fprintln(w)
		}
	}
	if pc != nil {
		fmt.Fprintf(w, "\n### The cache against recomputing\n\n")
		fmt.Fprintf(w, "Obtaining one epoch's activations of the frozen prefix [0, %d) for %d examples (%d tokens):\n\n", pc.K, pc.Examples, pc.Tokens)
		fmt.Fprintln(w, "| how | seconds per epoch | vs reading the disk cache |")
		fmt.Fprintln(w, "|---|---|---|")
		row := func(name string, s float64) {
			fmt.Fprintf(w, "| %s | %.2f | %.1fx |\n", name, s, s/pc.CacheDisk)
		}
		row("read the disk cache (shuffled order, decode fp16)", pc.CacheDisk)
		row("load the cache into memory, then read it", pc.CacheMemory)
		row(fmt.Sprintf("recompute on ONNX Runtime (layers 0-%d, no-grad)", pc.K-1), pc.ONNX)
		row(fmt.Sprintf("recompute in libtorch via gotch (layers 0-%d, no-grad)", pc.K-1), pc.Torch)
		fmt.Fprintf(w, "\nThe disk cache holds %.1f MB (%.0f bytes per example).\n", float64(pc.CacheBytes)/1e6, float64(pc.CacheBytes)/float64(max(pc.Examples, 1)))
	}
}

func dur(s float64) string {
	if s < 60 {
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
}

func shortPath(p string) string {
	if i := strings.Index(p, ".deps/"); i >= 0 {
		return p[i:]
	}
	return p
}
