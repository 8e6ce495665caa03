# tests/lib.sh — shell tests source this. check NAME CMD... counts a pass when CMD succeeds;
# finish prints "RESULT <passed> <failed>" for scripts/run_tests.sh.
KOEVAL=${KOEVAL:-./koeval}
SHARED=${KOEVAL_SHARED:-../shared}
_pass=0; _fail=0
check() {
    local name=$1; shift
    if "$@"; then _pass=$((_pass+1)); else _fail=$((_fail+1)); echo "not ok $name"; fi
}
finish() { echo "RESULT $_pass $_fail"; [ "$_fail" -eq 0 ]; }
