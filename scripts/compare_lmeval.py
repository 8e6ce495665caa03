#!/usr/bin/env python3
"""compare_lmeval.py — koeval against lm-eval 0.4.13 on the same model and docs: the table.

  python scripts/make_e2e_goldens.py --gguf models/gemma-3-270m-q4_k_m.gguf --out DIR --limit0 N --limit5 M
  python scripts/compare_lmeval.py --goldens DIR --model models/default [--koeval ./koeval] [--device cpu]
  python scripts/compare_lmeval.py --goldens DIR --koeval_out OUT0 [--koeval_out5 OUT5]
      (koeval already run with --log_samples --output_path OUT0 / OUT5 at 0 / 5 shots, same --limit)

make_e2e_goldens.py runs lm-eval's real HF backend (the reference; slow on CPU because it computes
the full-vocabulary softmax at every position) and keeps per request (ll, is_greedy) and per task
lm-eval's metrics. This script runs koeval on the same model with the same --num_fewshot / --limit
(read from the goldens), then prints per task and shots: docs, lm-eval's and koeval's F1 and acc
(4 decimals, as the leaderboard shows them), how many documents got the same prediction (argmax of
the choices' ll; a difference is only acceptable on an exact tie), and the largest |ll difference|.
Exit status 1 when a prediction or an F1 differs.
"""
import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile

TASKS = ["kobest_boolq", "kobest_copa", "kobest_hellaswag", "kobest_sentineg", "kobest_wic"]


def load_goldens(path):
    metrics, ll = {}, {}
    for line in gzip.open(path, "rt", encoding="utf-8"):
        x = json.loads(line)
        if "metrics" in x:
            metrics[x["task"]] = x["metrics"]
        else:
            ll.setdefault(x["task"], {}).setdefault(x["doc_id"], {})[x["choice"]] = x["ll"]
    return metrics, ll


def run_koeval(a, shots, limit, out):
    cmd = [a.koeval, "--model", a.model, "--tasks", "kobest_all", "--num_fewshot", str(shots), "--limit",
           str(limit), "--output_path", out, "--log_samples"] + (["--device", a.device] if a.device else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return read_koeval(out, shots)


def read_koeval(out, shots):
    res = json.load(open(glob.glob(os.path.join(out, "*", "results_*.json"))[0]))
    assert res["koeval"]["num_fewshot"] == shots, f"{out}: koeval ran {res['koeval']['num_fewshot']}-shot, not {shots}"
    ll = {}
    for t in TASKS:
        for line in open(glob.glob(os.path.join(out, "*", f"samples_{t}_*.jsonl"))[0], encoding="utf-8"):
            s = json.loads(line)
            ll.setdefault(t, {})[s["doc_id"]] = {c: float(r[0]) for c, r in enumerate(s["filtered_resps"])}
    return res["results"], ll


def argmax(d):
    return max(sorted(d), key=lambda c: (d[c], -c))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--goldens", required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--koeval_out", default=None, help="koeval's 0-shot output folder (instead of running it)")
    ap.add_argument("--koeval_out5", default=None, help="koeval's 5-shot output folder")
    ap.add_argument("--koeval", default="./koeval")
    ap.add_argument("--device", default=None)
    a = ap.parse_args()
    ok = True
    print("| task | shots | docs | F1 lm-eval | F1 koeval | acc lm-eval | acc koeval | same prediction | max abs dll |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for shots in (0, 5):
        path = os.path.join(a.goldens, f"lmeval_{shots}shot.jsonl.gz")
        if not os.path.exists(path):
            continue
        gm, gll = load_goldens(path)
        limit = max(m["sample_len"] for m in gm.values())
        given = a.koeval_out if shots == 0 else a.koeval_out5
        if given:
            km, kll = read_koeval(given, shots)
        elif a.model:
            with tempfile.TemporaryDirectory() as out:
                km, kll = run_koeval(a, shots, limit, out)
        else:
            continue
        for t in TASKS:
            docs = sorted(gll[t])
            same = sum(argmax(gll[t][d]) == argmax(kll[t][d]) for d in docs)
            dmax = max(abs(gll[t][d][c] - kll[t][d][c]) for d in docs for c in gll[t][d])
            f1g, f1k = gm[t]["f1,none"], km[t]["f1,none"]
            ok &= same == len(docs) and f"{f1g:.4f}" == f"{f1k:.4f}" and len(kll[t]) == len(docs)
            n = f"{len(docs)}" if len(kll[t]) == len(docs) else f"{len(docs)} (koeval {len(kll[t])}: not the same docs)"
            print(f"| {t} | {shots} | {n} | {f1g:.4f} | {f1k:.4f} | {gm[t]['acc,none']:.4f} | "
                  f"{km[t]['acc,none']:.4f} | {same}/{len(docs)} | {dmax:.1e} |")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
