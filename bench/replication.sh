#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue #9's figure: A -> B replication throughput over loopback TLS, next to
# the local snapshot throughput of the same data in the same run, and how it
# scales with the connection window ([peer] window = 1M, 4M, 8M, 32M), and
# with the 8M window once more with mbedtls sealing the TLS records
# (CHUTE_TLS_RECORDS=mbedtls) instead of libcrypto, chuted's default.
#
#   bench/replication.sh [SIZE_MIB=1024] [WINDOWS="1M 4M 8M 32M"]   (also: make bench-replication)
#   TREE=/usr/share bench/replication.sh   a real tree instead (read only)
#
# The data is SIZE_MIB of random (incompressible) bytes in 64 MiB files,
# made here. A snapshots it (timed: the local throughput); then, for each
# window, A is restarted with that window and peered with a fresh B, and the
# time from `peer add` until A's store B has nothing pending gives the
# replication throughput (pack bytes / seconds). Needs nothing but this
# source tree: chuted and chutectl come from an -O2 build of it under
# $BENCH_DIR/build unless CHUTED and CHUTECTL name binaries.
# Environment: BENCH_DIR (default /tmp/chute-bench), KEEP=1 keeps the nodes.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SIZE_MIB=${1:-${SIZE_MIB:-1024}}
TREE=${TREE:-}
WINDOWS=${2:-${WINDOWS:-1M 4M 8M 32M}}
WORK=${BENCH_DIR:-/tmp/chute-bench}
RW=$WORK/replication
DATA=$RW/data

die() { echo "replication.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
now_ns() { date +%s%N; }
for c in jq python3; do command -v "$c" >/dev/null || die "$c is needed"; done

. "$HERE/build.sh"
. "$HERE/data.sh"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

declare -A PID PORT
# node_start NAME [WINDOW [RECORDS]]: chuted for NAME (its state kept across
# restarts); RECORDS=mbedtls has mbedtls seal its TLS records
node_start() {
        local n=$1 w=${2:-8M} records=${3:-libcrypto} d=$RW/$1
        mkdir -p "$d/state" "$d/run"
        [ -n "${PORT[$n]:-}" ] || PORT[$n]=$(free_port)
        cat >"$d/chuted.conf" <<EOC
[daemon]
state_dir = $d/state
socket = $d/run/chuted.sock
[watch]
quiet_period = 1h
max_delay = 2h
[retention]
auto = no
[peer]
listen = 127.0.0.1:${PORT[$n]}
window = $w
[replication]
prove_count = 0
EOC
        [ -x "$RW/chute-benchd" ] || cp "$CHUTED" "$RW/chute-benchd"
        CHUTE_TLS_RECORDS=$records "$RW/chute-benchd" --config "$d/chuted.conf" --log-level info >>"$d/chuted.log" 2>&1 &
        PID[$n]=$!
        local _
        for _ in $(seq 100); do
                on "$n" status >/dev/null 2>&1 && return 0
                kill -0 "${PID[$n]}" 2>/dev/null || die "chuted $n exited at start, see $d/chuted.log"
                sleep 0.1
        done
        die "chuted $n not reachable"
}
node_stop() {
        [ -n "${PID[$1]:-}" ] || return 0
        kill -TERM "${PID[$1]}" 2>/dev/null || true
        wait "${PID[$1]}" 2>/dev/null || true
        PID[$1]=
}
on() { local n=$1; shift; "$CHUTECTL" --socket "$RW/$n/run/chuted.sock" "$@"; }
cleanup() {
        local n
        for n in "${!PID[@]}"; do node_stop "$n"; done
        [ -n "${KEEP:-}" ] || rm -rf "$RW"
}
trap cleanup EXIT

build_chute
rm -rf "$RW"
if [ -n "$TREE" ]; then
        [ -d "$TREE" ] || die "TREE=$TREE is not a directory"
        DATA=$TREE
        SIZE_BYTES=$(du -sb "$TREE" | cut -f1)
        WHAT="$TREE ($(find "$TREE" -type f | wc -l) files, $((SIZE_BYTES / 1048576)) MiB)"
        log "reading $WHAT once (into the page cache)"
        warm_tree "$TREE"
else
        SIZE_BYTES=$((SIZE_MIB * 1024 * 1024))
        WHAT="$SIZE_MIB MiB random data"
        random_data "$DATA" "$SIZE_MIB"
fi

node_start A
on A add "$DATA" >/dev/null
log "local snapshot of $WHAT"
t0=$(now_ns)
on A snapshot >/dev/null
t1=$(now_ns)
LOCAL=$(awk -v b="$SIZE_BYTES" -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", b / 1048576 / (t / 1e9) }')
PACK_BYTES=$(on A --json status | jq .bytes)
ID_A=$(on A --json id | jq -r .id)

declare -A RESULT
round=0
for spec in $WINDOWS 8M/mbedtls; do
        w=${spec%%/*} records=libcrypto
        [ "$spec" = "$w" ] || records=${spec#*/}
        round=$((round + 1))
        b=B$round
        node_stop A
        node_start A "$w" "$records"
        node_start "$b" 8M "$records"
        ID_B=$(on "$b" --json id | jq -r .id)
        on "$b" peer add A - "$ID_A" --quota 1T >/dev/null
        [ "$round" -gt 1 ] && on A peer remove "B$((round - 1))" >/dev/null
        log "replicating $PACK_BYTES bytes of packs to $b, window $w, $records records"
        t0=$(now_ns)
        on A peer add "$b" "127.0.0.1:${PORT[$b]}" "$ID_B" --quota 1T >/dev/null
        while :; do
                s=$(on A --json stores | jq -r --arg b "$b" '.stores[] | select(.name == $b) | "\(.pending) \(.packs)"')
                [ "${s%% *}" = 0 ] && [ "${s##* }" != 0 ] && break
                sleep 0.05
        done
        t1=$(now_ns)
        RESULT[$spec]=$(awk -v b="$PACK_BYTES" -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", b / 1048576 / (t / 1e9) }')
        node_stop "$b"
        rm -rf "${RW:?}/$b"
done

echo
echo "chute replication, $WHAT ($PACK_BYTES bytes of packs), $(nproc) cores, $(date -u +%F)"
printf '%-46s %10s %8s\n' "" "MiB/s" "ratio"
printf '%-46s %10s %8s\n' "local snapshot" "$LOCAL" "1.00"
for spec in $WINDOWS 8M/mbedtls; do
        w=${spec%%/*}
        label="A -> B over TLS, window $w"
        [ "$spec" = "$w" ] && label="$label" || label="$label, mbedtls records"
        printf '%-46s %10s %8s\n' "$label" "${RESULT[$spec]}" \
                "$(awk -v a="${RESULT[$spec]}" -v l="$LOCAL" 'BEGIN { printf "%.2f", a / l }')"
done
