#!/usr/bin/env python3
"""make_engine_goldens.py — per-request log-likelihoods of the tiny models, from HF transformers.

  python scripts/make_engine_goldens.py [--tiny tests/engine/tiny] [--out tests/engine/goldens]
  python scripts/make_engine_goldens.py --real models/gemma-3-270m-q4_k_m.gguf
  python scripts/make_engine_goldens.py --softmax_dtype bfloat16

Needs: transformers (>= 5), torch (CPU). Run scripts/make_tiny_models.py first. For every tiny model
it writes <out>/<name>.jsonl.gz, one JSON line per document:

  {"ctx": [ids], "conts": [[ids], ...], "logprob": [float, ...], "is_greedy": [bool, ...],
   "gap": [float, ...]}

computed exactly the way lm-eval 0.4.x's HFLM._loglikelihood_tokens does it, one choice at a time:
the model input is (ctx + cont)[:-1]; the log_softmax rows at the last len(cont) positions are
gathered at the continuation tokens and summed (float32, as torch does it); is_greedy is whether
torch's argmax of each of those rows equals the token. The model runs in float32 with eager
attention (AutoModelForCausalLM.from_pretrained(dtype=float32, attn_implementation="eager"), the
class lm-eval would get). "gap" is, per request, the smallest top-1 minus top-2 logit margin over the
continuation's positions: is_greedy is only a fair comparison where it is not ~0.

--softmax_dtype T is lm-eval's softmax_dtype=T: log_softmax(logits, dim=-1, dtype=T) (the float32
logits cast to T, the log-probs in T), the gathered log-probs summed as a T tensor (float32 accumulation,
the sum rounded to T), the argmax taken over the T log-probs; written to <name>.softmax_T.jsonl.gz.

Documents are deterministic (random.Random(seed)): context lengths from 1 to 70 (the sliding
windows are 16), 1-4 choices of 1-10 tokens, including choices that share a prefix, and in some
documents one choice that is the model's own greedy continuation (so is_greedy is sometimes true).
"""
import argparse
import gzip
import json
import os
import random

import torch

CTX_LENS = [1, 1, 2, 3, 5, 8, 13, 15, 16, 17, 20, 24, 31, 33, 40, 47, 52, 60, 64, 70]


def log_softmax(logits, dtype):
    if dtype is None or logits.is_cuda:
        return torch.log_softmax(logits, dim=-1, dtype=dtype)
    # torch's CPU kernel takes a faster, approximate exp in 16-bit dtypes; lm-eval runs on a GPU, whose
    # kernel rounds (x - max) - log(sum exp(x - max)), computed in float32, to dtype: that, exactly here
    x = logits.to(dtype).double()
    m = x.max(dim=-1, keepdim=True).values
    return ((x - m) - torch.log(torch.exp(x - m).sum(dim=-1, keepdim=True))).to(dtype)


@torch.no_grad()
def score(model, ctx, cont, softmax_dtype=None):
    inp = torch.tensor([(ctx + cont)[:-1]], device=model.device)
    logits = model(inp).logits[0].float()
    logp = log_softmax(logits, softmax_dtype)[-len(cont):]
    target = torch.tensor(cont, device=model.device)
    lp = logp.gather(1, target[:, None]).squeeze(1).sum()
    greedy = bool((logp.argmax(dim=-1) == target).all())
    rows = logits[-len(cont):]
    top2 = rows.topk(2, dim=-1).values
    gap = float((top2[:, 0] - top2[:, 1]).min())
    return float(lp), greedy, gap


@torch.no_grad()
def greedy_tokens(model, ctx, n):
    seq = list(ctx)
    for _ in range(n):
        logits = model(torch.tensor([seq], device=model.device)).logits[0, -1]
        seq.append(int(logits.argmax()))
    return seq[len(ctx):]


