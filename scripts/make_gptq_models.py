#!/usr/bin/env python3
"""make_gptq_models.py — tiny GPTQ 4-bit checkpoints and their goldens from the real GPTQ runtime.

  python scripts/make_gptq_models.py [--tiny tests/engine/tiny] [--out tests/engine/goldens]

Needs: torch (CPU), transformers (>= 5), optimum and gptqmodel (the runtime transformers loads GPTQ
checkpoints through; measured with torch 2.15.0, transformers 5.24.0, optimum 2.3.0, gptqmodel
7.7.0, all from PyPI into a venv), safetensors, numpy. Writes under <tiny>/<name>/ config.json +
model.safetensors, and <out>/<name>.jsonl.gz (make_engine_goldens.py's format) and
<out>/<name>.dequant.tsv, for:

  gemma2_gptq  Gemma2ForCausalLM as make_tiny_models.py's gemma2 (softcaps, alternating sliding
               window 16) but hidden 64 / intermediate 128 so that group_size 32 gives 2 and 4
               groups; format "gptq" (v1: zeros stored minus 1), sym false (asymmetric zeros, 0 and
               15 included, so GPTQModel's v1 -> v2 word addition carries), desc_act false (g_idx
               i // 32), o_proj left unquantized (modules_in_block_to_quantize), tied head.
  llama_gptq   LlamaForCausalLM (llama3 rope scaling, untied lm_head kept in float16); format
               "gptq_v2" (zeros stored as they are), sym true (zero 8), desc_act true: every layer's
               g_idx is an act-order assignment (a random permutation of the inputs cut into groups
               of 32), as GPTQ's act-order writes it.

Weights are drawn as make_tiny_models.py draws them (torch.manual_seed, its randomise()), then each
linear layer of the decoder blocks is quantized round-to-nearest per (group, output) — the file
format is what is under test, not GPTQ's Hessian search — and packed exactly as GPTQModel packs:
qweight int32 [in / 8, out] (8 inputs per word, low bits first), qzeros int32 [groups, out / 8],
scales float16 [groups, out], g_idx int32 [in]. Non-quantized tensors are float16 (torch_dtype
float16), as GPTQ builds ship them.

The reference is the real runtime: AutoModelForCausalLM.from_pretrained(dtype=float32,
attn_implementation="eager") with GPTQConfig(backend="gptq_torch"), i.e. optimum's GPTQQuantizer
converting the blocks to GPTQModel's torch kernel (TorchLinear in gptqmodel/nn_modules/qlinear/
torch.py, TorchQuantLinear in older releases), whose forward dequantizes (_dequantize_weight_cached_248
there, PackableQuantLinear.dequantize_weight in gptqmodel/nn_modules/qlinear/__init__.py:
scales[g_idx] * (q - zeros[g_idx]) in float16, after optimum's post_init_model converted v1 zeros
with hf_convert_gptq_v1_to_v2_format, gptqmodel/utils/model.py), casts the weight to the float32
input and multiplies in float32. (On a CPU with AVX-512 GPTQModel's "auto" backend picks
TorchCpuAvx512Linear instead, a bf16 kernel; the torch kernel is the dequantize-then-matmul path
that koeval reproduces, so it is pinned.) The script checks that every loaded module is a
TorchLinear, that its dequantize_weight() equals this script's own unpacking formula bit for
bit, and writes per layer an FNV-1a 64 hash of the float16 [out, in] weight it dequantized
(<name>.dequant.tsv, checked by tests/model/test_gptq.c). The log-likelihoods are computed by
make_engine_goldens.py's score() on make_engine_goldens.py's documents (float32 compute).
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_engine_goldens as meg  # noqa: E402
import make_tiny_models as mtm  # noqa: E402

BITS, GROUP = 4, 32
PF = 32 // BITS
MAXQ = (1 << BITS) - 1
V1_ADD = sum(1 << (k * BITS) for k in range(PF))  # 0x11111111

MODELS = {
    "gemma2_gptq": {
        "seed": 2001, "qk_gain": 5.0, "sym": False, "desc_act": False, "format": "gptq",
        "skip": ["self_attn.o_proj"],
        "config": {**mtm.MODELS["gemma2"]["config"], "hidden_size": 64, "intermediate_size": 128},
    },
    "llama_gptq": {
        "seed": 2002, "qk_gain": 1.0, "sym": True, "desc_act": True, "format": "gptq_v2",
        "skip": [],
        "config": {**mtm.MODELS["llama"]["config"]},
    },
}
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def to_i32(x):
    """uint32 values (int64 array) -> the int32 bit pattern torch stores."""
    return torch.from_numpy(((x & 0xFFFFFFFF).astype(np.uint32)).view(np.int32).copy())


def quantize(w, sym, desc_act, rng):
    """w: float32 [out, in] -> (q [in, out], zeros [G, out], scales fp16 [G, out], g_idx [in])."""
    out_f, in_f = w.shape
    groups = in_f // GROUP
    if desc_act:  # act-order: inputs taken in a permuted order, consecutive runs of 32 form groups
        perm = rng.permutation(in_f)
        g_idx = np.empty(in_f, dtype=np.int64)
        g_idx[perm] = np.arange(in_f) // GROUP
    else:
        g_idx = np.arange(in_f) // GROUP
    scales = np.empty((groups, out_f), dtype=np.float16)
    zeros = np.empty((groups, out_f), dtype=np.int64)
    for g in range(groups):
        cols = w[:, g_idx == g]  # [out, 32]
        lo, hi = np.minimum(cols.min(1), 0), np.maximum(cols.max(1), 0)
        if sym:
            amax = np.maximum(-lo, hi)
            s = (2 * amax / MAXQ).astype(np.float16)
            z = np.full(out_f, (MAXQ + 1) // 2)
        else:
            s = ((hi - lo) / MAXQ).astype(np.float16)
            z = np.clip(np.round(-lo / s.astype(np.float32)), 0, MAXQ).astype(np.int64)
        scales[g], zeros[g] = s, z
    # Asymmetric: make sure the extreme zeros occur (0 and 15: the v1 word addition carries there).
    if not sym:
        zeros[0, 0], zeros[-1, -1] = 0, MAXQ
    s32 = scales.astype(np.float32)[g_idx].T  # [out, in]
    z64 = zeros[g_idx].T
    q = np.clip(np.round(w / s32 + z64), 0, MAXQ).astype(np.int64).T  # [in, out]
    return q, zeros, scales, g_idx


def pack_rows(q):
    """[in, out] values -> [in / PF, out] words, PF consecutive inputs per word, low bits first."""
    words = np.zeros((q.shape[0] // PF, q.shape[1]), dtype=np.int64)
    for j in range(PF):
        words |= q[j::PF] << (BITS * j)
    return words


def pack_cols(z):
    """[G, out] values -> [G, out / PF] words, PF consecutive outputs per word."""
    words = np.zeros((z.shape[0], z.shape[1] // PF), dtype=np.int64)
    for j in range(PF):
        words |= z[:, j::PF] << (BITS * j)
    return words


def dequant_formula(qweight, qzeros, scales, g_idx, v1):
    """The unpacking as GPTQModel's torch kernel does it, in numpy: float16 [out, in]."""
    qw = qweight.numpy().view(np.uint32).astype(np.int64)
    qz = qzeros.numpy().view(np.uint32).astype(np.int64)
    if v1:
        qz = (qz + V1_ADD) & 0xFFFFFFFF
    shifts = np.arange(PF) * BITS
    q = ((qw[:, None, :] >> shifts[None, :, None]) & MAXQ).reshape(-1, qw.shape[1])  # [in, out]
    z = ((qz[:, :, None] >> shifts[None, None, :]) & MAXQ).reshape(qz.shape[0], -1)  # [G, out]
    g = g_idx.numpy().astype(np.int64)
    diff = (q - z[g]).astype(np.float16)
    return (scales.numpy()[g] * diff).T  # float16 product: one rounding, as torch's half multiply


