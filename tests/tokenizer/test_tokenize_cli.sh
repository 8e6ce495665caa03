# test_tokenize_cli.sh — `koeval tokenize`: JSONL in, JSONL out in order, a folder as PATH,
# --add_special_tokens, and one error line with no output for bad input. Ids from HF tokenizers
# (llama2 tokenizer.json: "Hello world" -> [22557, 1526], with special tokens [1, 22557, 1526]).
source tests/lib.sh
L2=$SHARED/tokenizers/llama2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '{"text": "Hello world"}\n\n{"text": ""}\n' | $KOEVAL tokenize --tokenizer "$L2" >"$tmp/out"
check plain_rc test $? -eq 0
check plain_out diff <(printf '{"ids": [22557, 1526]}\n{"ids": []}\n') "$tmp/out"
printf '{"text": "Hello world"}\n{"text": ""}\n' | $KOEVAL tokenize --tokenizer "$L2/tokenizer.json.gz" --add_special_tokens >"$tmp/out"
check special_out diff <(printf '{"ids": [1, 22557, 1526]}\n{"ids": [1]}\n') "$tmp/out"

# bad input: one line on stderr, nothing on stdout, non-zero exit
bad() { # name expected-rc expected-text stdin args...
    local name=$1 want_rc=$2 want=$3 in=$4; shift 4
    printf "$in" | $KOEVAL tokenize "$@" >"$tmp/o" 2>"$tmp/e"
    local rc=$?
    check "$name.rc" test "$rc" -eq "$want_rc"
    check "$name.stdout_empty" test ! -s "$tmp/o"
    check "$name.one_line" test "$(wc -l <"$tmp/e")" -eq 1
    check "$name.text" grep -q "$want" "$tmp/e"
}
bad no_tokenizer 2 "tokenizer PATH is required" '{"text": "a"}\n'
bad missing 1 "no such file" '{"text": "a"}\n' --tokenizer "$tmp/nope.json"
bad bad_json 1 "stdin line 2: invalid JSON" '{"text": "a"}\n{"text": \n' --tokenizer "$L2"
bad no_text 1 'stdin line 1: expected an object with a string "text"' '{"txt": "a"}\n' --tokenizer "$L2"
bad bad_utf8 1 "not valid UTF-8" '{"text": "a\xff"}\n' --tokenizer "$L2"
finish
