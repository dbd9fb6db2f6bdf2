#!/bin/bash
# SPDX-License-Identifier: MIT
# Replication to a friend: A and B peer with each other over TLS on
# loopback; A snapshots a tree holding a marker string; B ends up with every
# pack of A (whole packs, each named by its SHA-256), the marker appears
# nowhere under B's state dir nor in B's log, and A's stores and status say
# nothing is pending. A later snapshot's packs follow at once (the commit
# hook), and a restarted A uploads nothing again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

MARKER="chute-peer-marker-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SRC=$T_TMP/src
mkdir -p "$SRC/docs" "$SRC/bin"
for i in $(seq 1 40); do
    { echo "$MARKER file $i"; head -c $((i * 5000)) /dev/urandom | base64; echo "$MARKER"; } > "$SRC/docs/f$i.txt"
done
head -c $((12 * 1024 * 1024)) /dev/urandom > "$SRC/bin/big"
printf '%s\n' "$MARKER" > "$SRC/marker-only"

peer_node A
peer_node B
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
check "A and B peer with each other" peer_both A B 1G

on A add "$SRC" >/dev/null
check "A takes a snapshot" on A snapshot
[ "$(own_packs A | wc -l)" -gt 0 ] || bail_out "A has no packs"

if wait_until 60 replicated A B; then ok "every pack of A reaches B"; else
    not_ok "every pack of A reaches B"
    diag "A's packs: $(own_packs A | wc -l), on B: $(hosted_packs B | wc -l)"
    on A --json stores | sed 's/^/#   /'
fi
is "B keeps nothing of A's but A's packs" "$(comm -13 <(own_packs A) <(hosted_packs B) | wc -l)" 0
is "each copy on B is a whole pack: its SHA-256 is its name" "$(hosted_bad B)" ""

is "the marker is nowhere under B's state dir" "$(grep -rl -a -F "$MARKER" "$T_TMP/B/state" | wc -l)" 0
is "the marker is not in B's log" "$(grep -c -a -F "$MARKER" "$T_TMP/B/chuted.log")" 0
is "the marker is not in A's packs either" "$(grep -rl -a -F "$MARKER" "$T_TMP/A/state/packs" | wc -l)" 0

on A --json stores > "$T_TMP/stores.json"
jq_is "A's stores: B is a connected peer store, nothing pending, no error" "$T_TMP/stores.json" \
    '.stores | length == 1 and .[0].name == "B" and .[0].kind == "peer" and .[0].connected == true
     and .[0].pending == 0 and .[0].pending_bytes == 0 and .[0].error == null'
jq_is "A's stores: B holds every pack, every byte sent once" "$T_TMP/stores.json" \
    ".stores[0].packs == $(own_packs A | wc -l) and .stores[0].bytes == $(own_pack_bytes A)
     and .stores[0].uploaded == $(own_pack_bytes A) and .stores[0].resumed_bytes == 0"
used_covers() { [ "$(store_field A B used)" -ge "$(own_pack_bytes A)" ] && store_is A B quota 1073741824; }
check "A's stores: B's usage counts A's packs, against the quota B grants" wait_until 10 used_covers
on A --json status > "$T_TMP/status.json"
jq_is "status --json has the stores with the issue's fields" "$T_TMP/status.json" \
    '.stores[0] | (.name == "B" and .kind == "peer" and .connected == true and .pending == 0
     and .pending_bytes == 0 and (.uploaded | type) == "number" and (.verified_at == null or (.verified_at | type) == "string") and .used > 0
     and .quota > 0 and .error == null)'
on A status > "$T_TMP/status.txt"
check "status text has a line for store B" grep -q "B (peer): connected, 0 (0 B) pending" "$T_TMP/status.txt"
on A stores > "$T_TMP/stores.txt"
check "stores text lists B connected" grep -Eq "^B +peer +connected" "$T_TMP/stores.txt"
# (B dials A on its own schedule: wait for it, a few seconds at most)
b_connected() { on B --json stores > "$T_TMP/b-stores.json" &&
                jq -e '.stores[0].name == "A" and .stores[0].connected == true' "$T_TMP/b-stores.json" >/dev/null; }
wait_until 15 b_connected || true
jq_is "B's own store A is connected too (peered both ways)" "$T_TMP/b-stores.json" \
    '.stores[0].name == "A" and .stores[0].connected == true'
check "A's log says it connected to B" grep -q "Store B: connected to 127.0.0.1:$(port_of B)" "$T_TMP/A/chuted.log"

# a later snapshot: its packs follow without waiting for a rescan
before=$(own_packs A | wc -l)
head -c $((3 * 1024 * 1024)) /dev/urandom > "$SRC/bin/new"
check "A takes a second snapshot" on A snapshot
[ "$(own_packs A | wc -l)" -gt "$before" ] || bail_out "the second snapshot made no pack"
if wait_until 20 replicated A B; then ok "the new packs reach B"; else not_ok "the new packs reach B"; fi

# a restart uploads nothing again
stop_chuted A
start_chuted A || bail_out "A did not restart"
wait_until 20 store_is A B connected true || true
sleep 1
on A --json stores > "$T_TMP/stores2.json"
jq_is "after a restart A is connected again with nothing pending and nothing sent" "$T_TMP/stores2.json" \
    '.stores[0].connected == true and .stores[0].pending == 0 and .stores[0].uploaded == 0'

CHUTED_PID=$(cat "$T_TMP/B/pid")
chuted_alive "B is still running"
done_testing
