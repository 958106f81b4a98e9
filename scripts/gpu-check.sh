#!/usr/bin/env bash
# scripts/gpu-check.sh: one command that proves autofreeze's GPU path on a machine with
# NVIDIA GPUs, and writes what it measured to a report (docs/GPU.md explains it).
#
#   scripts/gpu-check.sh [--dry-run] [--out DIR]
#
# It builds the CUDA variant (GPU=1 scripts/setup.sh, then bin/autofreeze into DIR) and runs:
#   1. libtorch: a MiniLM-sized encoder's forward pass and one AdamW step on cuda against
#      the CPU (parity), and the time of a training step on each;
#   2. ONNX Runtime: MiniLM's whole encoder on the CUDA and TensorRT providers against the
#      CPU provider (parity, examples per second);
#   3. a short AutoFreeze run on IMDb with the disk cache, on the GPU (--device cuda
#      --provider cuda);
#   4. data parallel: the same steps on 2 ranks over NCCL (one GPU each; skipped on a
#      machine with one GPU) against one process.
# Each check's output is in DIR/<check>.log; DIR/report.jsonl has the measurements (one
# JSON object a line) and DIR/report.md the summary. Exit status 0 when every check that
# ran passed, 1 otherwise.
#
# --dry-run runs the same checks on a machine without a GPU, on the build that is set up
# (make setup, or GPU=1 make setup): the CPU stands in for the GPU (cpu against cpu), Gloo
# for NCCL, with fewer examples. It proves the script and the CPU halves of each check,
# not the GPU.
#
# Environment: AUTOFREEZE_DEPS (default .deps-gpu, or .deps with --dry-run when there is
# no .deps-gpu), TENSORRT_LIBS (passed to setup; without TensorRT its check reports it
# unavailable), GO (default go).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
dry=0
out=$ROOT/runs/gpu-check
while (($#)); do
  case $1 in
    --dry-run) dry=1 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    --out=*) out=${1#--out=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (want --dry-run or --out DIR)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "gpu-check: $*" >&2; }
die() { echo "gpu-check: error: $*" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
report=$out/report.jsonl
summary=$out/report.md
: >"$report"

if ((dry)); then
  deps=${AUTOFREEZE_DEPS:-$ROOT/.deps}
  [[ -z ${AUTOFREEZE_DEPS:-} && -f $ROOT/.deps-gpu/paths.env && $(grep -c 'gpu' "$ROOT/go.work" 2>/dev/null) -gt 0 ]] &&
    deps=$ROOT/.deps-gpu
  [[ -f $deps/paths.env ]] || die "nothing is set up in $deps: run make setup (or GPU=1 make setup) first"
  device=cpu providers=cpu backend=gloo gpus=0
  train_limit=128 eval_limit=32 max_len=64 epochs=2 runs=2 dp_steps=4
  mode="dry run (no GPU: the CPU stands in for it)"
else
  command -v nvidia-smi >/dev/null && gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ') || gpus=0
  ((gpus > 0)) || die "no NVIDIA GPU here (nvidia-smi lists none): run scripts/gpu-check.sh --dry-run instead"
  log "building the CUDA variant (GPU=1 scripts/setup.sh)"
  GPU=1 "$ROOT/scripts/setup.sh"
  deps=${AUTOFREEZE_DEPS:-$ROOT/.deps-gpu}
  device=cuda providers=cuda,tensorrt backend=nccl
  train_limit=4000 eval_limit=500 max_len=128 epochs=3 runs=20 dp_steps=40
  mode="GPU ($gpus: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1))"
fi
export AUTOFREEZE_DEPS=$deps AUTOFREEZE_GPU_CHECK_REPORT=$report AUTOFREEZE_GPU_CHECK_RUNS=$runs
bin=$out/autofreeze
data=$deps/data/imdb
modeldir=$deps/models/all-minilm-l6-v2

declare -a rows
failed=0
# check NAME CMD...: runs CMD with its output in $out/NAME.log; records ok or FAILED.
check() {
  local name=$1 t0=$SECONDS
  shift
  log "$name ..."
  if (cd "$ROOT" && "$@") >"$out/$name.log" 2>&1; then
    rows+=("| $name | ok | $((SECONDS - t0)) s |")
  else
    rows+=("| $name | FAILED (exit $?; see $name.log) | $((SECONDS - t0)) s |")
    failed=1
  fi
}
skip() { rows+=("| $1 | skipped: $2 | |"); log "$1 skipped: $2"; }

train_args=(--quiet train --model "$modeldir" --train "$data/train.jsonl" --eval "$data/test.jsonl" --max-length "$max_len"
  --threads 0)

check build "$GO" build -o "$bin" ./cmd/autofreeze
check libtorch env AUTOFREEZE_GPU_CHECK_DEVICE=$device "$GO" test -count=1 -run '^TestGPUCheckTrainable$' -v ./trainable
check onnxruntime env AUTOFREEZE_GPU_CHECK=$providers "$GO" test -count=1 -run '^TestGPUCheckPrefix$' -v ./frozen
rm -rf "$out/autofreeze-run"
check autofreeze-cache "$bin" "${train_args[@]}" --train-limit "$train_limit" --eval-limit "$eval_limit" \
  --epochs "$epochs" --freeze auto --cache disk --device "$device" --provider "${providers%%,*}" --out "$out/autofreeze-run"

dp_args=(--train-limit "$train_limit" --eval-limit "$eval_limit" --max-steps "$dp_steps" --eval-every "$dp_steps"
  --batch-size 16 --no-dropout --freeze off --cache off --seed 7)
rm -rf "$out/dp-1" "$out/dp-2"
if [[ $backend == nccl ]] && ((gpus < 2)); then
  skip data-parallel "NCCL needs a GPU per rank; this machine has $gpus"
else
  check data-parallel-1 "$bin" "${train_args[@]}" "${dp_args[@]}" --device "$device" --out "$out/dp-1"
  check data-parallel-2 "$bin" launch --nproc-per-node 2 --max-restarts 0 -- \
    "$bin" "${train_args[@]}" "${dp_args[@]}" --device "$device" --dist-backend "$backend" --out "$out/dp-2"
fi

# The AutoFreeze run's and the data-parallel runs' numbers, from their metrics.jsonl.
python3 - "$out" "$report" "$backend" <<'PY'
import json, os, sys
out, report, backend = sys.argv[1:]
def events(run):
    p = os.path.join(out, run, "metrics.jsonl")
    if not os.path.exists(p):
        return None
    return [json.loads(l) for l in open(p) if l.strip()]
rows = []
ev = events("autofreeze-run")
if ev:
    end = next((e for e in ev if e.get("type") == "end"), {})
    evals = [e for e in ev if e.get("type") == "eval"]
    caches = [e for e in ev if e.get("type") == "cache" and e.get("event") == "built"]
    rows.append({"check": "autofreeze-cache", "seconds": end.get("elapsed_s"), "frozen_layers": end.get("frozen_layers"),
                 "caches_built": len(caches), "best_eval_loss": end.get("best_eval_loss"),
                 "best_accuracy": max((e.get("accuracy", 0) for e in evals), default=None)})
one, two = events("dp-1"), events("dp-2")
if one and two:
    last = lambda ev: [e for e in ev if e.get("type") == "eval"][-1]
    a, b = last(one), last(two)
    rows.append({"check": "data-parallel", "backend": backend, "eval_loss_1_process": a["loss"], "eval_loss_2_ranks": b["loss"],
                 "abs_diff": abs(a["loss"] - b["loss"]), "accuracy_1_process": a["accuracy"], "accuracy_2_ranks": b["accuracy"]})
with open(report, "a") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY

{
  echo "# autofreeze GPU check"
  echo
  echo "Mode: $mode. Commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  echo "| check | result | time |"
  echo "|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Measurements (report.jsonl):"
  echo
  echo '```'
  cat "$report"
  echo '```'
} >"$summary"
cat "$summary"
exit "$failed"
