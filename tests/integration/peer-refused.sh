#!/bin/bash
# SPDX-License-Identifier: MIT
# A store that refuses this node holds no copy that counts. B removes A as
# its peer: B answers A's HELLO with DENIED, A's store B says "refuses us"
# (stores, the log), and it stays so across a restart (B down). Meanwhile, with
# local_copy = cache, A evicts nothing that only B held, and with copies = 1
# a new store C gets every pack; once C holds them, eviction goes on. When B
# takes A back, B's copies count again. When B and C both refuse A, check
# calls the packs evicted here unanswered (not damage).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

SRC=$T_TMP/src
mkdir -p "$SRC"
for i in 1 2 3 4 5 6; do head -c $((4 * 1024 * 1024 + i)) /dev/urandom > "$SRC/f$i"; done

peer_node A
node_conf A replication "copies = 1" "local_copy = cache" "cache_size = 1G"
peer_node B
peer_node C
start_nodes A B C
backed_up A B "$SRC"
is "B does not refuse A" "$(store_field A B refused_at)" null
BYTES=$(own_pack_bytes A)

check "B removes A as its peer" on B peer remove A
refused() { [ "$(store_field A B refused_at)" != null ]; }
check "A's store B refuses A" wait_until 30 refused
check "B's log says it refused A" grep -qF "Refused node $(node_id A) from" "$T_TMP/B/chuted.log"
check "A's log says why, in B's words" wait_until 10 \
    grep -qE "Store B refuses this node \(B at 127.0.0.1:$(port_of B) refused our HELLO: node $(node_id A) is not a peer of this host \(never approved here, or removed\)\)" \
    "$T_TMP/A/chuted.log"
on A stores > "$T_TMP/stores.out"
check "stores shows the state" grep -qE '^B +peer +refuses us ' "$T_TMP/stores.out"
check "and what it means" grep -qE '^B: refuses this node since .*: its [0-9]+ packs there count as no copy' \
    "$T_TMP/stores.out"
on A --json status > "$T_TMP/status.json"
jq_is "status --json carries it" "$T_TMP/status.json" '.stores[0].name == "B" and (.stores[0].refused_at | type) == "string"'

# a smaller cache: nothing only B holds may go. B is down meanwhile, so
# what A knows of the refusal is what its index kept.
stop_chuted A
stop_chuted B
node_conf A replication "cache_size = 1M"
start_chuted A || bail_out "A did not restart"
check "the refusal is remembered across a restart" refused
sleep 5 # the first cache pass runs 1 s after the start
is "A evicts nothing B alone was to hold" "$(own_pack_bytes A)" "$BYTES"
is "status counts nothing evicted" "$(on A --json status | jq .evicted)" 0
start_chuted B || bail_out "B did not restart"

# copies = 1: B's copies counting as none, C gets every pack
check "A and C peer with each other" peer_both A C 1G
check "every pack of A reaches C" wait_until 60 replicated A C
is "C holds what B holds for A" "$(comm -23 <(hosted_packs B) <(hosted_packs C))" ""
local_fits() { [ "$(own_pack_bytes A)" -le $((1024 * 1024)) ]; }
check "with C holding them, A's pack files shrink to cache_size" wait_until 30 local_fits

# B takes A back: B's copies count again
check "B adds A again" on B peer add A "127.0.0.1:$(port_of A)" "$(node_id A)" --quota 1G
accepted() { [ "$(store_field A B refused_at)" = null ] && store_is A B connected true; }
# A's link to B has been backing off since the restart (doubling to 32 s and
# more): a restart dials at once
stop_chuted A
start_chuted A || bail_out "A did not restart"
check "A's store B accepts A again" wait_until 30 accepted
check "A's log says so" wait_until 10 grep -qF "Store B accepts this node again" "$T_TMP/A/chuted.log"
check "restore is exact" on A restore latest "$T_TMP/out"
is "the tree is the original" "$(diff -r "$SRC" "$T_TMP/out" && echo same)" same

# every store that holds the evicted packs refuses A: check calls them
# unanswered, not damage, and says why
check "C removes A" on C peer remove A
check "B removes A again" on B peer remove A
both_refuse() { [ "$(store_field A B refused_at)" != null ] && [ "$(store_field A C refused_at)" != null ]; }
check "A's stores B and C both refuse A" wait_until 30 both_refuse
EVICTED=$(comm -23 <(hosted_packs C) <(own_packs A) | wc -l)
[ "$EVICTED" -gt 0 ] || bail_out "A has no evicted pack"
rc_is "check finds no damage" 0 on A --json check
jq_is "... and each of the $EVICTED evicted packs unanswered: its only holders refuse this node" "$T_TMP/last.out" \
    ".errors == 0 and .unanswered == $EVICTED and ([.damaged[] | select(.state == \"unanswered\" and
     .message == \"evicted here, and the only stores that hold it refuse this node\")] | length) == $EVICTED"
CHUTED_PID=$(cat "$T_TMP/A/pid")
chuted_alive "A is still running"
done_testing
