#!/bin/bash
# SPDX-License-Identifier: MIT
# Prune with a peer store: A's packs reach B; A forgets half of its
# snapshots and prunes; the repacked packs reach B before the old ones are
# deleted there; B marks the deleted packs and its hosted bytes fall once
# its delete_delay (2 s here) has run out; A's store B then holds exactly
# A's packs; check --read-data is clean and every kept snapshot restores.
# The same with local_copy = cache on C: what a repack needs of an evicted
# pack is read from its peer D.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

SRC=$T_TMP/src
mkdir -p "$SRC"
manifest() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
hosted_bytes() { hosted_files "$1" | xargs -r stat -c %s | awk '{ s += $1 } END { print s + 0 }'; }

peer_node A
peer_node B
node_conf B peer "delete_delay = 2s"
cat >> "$T_TMP/A/chuted.conf" <<EOC
[daemon]
compression_level = 0
[prune]
grace = 1s
max_unused = 0
EOC
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
check "A and B peer with each other" peer_both A B 1G
on A add "$SRC" >/dev/null
for f in 0 1 2; do head -c 65536 /dev/urandom > "$SRC/f$f"; done
IDS=()
for i in $(seq 1 10); do
    head -c 65536 /dev/urandom > "$SRC/f$((i % 3))"
    head -c 262144 /dev/urandom > "$SRC/churn"
    IDS+=("$(on A snapshot "$SRC")")
    manifest "$SRC" > "$T_TMP/m$i"
done
check "A's packs reach B" wait_until 60 replicated A B
BEFORE=$(hosted_bytes B)
for i in 1 3 5 7 9; do on A forget "${IDS[$((i - 1))]}" >/dev/null; done
rc_is "A prunes" 0 on A --json prune
FREED=$(jq '.bytes - .bytes_after' "$T_TMP/last.out")
check "A's pruned bytes are freed here" [ "$FREED" -gt $((5 * 262144)) ]
check "the repacked packs reach B" wait_until 60 replicated A B
same() { [ -z "$(comm -3 <(own_packs A) <(hosted_packs B))" ]; }
check "after delete_delay B keeps exactly A's packs" wait_until 30 same
AFTER=$(hosted_bytes B)
diag "B hosted $BEFORE bytes of A's before the prune, $AFTER after; A freed $FREED"
check "B's hosted bytes fell by what A freed" [ $((BEFORE - AFTER)) -ge $((FREED * 9 / 10)) ]
check "A logged the deletes on B" grep -q "pruned pack(s) deleted" "$T_TMP/A/chuted.log"
rc_is "check --read-data on A" 0 on A check --read-data
ok_all=1
for i in 2 4 6 8 10; do
    rm -rf "$T_TMP/r"
    on A restore "${IDS[$((i - 1))]}" "$T_TMP/r" >/dev/null 2>&1 && cmp -s <(manifest "$T_TMP/r") "$T_TMP/m$i" || {
        ok_all=0; diag "snapshot $i differs"; }
done
check "every kept snapshot restores" [ "$ok_all" -eq 1 ]

# local_copy = cache: the packs to repack are read back from B
peer_node C
peer_node D
node_conf D peer "delete_delay = 2s"
node_conf C replication "local_copy = cache" "cache_size = 20M"
node_conf C prune "grace = 1s" "max_unused = 0"
start_chuted C || bail_out "C did not start"
start_chuted D || bail_out "D did not start"
check "C and D peer with each other" peer_both C D 1G
SRC2=$T_TMP/src2
mkdir -p "$SRC2"
on C add "$SRC2" >/dev/null
CIDS=()
head -c $((10 * 1024 * 1024)) /dev/urandom > "$T_TMP/base"
for i in 1 2 3 4; do
    head -c 65536 /dev/urandom > "$SRC2/small$i"
    # 10 MiB that stay, 10 MiB new each round: the first data-only pack of
    # a round is partly live once the round is forgotten (a repack of an
    # evicted pack)
    { cat "$T_TMP/base"; head -c $((10 * 1024 * 1024)) /dev/urandom; } > "$SRC2/churn"
    CIDS+=("$(on C snapshot "$SRC2")")
    manifest "$SRC2" > "$T_TMP/c$i"
done
evicted() { [ "$(on C --json status | jq -r .evicted)" -ge 2 ]; }
# every round's data packs can go (its trees are in packs of their own)
if wait_until 120 evicted; then ok "C evicts packs once D holds them ($(on C --json status | jq -r .evicted))"
else not_ok "C evicts packs once D holds them ($(on C --json status | jq -r .evicted) evicted within 120 s)"; fi
on C forget "${CIDS[0]}" >/dev/null
on C forget "${CIDS[2]}" >/dev/null
rc_is "C prunes with evicted packs" 0 on C --json prune
check "... repacking" [ "$(jq '.repack_packs' "$T_TMP/last.out")" -gt 0 ]
check "... packs only D held, read back from it" grep -Eq "Prune: .*repacked \([1-9][0-9]* read from stores" "$T_TMP/C/chuted.log"
npacks() { on C --json status | jq -r .packs; }
d_same() { [ "$(hosted_packs D | wc -l)" -eq "$(npacks)" ] && [ "$(store_field C D pending)" = 0 ]; }
check "after delete_delay D keeps as many packs as C's index lists" wait_until 30 d_same
rc_is "check --read-data on C" 0 on C check --read-data
ok_all=1
for i in 2 4; do
    rm -rf "$T_TMP/r"
    on C restore "${CIDS[$((i - 1))]}" "$T_TMP/r" >/dev/null 2>&1 && cmp -s <(manifest "$T_TMP/r") "$T_TMP/c$i" || {
        ok_all=0; diag "snapshot $i differs"; }
done
check "the kept snapshots restore (evicted data from D)" [ "$ok_all" -eq 1 ]
done_testing
