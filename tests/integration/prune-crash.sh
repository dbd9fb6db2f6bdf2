#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 at random moments during prune (20 rounds; CHUTE_CRASH_ROUNDS
# overrides): each round takes snapshots of a changing tree, forgets some,
# starts a prune and kills chuted somewhere in it (planning, repacking,
# waiting, retiring, deleting). After every restart check is clean and the
# newest snapshot restores exactly; at the end a prune completes, every
# kept snapshot restores byte-identically and no pack file is left over.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prune-lib.sh"

ROUNDS=${CHUTE_CRASH_ROUNDS:-20}
SRC=$T_TMP/src
mkdir -p "$SRC" "$T_TMP/m"

prune_node "$SRC"
for f in 0 1 2 3; do head -c 65536 /dev/urandom > "$SRC/f$f"; done

snap() {
    head -c 65536 /dev/urandom > "$SRC/f$((RANDOM % 4))"
    head -c 98304 /dev/urandom > "$SRC/churn"
    local id
    id=$(ctl snapshot "$SRC" 2>"$T_TMP/err") || { diag "snapshot: $(cat "$T_TMP/err")"; return 1; }
    manifest "$SRC" > "$T_TMP/m/$id"
    echo "$id"
}

bad_check=0 bad_restore=0 killed=0
for r in $(seq 1 "$ROUNDS"); do
    for k in 1 2 3; do snap >/dev/null; done
    ctl forget --keep-last 4 >/dev/null 2>&1
    ctl prune >/dev/null 2>&1 &
    P=$!
    T_PIDS+=("$P")
    sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))" # plan, mark, grace (1 s), retire, after
    kill -0 "$(cat "$NODE_DIR/pid")" 2>/dev/null && killed=$((killed + 1))
    stop_chuted n KILL
    wait "$P" 2>/dev/null || true
    start_chuted n || { not_ok "chuted restarts after kill -9 in round $r"; sed 's/^/#   /' "$NODE_DIR/chuted.log" | tail -20; done_testing; exit; }
    if ! ctl check >"$T_TMP/check.out" 2>&1; then
        bad_check=$((bad_check + 1)); diag "round $r: check after the crash:"; sed 's/^/#   /' "$T_TMP/check.out" | head -20
    fi
    latest=$(ctl --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
    rm -rf "$T_TMP/r"
    if ! ctl restore "$latest" "$T_TMP/r" >/dev/null 2>"$T_TMP/err" ||
       ! manifest "$T_TMP/r" | cmp -s - "$T_TMP/m/$latest"; then
        bad_restore=$((bad_restore + 1)); diag "round $r: the newest snapshot does not restore: $(cat "$T_TMP/err")"
    fi
done
diag "$killed of $ROUNDS kills hit a running chuted; $(grep -c "an interrupted prune had marked" "$NODE_DIR/chuted.log") after a mark, $(grep -c "^.*Prune: " "$NODE_DIR/chuted.log") prunes had finished"
check "check is clean after every crash" [ "$bad_check" -eq 0 ]
check "the newest snapshot restores after every crash" [ "$bad_restore" -eq 0 ]

rc_is "a prune after the crashes completes" 0 ctl --json prune
rc_is "check --read-data is clean" 0 ctl check --read-data
ctl --json snapshots > "$T_TMP/s.json"
bad=0
for id in $(python3 -c 'import json,sys; [print(s["id"]) for s in json.load(open(sys.argv[1]))]' "$T_TMP/s.json"); do
    rm -rf "$T_TMP/r"
    ctl restore "$id" "$T_TMP/r" >/dev/null 2>&1 && manifest "$T_TMP/r" | cmp -s - "$T_TMP/m/$id" || { bad=1; diag "snapshot $id differs"; }
done
check "every kept snapshot restores byte-identically" [ "$bad" -eq 0 ]
ctl --json status > "$T_TMP/st.json"
check "every pack file is in the index" \
    [ "$(find "$NODE_DIR/state/packs" -path '*/tmp' -prune -o -type f -print | wc -l)" -eq "$(py 'd["packs"]' "$T_TMP/st.json")" ]
check "nothing is marked and no delete is left queued" \
    [ "$(py 'd["condemned_packs"] + d["deletes_queued"]' "$T_TMP/st.json")" -eq 0 ]
check "the kills hit a running chuted" [ "$killed" -eq "$ROUNDS" ]
done_testing
