#!/bin/bash
# SPDX-License-Identifier: MIT
# Forgotten snapshots stay forgotten through a reindex: six snapshots, one
# forgotten by id, two more by forget --keep-last 3 (each forget writes a
# tombstone object into the packs before it deletes rows). A reindex with
# the daemon running, and one after index.db was deleted, list exactly the
# three kept snapshots, which restore byte-identically; check --read-data
# is clean with the tombstones in the packs. A crash between the tombstone
# and the delete (emulated: the forgotten row put back with sqlite3) is
# healed by the next reindex, which drops the row. A prune keeps every
# tombstone: after it, a reindex from scratch still lists only the kept.
. "$(dirname "$0")/lib.sh"
need jq rsync sqlite3

SRC=$T_TMP/src
mkdir -p "$SRC/d"
node_init A
node_manual A
node_conf A prune "grace = 1s" "max_unused = 0"
start_chuted A || bail_out "chuted did not start"
ctl add "$SRC" >/dev/null || bail_out "add failed"
for i in 1 2 3 4 5 6; do
    head -c $((100000 + i * 5000)) /dev/urandom > "$SRC/d/file$i"
    echo "version $i" > "$SRC/small"
    ctl snapshot >/dev/null || bail_out "snapshot $i failed"
done
snaps() { ctl --json snapshots | jq -c '[.[] | {id, time, tree}]'; }
mapfile -t ALL < <(ctl --json snapshots | jq -r '.[].id')
is "six snapshots" "${#ALL[@]}" 6

rc_is "forget the fifth by id" 0 ctl --json forget "${ALL[4]}"
jq_is "one removed" "$T_TMP/last.out" ".removed == 1"
rc_is "forget --keep-last 3" 0 ctl --json forget --keep-last 3
jq_is "two more removed" "$T_TMP/last.out" ".removed == 2"
KEPT=$(snaps)
is "the kept ones: third, fourth, sixth" "$(echo "$KEPT" | jq -r '[.[].id] | join(" ")')" \
    "${ALL[2]} ${ALL[3]} ${ALL[5]}"
TOMBS=$(sqlite3 -cmd ".timeout 5000" "$T_TMP/A/state/index.db" "SELECT count(*) FROM objects WHERE type = 5")
is "two tombstone objects in the index, one per forget" "$TOMBS" 2
rc_is "a dry run writes no tombstone" 0 ctl forget --keep-last 1 --dry-run
is "... still two" "$(sqlite3 -cmd ".timeout 5000" "$T_TMP/A/state/index.db" \
    "SELECT count(*) FROM objects WHERE type = 5")" 2

restore_all() {
    local dir=$1 id
    rm -rf "$dir"
    for id in $(ctl --json snapshots | jq -r '.[].id'); do
        mkdir -p "$dir/$id"
        ctl restore "$id" "$dir/$id" >/dev/null || return 1
    done
}
restore_all "$T_TMP/r0" || bail_out "restores before failed"
rc_is "check --read-data is clean with tombstones in the packs" 0 ctl --json check --read-data
jq_is "... ok" "$T_TMP/last.out" ".ok == true"

rc_is "reindex with the daemon running" 0 ctl --json reindex
jq_is "nothing added, three kept forgotten, no error" "$T_TMP/last.out" \
    ".snapshots_added == 0 and .forgotten == 3 and .errors == 0"
is "the same three snapshots" "$(snaps)" "$KEPT"

stop_chuted A || diag "chuted did not stop cleanly"
rm -f "$T_TMP/A/state/index.db" "$T_TMP/A/state/index.db-wal" "$T_TMP/A/state/index.db-shm"
start_chuted A || bail_out "chuted did not start without index.db"
is "no snapshots without the index" "$(ctl --json snapshots | jq length)" 0
rc_is "reindex after index.db was deleted" 0 ctl --json reindex
jq_is "three added, three kept forgotten" "$T_TMP/last.out" \
    ".snapshots_added == 3 and .forgotten == 3 and .errors == 0"
is "exactly the kept snapshots" "$(snaps)" "$KEPT"
check "restores" restore_all "$T_TMP/r1"
is "byte-identical to before" "$(rsync -rlcn --itemize-changes --delete "$T_TMP/r0/" "$T_TMP/r1/" | wc -l)" 0
rc_is "check --read-data is clean" 0 ctl check --read-data
ctl reindex > "$T_TMP/text.out" 2>&1
check "the text output names the forgotten ones" grep -q "3 forgotten snapshots stay forgotten" "$T_TMP/text.out"

# a crash after the tombstone, before the delete: the row is still listed
ctl add "$SRC" >/dev/null || bail_out "add failed"
LAST=$(echo "$KEPT" | jq -r '.[-1].id')
DB=$T_TMP/A/state/index.db
sqlite3 -cmd ".timeout 5000" "$DB" "DROP TABLE IF EXISTS saved; CREATE TABLE saved AS SELECT * FROM snapshots WHERE hex(id) = upper('$LAST')" ||
    bail_out "cannot save the row"
rc_is "forget the newest" 0 ctl forget "$LAST"
sqlite3 -cmd ".timeout 5000" "$DB" "INSERT INTO snapshots SELECT * FROM saved; DROP TABLE saved" ||
    bail_out "cannot put the row back"
is "the row is listed again (the crash case)" "$(ctl --json snapshots | jq length)" 3
rc_is "reindex" 0 ctl --json reindex
jq_is "four kept forgotten" "$T_TMP/last.out" ".forgotten == 4 and .errors == 0"
is "the row a tombstone names is gone" "$(ctl --json snapshots | jq -r '[.[].id] | join(" ")')" \
    "${ALL[2]} ${ALL[3]}"
rc_is "check is clean" 0 ctl check

ntomb() { sqlite3 -cmd ".timeout 5000" "$DB" "SELECT count(*) FROM objects WHERE type = 5"; }
is "three tombstones" "$(ntomb)" 3
KEPT2=$(snaps)
rc_is "prune" 0 ctl --json prune
is "prune kept every tombstone" "$(ntomb)" 3
stop_chuted A || diag "chuted did not stop cleanly"
rm -f "$DB" "$DB-wal" "$DB-shm"
start_chuted A || bail_out "chuted did not start without index.db"
rc_is "reindex after the prune, from scratch" 0 ctl --json reindex
jq_is "two added, no error" "$T_TMP/last.out" ".snapshots_added == 2 and .errors == 0"
is "still exactly the kept snapshots" "$(snaps)" "$KEPT2"
check "they restore" restore_all "$T_TMP/r2"
for id in ${ALL[2]} ${ALL[3]}; do
    is "$id byte-identical" "$(rsync -rlcn --itemize-changes --delete "$T_TMP/r0/$id/" "$T_TMP/r2/$id/" | wc -l)" 0
done
rc_is "check --read-data is clean" 0 ctl check --read-data
done_testing
