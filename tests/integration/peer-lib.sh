# SPDX-License-Identifier: MIT
# Helpers for the peer replication tests (peer-*.sh): nodes with a peer
# listener on a free loopback port, chutectl aimed at one node, peering two
# nodes both ways, the store fields of `chutectl stores`, and the pack files
# a node keeps (its own, and those it hosts for peers).
# Source it after lib.sh:  . "$(dirname "$0")/peer-lib.sh"

need jq python3 sha256sum

# peer_node NAME: a node that takes only requested snapshots and listens
# for peers on a free port (in $T_TMP/NAME/port)
peer_node() {
    node_init "$1"
    node_manual "$1"
    node_peer_listen "$1"
    echo "$PEER_PORT" > "$T_TMP/$1/port"
}
port_of() { cat "$T_TMP/$1/port"; }

# on NAME chutectl-args...: chutectl against NAME's daemon
on() { local name=$1; shift; CHUTE_SOCKET=$T_TMP/$name/run/chuted.sock "$CHUTECTL" "$@"; }
# node_id NAME: NAME's node id as chutectl id prints it
node_id() { on "$1" --json id | jq -r .id; }

# peer_both A B QUOTA: A and B become peers of each other, each keeping up
# to QUOTA of the other's packs and uploading its own to the other
peer_both() {
    local a=$1 b=$2 quota=$3 ida idb
    ida=$(node_id "$a") && idb=$(node_id "$b") || return 1
    on "$b" peer add "$a" "127.0.0.1:$(port_of "$a")" "$ida" --quota "$quota" >/dev/null &&
        on "$a" peer add "$b" "127.0.0.1:$(port_of "$b")" "$idb" --quota "$quota" >/dev/null
}

# store_field NAME STORE FIELD: one field of STORE in NAME's `stores --json`
store_field() {
    on "$1" --json stores | jq -r --arg s "$2" ".stores[] | select(.name == \$s) | .$3"
}
# store_is NAME STORE FIELD VALUE: succeeds when the field has that value
store_is() { [ "$(store_field "$1" "$2" "$3")" = "$4" ]; }

# own_packs NAME: NAME's own pack ids, sorted
own_packs() {
    find "$T_TMP/$1/state/packs" -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}' \
        -printf '%f\n' | sort
}
# own_pack_bytes NAME: the bytes of NAME's own packs
own_pack_bytes() {
    find "$T_TMP/$1/state/packs" -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}' \
        -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}
# hosted_files NAME: every file under NAME's state dir, outside its own pack
# directory, named as a pack id: the packs it keeps for peers (full paths)
hosted_files() {
    find "$T_TMP/$1/state" -path "$T_TMP/$1/state/packs" -prune -o -type f \
        -regextype posix-extended -regex '.*/[0-9a-f]{64}' -print | sort
}
# hosted_packs NAME: their ids, sorted
hosted_packs() { hosted_files "$1" | xargs -r -n1 basename | sort; }
# hosted_bad NAME: the hosted files whose SHA-256 is not their name (none: empty)
hosted_bad() {
    local f
    hosted_files "$1" | while read -r f; do
        [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || echo "$f"
    done
}
# replicated A B: every pack of A is on B and A's store B has nothing pending
replicated() {
    [ "$(store_field "$1" "$2" pending)" = 0 ] &&
        [ -z "$(comm -23 <(own_packs "$1") <(hosted_packs "$2"))" ]
}
# start_nodes NAME...: start each node's chuted; bail out when one does not
start_nodes() {
    local n
    for n in "$@"; do start_chuted "$n" || bail_out "$n did not start"; done
}
# backed_up A B SRC: A and B peer with each other (1G each), A adds SRC and
# takes a snapshot, and every pack of A reaches B (two checks; bails out
# when the packs do not arrive within 60 s)
backed_up() {
    local a=$1 b=$2 src=$3
    check "$a and $b peer with each other" peer_both "$a" "$b" 1G
    on "$a" add "$src" >/dev/null
    check "$a takes a snapshot" on "$a" snapshot
    wait_until 60 replicated "$a" "$b" || bail_out "$a's packs did not reach $b"
}
