#!/bin/bash
# SPDX-License-Identifier: MIT
# Prune with a peer store: A's packs reach B; A forgets half of its
# snapshots and prunes; the repacked packs reach B before the old ones are
# deleted there; B marks the deleted packs and its hosted bytes fall once
# its delete_delay (2 s here) has run out; A's store B then holds exactly
# A's packs; check --read-data is clean and every kept snapshot restores.
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
done_testing
