#!/usr/bin/env python3
"""Goldens for the GGUF reader and dequantiser (tests/gguf/), made by the `gguf` Python package
(gguf-py, llama.cpp's reference reader/writer) and, for the real model, by HF transformers.

    python3 scripts/make_gguf_goldens.py synthetic    # tests/gguf/data/synthetic.gguf.gz + .tsv
    python3 scripts/make_gguf_goldens.py real [FILE]  # tests/gguf/data/real_*.tsv.gz (needs the model:
                                                      # models/gemma-3-270m-q4_k_m.gguf by default)

synthetic: one small GGUF written by gguf.GGUFWriter holding
  - metadata of every value type, arrays of numbers/strings/bools and nested arrays, a custom
    general.alignment (64);
  - for each dequantisable type T, tensor "raw.T": random blocks (random bytes, f16 scale fields
    replaced by finite random halves; F16 also gets zeros, subnormals, max, inf and NaN), and tensor
    "want.T" (F32): gguf.quants.dequantize of exactly those bytes; for the types gguf can quantize,
    also "qraw.T" / "qwant.T" from gguf.quants.quantize of random normals.
  The .tsv lists what gguf.GGUFReader reads back for each tensor (name, type, ne, absolute data
  offset, byte size), which the C reader must reproduce.

real: for every tensor of the real file, a checksum of gguf.quants.dequantize's float32 output
  (real_dequant.tsv.gz: name, type, count, h1 = sum((bits+1)*(2i+1)) mod 2^64, h2 = sum(bits^2)
  mod 2^64 over the float32 bit patterns, so a single wrong bit anywhere changes h1); and per HF
  tensor of transformers' GGUF loading (AutoModelForCausalLM.from_pretrained(dir, gguf_file=...),
  float32, CPU) the sum, sum of squares and the elements at a few flat positions
  (real_hf.tsv.gz), which the translated model must match.
"""
import gzip
import hashlib
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "gguf", "data")

import gguf  # noqa: E402
from gguf import GGMLQuantizationType as Q  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES  # noqa: E402

DEQUANT_TYPES = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q4_K, Q.Q5_K, Q.Q6_K]
# byte offsets of f16 scale fields inside one block (kept finite and moderate)
F16_FIELDS = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2],
              Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}


def random_blocks(rng, qt, n_blocks):
    blck, size = GGML_QUANT_SIZES[qt]
    if qt == Q.F16:
        special = np.array([0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00,
                            0x3c00, 0xbc00], dtype=np.uint16)
        vals = rng.standard_normal(n_blocks * blck).astype(np.float16).view(np.uint16)
        vals[: len(special)] = special
        return vals.view(np.uint8).copy()
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for off in F16_FIELDS.get(qt, []):
        h = (rng.uniform(-2, 2, n_blocks) * 2.0 ** rng.integers(-12, 0, n_blocks)).astype(np.float16)
        raw[:, off:off + 2] = h.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(-1)


