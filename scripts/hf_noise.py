#!/usr/bin/env python3
"""How far HF transformers' own bf16 answers lie from each other, beside koeval's (issue 5's bf16
parity goal: per-request log-likelihood within 0.02 nats of HF bf16 on >= 99.9% of requests).

On the GPU machine, for one saved checkpoint (a random-init gemma-3 shape from
../shared/bench/hf_baseline.py SAVE_DIR), scores the same requests as hf_baseline.py's "opt" variant
(bf16 logits where needed, fp32 log-softmax) under several HF configurations:

    hf-bf16-sdpa    the reference of the goal (= hf_baseline.py's opt variant, batch 64)
    hf-bf16-eager   the same weights and dtype, transformers' eager attention instead of SDPA
    hf-bf16-b16     SDPA at batch 16 (other padding, same kernels)
    hf-fp32         float32 weights and arithmetic (the exact answer to ~1e-5)
    hf-bf16-lmeval  SDPA at batch 64 with lm-eval's own log-softmax in bfloat16 (softmax_dtype None) and
                    bfloat16 sums (= hf_baseline.py's lmeval variant), and lm-eval's is_greedy: the
                    argmax of the rounded log-probs is the token at every position

and prints, for each pair with the reference and with hf-fp32, the share of requests within 0.02
nats, the median and largest difference and how often the chosen answer agrees. koeval's answers
join the table as extra files (bench_engine --ll-out lines "task doc choice ll greedy"); against
hf-bf16-lmeval the table also counts the requests whose is_greedy differs.

Usage: hf_noise.py CKPT_DIR OUT_DIR [NAME=KOEVAL_LL_FILE ...]
Env:   KOEVAL_DATA, KOEVAL_TOKENIZER, HF_BASELINE (as scripts/cuda_docs.py); CONFIGS to run a subset."""
import gzip
import importlib.util
import json
import math
import os
import sys
import time

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

TASKS = ["kobest_boolq", "kobest_copa", "kobest_wic", "kobest_hellaswag", "kobest_sentineg"]
CONFIGS = {  # name: (dtype, attention implementation, batch, lm-eval's bf16 log-softmax)
    "hf-bf16-sdpa": (torch.bfloat16, "sdpa", 64, False),
    "hf-bf16-eager": (torch.bfloat16, "eager", 64, False),
    "hf-bf16-b16": (torch.bfloat16, "sdpa", 16, False),
    "hf-fp32": (torch.float32, "sdpa", 64, False),
    "hf-bf16-lmeval": (torch.bfloat16, "sdpa", 64, True),
}


def baseline_module():
    spec = importlib.util.spec_from_file_location("hfb", os.environ["HF_BASELINE"])
    hfb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hfb)
    return hfb


def encoded_requests(hfb):
    raw = open(os.environ["KOEVAL_TOKENIZER"], "rb").read()
    if os.environ["KOEVAL_TOKENIZER"].endswith(".gz"):
        raw = gzip.decompress(raw)
    tok = Tokenizer.from_str(raw.decode())
    bos = tok.token_to_id("<bos>")
    reqs = hfb.requests()
    return [(r[0], r[1], r[2]) for r in reqs], [hfb.encode_pair(tok, bos, r[3], r[4]) for r in reqs]


