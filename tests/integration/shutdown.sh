#!/bin/bash
# SPDX-License-Identifier: MIT
# Shutdown in the middle of a big snapshot: SIGTERM while chuted snapshots
# 2 GiB (a 1 GiB file, whose chunks are stored by nested parallel batches on
# every worker, and four of 256 MiB) exits 0 within 5 s; the next start is clean (integrity_check,
# nothing to re-index, no temporary files, no warning); a snapshot then
# completes and restores byte-identical data. SIGTERM during a restore of it
# exits within 5 s too.
. "$(dirname "$0")/lib.sh"
need jq sqlite3 sha256sum openssl

# a quarter of it in the sanitizer suites, whose slowdown keeps the
# snapshot running as long (TSan took 106 s over the 2 GiB)
MB=${CHUTE_SHUTDOWN_MB:-$([ -n "${CHUTE_SANITIZER_SUITE:-}" ] && echo 512 || echo 2048)}
SRC=$T_TMP/src
mkdir -p "$SRC/small"
# incompressible and fast: AES-CTR keystream (/dev/urandom is slower)
gen() { openssl enc -aes-128-ctr -pass pass:"chute$1" -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c "$2"; }
gen 0 $((MB * 1024 * 1024 / 2)) > "$SRC/big"
for i in 1 2 3 4; do gen $i $((MB * 1024 * 1024 / 8)) > "$SRC/big$i"; done
for i in $(seq 1 20); do head -c $((i * 1013)) /dev/urandom > "$SRC/small/s$i"; done
diag "source: $(du -sh "$SRC" | cut -f1)"

node_init n
node_conf n daemon "workers = 4"
STATE=$NODE_DIR/state
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the tree (starts its first snapshot)" 0 ctl add "$SRC"

# wait until the snapshot has committed an eighth of the big file
progress=0
for _ in $(seq 1 600); do
    progress=$(ctl --json status 2>/dev/null | jq -r '.bytes // 0' 2>/dev/null)
    [ "${progress:-0}" -ge $((MB * 1024 * 1024 / 8)) ] && break
    sleep 0.05
done
state=$(ctl --json status 2>/dev/null | jq -r .state)
diag "SIGTERM at $((${progress:-0} / 1048576)) MiB into the snapshot (state: $state)"
is "a snapshot is running when SIGTERM comes" "$state" "backing up"
t0=$(date +%s%N)
kill -TERM "$CHUTED_PID"
if wait_gone "$CHUTED_PID" $((5 * T_SLOW)); then ok "SIGTERM during a $MB MiB snapshot: exits within $((5 * T_SLOW)) s"; else
    not_ok "SIGTERM during a $MB MiB snapshot: exits within $((5 * T_SLOW)) s"
    kill -KILL "$CHUTED_PID" 2>/dev/null; wait "$CHUTED_PID" 2>/dev/null; fi
diag "exit after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
is "... with exit status 0" "${WAIT_RC:-none}" 0
r=$(sqlite3 "$STATE/index.db" 'PRAGMA integrity_check' 2>&1)
is "index.db passes integrity_check after SIGTERM" "$r" ok

lines=$(wc -l < "$NODE_DIR/chuted.log")
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
sleep 0.5
tail -n +"$((lines + 1))" "$NODE_DIR/chuted.log" > "$T_TMP/restart.log"
if grep -qi 're-indexed' "$T_TMP/restart.log"; then not_ok "the restart has nothing to re-index"; grep -i 're-indexed' "$T_TMP/restart.log" | sed 's/^/#   /'
else ok "the restart has nothing to re-index"; fi
if grep -Eq ': (emerg|alert|crit|error|warning): ' "$T_TMP/restart.log"; then not_ok "the restart logs no warning or error"
    grep -E ': (emerg|alert|crit|error|warning): ' "$T_TMP/restart.log" | head | sed 's/^/#   /'
else ok "the restart logs no warning or error"; fi
tmp=$(cd "$STATE" && find . -type f \( -ipath '*tmp*' -o -name '*.part' \) | wc -l)
is "no temporary files in the state dir" "$tmp" 0

rc_is "a snapshot completes after the restart" 0 ctl --json snapshot "$SRC"
jq_is "... with no errors" "$T_TMP/last.out" '(if type == "array" then .[0] else . end) | .errors == 0'

# SIGTERM during a restore (no snapshot running: the loop stops at once, while
# the restore job waits for its per-file items, some still queued: five big
# files on four workers)
for i in $(seq 1 40); do head -c $((i * 4099)) /dev/urandom > "$SRC/small/r$i"; done
rc_is "a snapshot with 40 more small files" 0 ctl snapshot "$SRC"
ctl restore latest "$T_TMP/interrupted" >"$T_TMP/interrupted.out" 2>&1 &
cpid=$!
for _ in $(seq 1 200); do
    got=$(du -sm "$T_TMP/interrupted" 2>/dev/null | cut -f1)
    [ "${got:-0}" -ge 64 ] && break
    sleep 0.05
done
t0=$(date +%s%N)
kill -TERM "$CHUTED_PID"
if wait_gone "$CHUTED_PID" $((5 * T_SLOW)); then ok "SIGTERM during a restore: exits within $((5 * T_SLOW)) s"; else
    not_ok "SIGTERM during a restore: exits within $((5 * T_SLOW)) s"
    kill -KILL "$CHUTED_PID" 2>/dev/null; wait "$CHUTED_PID" 2>/dev/null; fi
diag "exit after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
is "... with exit status 0" "${WAIT_RC:-none}" 0
crc=0; wait "$cpid" 2>/dev/null || crc=$?
if [ "$crc" -ne 0 ]; then ok "the interrupted restore is not reported as done (chutectl exits $crc)"
else not_ok "the interrupted restore is not reported as done"; sed 's/^/#   /' "$T_TMP/interrupted.out"; fi
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }

rc_is "restore latest" 0 ctl restore latest "$T_TMP/restored"
if diff -r "$SRC" "$T_TMP/restored" >/dev/null; then
    ok "restored data is byte-identical"; else not_ok "restored data is byte-identical"; fi
stop_chuted n || true
done_testing
