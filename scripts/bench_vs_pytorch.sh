#!/usr/bin/env bash
# scripts/bench_vs_pytorch.sh: training throughput and peak memory of autofreeze's full
# fine-tuning against the PyTorch + transformers baseline (scripts/pytorch_baseline.py) on
# exactly the same batches, in fp32 and in bf16 mixed precision.
#
#   scripts/bench_vs_pytorch.sh [--model DIR] [--train FILE] [--steps N] [--reps R]
#                               [--threads T] [--precisions "fp32 bf16"] [--out DIR]
#
# Defaults: the demo's model and data (.deps/models/all-minilm-l6-v2, IMDb train.jsonl) and
# settings (scripts/demo.sh: 4,000 training and 500 held-out examples, 128 tokens, batch 16,
# lr 1e-4, seed 42), 2 threads, 40 steps, 3 repetitions, runs/bench-vs-pytorch; precisions
# fp32 and bf16 where the CPU has AVX512-BF16 or AMX-BF16, else fp32 alone (without them
# both libraries emulate bfloat16, many times slower than fp32, and autofreeze refuses
# --precision bf16; asked for anyway, bf16 runs the baseline alone).
#
# It writes the batches once (`autofreeze batches` with the same flags as the runs), then,
# R times, alternates [ours fp32, pytorch fp32, ours bf16, pytorch bf16] so that drifts of
# the machine hit every configuration alike. Ours is `bin/autofreeze train --freeze off
# --precision P --max-steps N --log-every 1`; its examples/s come from the step records of
# its metrics.jsonl (elapsed_s), the baseline's from its result.json. Both evaluate once,
# after the last step, outside the timed steps. examples/s is over all N steps and over
# steps 4..N (after 3 warm-up steps); peak RSS is the process's maximum resident set
# (/usr/bin/time -f %M, or getrusage of the child where there is no /usr/bin/time).
#
# Prints a Markdown table and writes OUT/bench.json (every run's numbers). Needs bin/autofreeze
# (make build) and the baseline's venv (scripts/pytorch_venv.sh, built on first use: 2.5 GB of
# wheels). Takes roughly R x 4 x (N steps at 1-2 s + a minute of start-up and evaluation).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

MODEL=.deps/models/all-minilm-l6-v2
TRAIN=.deps/data/imdb/train.jsonl
STEPS=40
REPS=3
THREADS=2
OUT=runs/bench-vs-pytorch
PRECISIONS=
die() { echo "bench_vs_pytorch: error: $*" >&2; exit 2; }
log() { echo "bench_vs_pytorch: $*" >&2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --model) MODEL=$2; shift 2 ;;
    --train) TRAIN=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --precisions) PRECISIONS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ $STEPS =~ ^[1-9][0-9]*$ && $REPS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[1-9][0-9]*$ ]] ||
  die "--steps, --reps and --threads take positive integers"
[[ $STEPS -gt 3 ]] || die "--steps must be more than the 3 warm-up steps"
[[ -x bin/autofreeze ]] || die "bin/autofreeze not found: run make build"
[[ -d $MODEL ]] || die "model directory $MODEL not found (make setup fetches the default)"
[[ -f $TRAIN ]] || die "training data $TRAIN not found (make setup fetches the default)"
bin/autofreeze train --help 2>&1 | grep -q -- '--precision' ||
  die "bin/autofreeze train has no --precision: rebuild it (make build)"

native_bf16=false
grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null && native_bf16=true
if [[ -z $PRECISIONS ]]; then
  PRECISIONS=fp32
  if $native_bf16; then
    PRECISIONS="fp32 bf16"
  else
    log "this CPU has neither AVX512-BF16 nor AMX-BF16: fp32 only (--precisions 'fp32 bf16' to run the baseline's emulated bf16 anyway)"
  fi
fi
for p in $PRECISIONS; do
  [[ $p == fp32 || $p == bf16 ]] || die "--precisions: $p is not fp32 or bf16"
done

PY=$(scripts/pytorch_venv.sh)
mkdir -p "$OUT/runs"

# The demo's settings, the same flags for the batches file and for our runs.
COMMON=(--model "$MODEL" --train "$TRAIN" --train-limit 4000 --eval-limit 500
        --max-length 128 --batch-size 16 --lr 1e-4 --seed 42 --threads "$THREADS" --max-steps "$STEPS")
BATCHES=$OUT/batches.jsonl
bin/autofreeze --quiet batches "${COMMON[@]}" --output "$BATCHES" >&2
"$PY" scripts/pytorch_baseline.py --batches "$BATCHES" --check-batches >&2

# peak_rss KB_FILE CMD...: runs CMD (its output to the log), its peak RSS in KB to KB_FILE.
if [[ -x /usr/bin/time ]]; then
  peak_rss() { local f=$1; shift; /usr/bin/time -f %M -o "$f" "$@"; }
else
  peak_rss() {
    local f=$1; shift
    python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$f" "$@"
  }
fi

