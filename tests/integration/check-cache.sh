#!/bin/bash
# SPDX-License-Identifier: MIT
# check and reindex with local_copy = cache: A keeps 16 MiB of its packs,
# the rest only on B. check is clean (evicted packs are held by B); with
# --read-data the local ones are read here and proved on B, the evicted ones
# read back from B; reindex lists B too, so the evicted packs stay indexed
# and restores stay byte-identical. An evicted pack deleted on B is lost:
# check --read-data names it and the file it held.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
need jq

SRC=$T_TMP/src
mkdir -p "$SRC"
# 48 MiB: some packs fill with data alone (packs with trees are never evicted)
for i in 1 2 3 4; do head -c $((12 * 1024 * 1024 + i)) /dev/urandom > "$SRC/f$i"; done
peer_node A
node_conf A replication "local_copy = cache" "cache_size = 16M"
peer_node B
start_nodes A B
backed_up A B "$SRC"
ALL=$(hosted_packs B | wc -l)
evicted() { [ "$(on A --json status | jq -r .evicted)" -ge 1 ]; }
wait_until 30 evicted || bail_out "nothing was evicted"
# settled: the pack files and the index agree, and stay so for 1 s (a pack
# file goes on a worker, its index row on the loop after)
local_packs() { on A --json status | jq .local_packs; }
settled() {
    local n; n=$(own_packs A | wc -l)
    [ "$(local_packs)" = "$n" ] && sleep 1 && [ "$(own_packs A | wc -l)" = "$n" ] && [ "$(local_packs)" = "$n" ]
}
wait_until 20 settled || diag "the cache is still evicting"
LOCAL=$(own_packs A | wc -l)
diag "$ALL packs, $LOCAL here"

rc_is "check is clean: the evicted packs are on B" 0 on A --json check
jq_is "it counts every pack" "$T_TMP/last.out" ".ok and .packs == $ALL"
rc_is "check --read-data is clean" 0 on A --json check --read-data
jq_is "local packs read and proved on B, evicted ones read back from B" "$T_TMP/last.out" \
    ".ok and .packs_read == $LOCAL and .packs_proved == $ALL"
SNAPS=$(on A --json snapshots | jq -c '[.[].id]')
rc_is "reindex in cache mode" 0 on A --json reindex
jq_is "indexes the evicted packs from B's listing too" "$T_TMP/last.out" ".packs == $ALL and .errors == 0"
is "the same snapshots" "$(on A --json snapshots | jq -c '[.[].id]')" "$SNAPS"
check "a restore works" on A restore latest "$T_TMP/out"
is "byte-identical" "$(diff -r "$SRC" "$T_TMP/out" && echo same)" same
rc_is "check --read-data is still clean" 0 on A --json check --read-data

# lose an evicted pack: delete it on B
GONE=$(comm -23 <(hosted_packs B) <(own_packs A) | head -1)
[ -n "$GONE" ] || bail_out "no evicted pack"
rm -f "$(hosted_files B | grep "/$GONE\$")"
rc_is "check --read-data finds it lost" 1 on A --json check --read-data
jq_is "names the pack (missing on B, lost here) and a file" "$T_TMP/last.out" \
    "([.damaged[] | select(.pack == \"$GONE\")] | length) == 2 and .affected_paths >= 1 and
     ([.affected[] | select(.pack == \"$GONE\") | .path | startswith(\"$SRC\")] | all)"
done_testing
