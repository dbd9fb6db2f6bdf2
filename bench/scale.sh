#!/bin/bash
# SPDX-License-Identifier: MIT
# chuted on a million small files (issue #14): builds FILES files of 1-8 KiB (uniform) in
# DIRS directories in a tmpfs, starts chuted on it and prints the start-up scan (the first,
# requested snapshot), a no-op snapshot after a restart, chuted's peak RSS (VmHWM) after
# each, its inotify watch count (`chutectl --json status`: roots[].watches), and, with a
# quiet period of 500 ms, how long after it one changed file is in a snapshot chuted takes by
# itself (and that snapshot's own duration, status's snapshot_ms).
#
#   bench/scale.sh                 (also: make bench-scale [FILES=2000 DIRS=100])
#
# Environment: FILES (default 1000000), DIRS (default 50000), SEED (default 1), BENCH_DIR
# (default /tmp/chute-bench: chuted's state, on disk), SCALE_TMPFS (a mounted tmpfs to build
# the tree in; default: one mounted on $BENCH_DIR/scale-tmpfs, else /dev/shm), CHUTED /
# CHUTECTL (default: the -O2 build of build.sh), KEEP=1 (keep the tree and state).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
PROG=scale.sh
. "$HERE/lib.sh"
. "$HERE/build.sh"

FILES=${FILES:-1000000}
DIRS=${DIRS:-50000}
SEED=${SEED:-1}
STATE=$WORK/scale
CST=$STATE/chute; CSOCK=$STATE/chute.sock; CCONF=$STATE/daemon.conf; CLOG=$STATE/chuted.log
[[ $FILES =~ ^[0-9]+$ && $DIRS =~ ^[0-9]+$ && $DIRS -gt 0 && $FILES -gt 0 ]] || die "FILES and DIRS must be positive integers"

# What the tree takes in tmpfs: each file rounds up to 4 KiB pages (1-8 KiB uniform: 6.3 KiB
# on average, 6.5 with slack), each directory a page or more; plus 1 GiB for chuted and the
# page cache of its state.
NEED=$((FILES * 6656 + (DIRS + DIRS / 250 + 1) * 4096 + 64 * MiB))
AVAIL=$(mem_avail)
[ $((NEED + 1024 * MiB)) -le "$AVAIL" ] ||
        die "the tree needs about $((NEED / MiB)) MiB of tmpfs and 1 GiB more for chuted; only $((AVAIL / MiB)) MiB of memory is available: scale it down with FILES= and DIRS="

