#!/bin/bash
# SPDX-License-Identifier: MIT
# local_copy = cache keeps cache_size when snapshots are many and small
# (continuous backup of files that change through the day): each snapshot's
# trees go to packs of their own, pinned here, and its file data to packs
# that are evicted once B holds them. When trees and data shared packs,
# every such pack was pinned, data and all, and the local copy grew with
# every snapshot past cache_size.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
need jq

ROUNDS=12
CACHE=$((2 * 1024 * 1024))
SRC=$T_TMP/src
mkdir -p "$SRC/docs"

peer_node A
node_conf A replication "local_copy = cache" "cache_size = 2M"
peer_node B
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
check "A and B peer with each other" peer_both A B 1G
on A add "$SRC" >/dev/null
for i in $(seq 1 $ROUNDS); do
    head -c $((1024 * 1024)) /dev/urandom > "$SRC/docs/report-$i"
    echo "notes $i" >> "$SRC/docs/notes"
    on A snapshot "$SRC" >/dev/null || not_ok "snapshot $i"
done
is "A has one snapshot per round" "$(on A --json snapshots | jq length)" "$ROUNDS"
check "A's packs reach B" wait_until 60 replicated A B

local_fits() { [ "$(own_pack_bytes A)" -le "$CACHE" ]; }
if wait_until 60 local_fits; then ok "A's pack files shrink to cache_size ($(own_pack_bytes A) bytes)"
else not_ok "A's pack files shrink to cache_size"; diag "$(own_pack_bytes A) bytes, $((ROUNDS)) MiB written"; fi
# (a pack file goes on a worker, its index row on the loop after)
evicted_enough() { on A --json status > "$T_TMP/status.json" && jq -e ".evicted >= $((ROUNDS - 2))" "$T_TMP/status.json"; }
wait_until 10 evicted_enough || diag "fewer than $((ROUNDS - 2)) evicted in the index"
jq_is "what stays pinned is the snapshots' trees, not their data (under 256 KiB)" "$T_TMP/status.json" \
    ".pinned_bytes > 0 and .pinned_bytes < 262144"
jq_is "status: at least $((ROUNDS - 2)) packs evicted" "$T_TMP/status.json" ".evicted >= $((ROUNDS - 2))"

# with B stopped, everything that lists and compares still works from the
# packs kept here; the data comes back from B once it is up
stop_chuted B
rc_is "ls -R latest with B stopped" 0 on A ls -R latest
check "... lists every report" grep -q "report-$ROUNDS" "$T_TMP/last.out"
rc_is "diff of the first and the last snapshot with B stopped" 0 on A diff \
    "$(on A --json snapshots | jq -r '.[0].id')" "$(on A --json snapshots | jq -r '.[-1].id')"
start_chuted B || bail_out "B did not restart"
check "A connects to B again" wait_until 90 store_is A B connected true
rc_is "restore latest (evicted data from B)" 0 on A restore latest "$T_TMP/out"
check "the restored tree equals the source" diff -r "$SRC" "$T_TMP/out"
done_testing
