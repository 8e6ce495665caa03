#!/usr/bin/env python3
"""compare_lmeval.py — koeval against lm-eval 0.4.13 (or one koeval run against another) on the same
model and docs: the table.

  python scripts/make_e2e_goldens.py --gguf models/gemma-3-270m-q4_k_m.gguf --out DIR --limit0 N --limit5 M
  python scripts/compare_lmeval.py --goldens DIR --model models/default [--koeval ./koeval] [--device cpu]
      runs koeval with the same --num_fewshot / --limit (read from the goldens) and compares
  python scripts/compare_lmeval.py --ref0 A --run0 B [--ref5 A5 --run5 B5]
      compares runs made already; each of A, B is lm-eval's golden file (lmeval_Nshot.jsonl.gz), a
      koeval --output_path folder (made with --log_samples), or a compact file written by --pack
  python scripts/compare_lmeval.py --pack KOEVAL_OUTPUT_FOLDER FILE.jsonl.gz
      writes a koeval run compactly in the goldens' format (one line of metrics per task, one line per
      request), small enough to bring back from the GPU machine

make_e2e_goldens.py runs lm-eval's real HF backend (the reference; slow on CPU because it computes
the full-vocabulary softmax at every position) and keeps per request (ll, is_greedy) and per task
lm-eval's metrics. The table has per task and shots: docs, both runs' F1 and acc (4 decimals, as the
leaderboard shows them), how many documents got the same prediction (argmax of the choices' ll; a
difference is only acceptable on an exact tie), and the largest |ll difference|.
Exit status 1 when a prediction, an F1 or the set of documents differs.
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


def read_koeval_folder(out):
    """(shots, {task: metrics}, {task: {doc: {choice: (ll, is_greedy)}}}) of a koeval output folder."""
    res = json.load(open(glob.glob(os.path.join(out, "*", "results_*.json"))[0]))
    ll = {}
    for t in TASKS:
        for line in open(glob.glob(os.path.join(out, "*", f"samples_{t}_*.jsonl"))[0], encoding="utf-8"):
            s = json.loads(line)
            ll.setdefault(t, {})[s["doc_id"]] = {c: (float(r[0]), r[1] in (True, "True"))
                                                 for c, r in enumerate(s["filtered_resps"])}
    return res["koeval"]["num_fewshot"], {t: res["results"][t] for t in TASKS}, ll


def read_compact(path):
    """The same from lm-eval's golden file or a --pack file (shots: None when the file does not say)."""
    shots, metrics, ll = None, {}, {}
    for line in gzip.open(path, "rt", encoding="utf-8"):
        x = json.loads(line)
        if "metrics" in x:
            metrics[x["task"]] = x["metrics"]
            shots = x.get("num_fewshot", shots)
        else:
            ll.setdefault(x["task"], {}).setdefault(x["doc_id"], {})[x["choice"]] = (x["ll"], x["is_greedy"])
    return shots, metrics, ll


def read_run(path, shots):
    got, metrics, ll = read_koeval_folder(path) if os.path.isdir(path) else read_compact(path)
    if got is not None and got != shots:
        sys.exit(f"compare_lmeval: {path} is a {got}-shot run, not {shots}-shot")
    return metrics, ll


def pack(folder, path):
    shots, metrics, ll = read_koeval_folder(folder)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        for t in TASKS:
            f.write((json.dumps({"task": t, "num_fewshot": shots, "metrics": metrics[t]}) + "\n").encode())
            for d in sorted(ll[t]):
                for c in sorted(ll[t][d]):
                    f.write((json.dumps({"task": t, "doc_id": d, "choice": c, "ll": ll[t][d][c][0],
                                         "is_greedy": ll[t][d][c][1]}) + "\n").encode())


def run_koeval(a, shots, limit, out):
    cmd = [a.koeval, "--model", a.model, "--tasks", "kobest_all", "--num_fewshot", str(shots), "--limit",
           str(limit), "--output_path", out, "--log_samples"] + (["--device", a.device] if a.device else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return read_run(out, shots)


def argmax(d):
    return max(sorted(d), key=lambda c: (d[c][0], -c))


def table(shots, ref, run):
    (rm, rll), (km, kll) = ref, run
    ok = True
    for t in TASKS:
        docs = sorted(rll[t])
        same_docs = sorted(kll[t]) == docs
        same = sum(argmax(rll[t][d]) == argmax(kll[t][d]) for d in docs if d in kll[t])
        dmax = max(abs(rll[t][d][c][0] - kll[t][d][c][0]) for d in docs if d in kll[t] for c in rll[t][d])
        f1r, f1k = rm[t]["f1,none"], km[t]["f1,none"]
        ok &= same_docs and same == len(docs) and f"{f1r:.4f}" == f"{f1k:.4f}"
        n = f"{len(docs)}" if same_docs else f"{len(docs)} (other run {len(kll[t])}: not the same docs)"
        print(f"| {t} | {shots} | {n} | {f1r:.4f} | {f1k:.4f} | {rm[t]['acc,none']:.4f} | "
              f"{km[t]['acc,none']:.4f} | {same}/{len(docs)} | {dmax:.1e} |")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--goldens", help="folder with lm-eval's lmeval_{0,5}shot.jsonl.gz")
    ap.add_argument("--model", help="with --goldens: run koeval on this model")
    ap.add_argument("--koeval", default="./koeval")
    ap.add_argument("--device", default=None)
    for n in (0, 5):
        ap.add_argument(f"--ref{n}", help=f"the reference {n}-shot run (file or koeval folder)")
        ap.add_argument(f"--run{n}", help=f"the {n}-shot run compared with it")
    ap.add_argument("--pack", nargs=2, metavar=("FOLDER", "FILE"))
    a = ap.parse_args()
    if a.pack:
        pack(*a.pack)
        return
    ok = True
    print("| task | shots | docs | F1 reference | F1 koeval | acc reference | acc koeval | same prediction | max abs dll |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for shots in (0, 5):
        ref_path, run_path = getattr(a, f"ref{shots}"), getattr(a, f"run{shots}")
        if a.goldens:
            ref_path = os.path.join(a.goldens, f"lmeval_{shots}shot.jsonl.gz")
            if not os.path.exists(ref_path):
                continue
        if not ref_path:
            continue
        ref = read_run(ref_path, shots)
        if run_path:
            run = read_run(run_path, shots)
        elif a.model:
            limit = max(m["sample_len"] for m in ref[0].values())
            with tempfile.TemporaryDirectory() as out:
                run = run_koeval(a, shots, limit, out)
        else:
            sys.exit(f"compare_lmeval: nothing to compare the {shots}-shot reference with (--run{shots} or --model)")
        ok &= table(shots, ref, run)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
