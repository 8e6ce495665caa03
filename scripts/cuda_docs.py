#!/usr/bin/env python3
"""Writes the KoBEST test requests of ../shared/bench/hf_baseline.py, tokenized by that script's own
encode_pair (so koeval's CUDA engine and the HF baseline score identical token ids), as documents for
tests/cuda/bench_engine: one line per document, integers

    task doc c0 n_ctx k n_cont[0..k) ctx[..] cont_0[..] ... cont_{k-1}[..]

task = index in TASKS, doc = row index, c0 = index of the first choice on the line (a document whose
choices do not share one context token list is written as one line per choice).
Used by scripts/gpu_parity.sh and scripts/bench_cuda.sh on the GPU machine.

Env: KOEVAL_DATA, KOEVAL_TOKENIZER (as hf_baseline.py), HF_BASELINE (path of hf_baseline.py).
Usage: cuda_docs.py OUT_FILE [REQUESTS_JSONL]
REQUESTS_JSONL (e.g. `koeval requests --tasks kobest_all --num_fewshot 5`, '-' = stdin) replaces
hf_baseline.py's 0-shot requests, so bench_engine can time other shot counts."""
import gzip
import importlib.util
import os
import sys

from tokenizers import Tokenizer

TASKS = ["kobest_boolq", "kobest_copa", "kobest_wic", "kobest_hellaswag", "kobest_sentineg"]


def requests(hfb):
    if len(sys.argv) < 3:
        yield from hfb.requests()
        return
    import json
    for line in sys.stdin if sys.argv[2] == "-" else open(sys.argv[2]):
        r = json.loads(line)
        yield r["task"], r["doc_id"], r["choice"], r["context"], r["continuation"]


def main():
    spec = importlib.util.spec_from_file_location("hfb", os.environ["HF_BASELINE"])
    hfb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hfb)
    raw = open(os.environ["KOEVAL_TOKENIZER"], "rb").read()
    if os.environ["KOEVAL_TOKENIZER"].endswith(".gz"):
        raw = gzip.decompress(raw)
    tok = Tokenizer.from_str(raw.decode())
    bos = tok.token_to_id("<bos>")
    docs = {}
    for task, i, j, ctx, cont in requests(hfb):
        c, x = hfb.encode_pair(tok, bos, ctx, cont)
        docs.setdefault((task, i), []).append((j, c, x))
    lines, split = [], 0
    for (task, i), chs in docs.items():
        groups = [chs] if all(c == chs[0][1] for _, c, _ in chs) else [[ch] for ch in chs]
        split += len(groups) > 1
        for g in groups:
            ctx = g[0][1]
            row = [TASKS.index(task), i, g[0][0], len(ctx), len(g)] + [len(x) for _, _, x in g] + ctx
            for _, _, x in g:
                row += x
            lines.append(" ".join(map(str, row)))
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"cuda_docs: {len(docs)} documents ({split} split by context), {len(lines)} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
