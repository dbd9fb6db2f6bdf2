#!/bin/bash
# SPDX-License-Identifier: MIT
# A damaged copy on a peer is found and replaced: after A's packs reached B,
# one byte of one of them is flipped on B's disk and another is deleted
# there. `chutectl verify --store B` on A challenges every pack (PROVE),
# reports both, and A deletes them on B and uploads them again: B's copies
# are whole once more, and a second verify finds nothing. Scheduled PROVE
# rounds (prove_interval) record when B last passed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

SRC=$T_TMP/src
mkdir -p "$SRC"
for i in 1 2 3; do head -c $((9 * 1024 * 1024)) /dev/urandom > "$SRC/f$i"; done

peer_node A
peer_node B
node_conf A replication "prove_interval = 3s" "prove_count = 4"
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
check "A and B peer with each other" peer_both A B 1G
on A add "$SRC" >/dev/null
check "A takes a snapshot" on A snapshot
wait_until 60 replicated A B || bail_out "A's packs did not reach B"
N=$(own_packs A | wc -l)
[ "$N" -ge 2 ] || bail_out "need two packs, A has $N"

verified() { [ "$(store_field A B verified_at)" != null ]; }
check "a scheduled PROVE round passes and sets verified_at" wait_until 60 verified
# no more scheduled rounds: one between the damage below and the verify would
# find it first and have it repaired before the verify looks
stop_chuted A || diag "A did not stop cleanly"
sed -i 's/^prove_interval = 3s$/prove_interval = 1h/' "$T_TMP/A/chuted.conf"
start_chuted A || bail_out "A did not restart"
wait_until 60 store_is A B connected true || diag "A is not connected to B again"

mapfile -t FILES < <(hosted_files B)
DAMAGED=${FILES[0]}
GONE=${FILES[1]}
flip_byte "$DAMAGED" 1000
rm -f "$GONE"
is "B's copy is damaged now" "$(hosted_bad B)" "$DAMAGED"

rc_is "verify --store B fails: one pack damaged, one missing" 1 on A verify --store B
check "it says how many" grep -q "Store B: $N packs challenged, 2 missing or damaged" "$T_TMP/last.out"
check "A's log names the damaged pack" grep -q "pack $(basename "$DAMAGED") is damaged there" "$T_TMP/A/chuted.log"
check "A's log names the missing pack" grep -q "pack $(basename "$GONE") is missing there" "$T_TMP/A/chuted.log"

whole_again() { [ -z "$(hosted_bad B)" ] && [ -f "$GONE" ] && replicated A B; }
check "both are uploaded again: B's copies are whole" wait_until 30 whole_again
rc_is "a second verify finds nothing" 0 on A --json verify --store B
jq_is "its JSON counts every pack, no error" "$T_TMP/last.out" ".store == \"B\" and .packs == $N and .errors == 0 and .unanswered == 0"
rc_is "verify of a store that does not exist" 1 on A verify --store nosuch
check "says so" grep -q "no store named nosuch" "$T_TMP/last.err"
rc_is "verify without --store is a usage error" 2 on A verify
done_testing
