#!/bin/bash
# SPDX-License-Identifier: MIT
# Prune next to restic, on the same history, in one run: a corpus (about
# 1 GiB at SCALE=1: 48 files of 16 MiB, 6000 small files of 1-64 KiB, a
# third of them text) and ROUNDS (20) mutate rounds (two big files and 2 %
# of the small ones rewritten, 1 MiB appended to a log, and a 16 MiB file
# replaced, as a rotated log or image would be), each backed up by chute and
# by restic; then the odd rounds are forgotten in both and each prunes with
# the same --max-unused (MAX_UNUSED, default 0: everything unused goes).
# Prints prune time, CPU, bytes read and written by the process (rchar and
# wchar of /proc/PID/io), and stored bytes before and after, side by side.
#
#   bench/prune.sh [SCALE=1] [ROUNDS=20]      (also: make bench-prune)
#
# Environment: MAX_UNUSED (percent, default 0), BENCH_DIR (default /tmp/chute-bench), CHUTED / CHUTECTL
# (default: an -O2 build of this tree under $BENCH_DIR/build), KEEP=1.
# Runs from a clone alone; needs restic and python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SCALE=${1:-${SCALE:-1}}
ROUNDS=${2:-${ROUNDS:-20}}
MAX_UNUSED=${MAX_UNUSED:-0}
PROG=prune.sh
. "$HERE/lib.sh"
CORPUS=$WORK/prune-corpus
STATE=$WORK/prune

install_deps restic python3
. "$HERE/build.sh"
build_chute

io() { awk '/^(rchar|wchar):/ { printf "%s ", $2 } END { print "" }' "/proc/$1/io"; }
cpu() { sed 's/.*) //' "/proc/$1/stat" | awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($12 + $13) / t }'; }

