#!/bin/bash
# SPDX-License-Identifier: MIT
# The index's write-ahead log stays small: after a restore (which leaves a
# read transaction pinned on every worker that read objects) 200 snapshots
# in a row keep index.db-wal under 4 MiB, and checkpoints happen (the log
# restarts: its header's checkpoint counter grows).
. "$(dirname "$0")/lib.sh"
need jq sqlite3 od

N=${CHUTE_WAL_SNAPSHOTS:-200}
LIMIT=$((4 * 1024 * 1024))
SRC=$T_TMP/src
mkdir -p "$SRC/d"
for i in $(seq 1 30); do head -c $((i * 3001)) /dev/urandom > "$SRC/d/f$i"; done

node_init n
node_conf n daemon "workers = 4"
STATE=$NODE_DIR/state
WAL=$STATE/index.db-wal
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the tree" 0 ctl add "$SRC"
rc_is "a first snapshot" 0 ctl snapshot "$SRC"
rc_is "restore it (workers read objects)" 0 ctl restore latest "$T_TMP/restored"

# wal_ckpt: the checkpoint sequence number in the log's header (0 without a log)
wal_ckpt() { [ -s "$WAL" ] && od -An -tu4 --endian=big -j12 -N4 "$WAL" | tr -d ' ' || echo 0; }
ckpt0=$(wal_ckpt)
max=0 failed=0 t0=$(date +%s)
for k in $(seq 1 "$N"); do
    head -c 5000 /dev/urandom > "$SRC/d/f$((k % 30 + 1))"
    ctl snapshot "$SRC" >/dev/null 2>&1 || failed=$((failed + 1))
    size=$(stat -c %s "$WAL" 2>/dev/null || echo 0)
    [ "$size" -gt "$max" ] && max=$size
done
ckpt1=$(wal_ckpt)
diag "$N snapshots in $(( $(date +%s) - t0 )) s; largest index.db-wal: $max bytes; checkpoint counter $ckpt0 -> $ckpt1"
is "$N snapshots succeed" "$failed" 0
if [ "$max" -gt 0 ] && [ "$max" -lt "$LIMIT" ]; then ok "index.db-wal stays under 4 MiB (largest: $max bytes)"; else
    not_ok "index.db-wal stays under 4 MiB (largest: $max bytes)"; fi
if [ "$ckpt1" -gt "$ckpt0" ]; then ok "checkpoints restart the log ($ckpt0 -> $ckpt1)"; else
    not_ok "checkpoints restart the log ($ckpt0 -> $ckpt1)"; fi
rc_is "snapshots are listed" 0 ctl --json snapshots
jq_is "... all $((N + 1)) of them" "$T_TMP/last.out" "length >= $((N + 1))"
stop_chuted n || true
r=$(sqlite3 "$STATE/index.db" 'PRAGMA integrity_check' 2>&1)
is "index.db passes integrity_check" "$r" ok
done_testing
