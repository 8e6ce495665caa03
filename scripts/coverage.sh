#!/usr/bin/env bash
# coverage.sh — line and branch coverage of the tokenizer (engine/tokenizer/*.c) under its tests.
#
#     scripts/coverage.sh          # the tokenizer tests (tests/tokenizer/*)
#     scripts/coverage.sh all      # every test of `make test`
#
# Builds an -O0 --coverage copy (CPU only) of libkoeval, koeval and the tests into build-cov/ (git-ignored;
# the normal build/ is left alone), runs the tests against it, and prints gcov's per-file figures
# (lines executed, branches taken at least once). The annotated sources land in build-cov/gcov/
# (*.c.gcov: "#####" marks a line never run, "branch N never executed" / "taken 0%" a branch).
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-cov
CF="-O0 -g --coverage"
which=${1:-tokenizer}
export KOEVAL_SHARED=${KOEVAL_SHARED:-$(cd .. && pwd)/shared}

if [ "$which" = all ]; then tests=$(ls tests/*/test_*.c); else tests=$(ls tests/tokenizer/test_*.c); fi
bins=$(for t in $tests; do t=${t#tests/}; echo "$B/tests/${t%.c}"; done)
CFLAGS="$CF" make -s -j2 B=$B NVCC= $B/evaluator/main.o $B/libkoeval.a $bins
# koeval itself (the Makefile's koeval rule always writes ./koeval)
cc $CF -pthread -o $B/koeval $B/evaluator/main.o $B/libkoeval.a \
    $(pkg-config --libs libcjson libutf8proc libpcre2-8 zlib openblas) -lm

find $B -name '*.gcda' -delete
fail=0
for b in $bins; do "$b" >/dev/null 2>&1 || { echo "FAIL $b"; fail=1; }; done
if [ "$which" = all ]; then shs=$(ls tests/*/test_*.sh); else shs=$(ls tests/tokenizer/test_*.sh); fi
for s in $shs; do KOEVAL=$B/koeval bash "$s" >/dev/null 2>&1 || { echo "FAIL $s"; fail=1; }; done

rm -rf $B/gcov && mkdir -p $B/gcov
tl=0; te=0; bl=0; bt=0
printf '%-22s %15s %17s\n' file lines branches
for src in engine/tokenizer/*.c; do
    f=$(basename "$src")
    out=$(gcov -b -o $B/engine/tokenizer "$src" 2>/dev/null | sed -n "/^File '.*$f'/,/^$/p")
    mv ./*.gcov $B/gcov/
    lp=$(sed -n 's/^Lines executed:\([0-9.]*\)% of \([0-9]*\)/\1 \2/p' <<<"$out")
    bp=$(sed -n 's/^Taken at least once:\([0-9.]*\)% of \([0-9]*\)/\1 \2/p' <<<"$out")
    read -r lpc ln <<<"${lp:-0 0}"
    read -r bpc bn <<<"${bp:-0 0}"
    le=$(awk -v p="$lpc" -v n="$ln" 'BEGIN{printf "%d", p*n/100+0.5}')
    be=$(awk -v p="$bpc" -v n="$bn" 'BEGIN{printf "%d", p*n/100+0.5}')
    printf '%-22s %5d/%-5d %3.0f%% %5d/%-5d %3.0f%%\n' "$f" "$le" "$ln" "$lpc" "$be" "$bn" "$bpc"
    tl=$((tl + ln)); te=$((te + le)); bl=$((bl + bn)); bt=$((bt + be))
done
awk -v a="$te" -v b="$tl" -v c="$bt" -v d="$bl" \
    'BEGIN{printf "%-22s %5d/%-5d %5.1f%% %5d/%-5d %5.1f%%\n", "total", a, b, 100*a/b, c, d, 100*c/d}'
exit $fail
