#!/bin/bash
# SPDX-License-Identifier: MIT
# The deterministic benchmark corpus (content a pure function of SEED, fixed mtimes), made by
# bench/corpusgen.c, which this script builds with cc when it is missing or older than its source.
#
#   bench/make-corpus.sh gen    DIR [SEED=42] [SCALE=1]   ~1 GiB at SCALE=1; DIR is replaced
#   bench/make-corpus.sh mutate DIR [ROUND=1] [SEED=42]   one round of edits (below)
#   bench/make-corpus.sh tree   DIR SEED FILES DIRS MIN MAX   FILES files of MIN..MAX bytes in DIRS dirs
#
# gen, at SCALE=1 (sizes scale with SCALE): big/blob-{1,2,3}.bin 3 x 128 MiB incompressible;
# big/server.log 192 MiB of log lines; big/orders.csv 128 MiB of CSV records; 20,000 small
# files of 1-64 KiB (log-uniform) in 1,000 directories under small/ (50 % text, 20 % json,
# 30 % random); .nsmall holds their number. Every mtime is 2024-01-01T00:00:00Z.
# mutate ROUND: 100 bytes inserted at the start of big/blob-1.bin (in place), 2 MiB of log
# lines appended to big/server.log, 1 % of the small files rewritten in place; the changed
# files get the mtime 2024-01-01 + ROUND days.
# Environment: CORPUSGEN (a built corpusgen to use), BENCH_BIN (where to build it; default
# $BENCH_DIR/bin, BENCH_DIR defaulting to /tmp/chute-bench), CC (default cc).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BENCH_BIN:-${BENCH_DIR:-/tmp/chute-bench}/bin}
GEN=${CORPUSGEN:-$BIN/corpusgen}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '6,8p' "$0" >&2; exit 2; }
if [ -z "${CORPUSGEN:-}" ] && { [ ! -x "$GEN" ] || [ "$HERE/corpusgen.c" -nt "$GEN" ]; }; then
        mkdir -p "$BIN"
        "${CC:-cc}" -O2 -std=gnu11 -Wall -o "$GEN.tmp" "$HERE/corpusgen.c" -lm && mv "$GEN.tmp" "$GEN"
fi
case $cmd in
gen) rm -rf "$dir"; exec "$GEN" gen "$dir" "${3:-42}" "${4:-1}" ;;
mutate) exec "$GEN" mutate "$dir" "${3:-1}" "${4:-42}" ;;
tree) [ $# -eq 7 ] || { sed -n '8p' "$0" >&2; exit 2; }; rm -rf "$dir"; exec "$GEN" tree "$dir" "${@:3}" ;;
*) echo "make-corpus.sh: unknown command $cmd" >&2; sed -n '6,8p' "$0" >&2; exit 2 ;;
esac
