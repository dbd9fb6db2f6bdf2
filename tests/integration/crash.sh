#!/bin/bash
# SPDX-License-Identifier: MIT
# Crash safety: chuted is killed with SIGKILL 20 times in the middle of a large
# snapshot and restarted each time. Afterwards a snapshot completes, restores
# byte-identical data, the index passes SQLite's integrity check after every
# kill, and temporary state and packs stay bounded (compared with a node that
# snapshotted the same data once, cleanly). Also: SIGTERM during a busy
# snapshot still exits 0 within 5 s.
. "$(dirname "$0")/lib.sh"
need jq sqlite3 sha256sum

MB=${CHUTE_CRASH_MB:-256}     # about a second of snapshot work on 2 cores
KILLS=${CHUTE_CRASH_KILLS:-20}
SRC=$T_TMP/src
mkdir -p "$SRC/small"
for i in 1 2 3 4 5 6 7 8; do
    head -c $((MB * 1024 * 1024 / 8 - i * 4099)) /dev/urandom > "$SRC/big$i"
done
for i in $(seq 1 50); do head -c $((i * 997)) /dev/urandom > "$SRC/small/s$i"; done
diag "source: $(du -sh "$SRC" | cut -f1)"

# state_tmp DIR: files that look like temporary or partial state
state_tmp() { (cd "$1" && find . -type f \( -ipath '*tmp*' -o -ipath '*partial*' -o -name '*.part' -o -name '*.new' -o -name '*~' \) 2>/dev/null); }
# pack_files DIR / pack_bytes DIR: pack files (anything under a directory or
# name containing "pack") and their total size
pack_files() { find "$1" -type f -path '*pack*' 2>/dev/null; }
pack_bytes() { pack_files "$1" | tr '\n' '\0' | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1; }
sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

node_init n
STATE=$NODE_DIR/state
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the tree" 0 ctl add "$SRC"

completed=0 integrity_bad=0 restart_bad=0 counts=""
for k in $(seq 1 "$KILLS"); do
    # work for every round, even after a snapshot completed: new data to
    # pack, and new mtimes on everything so the rest is read again
    head -c $((4 * 1024 * 1024)) /dev/urandom > "$SRC/small/new$k"
    touch "$SRC"/big*
    ctl snapshot "$SRC" >/dev/null 2>&1 &
    cpid=$!
    ms=$(( RANDOM % 451 + 50 ))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -KILL "$CHUTED_PID"
    wait "$CHUTED_PID" 2>/dev/null
    rc=0; wait "$cpid" || rc=$?
    [ "$rc" -eq 0 ] && completed=$((completed + 1))
    if [ -f "$STATE/index.db" ]; then
        r=$(sqlite3 "$STATE/index.db" 'PRAGMA integrity_check' 2>&1)
        [ "$r" = ok ] || { integrity_bad=$((integrity_bad + 1)); diag "kill $k: integrity_check: $r"; }
    else integrity_bad=$((integrity_bad + 1)); diag "kill $k: no index.db"; fi
    if ! start_chuted n; then restart_bad=$((restart_bad + 1)); diag "kill $k: restart failed"; break; fi
    counts="$counts $(state_tmp "$STATE" | wc -l)/$(pack_files "$STATE" | wc -l)"
done
diag "tmp/pack files after each restart:$counts"
diag "snapshots that completed before their kill: $completed of $KILLS"
is "chuted restarts after every SIGKILL" "$restart_bad" 0
is "index.db passes PRAGMA integrity_check after every SIGKILL" "$integrity_bad" 0

# SIGTERM while busy: start a snapshot of a changed file, then stop
head -c $((64 * 1024 * 1024)) /dev/urandom > "$SRC/fresh"
ctl snapshot "$SRC" >/dev/null 2>&1 &
cpid=$!
sleep 0.3
kill -TERM "$CHUTED_PID"
if wait_gone "$CHUTED_PID" 5; then ok "SIGTERM during a snapshot: exits within 5 s"; else not_ok "SIGTERM during a snapshot: exits within 5 s"; fi
is "SIGTERM during a snapshot: exit status 0" "${WAIT_RC:-none}" 0
wait "$cpid" 2>/dev/null
r=$(sqlite3 "$STATE/index.db" 'PRAGMA integrity_check' 2>&1)
is "index.db passes integrity_check after SIGTERM" "$r" ok

start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
rc_is "a snapshot completes after the crashes" 0 ctl --json snapshot "$SRC"
jq_is "... with no errors" "$T_TMP/last.out" '(if type == "array" then .[0] else . end) | .errors == 0'
rc_is "restore latest" 0 ctl restore latest "$T_TMP/restored"
sums "$SRC" > "$T_TMP/sums.src"
sums "$T_TMP/restored" > "$T_TMP/sums.dst" 2>/dev/null
if cmp -s "$T_TMP/sums.src" "$T_TMP/sums.dst"; then ok "restored data is byte-identical (sha256 of every file)"; else
    not_ok "restored data is byte-identical (sha256 of every file)"; diff "$T_TMP/sums.src" "$T_TMP/sums.dst" | head -10 | sed 's/^/#   /'; fi
rc_is "status --json" 0 ctl --json status
indexed_packs=$(jq -r .packs "$T_TMP/last.out" 2>/dev/null)
disk_packs=$(pack_files "$STATE" | wc -l)
is "every pack file on disk is in the index (status packs = files in packs/)" "$indexed_packs" "$disk_packs"
stop_chuted n || true
r=$(sqlite3 "$STATE/index.db" 'PRAGMA integrity_check' 2>&1)
is "index.db passes integrity_check at the end" "$r" ok

# the same data snapshotted once by a node that never crashed
node_init clean
start_chuted clean || { not_ok "clean node starts"; done_testing; exit; }
ctl add "$SRC" >/dev/null 2>&1
t0=$(date +%s%N)
rc_is "clean node: snapshot" 0 ctl snapshot "$SRC"
diag "clean snapshot of $(du -sh "$SRC" | cut -f1): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
stop_chuted clean || true
CLEAN=$T_TMP/clean/state

tmp_n=$(state_tmp "$STATE" | wc -l)
if [ "$tmp_n" -le 2 ]; then ok "temporary files left in the state dir: $tmp_n"; else
    not_ok "temporary files left in the state dir: $tmp_n (want <= 2)"; state_tmp "$STATE" | head | sed 's/^/#   /'; fi
bytes=$(pack_bytes "$STATE") clean_bytes=$(pack_bytes "$CLEAN")
diag "packs: $disk_packs files, $bytes bytes; clean node: $(pack_files "$CLEAN" | wc -l) files, $clean_bytes bytes"
# small packs sealed at the end of each completed snapshot are fine (continuous
# mode); what must not pile up is bytes, or files other than packs
if [ "${clean_bytes:-0}" -gt 0 ] && [ "$bytes" -le $((clean_bytes * 5 / 4 + 16 * 1024 * 1024)) ]; then ok "pack bytes stay bounded ($bytes vs $clean_bytes clean)"; else
    not_ok "pack bytes stay bounded ($bytes vs $clean_bytes clean)"; fi
other=$(find "$STATE" -type f ! -path '*pack*' | wc -l) clean_other=$(find "$CLEAN" -type f ! -path '*pack*' | wc -l)
if [ "$other" -le $((clean_other + 2)) ]; then ok "other files in the state dir stay bounded ($other vs $clean_other clean)"; else
    not_ok "other files in the state dir stay bounded ($other vs $clean_other clean)"; find "$STATE" -type f ! -path '*pack*' | sed 's/^/#   /'; fi
done_testing
