#!/usr/bin/env bash
# bench_cpu.sh — CPU backend timing (a benchmark, not a test).
#
#   scripts/bench_cpu.sh [MODEL [N_DOCS [THREADS]]]
#
# MODEL is a model folder or .gguf (default: tests/engine/tiny/gemma3_text, then models/*.gguf too
# when `make model` has fetched the default model). Builds tests/engine/bench_cpu.c against
# build/libkoeval.a and prints, per model, tokens/s and documents/s of the packed tree-mask scoring,
# with 1 thread, and of the lm-eval-style baseline (one sequence per choice) measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/libkoeval.a
PKGS="libcjson libutf8proc libpcre2-8 zlib openblas"
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -I. -pthread $(pkg-config --cflags $PKGS) \
    -o build/bench_cpu tests/engine/bench_cpu.c build/libkoeval.a $(pkg-config --libs $PKGS) -lm -pthread
if [ $# -ge 1 ]; then
    models=("$1")
else
    models=(tests/engine/tiny/gemma3_text)
    for g in models/*.gguf; do [ -f "$g" ] && models+=("$g"); done
fi
for m in "${models[@]}"; do
    build/bench_cpu "$m" "${2:-64}" "${3:-0}"
done
