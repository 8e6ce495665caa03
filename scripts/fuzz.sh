#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ (clang, ASan + UBSan) and runs each for N seconds
# (default 60), seeded from the first lines of the shared KoBEST files (datasets), GGUF files (gguf),
# tiny checkpoints written by the `safetensors` package and the test configs (safetensors), a small
# GPTQ checkpoint and the tiny GPTQ configs (gptq).
# `make fuzz` runs it; FUZZ_SECONDS=N make fuzz, or scripts/fuzz.sh N. Exits non-zero when a target finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${FUZZ_SECONDS:-60}}
shared=${KOEVAL_SHARED:-$(cd .. && pwd)/shared}
out=build/fuzz
mkdir -p "$out"
CC=${FUZZ_CC:-clang}
flags="-g -O1 -std=c11 -D_GNU_SOURCE -I. -I/usr/include/cjson -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
lib="common/ko.c $(ls datasets/*.c)"
# per-target sources beyond lib (default: none)
declare -A extra=([fuzz_gguf]="engine/model/gguf.c" [fuzz_safetensors]="$(ls engine/model/*.c)" [fuzz_gptq]="$(ls engine/model/*.c)")
tok_src="$(ls engine/tokenizer/*.c) engine/model/gguf.c"
extra[fuzz_tokenizer_json]=$tok_src
extra[fuzz_tokenizer_encode]=$tok_src
declare -A libs=([fuzz_tokenizer_json]="-lutf8proc -lpcre2-8" [fuzz_tokenizer_encode]="-lutf8proc -lpcre2-8")
declare -A maxlen=([fuzz_gguf]=131072 [fuzz_tokenizer_json]=65536 [fuzz_gptq]=16384)   # the synthetic seed is a whole (86 KB) GGUF

