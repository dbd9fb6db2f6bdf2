#!/bin/bash
# SPDX-License-Identifier: MIT
# chutectl reindex rebuilds the index from the pack files alone: with the
# daemon running (same snapshot list, check clean, restores byte-identical)
# and after index.db was deleted while it was stopped (the snapshot list
# comes back, restores are byte-identical); refused while a snapshot runs
# (check is not). Also: --from an unknown store.
. "$(dirname "$0")/lib.sh"
need jq rsync

SRC=$T_TMP/src
HOOK=$T_TMP/hook
mkdir -p "$SRC/d" "$HOOK"
export CHUTE_TEST_HOOK_DIR=$HOOK
head -c $((2 * 1024 * 1024)) /dev/urandom > "$SRC/big"
echo one > "$SRC/d/small"
node_init A
node_conf A watch "quiet_period = 1h" "max_delay = 2h" # snapshots only when asked
start_chuted A || bail_out "chuted did not start"
ctl add "$SRC" >/dev/null || bail_out "add failed"
ctl snapshot >/dev/null || bail_out "snapshot 1 failed"
echo two >> "$SRC/d/small"
head -c 100000 /dev/urandom > "$SRC/d/new"
ctl snapshot >/dev/null || bail_out "snapshot 2 failed"
rm "$SRC/big"
ctl snapshot >/dev/null || bail_out "snapshot 3 failed"
snaps() { ctl --json snapshots | jq -c '[.[] | {id, time, tree}]'; }
BEFORE=$(snaps)
is "three snapshots" "$(echo "$BEFORE" | jq length)" 3
restore_all() {
    local dir=$1 id
    rm -rf "$dir"
    for id in $(ctl --json snapshots | jq -r '.[].id'); do
        mkdir -p "$dir/$id"
        ctl restore "$id" "$dir/$id" >/dev/null || return 1
    done
}
restore_all "$T_TMP/r0" || bail_out "restores before failed"

rc_is "reindex with the daemon running" 0 ctl --json reindex
jq_is "it read every pack, added no snapshot" "$T_TMP/last.out" \
    ".packs == $(find "$T_TMP/A/state/packs" -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}' | wc -l) and .objects > 0 and .snapshots_added == 0 and .errors == 0"
is "the same snapshots" "$(snaps)" "$BEFORE"
rc_is "check is clean" 0 ctl check --read-data
check "restores after it" restore_all "$T_TMP/r1"
is "byte-identical" "$(rsync -rlcn --itemize-changes --delete "$T_TMP/r0/" "$T_TMP/r1/" | wc -l)" 0

stop_chuted A || diag "chuted did not stop cleanly"
rm -f "$T_TMP/A/state/index.db" "$T_TMP/A/state/index.db-wal" "$T_TMP/A/state/index.db-shm"
start_chuted A || bail_out "chuted did not start without index.db"
is "no snapshots without the index" "$(ctl --json snapshots | jq length)" 0
rc_is "reindex after index.db was deleted" 0 ctl --json reindex
jq_is "it found the three snapshots" "$T_TMP/last.out" ".snapshots_added == 3 and .errors == 0"
is "the same snapshot list" "$(snaps)" "$BEFORE"
rc_is "check --read-data is clean" 0 ctl check --read-data
check "restores" restore_all "$T_TMP/r2"
is "byte-identical to before" "$(rsync -rlcn --itemize-changes --delete "$T_TMP/r0/" "$T_TMP/r2/" | wc -l)" 0
check "even the deleted file in snapshot 1" cmp "$T_TMP/r2/$(echo "$BEFORE" | jq -r '.[0].id')/big" \
    "$T_TMP/r0/$(echo "$BEFORE" | jq -r '.[0].id')/big"

# a snapshot held between its walk and its reads (daemon/test-hook.c); the
# watched root went with index.db: add it again
touch "$HOOK/snapshot-read.wait" "$SRC/d/later"
ctl add "$SRC" >/dev/null || bail_out "add failed"
ctl snapshot >"$T_TMP/snap.out" 2>&1 &
SNAP_PID=$!
wait_file 60 "$HOOK/snapshot-read.reached" || bail_out "the snapshot did not reach the hook"
rc_is "reindex while a snapshot runs is refused" 1 ctl reindex
check "says why" grep -q "busy: a snapshot is running" "$T_TMP/last.err"
rc_is "check runs meanwhile" 0 ctl check
rm -f "$HOOK/snapshot-read.wait"
rc=0; wait "$SNAP_PID" || rc=$?
is "the snapshot completes" "$rc" 0
rc_is "reindex afterwards" 0 ctl --json reindex
check "the new snapshot is listed" test "$(ctl --json snapshots | jq length)" -ge 4
rc_is "check --read-data is clean" 0 ctl check --read-data

rc_is "reindex --from an unknown store" 1 ctl reindex --from nosuch
check "says so" grep -q "no store named nosuch" "$T_TMP/last.err"
rc_is "reindex takes no argument" 2 ctl reindex extra
done_testing
