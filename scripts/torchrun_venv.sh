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

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS=${AUTOFREEZE_DEPS:-$ROOT/.deps}
DL=${AUTOFREEZE_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/autofreeze/downloads}
PY=${PYTHON:-python3}
REQ=$ROOT/scripts/torchrun-requirements.txt
VENV=$DEPS/torchrun-venv

log() { echo "torchrun_venv: $*" >&2; }
die() { echo "torchrun_venv: error: $*" >&2; exit 1; }

command -v "$PY" >/dev/null || die "'$PY' not found: install Python 3.11 (or set PYTHON)"
pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[[ $pyver == 3.11 ]] || die "$PY is Python $pyver; torch 2.1.0's pinned wheel is for CPython 3.11 (set PYTHON)"
[[ $(uname -sm) == "Linux x86_64" ]] || die "the pinned wheels are for x86-64 Linux, not $(uname -sm)"

mkdir -p "$DEPS/.stamps" "$DL"
# One builder at a time (tests may call this concurrently).
exec 9>"$DEPS/.stamps/torchrun-venv.lock"
flock 9

key="$(sha256sum "$REQ" | cut -c1-16) python$pyver"
stamp=$DEPS/.stamps/torchrun-venv
if [[ -f $stamp && "$(cat "$stamp")" == "$key" && -x $VENV/bin/torchrun ]]; then
  echo "$VENV/bin/torchrun"
  exit 0
fi

t0=$SECONDS
log "creating $VENV (torch 2.1.0 and what torchrun needs: scripts/torchrun-requirements.txt)"
rm -rf "$VENV" "$stamp"
"$PY" -m venv "$VENV"
pip=("$VENV/bin/pip" --disable-pip-version-check --no-input)
opts=(--no-deps --require-hashes --only-binary=:all: -r "$REQ")

# From the download cache alone when every wheel is there; otherwise fetch the missing ones
# from PyPI into the cache (pip keeps a cached file whose hash matches), then install.
if ! "${pip[@]}" install --quiet --no-index --find-links "$DL" "${opts[@]}" 2>/dev/null; then
  log "downloading the missing wheels from PyPI into $DL (about 2.4 GB in all)"
  "${pip[@]}" download --quiet -d "$DL" "${opts[@]}"
  "${pip[@]}" install --quiet --no-index --find-links "$DL" "${opts[@]}"
fi

# torch warns once per process that NumPy is missing; torchrun does not need it.
"$VENV/bin/python" -W ignore::UserWarning -c 'import torch, torch.distributed.run' ||
  die "torch does not import in $VENV"
"$VENV/bin/torchrun" --help >/dev/null 2>&1 || die "$VENV/bin/torchrun --help fails"

echo "$key" >"$stamp"
log "ready in $((SECONDS - t0)) s: $VENV/bin/torchrun ($(du -sh "$VENV" | cut -f1))"
echo "$VENV/bin/torchrun"
