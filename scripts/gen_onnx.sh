#!/usr/bin/env bash
# Regenerate frozen/onnxpb/onnx.pb.go, the Go types of the ONNX protobuf schema.
#
# onnx.proto comes from the PyPI `onnx` wheel pinned (with its sha256) in
# scripts/requirements-check.txt, the same wheel whose checker the tests run,
# so the types we write and the checker that judges them agree on the schema.
# protoc-gen-go is built at the version of google.golang.org/protobuf in go.mod,
# so the generated code matches the runtime it links against.
#
# Needs: protoc (Debian: apt-get install protobuf-compiler), pip, go.
# Run from anywhere; `go generate ./frozen/onnxpb` runs it too.
#
# Environment (optional):
#   AUTOFREEZE_DOWNLOADS  download cache (default ~/.cache/autofreeze/downloads)
#   ONNX_PROTO            use this onnx.proto instead of fetching the wheel
#                         (offline regeneration from the committed copy:
#                         ONNX_PROTO=frozen/onnxpb/onnx.proto)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/frozen/onnxpb
DL=${AUTOFREEZE_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/autofreeze/downloads}
REQ=$ROOT/scripts/requirements-check.txt
GOPKG=github.com/autofreeze/autofreeze/frozen/onnxpb

die() { echo "gen_onnx: error: $*" >&2; exit 1; }
command -v protoc >/dev/null || die "protoc not found (Debian: apt-get install protobuf-compiler)"
command -v go >/dev/null || die "go not found"

# The onnx pin and its wheel hash, read from the requirements file.
ONNX_VERSION=$(sed -n 's/^onnx==\([^ ]*\).*/\1/p' "$REQ")
ONNX_SHA256=$(sed -n '/^onnx==/,/--hash/s/.*--hash=sha256:\([0-9a-f]*\).*/\1/p' "$REQ" | head -1)
[[ -n "$ONNX_VERSION" && -n "$ONNX_SHA256" ]] || die "no pinned onnx==VERSION --hash=sha256:... in $REQ"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

proto=${ONNX_PROTO:-}
if [[ -z "$proto" ]]; then
  mkdir -p "$DL"
  wheel=$(ls "$DL"/onnx-"$ONNX_VERSION"-cp311-*.whl 2>/dev/null | head -1 || true)
  if [[ -z "$wheel" ]] || ! echo "$ONNX_SHA256  $wheel" | sha256sum --check --status; then
    command -v pip >/dev/null || die "pip not found (install Python 3 with pip)"
    echo "gen_onnx: downloading onnx==$ONNX_VERSION from PyPI" >&2
    pip download --quiet --no-deps --only-binary=:all: --implementation cp --python-version 3.11 \
      --platform manylinux_2_28_x86_64 -d "$DL" "onnx==$ONNX_VERSION"
    wheel=$(ls "$DL"/onnx-"$ONNX_VERSION"-cp311-*.whl | head -1)
  fi
  echo "$ONNX_SHA256  $wheel" | sha256sum --check --status ||
    die "$wheel has sha256 $(sha256sum "$wheel" | cut -d' ' -f1), want $ONNX_SHA256"
  unzip -q -p "$wheel" onnx/onnx.proto >"$tmp/onnx.proto"
  proto=$tmp/onnx.proto
fi
[[ -s "$proto" ]] || die "$proto is missing or empty"
mkdir -p "$OUT" "$tmp/gen"
cp "$proto" "$tmp/gen/onnx.proto"

# protoc-gen-go at the go.mod version of google.golang.org/protobuf.
PB_VERSION=$(cd "$ROOT" && go list -m -f '{{.Version}}' google.golang.org/protobuf)
GOBIN=$tmp/bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PB_VERSION"

# onnx.proto names no go_package; M maps it to ours.
(cd "$tmp/gen" && PATH="$tmp/bin:$PATH" protoc --go_out=. --go_opt=paths=source_relative \
  --go_opt="Monnx.proto=$GOPKG;onnxpb" onnx.proto)
cp "$tmp/gen/onnx.proto" "$OUT/onnx.proto"
cp "$tmp/gen/onnx.pb.go" "$OUT/onnx.pb.go"
echo "gen_onnx: wrote $OUT/onnx.pb.go from onnx $ONNX_VERSION's onnx.proto (protoc $(protoc --version | cut -d' ' -f2), protoc-gen-go $PB_VERSION)" >&2