def synthetic():
    rng = np.random.default_rng(20261201)
    path = os.path.join(DATA, "synthetic.gguf")
    w = gguf.GGUFWriter(path, arch="testarch")
    w.add_custom_alignment(64)
    V = gguf.GGUFValueType
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 1.5)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "안녕 gguf")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 3.141592653589793)
    w.add_key_value("t.arr_u8", [1, 2, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("t.arr_i32", [-1, 0, 7], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("t.arr_f32", [0.25, -2.0], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("t.arr_bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_array("t.arr_str", ["a", "", "한국어", "xyz"])
    w.add_key_value("t.nested", [[1, 2], [3], [4, 5, 6]], V.ARRAY, sub_type=V.ARRAY)
    w.add_key_value("t.nested_str", [["p", "q"], ["r"]], V.ARRAY, sub_type=V.ARRAY)

    tensors = []
    for qt in DEQUANT_TYPES:
        blck, size = GGML_QUANT_SIZES[qt]
        ne0, ne1 = blck * 3 if blck > 1 else 48, 5
        raw = random_blocks(rng, qt, ne0 * ne1 // blck)
        want = gguf.quants.dequantize(raw, qt).astype(np.float32).reshape(ne1, ne0)
        tensors.append(("raw." + qt.name, raw.reshape(ne1, -1), qt))
        tensors.append(("want." + qt.name, want, Q.F32))
        if qt not in (Q.F32, Q.F16):
            try:
                x = rng.standard_normal((ne1, ne0)).astype(np.float32)
                qb = gguf.quants.quantize(x, qt)
            except (NotImplementedError, gguf.quants.QuantError):
                continue
            tensors.append(("qraw." + qt.name, qb, qt))
            tensors.append(("qwant." + qt.name, gguf.quants.dequantize(qb, qt).astype(np.float32).reshape(ne1, ne0), Q.F32))
    for name, arr, qt in tensors:
        w.add_tensor(name, arr, raw_dtype=qt if arr.dtype == np.uint8 else None)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    r = gguf.GGUFReader(path)
    # round-trip sanity of what the C test hard-codes
    assert r.fields["t.u64"].contents() == 2**63 + 5
    assert r.fields["t.nested"].contents() == [1, 2, 3, 4, 5, 6]  # GGUFReader flattens nested arrays
    assert r.fields["general.alignment"].contents() == 64
    lines = []
    for t in r.tensors:
        ne = list(int(x) for x in t.shape) + [1] * (4 - len(t.shape))
        lines.append("\t".join([t.name, str(int(t.tensor_type)), str(len(t.shape))] + [str(x) for x in ne]
                               + [str(int(t.data_offset)), str(int(t.n_bytes))]))
    with open(os.path.join(DATA, "synthetic.tsv"), "w") as f:
        f.write("# name\tggml_type\tn_dims\tne0\tne1\tne2\tne3\tdata_offset\tnbytes  (gguf.GGUFReader)\n")
        f.write(f"# n_kv {len(r.fields)} (incl. 3 GGUF.* header fields) n_tensors {len(r.tensors)}\n")
        f.write("\n".join(lines) + "\n")
    with open(path, "rb") as f_in, gzip.GzipFile(path + ".gz", "wb", mtime=0) as f_out:
        f_out.write(f_in.read())
    os.remove(path)
    print(f"wrote {path}.gz ({len(r.tensors)} tensors) and synthetic.tsv")


M64 = (1 << 64) - 1


def checksums(flat):
    """h1 = sum((bits+1)*(2i+1)), h2 = sum(bits^2), both mod 2^64, over float32 bit patterns."""
    bits = flat.view(np.uint32)
    h1 = np.uint64(0)
    h2 = np.uint64(0)
    step = 1 << 22
    with np.errstate(over="ignore"):
        for s in range(0, bits.size, step):
            b = bits[s:s + step].astype(np.uint64)
            i = np.arange(s, s + b.size, dtype=np.uint64)
            h1 = h1 + np.sum((b + np.uint64(1)) * (np.uint64(2) * i + np.uint64(1)), dtype=np.uint64)
            h2 = h2 + np.sum(b * b, dtype=np.uint64)
    return int(h1) & M64, int(h2) & M64


def real(path):
    r = gguf.GGUFReader(path)
    out = []
    for t in r.tensors:
        f = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False).reshape(-1)
        h1, h2 = checksums(np.ascontiguousarray(f))
        out.append(f"{t.name}\t{t.tensor_type.name}\t{f.size}\t{h1}\t{h2}")
        print(out[-1], flush=True)
    with gzip.open(os.path.join(DATA, "real_dequant.tsv.gz"), "wt", compresslevel=9) as f:
        f.write("# name\ttype\tcount\th1\th2   (gguf.quants.dequantize, gguf %s, %s)\n" % (
            getattr(gguf, "__version__", "?"), os.path.basename(path)))
        f.write("\n".join(out) + "\n")

    import torch
    from transformers import AutoModelForCausalLM
    import transformers
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)),
                                                 gguf_file=os.path.basename(path), dtype=torch.float32)
    rows = []
    for name, p in model.state_dict().items():
        a = p.detach().to(torch.float32).contiguous().numpy().reshape(-1).astype(np.float64)
        pos = [0, 1, a.size // 3, a.size // 2, a.size - 1]
        rows.append("\t".join([name, "x".join(str(s) for s in p.shape), repr(float(a.sum())),
                               repr(float((a * a).sum()))] + [f"{k}:{float(a[k])!r}" for k in pos]))
    with gzip.open(os.path.join(DATA, "real_hf.tsv.gz"), "wt", compresslevel=9) as f:
        f.write("# hf_name\tshape\tsum\tsumsq\tpos:value...   (transformers %s, %s, float32)\n" % (
            transformers.__version__, os.path.basename(path)))
        f.write("\n".join(rows) + "\n")
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    print(f"wrote real_dequant.tsv.gz ({len(out)} tensors), real_hf.tsv.gz ({len(rows)} tensors); sha256 {sha}")


if __name__ == "__main__":
    os.makedirs(DATA, exist_ok=True)
    what = sys.argv[1] if len(sys.argv) > 1 else "synthetic"
    if what == "synthetic":
        synthetic()
    elif what == "real":
        real(sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "models", "gemma-3-270m-q4_k_m.gguf"))
    else:
        sys.exit(__doc__)
