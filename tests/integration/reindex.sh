#!/bin/bash
# SPDX-License-Identifier: MIT
# chutectl reindex rebuilds the index from the pack files alone: with the
# daemon running (same snapshot list, check clean, restores byte-identical)
# and after index.db was deleted while it was stopped (the snapshot list
# comes back, restores are byte-identical), and after a pack row was deleted
# (check counts the object rows left without a pack); refused while a snapshot runs
# (check is not); after packs were lost for good, the next snapshot stores
# the unchanged files again. Also: --from an unknown store.
. "$(dirname "$0")/lib.sh"
need jq rsync sqlite3

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

# an index that lost a pack row behind the foreign key's back (while chuted
# runs: at start it would index the pack file again by itself)
sqlite3 -cmd ".timeout 5000" "$T_TMP/A/state/index.db" \
    "PRAGMA foreign_keys = OFF; DELETE FROM packs WHERE id = (SELECT pack_id FROM objects LIMIT 1);" ||
    bail_out "cannot edit index.db"
rc_is "check finds the object rows without a pack" 1 ctl --json check
jq_is "and counts them" "$T_TMP/last.out" ".ok == false and .orphan_objects > 0"
rc_is "reindex puts the pack back" 0 ctl reindex
rc_is "check is clean again" 0 ctl --json check
is "the same snapshots" "$(snaps)" "$BEFORE"

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

# packs lost for good: reindex drops them, and the next snapshot stores the
# unchanged files' content again instead of reusing file-cache rows that
# point at objects that exist nowhere
SRC2=$T_TMP/src2
mkdir -p "$SRC2"
head -c 300000 /dev/urandom > "$SRC2/lost"
echo small > "$SRC2/small"
sleep 0.2 # older than the racy window: the file cache is trusted
packs() { find "$T_TMP/A/state/packs" -type f | sort; }
packs > "$T_TMP/packs-before"
ctl add "$SRC2" >/dev/null || bail_out "add src2 failed"
ctl snapshot "$SRC2" >/dev/null || bail_out "snapshot of src2 failed"
packs | comm -13 "$T_TMP/packs-before" - > "$T_TMP/packs-new"
check "the snapshot wrote packs" test -s "$T_TMP/packs-new"
xargs rm -f < "$T_TMP/packs-new"
rc_is "reindex after packs were lost" 0 ctl --json reindex
rc_is "a snapshot of the unchanged files" 0 ctl snapshot "$SRC2"
rm -rf "$T_TMP/r4"
rc_is "its restore" 0 ctl restore "latest:$SRC2" "$T_TMP/r4"
check "has the files back, byte-identical" diff -r "$SRC2" "$T_TMP/r4"
rc_is "check --read-data finds the lost snapshot" 1 ctl check --read-data
check "... and no other" grep -q "^1 paths in 1 snapshots cannot be restored" "$T_TMP/last.out"

# no forget while a reindex rebuilds the snapshot rows (the snapshot would
# come back); a check may run
before=$(ctl --json snapshots | jq length)
touch "$HOOK/reindex.wait"
ctl reindex > "$T_TMP/reindex-bg.out" 2>&1 & RX_PID=$!
T_PIDS+=("$RX_PID")
wait_file 60 "$HOOK/reindex.reached" || bail_out "the reindex did not reach the hook"
rc_is "forget while a reindex runs is refused" 1 ctl forget latest
check "says why" grep -q "busy: a reindex is running" "$T_TMP/last.err"
rm -f "$HOOK/reindex.wait"
rc=0; wait "$RX_PID" || rc=$?
is "the reindex completes" "$rc" 0
is "no snapshot went" "$(ctl --json snapshots | jq length)" "$before"

rc_is "reindex --from an unknown store" 1 ctl reindex --from nosuch
check "says so" grep -q "no store named nosuch" "$T_TMP/last.err"
rc_is "reindex takes no argument" 2 ctl reindex extra
done_testing
