package freeze

import (
	"math/rand/v2"
	"testing"
)

// TestPureNoiseFreezesHalfTheTime documents why the paper's rule freezes so
// early on short runs (freeze/policy.go's package doc, "When the rule
// fires"). When the per-layer norms are pure noise, independent and
// identically distributed, so that no layer has settled more than another,
// the front active layer's change is below the median of the active
// layers' changes about half the time. So K still grows, by about one
// layer per two decisions: with 6 layers the rule reaches K = 5 after
// about 1 + 2·5 = 11 decisions (the first only stores a baseline), the
// middle of a run with the default 20, whether or not anything converged.
func TestPureNoiseFreezesHalfTheTime(t *testing.T) {
	const layers, runs = 6, 2000
	rng := rand.New(rand.NewPCG(7, 7))
	total := 0
	for run := 0; run < runs; run++ {
		p, err := NewAuto(layers, Config{})
		if err != nil {
			t.Fatal(err)
		}
		decisions := 0
		for step := 1; p.Frozen() < layers-1; step++ {
			norms := make([]float64, layers)
			for i := p.Frozen(); i < layers; i++ {
				norms[i] = 1 + 0.15*rng.NormFloat64() // positive, noisy, alike for every layer
			}
			if _, err := p.Observe(step, norms); err != nil {
				t.Fatal(err)
			}
			decisions++
			if decisions > 1000 {
				t.Fatal("the rule never reached the last layer on noise")
			}
		}
		total += decisions
	}
	mean := float64(total) / runs
	t.Logf("pure noise: K reaches %d after %.1f decisions on average", layers-1, mean)
	if mean < 9 || mean > 13 {
		t.Fatalf("K reached %d after %.1f decisions on average on noise; the package doc says about 11", layers-1, mean)
	}
}
