#!/bin/bash
# SPDX-License-Identifier: MIT
# Prune racing snapshots, held at test pause points (CHUTE_TEST_HOOK_DIR):
# - a snapshot taken between prune's plan and its mark deduplicates against
#   data only a forgotten snapshot had: prune keeps that pack (kept_packs)
#   and the snapshot restores;
# - a snapshot that began before the mark holds the prune until it is done;
# - a prune whose client goes away after the mark is cancelled and releases
#   its marks; the data it had marked deduplicates again, and the next
#   prune completes with check clean.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prune-lib.sh"

need python3 jq

SRC=$T_TMP/src
HOOK=$T_TMP/hooks
mkdir -p "$SRC" "$HOOK"
export CHUTE_TEST_HOOK_DIR=$HOOK
running() { kill -0 "$1" 2>/dev/null; }

prune_node "$SRC"
head -c 100000 /dev/urandom > "$SRC/keep"

# ---- a snapshot between plan and mark deduplicates against condemned data ----
head -c 300000 /dev/urandom > "$T_TMP/x"
cp "$T_TMP/x" "$SRC/x"
S1=$(ctl snapshot "$SRC")
rm "$SRC/x"
S2=$(ctl snapshot "$SRC")
ctl forget "$S1" >/dev/null
touch "$HOOK/prune-mark.wait"
ctl --json prune > "$T_TMP/p1.json" 2>"$T_TMP/p1.err" &
P=$!; T_PIDS+=("$P")
check "prune pauses between its plan and its mark" wait_file 30 "$HOOK/prune-mark.reached"
cp "$T_TMP/x" "$SRC/x-again"
S3=$(ctl snapshot "$SRC")
manifest "$SRC" > "$T_TMP/m3"
rm -f "$HOOK/prune-mark.wait"
rc=0; wait "$P" || rc=$?
check "the prune completes" [ "$rc" -eq 0 ]
check "it keeps the pack the new snapshot needs" [ "$(jq .kept_packs "$T_TMP/p1.json")" -ge 1 ]
rm -rf "$T_TMP/r"
rc_is "the snapshot taken meanwhile restores" 0 ctl restore "$S3" "$T_TMP/r"
check "... exactly" cmp -s <(manifest "$T_TMP/r") "$T_TMP/m3"
rc_is "check --read-data is clean" 0 ctl check --read-data
ctl --json status > "$T_TMP/st.json"
check "nothing stays marked" [ "$(jq .condemned_packs "$T_TMP/st.json")" -eq 0 ]

# ---- a snapshot that began before the mark holds the prune ----
head -c 300000 /dev/urandom > "$SRC/y"
S4=$(ctl snapshot "$SRC")
rm "$SRC/y"
ctl snapshot "$SRC" >/dev/null
ctl forget "$S4" >/dev/null
touch "$HOOK/snapshot-read.wait"
head -c 200000 /dev/urandom > "$SRC/z"
ctl snapshot "$SRC" > "$T_TMP/s5.out" 2>&1 &
S=$!; T_PIDS+=("$S")
check "a snapshot pauses between walk and read" wait_file 30 "$HOOK/snapshot-read.reached"
ctl prune > "$T_TMP/p2.out" 2>&1 &
P=$!; T_PIDS+=("$P")
sleep 3
check "the prune waits for the snapshot that began before its mark" running "$P"
rm -f "$HOOK/snapshot-read.wait"
rc=0; wait "$S" || rc=$?
check "the snapshot completes" [ "$rc" -eq 0 ]
manifest "$SRC" > "$T_TMP/m5"
rc=0; wait "$P" || rc=$?
check "then the prune completes" [ "$rc" -eq 0 ]
rm -rf "$T_TMP/r"
rc_is "the snapshot restores" 0 ctl restore "$(cat "$T_TMP/s5.out")" "$T_TMP/r"
check "... exactly" cmp -s <(manifest "$T_TMP/r") "$T_TMP/m5"
rc_is "check --read-data is clean" 0 ctl check --read-data

# ---- a prune cancelled after its mark releases what it marked ----
head -c 300000 /dev/urandom > "$T_TMP/w"
cp "$T_TMP/w" "$SRC/w"
S6=$(ctl snapshot "$SRC")
rm "$SRC/w"
ctl snapshot "$SRC" >/dev/null
ctl forget "$S6" >/dev/null
touch "$HOOK/prune-mark.wait"
"$CHUTECTL" prune > "$T_TMP/p3.out" 2>&1 & # chutectl itself: its pid is the client's
P=$!; T_PIDS+=("$P")
check "a prune pauses before its mark" wait_file 30 "$HOOK/prune-mark.reached"
kill "$P"; wait "$P" 2>/dev/null || true
rm -f "$HOOK/prune-mark.wait"
cancelled() { grep -q "Prune failed: cancelled" "$NODE_DIR/chuted.log"; }
for i in $(seq 1 300); do cancelled && break; sleep 0.1; done
check "the prune is cancelled once its client is gone" cancelled
ctl --json status > "$T_TMP/st.json"
check "its marks are released" [ "$(jq .condemned_packs "$T_TMP/st.json")" -eq 0 ]
B=$(jq .bytes "$T_TMP/st.json")
cp "$T_TMP/w" "$SRC/w-again"
S7=$(ctl snapshot "$SRC")
manifest "$SRC" > "$T_TMP/m7"
ctl --json status > "$T_TMP/st.json"
check "the released data deduplicates again (little is stored)" [ "$(jq .bytes "$T_TMP/st.json")" -lt $((B + 200000)) ]
rc_is "the next prune completes" 0 ctl prune
rc_is "check --read-data is clean" 0 ctl check --read-data
rm -rf "$T_TMP/r"
rc_is "the newest snapshot restores" 0 ctl restore "$S7" "$T_TMP/r"
check "... exactly" cmp -s <(manifest "$T_TMP/r") "$T_TMP/m7"
done_testing
