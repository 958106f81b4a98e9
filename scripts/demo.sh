#!/usr/bin/env bash
# make demo: the main job on the embedded default model and data.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
out=$(mktemp -d)
head -n 5 .deps/data/imdb/test.jsonl >"$out/texts.jsonl"
bin/autofreeze encode --model .deps/models/all-minilm-l6-v2 --input "$out/texts.jsonl" \
  --output "$out/embeddings.jsonl" --pool mean
echo "demo: wrote mean-pooled embeddings of 5 IMDb reviews to $out/embeddings.jsonl"
