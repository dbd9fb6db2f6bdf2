#!/bin/bash
# SPDX-License-Identifier: MIT
# forget is atomic: it plans from the rows its delete transaction sees, never
# from rows read earlier. Another writer (a stand-in for a second forget or
# automatic retention) holds the index's write lock while it deletes the
# newest snapshot; a forget --keep-last 3 sent meanwhile must then keep 3 of
# the remaining snapshots (the sequential result), not delete from a stale
# plan. A forget SNAPSHOT of a row removed meanwhile reports 0 removed.
. "$(dirname "$0")/lib.sh"

need python3

SRC=$T_TMP/src
mkdir -p "$SRC"
node_init n
cat >> "$NODE_DIR/chuted.conf" <<CONF
[watch]
quiet_period = 1h
max_delay = 2h

[retention]
auto = no
CONF
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the root" 0 ctl add "$SRC"
for i in 1 2 3 4 5 6 7; do
    echo "version $i" > "$SRC/file"
    ctl snapshot "$SRC" >/dev/null 2>"$T_TMP/err" || diag "snapshot $i failed: $(cat "$T_TMP/err")"
done
ids() {
    ctl --json snapshots > "$T_TMP/snaps.json"
    python3 -c 'import json,sys; [print(s["id"]) for s in json.load(open(sys.argv[1]))]' "$T_TMP/snaps.json"
}
mapfile -t ALL < <(ids)
is "seven snapshots taken" "${#ALL[@]}" 7

# hold ID: in the background, take the index's write lock, delete snapshot
# ID and keep the transaction open until $T_TMP/go exists; $T_TMP/locked says
# the lock is held.
hold() {
    rm -f "$T_TMP/go" "$T_TMP/locked"
    python3 - "$NODE_DIR/state/index.db" "$1" "$T_TMP" <<'PY' &
import os, sqlite3, sys, time
db, snap, tmp = sys.argv[1:4]
c = sqlite3.connect(db, isolation_level=None, timeout=30)
c.execute("BEGIN IMMEDIATE")
n = c.execute("DELETE FROM snapshots WHERE id = ?", (bytes.fromhex(snap),)).rowcount
open(os.path.join(tmp, "locked"), "w").write(str(n))
deadline = time.time() + 60
while not os.path.exists(os.path.join(tmp, "go")) and time.time() < deadline:
    time.sleep(0.05)
c.execute("COMMIT")
PY
    HOLD_PID=$!
    for _ in $(seq 1 200); do [ -s "$T_TMP/locked" ] && break; sleep 0.05; done
    is "the other writer deleted its row" "$(cat "$T_TMP/locked" 2>/dev/null)" 1
}
# release: let the other writer commit, and reap it
release() { touch "$T_TMP/go"; wait "$HOLD_PID"; }

# 1. forget --keep-last 3 racing a writer that deletes the newest snapshot
hold "${ALL[6]}"
ctl --json forget --keep-last 3 > "$T_TMP/f1.out" 2>"$T_TMP/f1.err" &
F1=$!
sleep 2 # the forget reaches the index and waits for the write lock
release
wait "$F1" && ok "forget --keep-last 3 succeeds" || { not_ok "forget --keep-last 3 succeeds"; cat "$T_TMP/f1.err"; }
mapfile -t LEFT < <(ids)
is "three snapshots are kept, as in sequence" "${#LEFT[@]}" 3
is "the three newest remaining are kept" "${LEFT[*]}" "${ALL[3]} ${ALL[4]} ${ALL[5]}"
is "the reply counts the three it removed" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["removed"])' "$T_TMP/f1.out")" 3

# 2. forget SNAPSHOT of a row another writer removes meanwhile
hold "${LEFT[1]}"
ctl --json forget "${LEFT[1]}" > "$T_TMP/f2.out" 2>"$T_TMP/f2.err" &
F2=$!
sleep 2
release
wait "$F2" && ok "forget SNAPSHOT succeeds" || { not_ok "forget SNAPSHOT succeeds"; cat "$T_TMP/f2.err"; }
is "it reports nothing removed" \
    "$(python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print(d["removed"], len(d.get("snapshots", [])))' "$T_TMP/f2.out")" "0 0"
mapfile -t LAST < <(ids)
is "two snapshots are left" "${LAST[*]}" "${LEFT[0]:-} ${LEFT[2]:-}"
if grep -q "Forgot 1 snapshot of" "$NODE_DIR/chuted.log"; then not_ok "the log claims no forget of it"
else ok "the log claims no forget of it"; fi

chuted_alive "chuted still runs"
done_testing
