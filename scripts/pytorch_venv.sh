#!/usr/bin/env bash
# scripts/pytorch_venv.sh: a Python virtual environment with the newest torch (2.15.0) and
# transformers (5.25.0) from PyPI, for the PyTorch baseline that autofreeze is compared with
# (scripts/pytorch_baseline.py, scripts/bench_vs_pytorch.sh). Prints the path of its python
# on stdout; logs go to stderr.
#
#   PY=$(scripts/pytorch_venv.sh) && "$PY" scripts/pytorch_baseline.py --help
#
# Installs exactly scripts/pytorch-requirements.txt (pinned, sha256-checked, --no-deps):
# torch, the eleven NVIDIA library wheels its shared libraries list as NEEDED (PyPI's torch
# is a CUDA build; they load without a GPU), transformers and what it imports. That is
# about 2.5 GB of wheels and 4.2 GB installed.
#
# Idempotent: the wheels are cached in the download cache next to setup.sh's, and a stamp
# skips everything while the requirements file and the Python version are unchanged. A
# first run takes one to two minutes (the download from PyPI, then unpacking); a second,
# none.
#
# Environment (all optional, as for scripts/setup.sh):
#   PYTHON                CPython 3.11 interpreter to build the venv with (default python3)
#   AUTOFREEZE_DOWNLOADS  download cache (default ~/.cache/autofreeze/downloads)
#   AUTOFREEZE_DEPS       where the venv goes (default .deps in the repo: .deps/pytorch-venv)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS=${AUTOFREEZE_DEPS:-$ROOT/.deps}
DL=${AUTOFREEZE_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/autofreeze/downloads}
PY=${PYTHON:-python3}
REQ=$ROOT/scripts/pytorch-requirements.txt
VENV=$DEPS/pytorch-venv

log() { echo "pytorch_venv: $*" >&2; }
die() { echo "pytorch_venv: error: $*" >&2; exit 1; }

command -v "$PY" >/dev/null || die "'$PY' not found: install Python 3.11 (or set PYTHON)"
pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[[ $pyver == 3.11 ]] || die "$PY is Python $pyver; the pinned wheels are for CPython 3.11 (set PYTHON)"
[[ $(uname -sm) == "Linux x86_64" ]] || die "the pinned wheels are for x86-64 Linux, not $(uname -sm)"

mkdir -p "$DEPS/.stamps" "$DL"
# One builder at a time (scripts may call this concurrently).
exec 9>"$DEPS/.stamps/pytorch-venv.lock"
flock 9

key="$(sha256sum "$REQ" | cut -c1-16) python$pyver"
stamp=$DEPS/.stamps/pytorch-venv
if [[ -f $stamp && "$(cat "$stamp")" == "$key" && -x $VENV/bin/python ]]; then
  echo "$VENV/bin/python"
  exit 0
fi

t0=$SECONDS
log "creating $VENV (torch 2.15.0, transformers 5.25.0: scripts/pytorch-requirements.txt)"
rm -rf "$VENV" "$stamp"
"$PY" -m venv "$VENV"
pip=("$VENV/bin/pip" --disable-pip-version-check --no-input)
opts=(--no-deps --require-hashes --only-binary=:all: -r "$REQ")

# From the download cache alone when every wheel is there; otherwise fetch the missing ones
# from PyPI into the cache (pip keeps a cached file whose hash matches), then install.
if ! "${pip[@]}" install --quiet --no-index --find-links "$DL" "${opts[@]}" 2>/dev/null; then
  log "downloading the missing wheels from PyPI into $DL (about 2.5 GB in all)"
  "${pip[@]}" download --quiet -d "$DL" "${opts[@]}"
  "${pip[@]}" install --quiet --no-index --find-links "$DL" "${opts[@]}"
fi

# Check what the baseline needs: both imports, a training step in fp32 and under bf16
# autocast with fused AdamW, and no download at run time.
HF_HUB_OFFLINE=1 "$VENV/bin/python" - <<'PY' || die "torch or transformers does not work in $VENV"
import torch, transformers
cfg = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=64, num_labels=2)
model = transformers.BertForSequenceClassification(cfg)
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
ids = torch.randint(0, 64, (2, 8))
for bf16 in (False, True):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(input_ids=ids, labels=torch.tensor([0, 1])).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
PY

echo "$key" >"$stamp"
log "ready in $((SECONDS - t0)) s: $VENV/bin/python ($(du -sh "$VENV" | cut -f1))"
echo "$VENV/bin/python"