def score(model, enc, batch, lmeval):
    """hf_baseline.py's opt variant: right-padded batches sorted by length, bf16 (or fp32) logits at
    the continuation positions only, fp32 log-softmax, sum per request. lmeval: the log-softmax in the
    logits' dtype, the sum of the gathered values in it too (torch sums a bf16 tensor in float32 and
    rounds), and is_greedy. Returns (lls, greedy or None)."""
    order = sorted(range(len(enc)), key=lambda k: -(len(enc[k][0]) + len(enc[k][1])))
    lls = [0.0] * len(enc)
    greedy = [False] * len(enc) if lmeval else None
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        inps = [(enc[k][0] + enc[k][1])[:-1] for k in idx]
        L = max(len(x) for x in inps)
        t = torch.zeros((len(inps), L), dtype=torch.long, device="cuda")
        for j, x in enumerate(inps):
            t[j, :len(x)] = torch.tensor(x, device="cuda")
        with torch.inference_mode():
            h = model.model(t).last_hidden_state
            pos, tgt = [], []
            for j, k in enumerate(idx):
                c, x = enc[k]
                n = len(c) + len(x) - 1
                pos += [j * L + p for p in range(n - len(x), n)]
                tgt += x
            hs = h.reshape(-1, h.shape[-1])[torch.tensor(pos, device="cuda")]
            tt = torch.tensor(tgt, device="cuda")
            logits = model.lm_head(hs)
            lsm = logits.log_softmax(-1) if lmeval else logits.float().log_softmax(-1)
            lp = lsm.gather(-1, tt[:, None])[:, 0]
            top = (lsm.argmax(-1) == tt).tolist() if lmeval else None
        off = 0
        for j, k in enumerate(idx):
            n = len(enc[k][1])
            lls[k] = float(lp[off:off + n].sum()) if lmeval else sum(lp[off:off + n].tolist())
            if lmeval:
                greedy[k] = all(top[off:off + n])
            off += n
    return lls, greedy


def compare(a, b, ga=None, gb=None):
    keys = sorted(a)
    gdiff = f"{sum(1 for k in keys if ga[k] != gb[k])} ({sum(ga.values())} / {sum(gb.values())} true)" if ga and gb else ""
    d = sorted(abs(a[k] - b[k]) for k in keys)
    nan = sum(1 for k in keys if math.isnan(a[k]) or math.isnan(b[k]))
    docs = {}
    for k in keys:
        docs.setdefault(k[:2], []).append(k)
    agree = sum(1 for ks in docs.values() if max(ks, key=lambda k: a[k]) == max(ks, key=lambda k: b[k]))
    within = sum(1 for x in d if x <= 0.02)
    return (f"{100 * within / len(d):.2f}% | {d[len(d) // 2]:.4f} | {d[min(len(d) - 1, int(0.999 * len(d)))]:.4f} | "
            f"{d[-1]:.4f} | {agree}/{len(docs)} | {nan} | {gdiff}")


def main():
    ckpt, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    hfb = baseline_module()
    keys, enc = encoded_requests(hfb)
    results, greedy = {}, {}
    for name in os.environ.get("CONFIGS", ",".join(CONFIGS)).split(","):
        dtype, attn, batch, lmeval = CONFIGS[name]
        t0 = time.time()
        model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=dtype, attn_implementation=attn, device_map="cuda").eval()
        lls, gr = score(model, enc, batch, lmeval)
        del model
        torch.cuda.empty_cache()
        results[name] = dict(zip(keys, lls))
        if gr:
            greedy[name] = dict(zip(keys, gr))
        with open(os.path.join(out, name + ".jsonl"), "w") as f:
            for n, ((task, i, j), ll) in enumerate(zip(keys, lls)):
                f.write(json.dumps({"task": task, "doc": i, "choice": j, "ll": ll} | ({"is_greedy": gr[n]} if gr else {})) + "\n")
        print(f"{name}: {time.time() - t0:.1f} s", flush=True)
    for arg in sys.argv[3:]:
        name, path = arg.split("=", 1)
        ko, kg = {}, {}
        for line in open(path):
            t, d, c, ll, g = line.split()
            ko[(TASKS[int(t)], int(d), int(c))] = float(ll)
            kg[(TASKS[int(t)], int(d), int(c))] = g == "1"
        results[name], greedy[name] = ko, kg
    print("\n| pair | within 0.02 | median | p99.9 | max | same answer | NaN | is_greedy differs (true in each) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for ref in ("hf-bf16-sdpa", "hf-fp32", "hf-bf16-lmeval"):
        if ref not in results:
            continue
        for name in results:
            if name != ref:
                g = (greedy.get(ref), greedy.get(name)) if ref == "hf-bf16-lmeval" else (None, None)
                print(f"| {name} vs {ref} | {compare(results[ref], results[name], *g)} |")


if __name__ == "__main__":
    main()
