#!/usr/bin/env python3
"""Write pytorch_model.bin files the way torch.save does, without PyTorch.

Usage (from the repository root; Python 3.8+, standard library only):

    python3 scripts/make_torchbin_fixture.py
        Regenerates model/testdata/torchbin/. The output is deterministic
        (seeded values, fixed zip timestamps): rerunning it rewrites the same
        bytes, so `git status` shows whether the committed fixtures are current.

    python3 scripts/make_torchbin_fixture.py --convert SRC.safetensors DST.bin
        Writes the tensors of a safetensors file as a pytorch_model.bin, one
        storage per tensor, in file order. model/torchbin_test.go runs this on
        the real all-MiniLM-L6-v2 weights when python3 is on PATH.

Why no torch: the PyPI wheel pulls in about 2 GB of CUDA libraries, and the Go
reader wants an independent writer anyway. This script mimics the format of
torch.save (PyTorch >= 1.6, "_use_new_zipfile_serialization"), following
PyTorch 2.x's torch/serialization.py (_save: the persistent_id tuple, the
record order data.pkl, .format_version, .storage_alignment, byteorder,
data/<key>) and caffe2/serialize/inline_container.cc (PyTorchStreamWriter:
every record stored uncompressed under "<archive>/", its data aligned to 64
bytes with an "FB" padding extra field; "version" ("3\n") and
.data/serialization_id written last), and torch/_tensor.py / torch/_utils.py
for how a tensor pickles (_rebuild_tensor_v2 over a typed storage,
_rebuild_tensor_v3 over an UntypedStorage, _rebuild_parameter).

The pickle itself is made by Python's own pickle module, not by hand: stand-in
modules named torch, torch._utils and torch.storage are installed in
sys.modules, holding functions and classes whose __module__ and __qualname__
make the pickler emit exactly the GLOBALs torch's objects do
(torch._utils _rebuild_tensor_v2, torch FloatStorage, collections
OrderedDict, ...), and a persistent_id returns torch's storage tuple
('storage', torch.FloatStorage, key, 'cpu', numel). The stand-ins cannot be
unpickled by torch-less Python; torch.load reads the files.

Known differences from torch's bytes: Python's zipfile also puts the padding
extra field in the central directory (miniz puts it only in the local
header), and never writes a zip64 end record for small files (miniz does).
Zip readers, torch's included, do not care.
"""

import argparse
import collections
import json
import os
import pickle
import random
import struct
import sys
import types
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "model", "testdata", "torchbin")

# ---------------------------------------------------------------------------
# Stand-ins for the torch objects that appear in a saved state dict.

if "torch" in sys.modules:
    sys.exit("make_torchbin_fixture.py must not run alongside a real torch import")

_torch = types.ModuleType("torch")
_torch_utils = types.ModuleType("torch._utils")
_torch_storage = types.ModuleType("torch.storage")
_torch._utils, _torch.storage = _torch_utils, _torch_storage
sys.modules.update({"torch": _torch, "torch._utils": _torch_utils, "torch.storage": _torch_storage})


def _stand_in_function(module, name):
    def f(*args):
        raise RuntimeError("stand-in for %s.%s: load the file with torch" % (module, name))

    f.__module__, f.__name__, f.__qualname__ = module, name, name
    setattr(sys.modules[module], name, f)
    return f


_rebuild_tensor_v2 = _stand_in_function("torch._utils", "_rebuild_tensor_v2")
_rebuild_tensor_v3 = _stand_in_function("torch._utils", "_rebuild_tensor_v3")
_rebuild_parameter = _stand_in_function("torch._utils", "_rebuild_parameter")


def _stand_in_class(module, name):
    cls = type(name, (), {"__module__": module})
    cls.__qualname__ = name
    setattr(sys.modules[module], name, cls)
    return cls


class dtype:
    """torch.dtype: pickles as the global torch.<name>, as torch's does."""

    __module__ = "torch"

    def __init__(self, name, fmt, size, storage):
        self.name, self.fmt, self.size = name, fmt, size
        self.storage = _stand_in_class("torch", storage) if storage else None
        setattr(_torch, name, self)

    def __reduce__(self):
        return self.name


