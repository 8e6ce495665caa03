#!/usr/bin/env bash
# Installs the Debian packages koeval builds against, if any is missing. Idempotent and quiet when
# everything is there. Needs root (or sudo) only when something is missing.
set -euo pipefail
pkgs=(gcc make pkg-config libutf8proc-dev libcjson-dev libpcre2-dev zlib1g-dev libopenblas-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
