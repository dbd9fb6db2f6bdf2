#!/bin/bash
# SPDX-License-Identifier: MIT
# key import on a node whose first snapshot is still running: the workers
# read the keys, and the index holds no object yet, so only the running
# snapshot says the node is not new. The import must be refused ("busy: N
# snapshot(s) running") and leave the key as it was; once the snapshot is
# done it is refused because the node holds data.
. "$(dirname "$0")/lib.sh"
need jq python3

other_code() {
    python3 -c 'import base64, hashlib, os
m = os.urandom(32)
print(base64.b32encode(m + hashlib.sha256(b"chute/v1/recovery" + m).digest()[:4]).decode().rstrip("="))'
}

R=$T_TMP/root
mkdir -p "$R"
# big enough that one worker needs a while (seconds on a loaded 2-core box)
for i in 1 2 3 4 5 6; do head -c $((32 * 1024 * 1024)) /dev/urandom > "$R/big$i"; done

node_init a
node_conf a daemon "workers = 1"
node_conf a watch "quiet_period = 1h" "max_delay = 2h"
start_chuted a || { not_ok "chuted starts"; done_testing; exit; }
rc_is "key export before" 0 ctl --json key export
CODE=$(jq -r .code "$T_TMP/last.out")
OTHER=$(other_code)

rc_is "add the root" 0 ctl add "$R"
ctl snapshot "$R" >"$T_TMP/snap.out" 2>&1 &
SNAP_PID=$!
running=0
for _ in $(seq 1 200); do
    ctl --json status > "$T_TMP/status.json" 2>/dev/null || true
    if jq -e '.state == "backing up"' "$T_TMP/status.json" >/dev/null 2>&1; then running=1; break; fi
    sleep 0.05
done
if [ "$running" = 1 ]; then ok "the first snapshot is running"; else not_ok "the first snapshot is running (never saw \"backing up\")"; cat "$T_TMP/status.json" | sed 's/^/#   /'; fi
rc_is "key import while it runs: exit 1" 1 ctl key import "$OTHER"
if grep -q "busy: 1 snapshot running" "$T_TMP/last.err"; then ok "... error says busy: 1 snapshot running"; else
    not_ok "... error says busy: 1 snapshot running"; sed 's/^/#   /' "$T_TMP/last.err"; fi
ctl --json status > "$T_TMP/status2.json" 2>/dev/null || true
if jq -e '.state == "backing up"' "$T_TMP/status2.json" >/dev/null 2>&1; then ok "... and the snapshot was still running after the answer"; else
    not_ok "... and the snapshot was still running after the answer (the margin is too small on this machine)"; fi
rc_is "key export after the refusal" 0 ctl --json key export
is "... the key is unchanged" "$(jq -r .code "$T_TMP/last.out")" "$CODE"

# wait for the snapshot, then the node holds data
rc=0; wait "$SNAP_PID" || rc=$?
is "the snapshot finishes (exit 0)" "$rc" 0
rc_is "status" 0 ctl --json status
jq_is "... one snapshot" "$T_TMP/last.out" '.snapshots == 1'
rc_is "key import once it holds data: exit 1" 1 ctl key import "$OTHER"
rc_is "restore latest with the unchanged key" 0 ctl restore latest "$T_TMP/restored"
check "... restores the root exactly" diff -r "$R" "$T_TMP/restored"
stop_chuted a
done_testing
