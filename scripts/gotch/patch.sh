#!/usr/bin/env bash
# patch.sh SRC DST LIBTORCH ABI: copy gotch from the Go module cache (SRC) to DST
# and apply this project's fixes for gotch v0.9.1:
#   - libtch/lib.go is replaced: link CPU-only (or CUDA when LIBTORCH has it)
#     against LIBTORCH with an rpath, and pass the C++ ABI flag in CXXFLAGS,
#     where g++ sees it (upstream puts it in CFLAGS);
#   - every generated op allocated its output slots with C.malloc(0) and never
#     freed them (and ops returning 4+ tensors wrote past them): allocate 16
#     slots and free them when the op returns;
#   - Must* ops called log.Fatal on a libtorch error, ending the process
#     where no caller can report it: they call log.Panic instead, which
#     autofreeze recovers at its package boundary and returns as an error;
#   - in-place ops leaked the tensor handle they replaced (and with it the
#     tensor);
#   - Float64Values/Int64Values leaked a converted copy (and with it a whole
#     autograd graph);
#   - v0.9.1.patch: Path.Sub aliasing, ClipGradNorm deadlock and norm,
#     VarStore.Unfreeze returning after the first variable, and gotch's
#     init calling log.Fatal when it cannot create $HOME/.cache/gotch
#     (every command, even --help, exited 1 with an unwritable HOME): it
#     falls back to the temporary directory.
set -euo pipefail
src=$1 dst=$2 torch=$3 abi=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

rm -rf "$dst.tmp"
cp -r "$src" "$dst.tmp"
chmod -R u+w "$dst.tmp"
cd "$dst.tmp"

patch --quiet -p1 <"$here/v0.9.1.patch"

# Output slots: 16 pointers is more than any op returns (at most 7).
for f in ts/tensor-generated.go ts/patch.go; do
  sed -i -E 's/^([[:space:]]*)(ptr|ctensorPtr0|ctensorPtr1) := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(C\.malloc\(0\)\)\)$/\1\2 := (*lib.Ctensor)(unsafe.Pointer(C.malloc(C.size_t(16 * unsafe.Sizeof(uintptr(0))))))\n\1defer C.free(unsafe.Pointer(\2))/' "$f"
  if grep -q 'C.malloc(0)' <(grep -v '^[[:space:]]*//' "$f" | grep -v '^ \*'); then
    echo "patch.sh: $f still has C.malloc(0) calls" >&2
    exit 1
  fi
done

for f in ts/must-tensor-generated.go ts/tensor.go ts/patch.go; do
  sed -i 's/\blog\.Fatal(err)/log.Panic(err)/' "$f"
done

# In-place ops (mul_, add_, zero_, ...) got a new torch::Tensor handle from
# C++ and overwrote the old one without deleting it: the old handle kept a
# reference, so a temporary updated in place (AdamW's denominators) was never
# freed, about twice the model's size every step. Free the old handle.
sed -i -E 's/^(  )ts\.ctensor = \*ptr$/\1lib.AtFree(ts.ctensor)\n\1ts.ctensor = *ptr/' ts/tensor-generated.go
if [[ $(grep -c '^  lib.AtFree(ts.ctensor)$' ts/tensor-generated.go) -lt 200 ]]; then
  echo "patch.sh: could not fix the in-place ops' handle leak" >&2
  exit 1
fi

# Float64Values and Int64Values left their converted copy to the GC; for a
# tensor with an autograd graph (a loss) the copy kept the whole graph and
# its activations alive, gigabytes within a few dozen steps.
sed -i 's|^\t// float64Ts.MustDrop()$|\tfloat64Ts.MustDrop()|; s|^\t// int64Ts.MustDrop()$|\tint64Ts.MustDrop()|' ts/tensor.go
if grep -q '// float64Ts.MustDrop()' ts/tensor.go || ! grep -q 'int64Ts.MustDrop()' ts/tensor.go; then
  echo "patch.sh: could not fix Float64Values/Int64Values" >&2
  exit 1
fi

libs="-ltorch_cpu -lc10"
if [[ -f "$torch/lib/libtorch_cuda.so" ]]; then
  # --no-as-needed keeps libtorch_cuda linked so its CUDA hooks register.
  libs="-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -ltorch_cpu -lc10 -Wl,--as-needed"
fi
id=$(cat "$torch/lib/libc10.so" "$torch/include/torch/csrc/api/include/torch/version.h" 2>/dev/null | sha256sum | cut -c1-16)
cat >libtch/lib.go <<GO
package libtch

// Written by autofreeze scripts/gotch/patch.sh for the libtorch in $torch.
// AUTOFREEZE_LIBTORCH_ID names that libtorch so the Go build cache rebuilds
// this package when it changes.

// #cgo LDFLAGS: -L$torch/lib -Wl,-rpath,$torch/lib $libs -lstdc++
// #cgo CFLAGS: -I\${SRCDIR} -I$torch/include/torch/csrc/api/include -O1 -g0 -w
// #cgo CXXFLAGS: -std=c++17 -O1 -g0 -w -D_GLIBCXX_USE_CXX11_ABI=$abi -DAUTOFREEZE_LIBTORCH_ID=$id
// #cgo CXXFLAGS: -I\${SRCDIR} -I$torch/include -I$torch/include/torch/csrc/api/include
import "C"
GO

cd - >/dev/null
rm -rf "$dst"
mv "$dst.tmp" "$dst"
