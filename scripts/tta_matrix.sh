#!/usr/bin/env bash
# Runs the time-to-accuracy matrix behind BENCHMARKS.md ("Time to
# accuracy"): every method on seeds 42, 43 and 44, one epoch, held-out
# evaluation every 25 steps. Each (method, seed) is its own run directory
# under OUT; finished runs are reused, so the script can be stopped and
# rerun. Methods run seed by seed, alternating, so that a slow period of the
# machine does not fall on one method only. Run it alone: timings are only
# comparable with nothing else heavy on the machine. With BENCH_LOCK=FILE
# each run holds `flock FILE`, so that other heavy jobs taking the same lock
# wait between runs instead of running beside one.
#
#   scripts/tta_matrix.sh [OUT] [MODES...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/tta-2}
shift || true
modes=("$@")
if [ ${#modes[@]} -eq 0 ]; then
  modes=(pytorch-fp32 static-3 frozen-encoder-logreg autofreeze-nocache autofreeze-disk static-2 static-1 static-4 static-5)
fi
python=.deps/pytorch-venv/bin/python
lock=()
if [ -n "${BENCH_LOCK:-}" ]; then
  lock=(flock "$BENCH_LOCK")
fi
for seed in 42 43 44; do
  for mode in "${modes[@]}"; do
    "${lock[@]}" bin/autofreeze bench --out "$out" --epochs 1 --eval-every 25 --threads 2 --seeds "$seed" \
      --modes "full,$mode" --pytorch-python "$python"
  done
done
# The summary over every seed and method (reuses every run).
all=$(IFS=,; echo "${modes[*]}")
"${lock[@]}" bin/autofreeze bench --out "$out" --epochs 1 --eval-every 25 --threads 2 --seeds 42,43,44 \
  --modes "full,$all" --pytorch-python "$python"
