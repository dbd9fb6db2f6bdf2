#!/bin/bash
# SPDX-License-Identifier: MIT
# local_copy = cache when the index cannot record an eviction (a full disk;
# here a trigger in the real index refuses the update): the pack files are
# gone but their rows still say "here". The cache says so once and waits
# its interval instead of trying again every half second; its error shows
# in status; removing the peer that alone holds those packs is refused as
# busy meanwhile; once the index takes writes again, the first pass at start
# sets the rows right from the files.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
need jq sqlite3

SRC=$T_TMP/src
mkdir -p "$SRC"
for i in 1 2 3 4; do head -c $((2 * 1024 * 1024 + i)) /dev/urandom > "$SRC/f$i"; done

peer_node A
node_conf A replication "local_copy = cache" "cache_size = 1G"
peer_node B
start_nodes A B
backed_up A B "$SRC"
stop_chuted A
sqlite3 "$T_TMP/A/state/index.db" "CREATE TRIGGER full BEFORE UPDATE OF local ON packs WHEN NEW.local = 0
    BEGIN SELECT RAISE(ABORT, 'database or disk is full (test)'); END;" || bail_out "no trigger"
node_conf A replication "cache_size = 1M"
start_chuted A || bail_out "A did not restart"
failing() { grep -q "error: Local cache: cannot record [0-9]* evicted packs in the index: database or disk is full (test); trying again in 30 s" "$T_TMP/A/chuted.log"; }
check "the failure is said" wait_until 20 failing
sleep 3
is "once, not every half second" "$(grep -c 'error: Local cache: cannot record' "$T_TMP/A/chuted.log")" 1
on A --json status > "$T_TMP/status.json"
jq_is "status shows the cache's error" "$T_TMP/status.json" '.cache_error | test("^cannot record [0-9]+ evicted packs in the index: database or disk is full")'
GONE=$(comm -13 <(own_packs A) <(sqlite3 "$T_TMP/A/state/index.db" "SELECT lower(hex(id)) FROM packs WHERE local" | sort) | wc -l)
[ "$GONE" -gt 0 ] && ok "pack files are gone that the index has here ($GONE)" || not_ok "pack files are gone that the index has here"
is "status counts none of them evicted yet" "$(jq .evicted "$T_TMP/status.json")" 0
# rows that say "here" for files that are gone: B alone holds those packs,
# and removing B is refused as busy (not counted from the wrong rows)
rc_is "peer remove B meanwhile fails" 1 on A peer remove B
check "... as busy: the cache has not compared its rows with the files" \
    grep -q "the local cache is evicting packs or checking its files right now; try again in a moment" "$T_TMP/last.err"
is "B is still a store of A" "$(store_field A B name)" B

stop_chuted A
sqlite3 "$T_TMP/A/state/index.db" "DROP TRIGGER full;" || bail_out "trigger not dropped"
start_chuted A || bail_out "A did not restart"
settled() { [ "$(on A --json status | jq .evicted)" -ge "$GONE" ] && [ "$(on A --json status | jq -r '.cache_error // ""')" = "" ]; }
check "with the index writable, the rows follow the files" wait_until 20 settled
check "restore is exact" on A restore latest "$T_TMP/out"
is "the tree is the original" "$(diff -r "$SRC" "$T_TMP/out" && echo same)" same
CHUTED_PID=$(cat "$T_TMP/A/pid")
chuted_alive "A is still running"
done_testing
