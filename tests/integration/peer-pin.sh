#!/bin/bash
# SPDX-License-Identifier: MIT
# A peer is pinned by its id, never by its address: A is told that the node
# at B's address is C (C's id). A refuses B's certificate, says so in its
# stores error and its log, never sends B a pack, and keeps redialling with
# backoff; a store whose address nobody listens on reads "cannot connect".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

SRC=$T_TMP/src
mkdir -p "$SRC"
head -c $((2 * 1024 * 1024)) /dev/urandom > "$SRC/f"

peer_node A
peer_node B
peer_node C
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
start_chuted C || bail_out "C did not start"
on A add "$SRC" >/dev/null
check "A takes a snapshot" on A snapshot
IDB=$(node_id B)
IDC=$(node_id C)
check "B would keep A's packs" on B peer add A - "$(node_id A)" --quota 1G
check "A is told C is at B's address" on A peer add X "127.0.0.1:$(port_of B)" "$IDC" --quota 1G
DEAD=$(free_port)
check "and that D is where nobody listens" on A peer add D "127.0.0.1:$DEAD" "$IDB" --quota 1G

refused() { store_field A X error | grep -qF "X at 127.0.0.1:$(port_of B) presented another certificate (id $IDB), refusing"; }
check "A refuses B's certificate for X, and says whose it was" wait_until 20 refused
check "A's log says so, with the store" grep -qF "X at 127.0.0.1:$(port_of B) presented another certificate (id $IDB), refusing" "$T_TMP/A/chuted.log"
is "X is not connected" "$(store_field A X connected)" false
is "X has every pack still pending" "$(store_field A X packs)" 0
cant() { store_field A D error | grep -q "cannot connect to 127.0.0.1:$DEAD: Connection refused"; }
check "D: cannot connect, and why" wait_until 20 cant
is "B keeps nothing" "$(hosted_packs B | wc -l)" 0
sleep 4
n=$(grep -cF "presented another certificate" "$T_TMP/A/chuted.log")
check "redials back off: a few refusals in the first seconds, not one per tick ($n)" test "$n" -le 8
done_testing
