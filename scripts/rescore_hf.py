#!/usr/bin/env python3
"""rescore_hf.py — re-scores, one request at a time, the requests on which a batched lm-eval run and a
koeval run disagree, with HF transformers itself: the arbiter when lm-eval's batched HF backend is
suspected of a batching artefact (padding) rather than koeval of a bug.

  python scripts/rescore_hf.py --gguf models/gemma-3-270m-q4_k_m.gguf --shots 5 \
      --ref lmeval_5shot.jsonl.gz --run KOEVAL_RUN [--tol 1e-3] [--koeval ./koeval]

--ref is lm-eval's golden file (scripts/make_e2e_goldens.py), --run a koeval output folder or compact
file (scripts/compare_lmeval.py --pack). For every document with a request whose two log-likelihoods
differ by more than --tol, each of its requests is rebuilt exactly as lm-eval 0.4.13 builds it
(`koeval requests` gives lm-eval's own Instance arguments, checked by tests/tasks/test_requests.sh;
lm-eval's _encode_pair moves the context's trailing whitespace to the continuation; the tokenizer is
transformers' own from the GGUF, with the BOS lm-eval adds for Gemma) and scored by the HF model in
float32 at batch size 1: input (context + continuation)[:-1], the sum of the continuation tokens'
log-softmax. Prints per request the three values and per document whose prediction HF batch 1 agrees
with; exit status 1 if koeval differs from HF batch 1 by more than --tol anywhere.
"""
import argparse
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_lmeval as cl  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--shots", type=int, required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--koeval", default="./koeval")
    ap.add_argument("--data", default=None, help="KoBEST folder for koeval requests (--data_dir)")
    a = ap.parse_args()
    _, rll = cl.read_run(a.ref, a.shots)
    _, kll = cl.read_run(a.run, a.shots)
    docs = sorted((t, d) for t in cl.TASKS for d in rll[t]
                  if any(abs(rll[t][d][c][0] - kll[t][d][c][0]) > a.tol for c in rll[t][d]))
    print(f"{len(docs)} documents with a request differing by more than {a.tol}")
    if not docs:
        return
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder, name = os.path.split(os.path.abspath(a.gguf))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    want = set(docs)
    reqs = {}
    for t in sorted({t for t, _ in docs}):
        cmd = [a.koeval, "requests", "--tasks", t, "--num_fewshot", str(a.shots)] + (["--data_dir", a.data] if a.data else [])
        for line in subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines():
            r = json.loads(line)
            if (r["task"], r["doc_id"]) in want:
                reqs[(r["task"], r["doc_id"], r["choice"])] = (r["context"], r["continuation"])
    bad = 0
    hf = {}
    print("| task | doc | choice | tokens | lm-eval batched | HF batch 1 | koeval |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in sorted(reqs):
        ctx, cont = reqs[key]
        n = len(ctx) - len(ctx.rstrip())
        if n:
            ctx, cont = ctx[:-n], ctx[-n:] + cont
        enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
        whole, cenc = [tok.bos_token_id] + enc(ctx + cont), [tok.bos_token_id] + enc(ctx)
        cont_ids = whole[len(cenc):]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([whole[:-1]])).logits[0].float(), -1)
        first = len(whole) - 1 - len(cont_ids)
        ll = float(sum(logp[first + i, tid] for i, tid in enumerate(cont_ids)))
        t, d, c = key
        hf.setdefault((t, d), {})[c] = (ll, None)
        bad += abs(ll - kll[t][d][c][0]) > a.tol
        print(f"| {t} | {d} | {c} | {len(whole)} | {rll[t][d][c][0]:.4f} | {ll:.4f} | {kll[t][d][c][0]:.4f} |", flush=True)
    agree_k = sum(cl.argmax(hf[x]) == cl.argmax(kll[x[0]][x[1]]) for x in docs)
    agree_r = sum(cl.argmax(hf[x]) == cl.argmax(rll[x[0]][x[1]]) for x in docs)
    print(f"HF batch 1 vs koeval: {len(reqs) - bad}/{len(reqs)} requests within {a.tol}, same prediction on "
          f"{agree_k}/{len(docs)} documents; vs lm-eval batched: same prediction on {agree_r}/{len(docs)}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
