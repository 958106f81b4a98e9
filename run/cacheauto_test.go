package run

import (
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/text"
)

// TestCacheWorthBuilding: --cache auto builds a cache when at least as many
// training examples remain as it holds, counting from the best cache there
// is.
func TestCacheWorthBuilding(t *testing.T) {
	r := &trainRun{cfg: Config{BatchSize: 16, GradAccum: 1}, train: &split{encs: make([]text.Encoding, 4000)}}
	r.st.TotalSteps = 750 // 3 epochs of 250 steps
	for _, tc := range []struct {
		step  int
		build bool
	}{
		{0, true},    // static freezing, 3 epochs ahead
		{148, true},  // 9,632 examples left
		{500, true},  // exactly one epoch left: 4,000
		{501, false}, // 3,984 left: the build would cost more than it saves
		{700, false},
	} {
		r.st.Step = tc.step
		build, why := r.cacheWorthBuilding(3)
		if build != tc.build {
			t.Errorf("step %d: build %v (%s), want %v", tc.step, build, why, tc.build)
		}
	}
	// Advancing from a cache at layer 2 runs only layer 2, and says so.
	r.st.Step = 100
	r.prefix = &prefixState{active: &activationCache{ref: CacheRef{K: 2}}}
	if _, why := r.cacheWorthBuilding(3); !strings.Contains(why, "runs layer 2 over") {
		t.Errorf("advancing from the cache at layer 2: %q", why)
	}
}