# name -> (struct format, element size, legacy typed storage, safetensors dtype)
DTYPES = {}
for _name, _fmt, _size, _storage, _st in [
    ("float32", "f", 4, "FloatStorage", "F32"),
    ("float64", "d", 8, "DoubleStorage", "F64"),
    ("float16", "e", 2, "HalfStorage", "F16"),
    ("bfloat16", None, 2, "BFloat16Storage", "BF16"),
    ("int64", "q", 8, "LongStorage", "I64"),
    ("int32", "i", 4, "IntStorage", "I32"),
    ("uint8", "B", 1, "ByteStorage", "U8"),
]:
    DTYPES[_name] = dtype(_name, _fmt, _size, _storage)
    DTYPES[_name].st = _st
ST_TO_DTYPE = {d.st: d for d in DTYPES.values()}
UntypedStorage = _stand_in_class("torch.storage", "UntypedStorage")


class Storage:
    """A storage: raw little-endian bytes of numel elements of dtype."""

    def __init__(self, dt, data, untyped=False):
        self.dtype, self.data, self.untyped = dt, bytes(data), untyped
        assert len(self.data) % dt.size == 0

    def persistent_id(self, key):
        if self.untyped:  # torch.save: numel of an UntypedStorage is its nbytes
            return ("storage", UntypedStorage, key, "cpu", len(self.data))
        return ("storage", self.dtype.storage, key, "cpu", len(self.data) // self.dtype.size)


class Tensor:
    """A strided view of a Storage, pickled as torch.Tensor.__reduce_ex__ does."""

    def __init__(self, storage, size, stride=None, offset=0, how="v2"):
        if stride is None:
            stride, n = [], 1
            for d in reversed(size):
                stride.insert(0, n)
                n *= d
        self.storage, self.size, self.stride, self.offset, self.how = storage, tuple(size), tuple(stride), offset, how

    def __reduce__(self):
        hooks = collections.OrderedDict()  # torch pickles backward_hooks as an empty OrderedDict
        if self.how == "parameter":  # torch.nn.Parameter.__reduce_ex__
            plain = Tensor(self.storage, self.size, self.stride, self.offset)
            return (_rebuild_parameter, (plain, False, hooks))
        if self.how == "v3":  # PyTorch 2: an UntypedStorage plus the dtype
            return (_rebuild_tensor_v3, (self.storage, self.offset, self.size, self.stride, False, hooks, self.storage.dtype))
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False, hooks))


class _Pickler(pickle.Pickler):
    """torch.serialization._save's pickler: storages become persistent ids."""

    def __init__(self, f, protocol):
        super().__init__(f, protocol=protocol)
        self.storages = {}  # key -> Storage, in first-use order (torch's id_map)
        self._keys = {}

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            key = self._keys.setdefault(id(obj), str(len(self._keys)))
            self.storages[key] = obj
            return obj.persistent_id(key)
        return None


# ---------------------------------------------------------------------------
# The zip container.