def documents(model, vocab, seed):
    rng = random.Random(seed)
    docs = []
    for i, n_ctx in enumerate(CTX_LENS):
        ctx = [rng.randrange(vocab) for _ in range(n_ctx)]
        if i % 5 == 1:
            ctx[0] = 0
        if i % 5 == 2:
            ctx[-1] = vocab - 1
        k = 1 + rng.randrange(4)
        conts = []
        for c in range(k):
            n = 1 + rng.randrange(10)
            if c > 0 and rng.random() < 0.3:
                # shares a prefix with the previous choice (as real answer choices often do)
                prev = conts[-1]
                cut = rng.randrange(len(prev) + 1)
                cont = prev[:cut] + [rng.randrange(vocab) for _ in range(max(1, n - cut))]
            else:
                cont = [rng.randrange(vocab) for _ in range(n)]
            conts.append(cont)
        if i % 3 == 0:
            conts[rng.randrange(k)] = greedy_tokens(model, ctx, 1 + rng.randrange(3))
        docs.append((ctx, conts))
    return docs


def real_documents(model, vocab, seed):
    """A few long documents for a real model: contexts past its sliding window (512 for Gemma 3
    270M), 2-4 choices, one of them the model's greedy continuation."""
    rng = random.Random(seed)
    docs = []
    for i, n_ctx in enumerate([1, 37, 300, 700]):
        ctx = [rng.randrange(vocab) for _ in range(n_ctx)]
        conts = [[rng.randrange(vocab) for _ in range(1 + rng.randrange(8))]
                 for _ in range(2 + i % 3)]
        conts[0] = greedy_tokens(model, ctx, 1 + i % 3)
        docs.append((ctx, conts))
    return docs


def load(path):
    from transformers import AutoModelForCausalLM

    if path.endswith(".gguf"):  # dequantised by transformers, as lm-eval's HF backend does
        return AutoModelForCausalLM.from_pretrained(os.path.dirname(path) or ".",
                                                    gguf_file=os.path.basename(path),
                                                    dtype=torch.float32, attn_implementation="eager")
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                attn_implementation="eager")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", default="tests/engine/tiny")
    ap.add_argument("--out", default="tests/engine/goldens")
    ap.add_argument("--real", default=None,
                    help="a real model (folder or .gguf): writes <out>/real_<name>.jsonl.gz instead")
    ap.add_argument("--device", default="cpu", help="cuda: the models and torch's own CUDA log_softmax "
                    "(a check of the float64 formula the CPU uses for --softmax_dtype)")
    ap.add_argument("--softmax_dtype", default=None, choices=["bfloat16", "float16"],
                    help="lm-eval's softmax_dtype: writes <out>/<name>.softmax_<T>.jsonl.gz")
    args = ap.parse_args()
    sd = getattr(torch, args.softmax_dtype) if args.softmax_dtype else None
    os.makedirs(args.out, exist_ok=True)
    if args.real:
        stem = os.path.basename(args.real.rstrip("/")).removesuffix(".gguf")
        todo = [("real_" + stem, args.real, real_documents)]
    else:
        todo = [(name, os.path.join(args.tiny, name), documents)  # *_gptq: make_gptq_models.py
                for name in sorted(os.listdir(args.tiny)) if not name.endswith("_gptq")]
    for seed, (name, folder, make_docs) in enumerate(todo):
        try:
            model = load(folder).to(args.device)
        except ValueError as e:  # e.g. model_type exaone, which transformers 5.17 no longer knows
            print(f"{name}: skipped, transformers cannot load it: {str(e).splitlines()[0]}")
            continue
        model.eval()
        vocab = model.config.get_text_config().vocab_size
        lines = []
        n_req = n_greedy = 0
        min_gap = float("inf")
        for ctx, conts in make_docs(model, vocab, 1000 + seed):
            res = [score(model, ctx, c, sd) for c in conts]
            lines.append(json.dumps({"ctx": ctx, "conts": conts,
                                     "logprob": [r[0] for r in res],
                                     "is_greedy": [r[1] for r in res],
                                     "gap": [r[2] for r in res]}))
            n_req += len(res)
            n_greedy += sum(r[1] for r in res)
            min_gap = min(min_gap, min(r[2] for r in res))
        suffix = f".softmax_{args.softmax_dtype}" if sd else ""
        path = os.path.join(args.out, name + suffix + ".jsonl.gz")
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(("\n".join(lines) + "\n").encode())
        print(f"{name}: {len(lines)} docs, {n_req} requests, {n_greedy} greedy, "
              f"min top1-top2 gap {min_gap:.3g}")


if __name__ == "__main__":
    main()
