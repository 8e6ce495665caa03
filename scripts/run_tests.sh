#!/usr/bin/env bash
# Runs every test program (build/tests/*/test_*) and shell test (tests/*/test_*.sh) from the repo
# root. Each prints "RESULT <passed> <failed>"; a test that crashes or prints none counts as one
# failure. The last line is "N passed, N failed"; the exit status is non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
export KOEVAL_SHARED=${KOEVAL_SHARED:-$(cd .. && pwd)/shared}
pass=0; fail=0
run_one() {
    local name=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    local res
    res=$(printf '%s\n' "$out" | grep -E '^RESULT [0-9]+ [0-9]+$' | tail -n 1)
    if [ -z "$res" ]; then
        printf '%s\n' "$out" | tail -n 20
        echo "FAIL $name (exit $rc, no RESULT line)"
        fail=$((fail + 1)); return
    fi
    local p f
    read -r _ p f <<<"$res"
    printf '%s\n' "$out" | grep -E '^(not ok|FAIL|SKIP)' || true
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    echo "$( [ "$f" -eq 0 ] && echo ok || echo FAIL ) $name ($p passed, $f failed)"
    pass=$((pass + p)); fail=$((fail + f))
}
for t in build/tests/*/test_*; do
    [ -x "$t" ] || continue
    run_one "${t#build/tests/}" "$t"
done
for t in tests/*/test_*.sh; do
    [ -f "$t" ] || continue
    run_one "${t#tests/}" bash "$t"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