# corpus DIR ROUND: round 0 generates; round N rewrites two big files
# wholly, 2 % of the small files, and appends 1 MiB to a log
corpus() {
        python3 - "$1" "$2" "$SCALE" <<'EOP'
import os, random, sys
d, rnd, scale = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
nbig, nsmall = max(1, int(48 * scale)), max(10, int(6000 * scale))
r = random.Random(rnd * 7919 + 1)
def text(n):
    words = [b"backup", b"snapshot", b"chute", b"restic", b"pack", b"tree", b"data", b"\n"]
    out = bytearray()
    while len(out) < n:
        out += r.choice(words) + b" "
    return bytes(out[:n])
def small(i):
    n = int(1024 * 64 ** r.random())
    return text(n) if i % 3 == 0 else r.randbytes(n)
os.makedirs(d + "/big", exist_ok=True)
if rnd == 0:
    for i in range(nbig):
        open(f"{d}/big/b{i:03}.bin", "wb").write(r.randbytes(16 << 20))
    for i in range(nsmall):
        os.makedirs(f"{d}/small/d{i // 200:02}", exist_ok=True)
        open(f"{d}/small/d{i // 200:02}/f{i:05}", "wb").write(small(i))
    open(f"{d}/app.log", "wb").write(text(1 << 20))
else:
    for i in r.sample(range(nbig), min(2, nbig)):
        open(f"{d}/big/b{i:03}.bin", "wb").write(r.randbytes(16 << 20))
    for i in r.sample(range(nsmall), max(1, nsmall // 50)):
        open(f"{d}/small/d{i // 200:02}/f{i:05}", "wb").write(small(i))
    open(f"{d}/app.log", "ab").write(text(1 << 20))
open(f"{d}/churn.bin", "wb").write(r.randbytes(int((16 << 20) * scale)))
EOP
}

rm -rf "$STATE" "$CORPUS"
mkdir -p "$STATE"
log "corpus (SCALE=$SCALE) in $CORPUS"
corpus "$CORPUS" 0

# chute: lib.sh's chuted (no watching in the measured window), no automatic
# retention, no listeners, and the shortest grace
CST=$STATE/chute; CSOCK=$STATE/chuted.sock; CCONF=$STATE/chuted.conf; CLOG=$STATE/chuted.log
CHUTE_CONF_TEXT="$CHUTE_CONF_TEXT
$(printf '[retention]\nauto = no\n[prune]\ngrace = 1ms\n[peer]\nlisten = none\n[api]\nlisten = none')"
trap 'chute_stop; [ "${KEEP:-0}" = 1 ] || rm -rf "$STATE" "$CORPUS"' EXIT
bench_daemon "$STATE/bin"
chute_start
ctl add "$CORPUS" >/dev/null
# restic
export RESTIC_REPOSITORY=$STATE/restic RESTIC_PASSWORD=bench
restic init -q >/dev/null

CIDS=() RIDS=()
for r in $(seq 0 "$ROUNDS"); do
        [ "$r" -eq 0 ] || corpus "$CORPUS" "$r"
        CIDS+=("$(ctl snapshot "$CORPUS")")
        restic backup -q --host bench "$CORPUS" >/dev/null
        RIDS+=("$(restic snapshots --json --latest 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')")
        log "round $r backed up"
done

# forget the odd rounds in both
FC=() FR=()
for r in $(seq 1 2 "$ROUNDS"); do FC+=("${CIDS[$r]}"); FR+=("${RIDS[$r]}"); done
for id in "${FC[@]}"; do ctl forget "$id" >/dev/null; done
restic forget -q "${FR[@]}" >/dev/null

sync
CB=$(dusb "$STATE/chute/packs")
RB=$(dusb "$RESTIC_REPOSITORY")
UNUSED=$(ctl --json prune --dry-run --max-unused "$MAX_UNUSED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["unused_bytes"])')

log "chute prune"
read -r cr0 cw0 < <(io "$DPID")
c0=$(cpu "$DPID")
t0=$(now_ns)
ctl prune --max-unused "$MAX_UNUSED" > "$STATE/chute-prune.txt"
t1=$(now_ns)
read -r cr1 cw1 < <(io "$DPID")
c1=$(cpu "$DPID")
sync
CA=$(dusb "$STATE/chute/packs")
CT=$(secs "$t0" "$t1")

log "restic prune"
t0=$(now_ns)
restic prune --max-unused "$MAX_UNUSED%" > "$STATE/restic-prune.txt" 2>&1 &
RP=$!
last_io="0 0" last_cpu=0
# the counters only grow; a zombie's read as zeros, so keep the highest seen
while kill -0 "$RP" 2>/dev/null; do
        v=$(io "$RP" 2>/dev/null) && [ -n "$v" ] && [ "${v%% *}" -ge "${last_io%% *}" ] && last_io=$v
        v=$(cpu "$RP" 2>/dev/null) && [ -n "$v" ] && awk -v a="$v" -v b="$last_cpu" 'BEGIN { exit !(a >= b) }' &&
                last_cpu=$v
        sleep 0.05
done
wait "$RP" || die "restic prune failed: $(tail -3 "$STATE/restic-prune.txt")"
t1=$(now_ns)
read -r rr rw <<< "$last_io"
RT=$(secs "$t0" "$t1")
RA=$(dusb "$RESTIC_REPOSITORY")

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'; }
printf '\nprune after %s rounds, %s forgotten (SCALE=%s), --max-unused %s%%, page cache warm, chute with [prune] grace = 1ms\n' "$ROUNDS" "${#FC[@]}" "$SCALE" "$MAX_UNUSED"
printf '%-34s %14s %14s %10s\n' "" chute restic "restic/chute"
printf '%-34s %14s %14s %10s\n' "prune wall (s)" "$CT" "$RT" "$(ratio "$CT" "$RT")"
printf '%-34s %14s %14s %10s\n' "prune CPU (s)" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" "$last_cpu" ""
printf '%-34s %14s %14s %10s\n' "read by the process (MiB)" "$(mib $((cr1 - cr0)))" "$(mib "$rr")" "$(ratio $((cr1 - cr0)) "$rr")"
printf '%-34s %14s %14s %10s\n' "written by the process (MiB)" "$(mib $((cw1 - cw0)))" "$(mib "$rw")" "$(ratio $((cw1 - cw0)) "$rw")"
printf '%-34s %14s %14s %10s\n' "stored before (MiB)" "$(mib "$CB")" "$(mib "$RB")" "$(ratio "$CB" "$RB")"
printf '%-34s %14s %14s %10s\n' "stored after (MiB)" "$(mib "$CA")" "$(mib "$RA")" "$(ratio "$CA" "$RA")"
printf '%-34s %14s %14s\n' "freed (MiB)" "$(mib $((CB - CA)))" "$(mib $((RB - RA)))"
printf '%-34s %14s\n' "chute: unused before prune (MiB)" "$(mib "$UNUSED")"
sed 's/^/  chute: /' "$STATE/chute-prune.txt"