# Seeds: selector byte (see tests/fuzz/fuzz_datasets.c) + the head of a real file of that dataset.
seeds=$out/seeds_datasets
mkdir -p "$seeds"
i=0
for pair in 0:BoolQ 1:COPA 2:WiC 3:HellaSwag 4:SentiNeg; do
    n=${pair%%:*}; dir=${pair#*:}
    for s in 0:train 1:dev 2:test; do
        k=${s%%:*}; f="$shared/datasets/kobest_v1/$dir/${s#*:}.tsv"
        [ -f "$f" ] || continue
        sel=$(( (n << 1) | (k << 4) ))
        { printf "\\$(printf '%03o' "$sel")"; head -n 6 "$f"; } >"$seeds/tsv_$i"
        i=$((i + 1))
    done
done
printf '\x01{"paragraph": "p", "question": "q", "label": 1}\n{"paragraph": "\\u00e9", "question": "", "label": 0}\n' >"$seeds/jsonl_boolq"
# GGUF seeds: the synthetic test file and the header of the real model when present.
seeds_gguf=$out/seeds_gguf
mkdir -p "$seeds_gguf"
gzip -dc tests/gguf/data/synthetic.gguf.gz >"$seeds_gguf/synthetic"
cp tests/gguf/data/small.gguf "$seeds_gguf/small"
[ -f models/gemma-3-270m-q4_k_m.gguf ] && head -c 4096 models/gemma-3-270m-q4_k_m.gguf >"$seeds_gguf/gemma_head"
printf '\x07{"context": "c", "ending_1": "a", "ending_2": "b", "ending_3": "c", "ending_4": "d", "label": 3}\n' >"$seeds/jsonl_hellaswag"

# Seeds for fuzz_safetensors: selector byte (0 file, 1 config, 2 config NUL file) + content.
# tokenizer seeds: the small synthetic tokenizer.json files; for encode, a selector byte + a hard case
tk_seeds=$out/seeds_tokenizer_json
mkdir -p "$tk_seeds"
for f in tests/tokenizer/goldens/synth_*.json.gz; do gzip -dc "$f" >"$tk_seeds/$(basename "$f" .json.gz)"; done
te_seeds=$out/seeds_tokenizer_encode
mkdir -p "$te_seeds"
gzip -dc tests/tokenizer/goldens/hard_cases.jsonl.gz | python3 -c '
import json, sys
for i, l in enumerate(sys.stdin):
    open("%s/case_%03d" % (sys.argv[1], i), "wb").write(bytes([i % 16]) + json.loads(l)["text"].encode())
' "$te_seeds"

st_seeds=$out/seeds_safetensors
mkdir -p "$st_seeds"
for c in tests/model/configs/*.json; do
    { printf '\001'; cat "$c"; } >"$st_seeds/config_$(basename "$c" .json)"
done
python3 - "$st_seeds" <<'PY' || echo "(no python safetensors package: config seeds only)"
import json, sys
import numpy as np
from safetensors.numpy import save
out = sys.argv[1]
V, H, I, NH, KV, HD = 8, 4, 4, 2, 1, 2
def llama(dt):
    t = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,), "lm_head.weight": (V, H)}
    for l in range(2):
        p = f"model.layers.{l}."
        t.update({p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
                  p + "self_attn.q_proj.weight": (NH * HD, H), p + "self_attn.k_proj.weight": (KV * HD, H),
                  p + "self_attn.v_proj.weight": (KV * HD, H), p + "self_attn.o_proj.weight": (H, NH * HD),
                  p + "mlp.gate_proj.weight": (I, H), p + "mlp.up_proj.weight": (I, H),
                  p + "mlp.down_proj.weight": (H, I)})
    rng = np.random.default_rng(0)
    return save({k: rng.standard_normal(s).astype(dt) for k, s in t.items()})
cfg = json.dumps({"model_type": "llama", "vocab_size": V, "hidden_size": H, "intermediate_size": I,
                  "num_hidden_layers": 2, "num_attention_heads": NH, "num_key_value_heads": KV}).encode()
for dt in ("float16", "float32"):
    blob = llama(dt)
    open(f"{out}/st_{dt}", "wb").write(b"\x00" + blob)
    open(f"{out}/model_{dt}", "wb").write(b"\x02" + cfg + b"\x00" + blob)
open(f"{out}/st_empty", "wb").write(b"\x00" + save({}))
PY

# Seeds for fuzz_gptq: config.json NUL .safetensors of a small GPTQ llama (every linear layer 4-bit,
# group 8, act-order g_idx), one in format gptq and one in gptq_v2, and the config of each tiny GPTQ model.
gq_seeds=$out/seeds_gptq
mkdir -p "$gq_seeds"
for c in tests/engine/tiny/*_gptq/config.json; do
    cp "$c" "$gq_seeds/config_$(basename "$(dirname "$c")")"
done
python3 - "$gq_seeds" <<'PY' || echo "(no python safetensors package: GPTQ config seeds only)"
import json, sys
import numpy as np
from safetensors.numpy import save
out = sys.argv[1]
V, H, I, NH, KV, HD = 8, 16, 16, 2, 1, 8
rng = np.random.default_rng(0)
t = {"model.embed_tokens.weight": rng.standard_normal((V, H)).astype("float16"),
     "model.norm.weight": np.ones(H, "float16"), "lm_head.weight": rng.standard_normal((V, H)).astype("float16")}
for n, (o, i) in {"self_attn.q_proj": (NH * HD, H), "self_attn.k_proj": (KV * HD, H), "self_attn.v_proj": (KV * HD, H),
                  "self_attn.o_proj": (H, NH * HD), "mlp.gate_proj": (I, H), "mlp.up_proj": (I, H),
                  "mlp.down_proj": (H, I)}.items():
    p = "model.layers.0." + n
    t[p + ".qweight"] = rng.integers(-2**31, 2**31, (i // 8, o)).astype("int32")
    t[p + ".qzeros"] = rng.integers(-2**31, 2**31, (i // 8, o // 8)).astype("int32")
    t[p + ".scales"] = (rng.random((i // 8, o)) * 0.1).astype("float16")
    t[p + ".g_idx"] = rng.permutation(np.arange(i) // 8).astype("int32")
for k in ("input_layernorm", "post_attention_layernorm"):
    t["model.layers.0.%s.weight" % k] = np.ones(H, "float16")
blob = save(t)
for fmt in ("gptq", "gptq_v2"):
    cfg = {"model_type": "llama", "vocab_size": V, "hidden_size": H, "intermediate_size": I, "num_hidden_layers": 1,
           "num_attention_heads": NH, "num_key_value_heads": KV, "torch_dtype": "float16",
           "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 8, "desc_act": True,
                                   "checkpoint_format": fmt}}
    open(f"{out}/model_{fmt}", "wb").write(json.dumps(cfg).encode() + b"\x00" + blob)
PY

status=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    bin=$out/$name
    $CC $flags -o "$bin" "$src" $lib ${extra[$name]:-} -lcjson -lz ${libs[$name]:-}
    corpus=$out/corpus_$name
    mkdir -p "$corpus"
    echo "== $name: ${secs}s"
    if ! "$bin" -max_total_time="$secs" -max_len=${maxlen[$name]:-4096} -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/${name}_" -print_final_stats=1 "$corpus" "$out/seeds_${name#fuzz_}" 2>"$out/$name.log"; then
        status=1
        tail -n 40 "$out/$name.log"
    fi
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "$out/$name.log" || true
done
exit $status
