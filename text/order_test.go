package text

import (
	"slices"
	"testing"
)

// TestEpochOrderGolden pins the permutations: changing them would reorder
// every training run and break activation caches written before.
func TestEpochOrderGolden(t *testing.T) {
	tests := []struct {
		n     int
		seed  uint64
		epoch int
		want  []int // the first values
	}{
		{10, 0, 0, []int{4, 8, 1, 5, 0, 7, 3, 9, 6, 2}},
		{10, 42, 0, []int{6, 2, 5, 3, 4, 7, 0, 1, 9, 8}},
		{10, 42, 1, []int{2, 3, 9, 6, 0, 8, 7, 4, 5, 1}},
		{25000, 1, 3, []int{19707, 20298, 17478, 7488, 12993, 9630, 17537, 23011}},
	}
	for _, tt := range tests {
		got := EpochOrder(tt.n, tt.seed, tt.epoch)
		if !slices.Equal(got[:len(tt.want)], tt.want) {
			t.Errorf("EpochOrder(%d, %d, %d) starts %#v, want %#v", tt.n, tt.seed, tt.epoch, got[:len(tt.want)], tt.want)
		}
	}
}

func TestEpochOrderIsAPermutation(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 100, 1001} {
		p := EpochOrder(n, 7, 2)
		sorted := slices.Sorted(slices.Values(p))
		for i := range n {
			if sorted[i] != i {
				t.Fatalf("n=%d: not a permutation: %v", n, p)
			}
		}
		if len(p) != n {
			t.Fatalf("n=%d: length %d", n, len(p))
		}
	}
	if len(EpochOrder(-1, 0, 0)) != 0 {
		t.Error("negative n")
	}
	if slices.Equal(EpochOrder(100, 7, 0), EpochOrder(100, 7, 1)) || slices.Equal(EpochOrder(100, 7, 0), EpochOrder(100, 8, 0)) {
		t.Error("epochs or seeds give the same order")
	}
	if !slices.Equal(EpochOrder(100, 7, 5), EpochOrder(100, 7, 5)) {
		t.Error("not deterministic")
	}
}

// TestEpochOrderIsUniform checks that each of the 6 orders of 3 elements
// comes up about equally often over many seeds.
func TestEpochOrderIsUniform(t *testing.T) {
	const runs = 60000
	counts := map[[3]int]int{}
	for seed := range uint64(runs) {
		p := EpochOrder(3, seed, 0)
		counts[[3]int(p)]++
	}
	if len(counts) != 6 {
		t.Fatalf("orders seen: %v", counts)
	}
	for order, c := range counts {
		if c < runs/6*9/10 || c > runs/6*11/10 {
			t.Errorf("order %v came up %d times of %d", order, c, runs)
		}
	}
}