def fnv64(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def build(name, spec, tiny_dir):
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = os.path.join(tiny_dir, name)
    os.makedirs(folder, exist_ok=True)
    qcfg = {"quant_method": "gptq", "bits": BITS, "group_size": GROUP, "desc_act": spec["desc_act"],
            "sym": spec["sym"], "damp_percent": 0.05, "true_sequential": True,
            "checkpoint_format": spec["format"]}
    if spec["skip"]:
        qcfg["modules_in_block_to_quantize"] = [[m for m in LINEARS if m not in spec["skip"]]]
    cfg = {**spec["config"], "torch_dtype": "float16", "quantization_config": qcfg}
    plain = {k: v for k, v in cfg.items() if k != "quantization_config"}
    tmp = os.path.join(folder, "config.json")
    with open(tmp, "w") as f:
        json.dump(plain, f)
    config = AutoConfig.from_pretrained(folder)
    torch.manual_seed(spec["seed"])
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    mtm.randomise(model, gemma=name.startswith("gemma"), qk_gain=spec["qk_gain"])
    rng = np.random.default_rng(spec["seed"])
    tensors, want = {}, {}
    tied = cfg.get("tie_word_embeddings", False)
    for pname, p in model.state_dict().items():
        prefix = pname.removesuffix(".weight")
        quant = pname.startswith("model.layers.") and pname.endswith(".weight") and \
            any(prefix.endswith(m) for m in LINEARS) and not any(prefix.endswith(m) for m in spec["skip"])
        if tied and pname == "lm_head.weight":
            continue
        if not quant:
            tensors[pname] = p.detach().to(torch.float16).contiguous()
            continue
        q, zeros, scales, g_idx = quantize(p.detach().numpy().astype(np.float32), spec["sym"],
                                           spec["desc_act"], rng)
        qz = pack_cols(zeros)
        if spec["format"] == "gptq":  # v1 stores zero - 1, as GPTQModel's v2 -> v1 word subtraction
            qz = qz - V1_ADD
        tensors[prefix + ".qweight"] = to_i32(pack_rows(q))
        tensors[prefix + ".qzeros"] = to_i32(qz)
        tensors[prefix + ".scales"] = torch.from_numpy(scales)
        tensors[prefix + ".g_idx"] = torch.from_numpy(g_idx.astype(np.int32))
        want[prefix] = dequant_formula(tensors[prefix + ".qweight"], tensors[prefix + ".qzeros"],
                                       tensors[prefix + ".scales"], tensors[prefix + ".g_idx"],
                                       spec["format"] == "gptq")
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return want


def load_reference(folder):
    from transformers import AutoModelForCausalLM, GPTQConfig
    from gptqmodel.nn_modules.qlinear.torch import TorchLinear  # TorchQuantLinear before 7.x

    qc = json.load(open(os.path.join(folder, "config.json")))["quantization_config"]
    model, info = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager", device_map="cpu",
        quantization_config=GPTQConfig(bits=qc["bits"], backend="gptq_torch"),
        output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise SystemExit(f"{folder}: loading problems: {bad}")
    model.eval()
    mods = {n: m for n, m in model.named_modules() if isinstance(m, TorchLinear)}
    others = [n for n, m in model.named_modules() if "QuantLinear" in type(m).__name__ and n not in mods]
    if others or not mods:
        raise SystemExit(f"{folder}: expected TorchLinear modules, got {others or 'none'}")
    return model, mods


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", default="tests/engine/tiny")
    ap.add_argument("--out", default="tests/engine/goldens")
    args = ap.parse_args()
    for seed, (name, spec) in enumerate(MODELS.items()):
        want = build(name, spec, args.tiny)
        folder = os.path.join(args.tiny, name)
        model, mods = load_reference(folder)
        if sorted(mods) != sorted(want):
            raise SystemExit(f"{name}: quantized modules {sorted(mods)} != written {sorted(want)}")
        rows = []
        with torch.no_grad():
            for prefix, m in sorted(mods.items()):
                got = m.dequantize_weight().T.contiguous()
                if got.dtype != torch.float16 or not np.array_equal(got.numpy().view(np.uint16),
                                                                    want[prefix].view(np.uint16)):
                    raise SystemExit(f"{name}: {prefix}: the runtime's dequantize differs from the formula")
                rows.append(f"{prefix}.weight\t{got.shape[0]}\t{got.shape[1]}\t"
                            f"{fnv64(got.numpy().tobytes()):016x}")
        with open(os.path.join(args.out, name + ".dequant.tsv"), "w") as f:
            f.write("# tensor\tout\tin\tfnv1a64 of the float16 [out, in] bytes that GPTQModel's "
                    "TorchLinear.dequantize_weight() gives (scripts/make_gptq_models.py)\n")
            f.write("\n".join(rows) + "\n")
        vocab = model.config.vocab_size
        lines, n_req, n_greedy, min_gap = [], 0, 0, float("inf")
        for ctx, conts in meg.documents(model, vocab, 3000 + seed):
            res = [meg.score(model, ctx, c) for c in conts]
            lines.append(json.dumps({"ctx": ctx, "conts": conts, "logprob": [r[0] for r in res],
                                     "is_greedy": [r[1] for r in res], "gap": [r[2] for r in res]}))
            n_req += len(res)
            n_greedy += sum(r[1] for r in res)
            min_gap = min(min_gap, min(r[2] for r in res))
        with gzip.GzipFile(os.path.join(args.out, name + ".jsonl.gz"), "wb", mtime=0) as f:
            f.write(("\n".join(lines) + "\n").encode())
        size = os.path.getsize(os.path.join(folder, "model.safetensors"))
        print(f"{name}: {size} bytes, {len(mods)} GPTQ layers, {len(lines)} docs, {n_req} requests, "
              f"{n_greedy} greedy, min top1-top2 gap {min_gap:.3g}")


if __name__ == "__main__":
    main()
