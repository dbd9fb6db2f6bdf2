#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue #11's load figures: wrk with CONNS connections (default 200) on
# GET /v1/status for DURATION seconds (default 10), over loopback only,
# while chuted takes a SIZE_MIB (default 1024) snapshot; prints requests/s,
# errors (socket errors and non-2xx), p50/p99 latency (wrk --latency), and
# the snapshot's time alone and under the load (each on a fresh state dir,
# so neither deduplicates against the other). Not a test: `make check`
# never runs it.
#
#   bench/http-load.sh [SIZE_MIB=1024] [DURATION=10]
#
# Environment: TREE=DIR snapshots DIR (read in place) instead of random
# data; CONNS (200), THREADS (wrk threads, 2); BENCH_DIR (default
# /tmp/chute-bench); CHUTED / CHUTECTL (default: the -O2 build of
# bench/build.sh); KEEP=1 keeps the bench directory.
set -euo pipefail

BENCH_DEPS="wrk jq"     # Debian packages this script needs

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SIZE_MIB=${1:-${SIZE_MIB:-1024}}
DURATION=${2:-${DURATION:-10}}
CONNS=${CONNS:-200}
THREADS=${THREADS:-2}
TREE=${TREE:-}
WORK=${BENCH_DIR:-/tmp/chute-bench}
HW=$WORK/http-load
DATA=$HW/data

die() { echo "http-load.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

install_deps() {
        local need=() p
        for p in $BENCH_DEPS; do command -v "$p" >/dev/null || need+=("$p"); done
        [ ${#need[@]} -eq 0 ] && return 0
        log "installing ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

. "$HERE/build.sh"
. "$HERE/data.sh"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PID=
# node_start NAME: a chuted on a fresh state dir, the API on 127.0.0.1:$PORT
node_start() {
        local d=$HW/$1
        rm -rf "$d"; mkdir -p "$d/state" "$d/run"
        PORT=$(free_port)
        SOCK=$d/run/chuted.sock
        cat >"$d/chuted.conf" <<EOC
[daemon]
state_dir = $d/state
socket = $SOCK
[watch]
quiet_period = 1h
max_delay = 2h
[retention]
auto = no
[peer]
listen = none
[api]
listen = 127.0.0.1:$PORT
max_clients = $((CONNS + 16))
EOC
        [ -x "$HW/chute-benchd" ] || cp "$CHUTED" "$HW/chute-benchd" # a broad pkill chuted elsewhere misses it
        "$HW/chute-benchd" --config "$d/chuted.conf" --log-level info >>"$d/chuted.log" 2>&1 &
        PID=$!
        local _
        for _ in $(seq 100); do
                ctl status >/dev/null 2>&1 && return 0
                kill -0 "$PID" 2>/dev/null || die "chuted exited at start, see $d/chuted.log"
                sleep 0.1
        done
        die "chuted not reachable on $SOCK"
}
node_stop() {
        [ -n "$PID" ] || return 0
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
}
ctl() { "$CHUTECTL" --socket "$SOCK" "$@"; }
cleanup() {
        node_stop
        [ -n "${KEEP:-}" ] || rm -rf "$HW"
}
trap cleanup EXIT

install_deps
build_chute
rm -rf "$HW"; mkdir -p "$HW"
if [ -n "$TREE" ]; then
        [ -d "$TREE" ] || die "TREE=$TREE is not a directory"
        DATA=$TREE
        WHAT="$TREE ($(du -sm "$TREE" | cut -f1) MiB)"
        warm_tree "$TREE"
else
        WHAT="$SIZE_MIB MiB of random data"
        random_data "$DATA" "$SIZE_MIB"
fi

# ---- the snapshot alone ------------------------------------------------------------------
node_start quiet
ctl add "$DATA" >/dev/null
log "snapshot of $WHAT, no load"
t0=$(now_ns); ctl snapshot >/dev/null; t1=$(now_ns)
ALONE=$(secs "$t0" "$t1")
node_stop

# ---- the snapshot under wrk ----------------------------------------------------------------
node_start loaded
ctl add "$DATA" >/dev/null
TOKEN=$(ctl api-token)
log "snapshot of $WHAT under wrk: $CONNS connections, $THREADS threads, ${DURATION}s on GET /v1/status"
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency --timeout 5s \
        -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/status" >"$HW/wrk.out" 2>&1 &
WRK=$!
t0=$(now_ns); ctl snapshot >/dev/null; t1=$(now_ns)
LOADED=$(secs "$t0" "$t1")
wait "$WRK" || die "wrk failed: $(cat "$HW/wrk.out")"
STATUS_OK=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/status")
node_stop

W=$HW/wrk.out
field() { awk -v k="$1" '$1 == k { print $2; exit }' "$W"; }
RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$W")
REQS=$(awk '/requests in/ { print $1 }' "$W")
NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$W")
SOCKERR=$(sed -n 's/.*Socket errors: //p' "$W")
echo
echo "GET /v1/status, $CONNS connections, ${DURATION}s, loopback (wrk -t$THREADS --latency):"
echo "  requests      ${REQS:-?} (${RPS:-?}/s)"
echo "  errors        non-2xx ${NON2XX:-0}; socket ${SOCKERR:-none}"
echo "  latency       p50 $(field 50%)  p99 $(field 99%)"
echo "  after the load GET /v1/status answers $STATUS_OK"
echo "snapshot of $WHAT:"
echo "  alone         ${ALONE}s"
echo "  under load    ${LOADED}s ($(awk -v a="$ALONE" -v b="$LOADED" 'BEGIN { printf "%+.0f%%", (b / a - 1) * 100 }'))"
[ -n "${KEEP:-}" ] && echo "(wrk's own output: $W)"
[ -z "$NON2XX$SOCKERR" ] && [ "$STATUS_OK" = 200 ]
