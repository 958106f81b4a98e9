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

. "$(dirname "${BASH_SOURCE[0]}")/pinned_venv.sh"

# Check what the baseline needs: both imports, a training step in fp32 and under bf16
# autocast with fused AdamW, and no download at run time.
check() {
  HF_HUB_OFFLINE=1 "$1/bin/python" - <<'PY'
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
}

pinned_venv pytorch-venv "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pytorch-requirements.txt" bin/python \
  "torch 2.15.0, transformers 5.25.0" "2.5 GB" check
