// Package plan predicts what AutoFreeze saves on a data-parallel cluster from measurements made
// on one machine. It is the cost model behind `autofreeze plan`; docs/COSTMODEL.md states the
// same model for readers who do not read Go.
//
// Three things go in:
//
//   - a [Profile], measured on one worker: seconds per optimizer step with k layers frozen
//     (the prefix read from the activation cache), the bytes of gradient that are all-reduced
//     with k layers frozen, and the seconds per example to build the cache entering layer k;
//   - a [Schedule], the freeze point K over training progress, read from a real AutoFreeze
//     run's metrics.jsonl ([ScheduleFromMetrics]);
//   - a [Cluster]: world size, link bandwidth and latency, restart cost, scaling efficiency.
//
// [Predict] prices three ways of running the same number of optimizer steps:
//
//   - full fine-tuning: nothing frozen, W workers throughout;
//   - performance mode: W workers throughout, following the schedule — a frozen prefix is
//     read from the cache (no forward), has no backward and no gradient to all-reduce;
//   - efficiency mode: follows the schedule too, but after each freeze it may release workers
//     (checkpoint, restart at a smaller world size), never letting a step take longer than a
//     full fine-tuning step on W workers.
//
// # The model
//
// Notation: B global batch, N examples per epoch, E epochs, S = E·⌈N/B⌉ optimizer steps;
// T(k) = Profile.StepSeconds[k], G(k) = Profile.GradBytes[k], C(k) =
// Profile.CacheSecondsPerExample[k]; β bandwidth, α latency, R restart seconds and e scaling
// efficiency of the [Cluster]. One step with k layers frozen on w workers takes
//
//	compute(k, w) = T(k) · (⌈B/w⌉·w/B) / (1 + e·(w−1))
//	comm(k, w)    = 2·(w−1)/w · G(k)/β + 2·(w−1)·α          (ring all-reduce)
//	step(k, w)    = compute(k, w) + comm(k, w)                (no overlap)
//
// ⌈B/w⌉·w/B is 1 when w divides B; otherwise the worker with the largest shard sets the pace.
// With e = 1 compute is T(k)/w. Moving the freeze point to k on b workers first builds the
// cache entering layer k, sharded over the b workers:
//
//	cache(k, b) = C(k) · ⌈N/b⌉
//
// A schedule splits the S steps into phases i with K_i frozen and n_i steps (phase i starts
// at step round(Progress_i·S)). Then
//
//	full:         seconds = S·step(0, W);   worker-seconds = W·seconds
//	performance:  seconds = Σ_i n_i·step(K_i, W) + Σ_{i: K_i > K_{i−1}} cache(K_i, W);
//	              worker-seconds = W·seconds
//	efficiency:   phase i runs on w_i workers; seconds and worker-seconds add, per phase,
//	              n_i·step(K_i, w_i)                    (·w_i),
//	              cache(K_i, b_i), b_i = max(w_{i−1}, w_i)  (·b_i) when K_i > K_{i−1},
//	              R                                     (·b_i) when w_i ≠ w_{i−1},
//	              with w_{−1} = W and K_{−1} = 0.
//
// Speedup = full seconds / performance seconds; cost reduction = full worker-hours /
// efficiency worker-hours.
//
// Efficiency mode picks the world sizes w_i from the candidates {d ≤ W : d divides B} ∪ {W}.
// A candidate is allowed in phase i if it is W, or if K_i > 0 and step(K_i, w) ≤ step(0, W)
// (1e-9 relative slack for rounding): no step is slower than a full fine-tuning step. Among
// the allowed sequences it takes the one with the fewest worker-seconds (dynamic programming
// over phases × candidates, so a restart is paid only where it saves more than it costs);
// between equal costs it holds fewer workers. Keeping W throughout is always allowed, so
// efficiency mode never costs more than performance mode.
//
// The main assumptions (docs/COSTMODEL.md lists them all): the global batch, and so the
// optimization and the freeze schedule, is the same on any number of workers; communication
// is not overlapped with compute (pessimistic); gradients are fp32 and all-reduced in one ring;
// the cache is built from scratch at every move (pessimistic: `cache advance` runs only the new
// layers) and read from the first step after the move; a restart is billed at the larger world
// size (pessimistic). A worker is one data-parallel replica; worker-hours are the cost.
package plan
