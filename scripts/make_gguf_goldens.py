#!/usr/bin/env python3
"""Goldens for the GGUF reader and dequantiser (tests/gguf/), made by the `gguf` Python package
(gguf-py, llama.cpp's reference reader/writer) and, for the real model, by HF transformers.

    python3 scripts/make_gguf_goldens.py synthetic    # tests/gguf/data/synthetic.gguf.gz + .tsv, small.gguf
    python3 scripts/make_gguf_goldens.py tiny         # tests/gguf/data/tiny_<arch>.gguf.gz + transformers goldens
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

tiny: per GGUF architecture koeval translates (llama, qwen2, gemma2, gemma3) a tiny random model written
  by gguf.GGUFWriter the way llama.cpp's converter lays it out, mixed tensor types, and what
  transformers loads from it (see dump_hf): tiny_<arch>_hf.tsv.gz and tiny_<arch>_config.json.

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

    # A small valid file (one block of every dequantisable type, a few metadata kinds incl. a nested
    # array): the fuzzer's seed (scripts/fuzz.sh), small enough for mutations to reach every part.
    small = os.path.join(DATA, "small.gguf")
    w = gguf.GGUFWriter(small, arch="llama")
    w.add_uint32("llama.block_count", 1)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("t.bool", False)
    w.add_array("tokenizer.ggml.tokens", ["<s>", "a", "b"])
    w.add_key_value("t.nested", [[1], [2, 3]], V.ARRAY, sub_type=V.ARRAY)
    for qt in DEQUANT_TYPES:
        blck, _ = GGML_QUANT_SIZES[qt]
        raw = random_blocks(rng, qt, 1 if blck > 1 else 16)
        w.add_tensor("t." + qt.name, raw.reshape(1, -1), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {small} ({os.path.getsize(small)} bytes)")


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


def dump_hf(gguf_path, tsv_out, config_out):
    """What transformers loads from a GGUF: per state_dict tensor its shape, the exact checksums h1/h2 of
    its float32 values, sum, and the elements at a few flat positions; and its config (to_dict)."""
    import json

    import torch
    import transformers
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(gguf_path)),
                                                 gguf_file=os.path.basename(gguf_path), dtype=torch.float32)
    rows = []
    for name, p in model.state_dict().items():
        a = p.detach().to(torch.float32).contiguous().numpy().reshape(-1)
        h1, h2 = checksums(a)
        pos = sorted({0, 1, a.size // 3, a.size // 2, a.size - 1})
        rows.append("\t".join([name, "x".join(str(s) for s in p.shape), str(h1), str(h2),
                               repr(float(a.astype(np.float64).sum()))] + [f"{k}:{float(a[k])!r}" for k in pos]))
    with gzip.GzipFile(tsv_out, "wb", mtime=0) as f:
        f.write(("# hf_name\tshape\th1\th2\tsum\tpos:value...   (transformers %s, %s, float32)\n" % (
            transformers.__version__, os.path.basename(gguf_path)) + "\n".join(rows) + "\n").encode())
    cfg = model.config.to_dict()
    cfg.pop("_name_or_path", None)  # where this script ran: not part of the golden
    with open(config_out, "w") as f:
        json.dump(cfg, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    return len(rows)


# Tiny random models per GGUF architecture, laid out as llama.cpp's converter writes them (q/k rows
# permuted for llama, Gemma norms stored as 1+w), so that transformers' undoing of those conventions
# is what the goldens record.
TINY = {
    "llama": dict(hidden=32, layers=2, heads=4, kv=2, head_dim=8, inter=64, vocab=64, extra={
        "rope.dimension_count": 8, "rope.freq_base": 500000.0}),
    "qwen2": dict(hidden=32, layers=2, heads=4, kv=2, head_dim=8, inter=64, vocab=64, bias=True, extra={
        "rope.freq_base": 1000000.0}),
    "gemma2": dict(hidden=32, layers=2, heads=2, kv=1, head_dim=16, inter=64, vocab=64, gemma=True, extra={
        "attention.key_length": 16, "attention.value_length": 16, "attention.sliding_window": 16,
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0}),
    "gemma3": dict(hidden=32, layers=2, heads=2, kv=1, head_dim=16, inter=64, vocab=64, gemma=True, qk_norm=True,
                   extra={"attention.key_length": 16, "attention.value_length": 16, "attention.sliding_window": 16,
                          "rope.freq_base": 1000000.0}),
}


def tiny():
    rng = np.random.default_rng(4)
    for arch, c in TINY.items():
        path = os.path.join(DATA, f"tiny_{arch}.gguf")
        w = gguf.GGUFWriter(path, arch=arch)
        w.add_name(f"tiny {arch}")
        w.add_uint32(f"{arch}.context_length", 256)
        w.add_uint32(f"{arch}.embedding_length", c["hidden"])
        w.add_uint32(f"{arch}.block_count", c["layers"])
        w.add_uint32(f"{arch}.feed_forward_length", c["inter"])
        w.add_uint32(f"{arch}.attention.head_count", c["heads"])
        w.add_uint32(f"{arch}.attention.head_count_kv", c["kv"])
        w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-6)
        for k, v in c["extra"].items():
            (w.add_float32 if isinstance(v, float) else w.add_uint32)(f"{arch}.{k}", v)
        w.add_uint32(f"{arch}.vocab_size", c["vocab"])
        w.add_uint32("tokenizer.ggml.bos_token_id", 2)
        w.add_uint32("tokenizer.ggml.eos_token_id", 1)
        w.add_uint32("tokenizer.ggml.padding_token_id", 0)
        H, L, nh, nkv, hd, I, V = c["hidden"], c["layers"], c["heads"], c["kv"], c["head_dim"], c["inter"], c["vocab"]

        def mat(rows, cols, qt):
            x = (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)
            if qt == Q.F32:
                return x, None
            if qt == Q.F16:
                return x.astype(np.float16), None
            return gguf.quants.quantize(x, qt), qt

        def norm(n):
            x = rng.standard_normal(n).astype(np.float32) * 0.1
            return (x + 1).astype(np.float32) if c.get("gemma") else x + 1

        def add(name, arr_qt):
            arr, qt = arr_qt if isinstance(arr_qt, tuple) else (arr_qt, None)
            w.add_tensor(name, arr, raw_dtype=qt)

        add("token_embd.weight", mat(V, H, Q.Q8_0))
        add("output_norm.weight", norm(H))
        if not c.get("gemma"):
            add("output.weight", mat(V, H, Q.F16))   # untied for llama/qwen2
        kinds = [Q.F32, Q.Q8_0, Q.F16, Q.Q4_0, Q.Q5_0]
        for b in range(L):
            p = f"blk.{b}."
            add(p + "attn_norm.weight", norm(H))
            add(p + "attn_q.weight", mat(nh * hd, H, kinds[(b + 0) % 5]))
            add(p + "attn_k.weight", mat(nkv * hd, H, kinds[(b + 1) % 5]))
            add(p + "attn_v.weight", mat(nkv * hd, H, kinds[(b + 2) % 5]))
            add(p + "attn_output.weight", mat(H, nh * hd, kinds[(b + 3) % 5]))
            if c.get("bias"):
                add(p + "attn_q.bias", rng.standard_normal(nh * hd).astype(np.float32))
                add(p + "attn_k.bias", rng.standard_normal(nkv * hd).astype(np.float32))
                add(p + "attn_v.bias", rng.standard_normal(nkv * hd).astype(np.float32))
            if c.get("qk_norm"):
                add(p + "attn_q_norm.weight", norm(hd))
                add(p + "attn_k_norm.weight", norm(hd))
            add(p + "ffn_norm.weight", norm(H))
            if c.get("gemma"):
                add(p + "post_attention_norm.weight", norm(H))
                add(p + "post_ffw_norm.weight", norm(H))
            add(p + "ffn_gate.weight", mat(I, H, kinds[(b + 4) % 5]))
            add(p + "ffn_up.weight", mat(I, H, Q.F32))
            add(p + "ffn_down.weight", mat(H, I, Q.Q8_0 if I % 32 == 0 else Q.F32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        n = dump_hf(path, os.path.join(DATA, f"tiny_{arch}_hf.tsv.gz"), os.path.join(DATA, f"tiny_{arch}_config.json"))
        with open(path, "rb") as f_in, gzip.GzipFile(path + ".gz", "wb", mtime=0) as f_out:
            f_out.write(f_in.read())
        os.remove(path)
        print(f"wrote tiny_{arch}.gguf.gz and its transformers golden ({n} tensors)")


def real(path):
    r = gguf.GGUFReader(path)
    out = []
    for t in r.tensors:
        f = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False).reshape(-1)
        h1, h2 = checksums(np.ascontiguousarray(f))
        out.append(f"{t.name}\t{t.tensor_type.name}\t{f.size}\t{h1}\t{h2}")
        print(out[-1], flush=True)
    with gzip.GzipFile(os.path.join(DATA, "real_dequant.tsv.gz"), "wb", mtime=0) as f:
        f.write(("# name\ttype\tcount\th1\th2   (gguf.quants.dequantize, %s)\n" % os.path.basename(path)
                 + "\n".join(out) + "\n").encode())

    n = dump_hf(path, os.path.join(DATA, "real_hf.tsv.gz"), os.path.join(DATA, "real_hf_config.json"))
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    print(f"wrote real_dequant.tsv.gz ({len(out)} tensors), real_hf.tsv.gz ({n} tensors); sha256 {sha}")


if __name__ == "__main__":
    os.makedirs(DATA, exist_ok=True)
    what = sys.argv[1] if len(sys.argv) > 1 else "synthetic"
    if what == "synthetic":
        synthetic()
    elif what == "tiny":
        tiny()
    elif what == "real":
        real(sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "models", "gemma-3-270m-q4_k_m.gguf"))
    else:
        sys.exit(__doc__)
