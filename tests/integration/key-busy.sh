#!/bin/bash
# SPDX-License-Identifier: MIT
# key import on a node whose first snapshot is still running: the workers
# read the keys, and the index holds no object yet, so only the running
# snapshot says the node is not new. The import must be refused ("busy: N
# snapshot(s) running") and leave the key as it was; once the snapshot is
# done it is refused because the node holds data. The snapshot is held
# between its walk and its read by the snapshot-read pause point
# (CHUTE_TEST_HOOK_DIR, daemon/test-hook.c) while the import is tried, so
# no timing margin is involved. A new node with a peer store refuses an
# import until the peer is removed (its links hold the node's identity).
. "$(dirname "$0")/lib.sh"
need jq python3

other_code() {
    python3 -c 'import base64, hashlib, os
m = os.urandom(32)
print(base64.b32encode(m + hashlib.sha256(b"chute/v1/recovery" + m).digest()[:4]).decode().rstrip("="))'
}

R=$T_TMP/root
HOOK=$T_TMP/hook
mkdir -p "$R" "$HOOK"
export CHUTE_TEST_HOOK_DIR=$HOOK
for i in 1 2 3; do head -c $((1024 * 1024)) /dev/urandom > "$R/file$i"; done

node_init a
node_conf a daemon "workers = 1"
node_conf a watch "quiet_period = 1h" "max_delay = 2h"
start_chuted a || { not_ok "chuted starts"; done_testing; exit; }
rc_is "key export before" 0 ctl --json key export
CODE=$(jq -r .code "$T_TMP/last.out")
OTHER=$(other_code)

touch "$HOOK/snapshot-read.wait"
rc_is "add the root" 0 ctl add "$R"
ctl snapshot "$R" >"$T_TMP/snap.out" 2>&1 &
SNAP_PID=$!
if wait_file 60 "$HOOK/snapshot-read.reached"; then ok "the first snapshot is held between walk and read"; else
    not_ok "the first snapshot is held between walk and read"; fi
rc_is "status while it is held" 0 ctl --json status
jq_is "... says backing up" "$T_TMP/last.out" '.state == "backing up"'
rc_is "key import while it runs: exit 1" 1 ctl key import "$OTHER"
if grep -q "busy: 1 snapshot running" "$T_TMP/last.err"; then ok "... error says busy: 1 snapshot running"; else
    not_ok "... error says busy: 1 snapshot running"; sed 's/^/#   /' "$T_TMP/last.err"; fi
rc_is "status after the refusal" 0 ctl --json status
jq_is "... the snapshot is still running" "$T_TMP/last.out" '.state == "backing up"'
rc_is "key export after the refusal" 0 ctl --json key export
is "... the key is unchanged" "$(jq -r .code "$T_TMP/last.out")" "$CODE"

# let the snapshot go on, then the node holds data
rm -f "$HOOK/snapshot-read.wait"
rc=0; wait "$SNAP_PID" || rc=$?
is "the snapshot finishes (exit 0)" "$rc" 0
rc_is "status" 0 ctl --json status
jq_is "... one snapshot" "$T_TMP/last.out" '.snapshot_count == 1'
rc_is "key import once it holds data: exit 1" 1 ctl key import "$OTHER"
rc_is "restore latest with the unchanged key" 0 ctl restore latest "$T_TMP/restored"
check "... restores the root exactly" diff -r "$R" "$T_TMP/restored"
A_ID=$(ctl --json id | jq -r .id)

# a new node with a peer store: its connections present the node's
# identity, which an import would replace under them; refused until the
# peer is removed
node_init c
start_chuted c || bail_out "c did not start"
rc_is "c adds a as a peer" 0 ctl peer add a 127.0.0.1:9 "$A_ID"
rc_is "key import on c while it has a peer store: exit 1" 1 ctl key import "$OTHER"
check "... saying why" grep -q "peer store.* use.* this node's identity" "$T_TMP/last.err"
rc_is "c removes the peer" 0 ctl peer remove a
rc_is "then the import works" 0 ctl key import "$OTHER"
chuted_alive "c still runs"
stop_chuted c
CHUTE_SOCKET=$T_TMP/a/run/chuted.sock
stop_chuted a
done_testing
