#!/usr/bin/env bash
# bench_cuda.sh — the CUDA engine's speed script (issue 5), one run on the GPU machine: for each SIZE
# (default "1b 4b 12b") it builds (unless BIN is given), creates the random-init gemma-3 checkpoint
# of that shape with ../shared/bench/hf_baseline.py (which also times HF transformers on it, the
# lm-eval way and with logits only where needed), scores the same requests with koeval's CUDA engine
# from that checkpoint (two passes: cold, then warm), checks parity (scripts/gpu_parity.sh), and
# prints koeval's load and scoring time, peak GPU memory and the ratio to the baseline of this run.
#
# Usage: scripts/bench_cuda.sh [SIZE ...]      Env: as scripts/gpu_parity.sh (BIN, WORK, OUT, ...)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/koeval_gpu}
SIZES=${*:-1b 4b 12b}
SKIP_TESTS=${SKIP_TESTS-1} REPEAT=${REPEAT:-2} WORK=$WORK bash "$HERE/gpu_parity.sh" $SIZES
rc=$?
python3 - "$WORK" $SIZES <<'PY'
import json, os, sys
work, sizes = sys.argv[1], sys.argv[2:]
def last_json(path):
    try:
        lines = [l for l in open(path) if l.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except OSError:
        return None
print("\n| shape | koeval load s | koeval score s (cold / warm) | tok/s | peak GiB (weights) | HF lm-eval way s | HF logits-where-needed s | speed-up vs lm-eval way |")
print("|---|---|---|---|---|---|---|---|")
for s in sizes:
    k, h = last_json(f"{work}/koeval-{s}.json"), last_json(f"{work}/hf-{s}.json")
    if not k or not h:
        print(f"| {s} | (missing: koeval {bool(k)}, hf {bool(h)}) |"); continue
    v = h["variants"]
    lm, opt = v.get("lmeval", {}).get("seconds"), v.get("opt", {}).get("seconds")
    print(f"| {s} | {k['open_s'] + k['model_s']:.2f} | {k['score_s']:.2f} / {k['score2_s']:.2f} | {k['tok_per_s']:.0f} | "
          f"{k['peak_gib']:.1f} ({k['weights_gib']:.1f}) | {lm or float('nan'):.2f} | {opt or float('nan'):.2f} | "
          f"{(lm / k['score_s']) if lm else float('nan'):.2f}x |")
print(f"GPU: {k['device'] if k else '?'}; HF tokens fed {h['tokens'] if h else '?'}, koeval tokens {k['tokens'] if k else '?'}")
PY
exit $rc