for ((r = 1; r <= REPS; r++)); do
  for p in $PRECISIONS; do
    run=$OUT/runs/ours-$p-$r
    rm -rf "$run" "$run.rss"
    if [[ $p == fp32 ]] || $native_bf16; then
      log "rep $r/$REPS: autofreeze $p"
      peak_rss "$run.rss" bin/autofreeze --quiet train "${COMMON[@]}" --precision "$p" --freeze off \
        --log-every 1 --out "$run" >"$run.log" 2>&1 || { tail -20 "$run.log" >&2; die "autofreeze train failed ($run.log)"; }
    else
      log "rep $r/$REPS: autofreeze $p skipped (no native bf16 on this CPU: autofreeze refuses it)"
    fi

    res=$OUT/runs/pytorch-$p-$r
    log "rep $r/$REPS: pytorch $p"
    peak_rss "$res.rss" "$PY" scripts/pytorch_baseline.py --batches "$BATCHES" --precision "$p" \
      --threads "$THREADS" --max-steps "$STEPS" --out "$res.json" >"$res.log" 2>&1 ||
      { tail -20 "$res.log" >&2; die "pytorch_baseline.py failed ($res.log)"; }
  done
done

python3 - "$OUT" "$BATCHES" "$STEPS" "$REPS" "$THREADS" "$PRECISIONS" <<'PY'
import json, os, platform, statistics, subprocess, sys

out, batches, steps, reps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
precisions = sys.argv[6].split()
WARMUP = 3

# Examples per step, from the batches file both trainers read.
step_examples = {}
with open(batches) as f:
    header = json.loads(f.readline())
    for line in f:
        b = json.loads(line)
        if b["split"] != "train":
            break
        step_examples[b["step"]] = step_examples.get(b["step"], 0) + len(b["rows"])
ex = [step_examples[s] for s in range(1, steps + 1)]

def rss_mb(path):
    with open(path) as f:
        return int(f.read().split()[-1]) / 1024.0

def ours(run):
    elapsed = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if rec["type"] == "step":
                elapsed[rec["step"]] = rec["elapsed_s"]
    if sorted(elapsed) != list(range(1, steps + 1)):
        raise SystemExit(f"{run}: metrics.jsonl has steps {sorted(elapsed)[:3]}..., want 1..{steps}")
    return {"examples_per_s": sum(ex) / elapsed[steps],
            "examples_per_s_after_warmup": sum(ex[WARMUP:]) / (elapsed[steps] - elapsed[WARMUP]),
            "train_seconds": elapsed[steps], "peak_rss_mb": rss_mb(run + ".rss")}

def pytorch(res):
    with open(res + ".json") as f:
        r = json.load(f)
    if r["steps"] != steps or r["warmup_steps_excluded"] != WARMUP:
        raise SystemExit(f"{res}.json: {r['steps']} steps, {r['warmup_steps_excluded']} warm-up steps excluded")
    return {"examples_per_s": r["examples_per_s"], "examples_per_s_after_warmup": r["examples_per_s_after_warmup"],
            "train_seconds": r["train_seconds"], "peak_rss_mb": rss_mb(res + ".rss"),
            "peak_rss_mb_self": r["peak_rss_mb"], "torch": r["torch"], "transformers": r["transformers"]}

configs = [(t, p) for p in precisions for t in ("autofreeze", "pytorch")]
if not os.path.exists(os.path.join(out, "runs", f"ours-bf16-1", "metrics.jsonl")):
    configs = [c for c in configs if c != ("autofreeze", "bf16")]  # refused on this CPU
runs = {f"{t} {p}": [] for t, p in configs}
for r in range(1, reps + 1):
    for t, p in configs:
        if t == "autofreeze":
            runs[f"{t} {p}"].append(ours(os.path.join(out, "runs", f"ours-{p}-{r}")))
        else:
            runs[f"{t} {p}"].append(pytorch(os.path.join(out, "runs", f"pytorch-{p}-{r}")))

def stats(xs):
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}

summary = {}
for name, rs in runs.items():
    summary[name] = {k: stats([x[k] for x in rs]) for k in ("examples_per_s_after_warmup", "examples_per_s", "peak_rss_mb")}

def cpu():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()

version = subprocess.run(["bin/autofreeze", "--version"], capture_output=True, text=True).stdout.strip()
torch_v = runs["pytorch fp32"][0]
doc = {"steps": steps, "reps": reps, "threads": threads, "warmup_steps_excluded": WARMUP, "cpu": cpu(),
       "native_bf16": any(f in open("/proc/cpuinfo").read().split() for f in ("avx512_bf16", "amx_bf16")),
       "cores": os.cpu_count(), "autofreeze": version, "torch": torch_v["torch"], "transformers": torch_v["transformers"],
       "batches": batches, "settings": {k: header[k] for k in ("model", "train", "train_examples", "max_length",
                                                            "batch_size", "lr", "seed", "total_steps")},
       "summary": summary, "runs": runs}
with open(os.path.join(out, "bench.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")

print(f"Training throughput on the same {steps} batches of {header['batch_size']} (max {header['max_length']} tokens), "
      f"{threads} threads, {doc['cpu']}; {reps} runs each, alternated. {version}; torch {doc['torch']}, "
      f"transformers {doc['transformers']}.\n")
print("| trainer | precision | examples/s after 3 warm-up steps (min / median) | examples/s, all steps (median) "
      "| peak RSS MB (min / median) |")
print("|---|---|---|---|---|")
for t, p in configs:
    s = summary[f"{t} {p}"]
    a, b, m = s["examples_per_s_after_warmup"], s["examples_per_s"], s["peak_rss_mb"]
    print(f"| {t} | {p} | {a['min']:.2f} / {a['median']:.2f} | {b['median']:.2f} | {m['min']:.0f} / {m['median']:.0f} |")
if not doc["native_bf16"] and "bf16" in precisions:
    print("\nThis CPU has neither AVX512-BF16 nor AMX-BF16: the baseline's bf16 is emulated, and autofreeze "
          "refuses --precision bf16.")
print(f"\n(every run: {os.path.join(out, 'bench.json')})")
PY