MOUNTED=0 MNT=
cleanup() {
        chute_stop
        if [ "${KEEP:-0}" != 1 ]; then
                rm -rf "${STATE:?}"
                [ -n "$MNT" ] && rm -rf "${MNT:?}/tree"
                [ "$MOUNTED" = 1 ] && umount "$MNT" 2>/dev/null
        fi
        return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${SCALE_TMPFS:-}" ]; then
        [ "$(stat -f -c %T "$SCALE_TMPFS")" = tmpfs ] || die "SCALE_TMPFS=$SCALE_TMPFS is not a tmpfs"
        MNT=$SCALE_TMPFS
else
        MNT=$WORK/scale-tmpfs; mkdir -p "$MNT"
        if mount -t tmpfs -o size=$((NEED + 64 * MiB)),nr_inodes=$((FILES + DIRS * 2 + 1024)) chute-bench-scale "$MNT" 2>/dev/null; then
                MOUNTED=1
        else
                MNT=/dev/shm/chute-bench-scale; mkdir -p "$MNT"
                log "cannot mount a tmpfs, building the tree under $MNT"
        fi
fi
FREE=$(df -B1 --output=avail "$MNT" | tail -1)
[ "$NEED" -le "$FREE" ] || die "$MNT has $((FREE / MiB)) MiB free; the tree needs about $((NEED / MiB)) MiB"
TREE=$MNT/tree

build_chute
mkdir -p "$RES"; rm -rf "$STATE"; mkdir -p "$CST"
bench_daemon "$STATE/bin"
log "building $FILES files in $DIRS directories under $TREE"
t0=$(now_ns)
"$HERE/make-corpus.sh" tree "$TREE" "$SEED" "$FILES" "$DIRS" 1024 8192
t1=$(now_ns)
MADE=$(secs "$t0" "$t1")
TREE_BYTES=$(du -sb "$TREE" | cut -f1)

watches() { ctl --json status | python3 -c 'import json, sys; print(sum(r.get("watches", 0) for r in json.load(sys.stdin).get("roots", [])))'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

chute_start
ctl add "$TREE" >/dev/null
hwm_reset
log "first snapshot (start-up scan)"
t0=$(now_ns); ctl snapshot >"$STATE/out-first.txt" 2>&1 || die "first snapshot failed: $(cat "$STATE/out-first.txt")"; t1=$(now_ns)
FIRST=$(secs "$t0" "$t1"); HWM1=$(hwm_kb)
chute_stop
chute_start
log "no-op snapshot after a restart"
t0=$(now_ns); ctl snapshot >"$STATE/out-noop.txt" 2>&1 || die "no-op snapshot failed: $(cat "$STATE/out-noop.txt")"; t1=$(now_ns)
NOOP=$(secs "$t0" "$t1"); HWM2=$(hwm_kb)
W=$(watches)

# One changed file, snapshotted by the daemon itself once the root has been quiet for
# QUIET: the latency past the quiet period, and the snapshot's duration bucket.
QUIET_MS=500
nsnaps() { ctl --json snapshots | grep -o '"id":' | wc -l; }   # cheap: polled
status_is_quiet() { ctl --json status | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if d.get("state") == "idle" and all(r.get("state") == "watching" and not r.get("pending") for r in d.get("roots", [])) else 1)'; }
chute_stop
CHUTE_CONF_TEXT=$(printf '[watch]\nquiet_period = %dms\nmax_delay = 1h\nrescan_interval = 1d' "$QUIET_MS")
chute_start
sleep 1
for i in $(seq 1200); do status_is_quiet && break; sleep 0.5; done   # the start-up scan
status_is_quiet || die "chuted's start-up scan did not end within 10 minutes"
log "one file changed: the daemon's own snapshot"
N0=$(nsnaps)
ONE=$(find "$TREE" -type f -print -quit)
t0=$(now_ns); echo "one change" >>"$ONE"
for i in $(seq 3000); do [ "$(nsnaps)" -gt "$N0" ] && break; sleep 0.02; done
[ "$(nsnaps)" -gt "$N0" ] || die "chuted took no snapshot of the changed file"
t1=$(now_ns)
ONE_MS=$(awk -v a="$t0" -v b="$t1" -v q="$QUIET_MS" 'BEGIN { printf "%.0f", (b - a) / 1e6 - q }')
ONE_SNAP_MS=$(ctl --json status | python3 -c 'import json, sys; print(json.load(sys.stdin).get("snapshot_ms", "?"))')
LIMIT=$(cat /proc/sys/fs/inotify/max_user_watches 2>/dev/null || echo "?")
{
        echo "scale.sh $STAMP: $FILES files of 1-8 KiB in $DIRS directories, $(awk -v b="$TREE_BYTES" 'BEGIN { printf "%.2f GiB", b / 1073741824 }') in tmpfs ($MNT; made in $MADE s), $(nproc) cores"
        echo "  start-up scan (first snapshot, requested)  $FIRST s"
        echo "  no-op snapshot after a restart             $NOOP s"
        echo "  chuted peak RSS (VmHWM)                    $(mib "$HWM1") MiB after the first snapshot, $(mib "$HWM2") MiB after the restart and the no-op"
        echo "  one changed file, after the quiet period    $ONE_MS ms until listed (polled every 20 ms); the snapshot itself took $ONE_SNAP_MS ms"
        echo "  inotify watches (roots[].watches)          $W (fs.inotify.max_user_watches = $LIMIT; directories with the root: $((DIRS + (DIRS + 249) / 250 + 1)))"
        echo "  chuted: $CHUTED"
} | tee "$RES/scale-$STAMP.txt"
