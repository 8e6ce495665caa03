#!/usr/bin/env bash
# The command line: help, one-line errors with the nearest valid name, exit codes (README), and no
# result file when a run fails.
. tests/lib.sh
DATA="$SHARED/datasets/kobest_v1"
MODEL=tests/evaluator/e2e/model
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# run CODE PATTERN ARGS...: exit code CODE and exactly one stderr line matching PATTERN.
run() {
    local want=$1 pat=$2; shift 2
    "$KOEVAL" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
    [ "$rc" = "$want" ] || { echo "  exit $rc (want $want): $*"; cat "$tmp/err"; return 1; }
    [ "$want" = 0 ] && return 0
    [ "$(wc -l <"$tmp/err")" = 1 ] && grep -qE -- "$pat" "$tmp/err" || { echo "  stderr:"; cat "$tmp/err"; return 1; }
}
help_lists_flags() {
    "$KOEVAL" --help >"$tmp/help" || return 1
    for f in model tasks num_fewshot fewshot_seed limit batch_size device dtype softmax_dtype max_model_len \
             gpu_memory_utilization output_path log_samples data_dir; do
        grep -q -- "--$f" "$tmp/help" || { echo "  --help lacks --$f"; return 1; }
    done
}
check "--help lists every lm-eval flag" help_lists_flags
check "unknown flag: nearest name, exit 2" run 2 "unknown flag '--num_fewshots' \(did you mean '--num_fewshot'\?\)" --num_fewshots 5
check "unknown task: nearest name, exit 2" run 2 "kobest_copaa.*kobest_copa" --model "$MODEL" --tasks kobest_copaa
check "no --model: exit 2" run 2 "--model is required" --tasks kobest_all
check "bad --dtype: exit 2" run 2 "dtype" --model "$MODEL" --tasks kobest_copa --dtype int8
check "bad --softmax_dtype: exit 2" run 2 "softmax_dtype.*float8" --model "$MODEL" --tasks kobest_copa --softmax_dtype float8
check "bad --limit: exit 2" run 2 "limit" --model "$MODEL" --tasks kobest_copa --limit -3
check "missing model: where it looked, exit 1" run 1 "no-such-model.*looked" --model no-such-model --tasks kobest_copa --data_dir "$DATA"
check "missing data: exit 1" run 1 "kobest|data" --model "$MODEL" --tasks kobest_copa --data_dir "$tmp/nodata"
limit_fraction() {  # lm-eval: --limit 0.01 keeps ceil(1000 * 0.01) = 10 copa docs = 20 requests
    [ "$("$KOEVAL" requests --tasks kobest_copa --limit 0.01 --data_dir "$DATA" | wc -l)" = 20 ] &&
        [ "$("$KOEVAL" requests --tasks kobest_copa --limit 0.0015 --data_dir "$DATA" | wc -l)" = 4 ]
}
check "--limit below 1 is a fraction of the split, rounded up" limit_fraction
check "--limit 2.5: exit 2" run 2 "limit" requests --tasks kobest_copa --limit 2.5
check "dashes accepted" run 0 "" requests --tasks kobest_copa --limit 1 --num-fewshot 1 --data-dir "$DATA"
no_partial_results() {
    "$KOEVAL" --model "$MODEL" --tasks kobest_copa --data_dir "$tmp/nodata" --output_path "$tmp/res" 2>/dev/null
    [ ! -e "$tmp/res" ] || { echo "  a failed run left $(find "$tmp/res")"; return 1; }
}
check "a failed run writes nothing" no_partial_results
touch "$tmp/file"
check "--output_path under a file: refused before scoring, exit 1" run 1 "output_path.*is not a folder" \
    --model "$MODEL" --tasks kobest_copa --limit 1 --device cpu --data_dir "$DATA" --output_path "$tmp/file/out"
if "$KOEVAL" --help | grep -q "cuda"; then :; fi
cuda_unavailable() {
    # Without a GPU (CI), asking for one is exit 4 with one line; with one, the run itself works.
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then return 0; fi
    run 4 "cuda" --model "$MODEL" --tasks kobest_copa --limit 2 --device cuda --data_dir "$DATA"
}
check "--device cuda without a GPU: exit 4" cuda_unavailable
md_table() {
    "$KOEVAL" --model "$MODEL" --tasks kobest_all --limit 4 --device cpu --data_dir "$DATA" >"$tmp/md" 2>/dev/null || return 1
    grep -q "| kobest_boolq | kobest_copa | kobest_hellaswag | kobest_sentineg | kobest_wic |" "$tmp/md" &&
        grep -Eq "^\| .*model.* \| 0\.[0-9]{4} \| 0\.[0-9]{4} \| 0\.[0-9]{4} \| 0\.[0-9]{4} \| 0\.[0-9]{4} \|" "$tmp/md" ||
        { cat "$tmp/md"; return 1; }
}
check "a run prints the leaderboard F1 row (4 decimals)" md_table
softmax_bf16() {  # lm-eval's softmax_dtype=bfloat16: log-likelihoods are bfloat16 values, and the run says so
    "$KOEVAL" --model "$MODEL" --tasks kobest_copa --limit 3 --device cpu --data_dir "$DATA" --softmax_dtype bfloat16 \
        --output_path "$tmp/sd" --log_samples >/dev/null 2>&1 || return 1
    grep -q '"model_args": "pretrained=[^"]*,softmax_dtype=bfloat16"' "$tmp"/sd/*/results_*.json || { echo "  model_args"; return 1; }
    python3 - "$tmp"/sd/*/samples_kobest_copa_*.jsonl <<'PY'
import json, struct, sys
lls = [float(r[0][0]) for line in open(sys.argv[1]) for r in [json.loads(line)["resps"]][0]]
bf16 = lambda x: struct.unpack("<f", struct.pack("<I", struct.unpack("<I", struct.pack("<f", x))[0] & 0xffff0000))[0] == x
assert len(lls) == 6 and all(bf16(x) for x in lls), lls
PY
}
check "--softmax_dtype bfloat16: bfloat16 log-likelihoods, model_args says so" softmax_bf16
finish
