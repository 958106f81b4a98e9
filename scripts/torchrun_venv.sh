#!/usr/bin/env bash
# scripts/torchrun_venv.sh: a Python virtual environment with the real `torchrun` of
# torch 2.1.0 (the libtorch autofreeze links), for tests that launch
#   torchrun --no-python --nproc-per-node 2 bin/autofreeze train ...
# on a machine without a GPU. Prints the path of torchrun on stdout; logs go to stderr.
#
#   TORCHRUN=$(scripts/torchrun_venv.sh) &&
#     "$TORCHRUN" --no-python --standalone --nproc-per-node 2 env
#
# Installs exactly scripts/torchrun-requirements.txt (pinned, sha256-checked, --no-deps):
# the torch wheel, the ten NVIDIA library wheels that its shared libraries list as NEEDED,
# sympy, mpmath and typing_extensions. That is about 2.4 GB of wheels (the torch wheel,
# 670 MB, is the one `make setup` already fetched) and 4.0 GB installed.
#
# Idempotent: the wheels are cached in the download cache next to setup.sh's, and a stamp
# skips everything while the requirements file and the Python version are unchanged. A
# first run takes about a minute (the download from PyPI, then unpacking); a second, none.
#
# Environment (all optional, as for scripts/setup.sh):
#   PYTHON                CPython 3.11 interpreter to build the venv with (default python3)
#   AUTOFREEZE_DOWNLOADS  download cache (default ~/.cache/autofreeze/downloads)
#   AUTOFREEZE_DEPS       where the venv goes (default .deps in the repo: .deps/torchrun-venv)
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/pinned_venv.sh"

# torch warns once per process that NumPy is missing; torchrun does not need it.
check() {
  "$1/bin/python" -W ignore::UserWarning -c 'import torch, torch.distributed.run' &&
    "$1/bin/torchrun" --help >/dev/null 2>&1
}

pinned_venv torchrun-venv "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/torchrun-requirements.txt" bin/torchrun \
  "torch 2.1.0 and what torchrun needs" "2.4 GB" check
