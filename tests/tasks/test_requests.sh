#!/usr/bin/env bash
# koeval's requests against lm-eval 0.4.13's own (goldens by scripts/make_request_goldens.py):
# for every task at 0 and 5 shots the FULL request list must have lm-eval's count and sha256
# (manifest.txt), and the kept docs (first 40 + spread ids) must match line for line, so a failure
# shows the first differing request.
. tests/lib.sh
G=tests/tasks/goldens
DATA="$SHARED/datasets/kobest_v1"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

same_full() {  # task shots n sha
    local out="$tmp/$1.$2.jsonl"
    "$KOEVAL" requests --tasks "$1" --num_fewshot "$2" --data_dir "$DATA" >"$out" || return 1
    local n h
    n=$(wc -l <"$out"); h=$(sha256sum <"$out" | cut -c1-64)
    [ "$n" = "$3" ] && [ "$h" = "$4" ] || { echo "  $1 $2-shot: $n requests, sha $h; lm-eval: $3, $4"; return 1; }
}
same_kept() {  # shots
    local want="$tmp/want.$1" got="$tmp/got.$1"
    zcat "$G/requests_${1}shot.jsonl.gz" >"$want"
    : >"$got"
    while read -r task ids; do
        python_free_filter "$tmp/$task.$1.jsonl" "$task" $ids >>"$got"
    done <"$G/spread_ids.txt"
    diff <(sort "$want") <(sort "$got") | head -5
    cmp -s <(sort "$want") <(sort "$got")
}
# Keeps the lines of docs 0..39 and the given ids (doc_id is the third JSON field).
python_free_filter() {
    local f=$1 task=$2; shift 2
    awk -v ids="$*" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) keep[a[i]] = 1 }
        { match($0, /"doc_id": [0-9]+/); id = substr($0, RSTART + 10, RLENGTH - 10) + 0
          if (id < 40 || (id in keep)) print }' "$f"
}

total=0
while read -r task shots n sha; do
    if [ "$task" = total ]; then
        check "kobest_all 0-shot has lm-eval's $n requests" [ "$total" = "$n" ]
        continue
    fi
    check "$task $shots-shot equals lm-eval (count + sha256)" same_full "$task" "$shots" "$n" "$sha"
    [ "$shots" = 0 ] && total=$((total + n))
done <"$G/manifest.txt"
check "kept 0-shot requests line for line" same_kept 0
check "kept 5-shot requests line for line" same_kept 5
check "kobest_all expands to the five tasks" \
    [ "$("$KOEVAL" requests --tasks kobest_all --data_dir "$DATA" | wc -l)" = 10122 ]
finish
