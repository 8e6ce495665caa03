#!/usr/bin/env bash
# bench_tokenizer.sh — koeval's tokenizer against HF `tokenizers` (PyPI), measured in the same run.
#
# Encodes every string lm-eval encodes for `koeval requests --tasks kobest_all` at 0 and 5 shots
# (per request: the context without trailing whitespace, and context + continuation; not
# deduplicated) with gemma3 and llama3, and prints a table: load time, then encode time on one
# thread and on all threads, for koeval and for HF (encode_batch; RAYON_NUM_THREADS=1 for one
# thread), with the ratio HF / koeval (> 1: koeval is faster). Times are the best of 3 runs (0-shot)
# or 1 (5-shot); "cpu" is the process CPU time of the one-thread run, the fair figure on a shared
# machine. Both sides must give the same ids (count compared). A benchmark, not a test.
#   scripts/bench_tokenizer.sh [TOKENIZERS...]     (default: gemma3 llama3)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${KOEVAL_SHARED:-$(cd .. && pwd)/shared}
toks=${*:-gemma3 llama3}
threads=$(nproc)
out=build/bench
mkdir -p "$out"
make -s koeval build/libkoeval.a
cflags="-O2 -std=c11 -D_GNU_SOURCE -I. -pthread $(pkg-config --cflags libcjson 2>/dev/null)"
libs="$(pkg-config --libs libcjson libutf8proc libpcre2-8 zlib 2>/dev/null || echo -lcjson -lutf8proc -lpcre2-8 -lz) -lm -pthread"
gcc $cflags -o "$out/bench_tokenizer" scripts/bench_tokenizer.c build/libkoeval.a $libs -lopenblas

for k in 0 5; do
    ./koeval requests --tasks kobest_all --num_fewshot $k | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    ctx, cont = r["context"], r["continuation"]
    n = len(ctx) - len(ctx.rstrip())
    if n:
        cont, ctx = ctx[-n:] + cont, ctx[:-n]
    for s in (ctx, ctx + cont):
        print(json.dumps({"text": s}, ensure_ascii=False))
' >"$out/strings_${k}shot.jsonl"
done

hf() { # tokenizer strings threads repeat -> "load_s n ids t_s cpu_s"
    RAYON_NUM_THREADS=$3 python3 - "$1" "$2" "$4" <<'PY'
import gzip, json, sys, time
from tokenizers import Tokenizer
t0 = time.perf_counter()
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as f:
    tok = Tokenizer.from_str(f.read())
load = time.perf_counter() - t0
texts = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8")]
tok.encode_batch(texts[:50], add_special_tokens=False)  # warm the thread pool
best, best_cpu = 1e30, 1e30
for _ in range(int(sys.argv[3])):
    t0, c0 = time.perf_counter(), time.process_time()
    enc = tok.encode_batch(texts, add_special_tokens=False)
    best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
print("%.3f %d %d %.3f %.3f" % (load, len(texts), sum(len(e.ids) for e in enc), best, best_cpu))
PY
}

printf '\n%-8s %-5s %6s %8s | %7s %7s | %7s %7s %5s | %7s %7s %5s | %7s %7s %5s\n' tokenizer shots strings ids \
    "ko load" "HF load" "ko 1thr" "HF 1thr" "x" "ko cpu" "HF cpu" "x" "ko ${threads}thr" "HF ${threads}thr" "x"
for t in $toks; do
    path=$shared/tokenizers/$t/tokenizer.json.gz
    for k in 0 5; do
        s=$out/strings_${k}shot.jsonl
        rep=$([ $k = 0 ] && echo 3 || echo 1)
        read -r _ ko_load _ n _ ko_ids _ ko_t1 _ ko_c1 _ ko_tn _ _ _ _ < <("$out/bench_tokenizer" "$path" "$s" "$threads" $rep)
        read -r hf_load _ hf_ids hf_t1 hf_c1 < <(hf "$path" "$s" 1 $rep)
        read -r _ _ _ hf_tn _ < <(hf "$path" "$s" "$threads" $rep)
        [ "$ko_ids" = "$hf_ids" ] || echo "WARNING: $t ${k}-shot: koeval gave $ko_ids ids, HF $hf_ids"
        x() { python3 -c "print('%.2f' % ($1 / max($2, 1e-9)))"; }
        printf '%-8s %-5s %6s %8s | %7s %7s | %7s %7s %5s | %7s %7s %5s | %7s %7s %5s\n' "$t" "$k" "$n" "$ko_ids" \
            "$ko_load" "$hf_load" "$ko_t1" "$hf_t1" "$(x $hf_t1 $ko_t1)" "$ko_c1" "$hf_c1" "$(x $hf_c1 $ko_c1)" \
            "$ko_tn" "$hf_tn" "$(x $hf_tn $ko_tn)"
    done
done
echo "(seconds; x = HF time / koeval time, above 1 means koeval is faster)"
