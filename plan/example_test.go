package plan_test

import (
	"fmt"

	"github.com/autofreeze/autofreeze/plan"
)

// A 4-layer encoder whose step takes 4 s on one worker with nothing frozen and 1 s with 3
// layers frozen, trained for 10 epochs of 100 steps of 64 examples on 16 workers over 10 Gb/s
// links; AutoFreeze froze 3 layers halfway through. Performance mode keeps the 16 workers;
// efficiency mode finishes on 2, whose steps are still faster than a full fine-tuning step on
// 16 (the all-reduce dominates that one).
func ExamplePredict() {
	p := plan.Profile{
		Model: "example", Layers: 4, Examples: 6400, Epochs: 10, GlobalBatch: 64, Threads: 1,
		StepSeconds:            []float64{4, 3, 2, 1},
		GradBytes:              []int64{400e6, 300e6, 200e6, 100e6}, // 100M fp32 parameters, then fewer
		CacheSecondsPerExample: []float64{0, 0.001, 0.002, 0.003},
	}
	s := plan.Schedule{{Progress: 0, K: 0}, {Progress: 0.5, K: 3}}
	c := plan.Cluster{Workers: 16, BandwidthBytesPerS: 10e9 / 8, LatencyS: 50e-6, RestartS: 30, ScalingEfficiency: 0.9}

	pr, err := plan.Predict(p, s, c)
	if err != nil {
		panic(err)
	}
	fmt.Printf("full fine-tuning:  %s, %.3f worker-hours\n", plan.Duration(pr.Full.Seconds), pr.Full.WorkerHours)
	fmt.Printf("performance mode:  %s (%.2f× faster)\n", plan.Duration(pr.Performance.Seconds), pr.Speedup)
	fmt.Printf("efficiency mode:   %.3f worker-hours (%.2f× cheaper)\n", pr.Efficiency.WorkerHours, pr.CostReduction)
	for _, ph := range pr.Efficiency.Phases {
		fmt.Printf("  K=%d on %2d workers: %3d steps of %s (%s all-reduce)\n", ph.K, ph.Workers, ph.Steps, plan.Duration(ph.StepSeconds), plan.Duration(ph.CommSeconds))
	}
	// Output:
	// full fine-tuning:  14.6 min, 3.899 worker-hours
	// performance mode:  9.17 min (1.59× faster)
	// efficiency mode:   2.257 worker-hours (1.73× cheaper)
	//   K=0 on 16 workers: 500 steps of 877 ms (601 ms all-reduce)
	//   K=3 on  2 workers: 500 steps of 606 ms (80.1 ms all-reduce)
}
