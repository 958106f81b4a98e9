#!/usr/bin/env bash
# make demo: AutoFreeze on the default task. Fine-tunes all-MiniLM-L6-v2 on
# a seeded sample of 4,000 IMDb training reviews (128 tokens, 3 epochs),
# freezing converged layers and training the rest from the disk cache of
# their activations, then evaluates the best checkpoint on 2,000 test
# reviews. About 5-10 minutes on 2 CPU cores.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUN=${RUN:-runs/demo}
if [[ -d "$RUN/checkpoints" ]]; then
  echo "demo: $RUN already holds a run; moving it to $RUN.old" >&2
  rm -rf "$RUN.old" && mv "$RUN" "$RUN.old"
fi
mkdir -p "$(dirname "$RUN")"

bin/autofreeze train \
  --model .deps/models/all-minilm-l6-v2 \
  --train .deps/data/imdb/train.jsonl --train-limit 4000 --eval-limit 500 \
  --max-length 128 --batch-size 16 --epochs 3 --lr 1e-4 \
  --freeze auto --cache disk \
  --out "$RUN"

echo
echo "demo: test accuracy of the best checkpoint on 2,000 IMDb test reviews:"
bin/autofreeze eval --model "$RUN/checkpoints/best" --data .deps/data/imdb/test.jsonl \
  --limit 2000 --output "$RUN/test-metrics.json"
echo
echo "demo: run directory $RUN (config.yaml, metrics.jsonl, report.png, checkpoints/, cache/)"