class TorchZipWriter:
    """caffe2::serialize::PyTorchStreamWriter, on top of zipfile."""

    ALIGNMENT = 64  # kFieldAlignment

    def __init__(self, path, archive):
        self.archive = archive
        self.zf = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED)
        self.crcs = []

    def write_record(self, name, data):
        if isinstance(data, str):
            data = data.encode("ascii")
        full = self.archive + "/" + name
        info = zipfile.ZipInfo(full, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        # getPadding: pad the local header's extra field so the data starts
        # on a 64-byte boundary. 30 is the local header size, 4 the FB header.
        start = self.zf.fp.tell() + 30 + len(full.encode()) + 4
        pad = -start % self.ALIGNMENT
        info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        self.zf.writestr(info, data)
        self.crcs.append(zlib.crc32(data))

    def close(self):
        # writeEndOfFile: version (< 6 goes in "version"), then the id.
        self.write_record("version", "3\n")
        self.write_record(".data/serialization_id", "%020d" % zlib.crc32(struct.pack("<%dI" % len(self.crcs), *self.crcs)))
        self.zf.close()


def torch_save(obj, path, archive="archive", protocol=2, byteorder="little", new_records=True):
    """torch.save(obj, path) for obj built of Tensor, Storage and dicts."""
    buf = _BytesIO()
    p = _Pickler(buf, protocol)
    p.dump(obj)
    w = TorchZipWriter(path, archive)
    w.write_record("data.pkl", buf.getvalue())
    if new_records:  # PyTorch >= 2.1 writes these; 1.6 to 2.0 did not
        w.write_record(".format_version", "1")
        w.write_record(".storage_alignment", "64")
        w.write_record("byteorder", byteorder)
    for key, s in p.storages.items():
        data = s.data
        if byteorder == "big":
            data = _swap(data, s.dtype.size)
        w.write_record("data/" + key, data)
    w.close()


def _swap(data, width):
    return b"".join(data[i : i + width][::-1] for i in range(0, len(data), width))


class _BytesIO:
    def __init__(self):
        self.parts = []

    def write(self, b):
        self.parts.append(bytes(b))

    def getvalue(self):
        return b"".join(self.parts)


def write_safetensors(path, tensors):
    """The safetensors format: u64 LE header length, JSON header, data.

    tensors: name -> (safetensors dtype, shape, raw little-endian bytes).
    """
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        st, shape, data = tensors[name]
        header[name] = {"dtype": st, "shape": list(shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------------------
# Values.


def f32_bytes(values):
    return struct.pack("<%df" % len(values), *values)


def f16_bytes(values):
    return struct.pack("<%de" % len(values), *values)


def bf16_bytes(values):
    out = []
    for v in values:
        (bits,) = struct.unpack("<I", struct.pack("<f", v))
        bits += 0x7FFF + ((bits >> 16) & 1)  # round to nearest even
        out.append(struct.pack("<H", (bits >> 16) & 0xFFFF))
    return b"".join(out)


def contiguous(dt, shape, data):
    """A tensor with its own storage."""
    return Tensor(Storage(dt, data), shape)


# ---------------------------------------------------------------------------
# The fixtures.

CONFIG = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 8,
    "initializer_range": 0.02,
    "intermediate_size": 16,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 16,
    "model_type": "bert",
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "type_vocab_size": 2,
    "vocab_size": 30,
}
NUM_LABELS = 3


def bert_shapes(c):
    """name -> shape of a BertModel, in state_dict order."""
    h, f = c["hidden_size"], c["intermediate_size"]
    s = collections.OrderedDict()
    s["embeddings.word_embeddings.weight"] = (c["vocab_size"], h)
    s["embeddings.position_embeddings.weight"] = (c["max_position_embeddings"], h)
    s["embeddings.token_type_embeddings.weight"] = (c["type_vocab_size"], h)
    s["embeddings.LayerNorm.weight"] = (h,)
    s["embeddings.LayerNorm.bias"] = (h,)
    for i in range(c["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        for lin, o, n in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
        ]:
            s[p + lin + ".weight"], s[p + lin + ".bias"] = (o, n), (o,)
            if lin == "attention.output.dense":
                s[p + "attention.output.LayerNorm.weight"] = (h,)
                s[p + "attention.output.LayerNorm.bias"] = (h,)
        s[p + "intermediate.dense.weight"], s[p + "intermediate.dense.bias"] = (f, h), (f,)
        s[p + "output.dense.weight"], s[p + "output.dense.bias"] = (h, f), (h,)
        s[p + "output.LayerNorm.weight"], s[p + "output.LayerNorm.bias"] = (h,), (h,)
    s["pooler.dense.weight"], s["pooler.dense.bias"] = (h, h), (h,)
    return s


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def random_values(rng, shape):
    # Round through float32 so that Python and the files agree exactly.
    return [struct.unpack("<f", struct.pack("<f", rng.gauss(0, 0.5)))[0] for _ in range(numel(shape))]


# Tensors stored in something other than their own float32 storage.
F16_TENSOR = "embeddings.token_type_embeddings.weight"
BF16_TENSOR = "embeddings.LayerNorm.weight"
SHARED = ("encoder.layer.0.attention.self.query.bias", "encoder.layer.0.attention.self.key.bias")
TRANSPOSED = "encoder.layer.1.intermediate.dense.weight"


def bert_state_dict(rng, classifier):
    """A random tiny BERT as (state dict of Tensors, reference tensors).

    The reference maps each name to (safetensors dtype, shape, bytes) for
    write_safetensors: the same values, contiguous, in the same dtype.
    """
    shapes = bert_shapes(CONFIG)
    if classifier:
        shapes["classifier.weight"] = (NUM_LABELS, CONFIG["hidden_size"])
        shapes["classifier.bias"] = (NUM_LABELS,)
    values = {n: random_values(rng, s) for n, s in shapes.items()}
    sd, ref = collections.OrderedDict(), {}

    # Two biases in one storage, at offsets 2 and 10 of 20 elements: views of
    # a larger parameter, or tied weights, look like this.
    q, k = SHARED
    h = CONFIG["hidden_size"]
    pad = [9.0, -9.0]
    shared = Storage(DTYPES["float32"], f32_bytes(pad + values[q] + values[k] + pad))

    for name, shape in shapes.items():
        v = values[name]
        if name == F16_TENSOR:
            data = f16_bytes(v)
            sd[name], ref[name] = contiguous(DTYPES["float16"], shape, data), ("F16", shape, data)
        elif name == BF16_TENSOR:
            data = bf16_bytes(v)
            sd[name], ref[name] = contiguous(DTYPES["bfloat16"], shape, data), ("BF16", shape, data)
        elif name in SHARED:
            off = 2 if name == q else 2 + h
            sd[name], ref[name] = Tensor(shared, shape, offset=off), ("F32", shape, f32_bytes(v))
        elif name == TRANSPOSED:
            # Stored as its transpose, viewed with swapped strides: what
            # torch.save keeps for w.t() (a non-contiguous tensor).
            rows, cols = shape
            t = [v[r * cols + c] for c in range(cols) for r in range(rows)]
            sd[name] = Tensor(Storage(DTYPES["float32"], f32_bytes(t)), shape, stride=(1, rows))
            ref[name] = ("F32", shape, f32_bytes(v))
        else:
            data = f32_bytes(v)
            sd[name], ref[name] = contiguous(DTYPES["float32"], shape, data), ("F32", shape, data)
        if name == "embeddings.LayerNorm.bias":
            # The int64 position_ids buffer older transformers versions save.
            m = CONFIG["max_position_embeddings"]
            ids = struct.pack("<%dq" % m, *range(m))
            sd["embeddings.position_ids"] = contiguous(DTYPES["int64"], (1, m), ids)
            ref["embeddings.position_ids"] = ("I64", (1, m), ids)
    # model.state_dict() carries each module's version as an attribute;
    # pickling it adds a BUILD to the OrderedDict.
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("embeddings", {"version": 1})])
    return sd, ref


def renamed(sd, ref, rename):
    sd2 = collections.OrderedDict((rename(n), t) for n, t in sd.items())
    sd2._metadata = sd._metadata
    return sd2, {rename(n): v for n, v in ref.items()}


def for_classification(name):
    return name if name.startswith("classifier.") else "bert." + name


def old_layernorm(name):
    return name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")


def variants(rng):
    """Tensors in every other form the reader accepts, saved with protocol 4."""
    sd, ref = collections.OrderedDict(), {}
    v = random_values(rng, (2, 3))
    sd["param"] = Tensor(Storage(DTYPES["float32"], f32_bytes(v)), (2, 3), how="parameter")
    ref["param"] = ("F32", (2, 3), f32_bytes(v))
    v = random_values(rng, (4,))
    data = f16_bytes(v)
    sd["v3_half"] = Tensor(Storage(DTYPES["float16"], data, untyped=True), (4,), how="v3")
    ref["v3_half"] = ("F16", (4,), data)
    v = random_values(rng, (3,))
    sd["v3_float"] = Tensor(Storage(DTYPES["float32"], f32_bytes(v), untyped=True), (3,), how="v3")
    ref["v3_float"] = ("F32", (3,), f32_bytes(v))
    v = [rng.gauss(0, 1) for _ in range(5)]
    data = struct.pack("<5d", *v)
    sd["double"] = contiguous(DTYPES["float64"], (5,), data)
    ref["double"] = ("F64", (5,), data)
    sd["scalar"] = contiguous(DTYPES["float32"], (), f32_bytes([1.5]))
    ref["scalar"] = ("F32", (), f32_bytes([1.5]))
    sd["empty"] = contiguous(DTYPES["float32"], (0, 4), b"")
    ref["empty"] = ("F32", (0, 4), b"")
    # A broadcast view (stride 0): every row is the same 3 values.
    row = random_values(rng, (3,))
    sd["expanded"] = Tensor(Storage(DTYPES["float32"], f32_bytes(row)), (2, 3), stride=(0, 1))
    ref["expanded"] = ("F32", (2, 3), f32_bytes(row + row))
    sd["ints"] = contiguous(DTYPES["int32"], (3,), struct.pack("<3i", 1, 2, 3))
    ref["ints"] = ("I32", (3,), struct.pack("<3i", 1, 2, 3))
    return sd, ref


def big_endian(rng):
    sd, ref = collections.OrderedDict(), {}
    for name, dt, pack in [("f32", "float32", f32_bytes), ("f16", "float16", f16_bytes), ("bf16", "bfloat16", bf16_bytes)]:
        data = pack(random_values(rng, (2, 2)))
        sd[name] = contiguous(DTYPES[dt], (2, 2), data)
        ref[name] = (DTYPES[dt].st, (2, 2), data)
    return sd, ref


def legacy_header():
    """The start of a pre-1.6 torch.save file: magic, protocol, sys_info."""
    out = _BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


def make_fixtures():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(20240601)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2, sort_keys=True)
        f.write("\n")

    def save(name, sd, ref, **kw):
        torch_save(sd, os.path.join(OUT, name + ".bin"), **kw)
        if ref is not None:
            write_safetensors(os.path.join(OUT, name + ".safetensors"), ref)

    sd, ref = bert_state_dict(rng, classifier=False)
    save("bert_model", sd, ref)
    cls_sd, cls_ref = bert_state_dict(rng, classifier=True)
    save("bert_cls", *renamed(cls_sd, cls_ref, for_classification))
    # The same values under the names of checkpoints from before
    # transformers 2.x; the Go test compares it with bert_cls.safetensors.
    gamma_sd, _ = renamed(cls_sd, cls_ref, lambda n: old_layernorm(for_classification(n)))
    save("bert_cls_gamma", gamma_sd, None, archive="bert_cls_gamma", new_records=False)
    save("variants", *variants(rng), archive="variants", protocol=4)
    save("bigendian", *big_endian(rng), byteorder="big")
    with open(os.path.join(OUT, "legacy.bin"), "wb") as f:
        f.write(legacy_header())


def convert(src, dst):
    """Rewrite a safetensors file as pytorch_model.bin."""
    with open(src, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    header.pop("__metadata__", None)
    data = memoryview(blob)[8 + n :]
    sd = collections.OrderedDict()
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        lo, hi = e["data_offsets"]
        sd[name] = contiguous(ST_TO_DTYPE[e["dtype"]], e["shape"], data[lo:hi])
    archive = os.path.splitext(os.path.basename(dst))[0]
    torch_save(sd, dst, archive=archive)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--convert", nargs=2, metavar=("SRC", "DST"), help="convert SRC.safetensors to DST (a pytorch_model.bin)")
    args = ap.parse_args()
    if args.convert:
        convert(*args.convert)
    else:
        make_fixtures()


if __name__ == "__main__":
    main()
