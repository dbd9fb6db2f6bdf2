#!/bin/bash
# SPDX-License-Identifier: MIT
# Flow control of the snapshot list and the output-stall timeout: clients
# that ask for a long snapshot list and never read make chuted hold only a
# bounded part of it each (the next page is read when the client took most
# of the last), and are closed once none of their output was taken for
# control_idle_timeout; chutectl still works, and a reader gets every row.
. "$(dirname "$0")/lib.sh"
need python3 jq
WIRE="python3 $CHUTE_SRCDIR/tests/integration/ctlwire.py"
ROWS=40000     # about 12 MiB of DATA frames per listing
CLIENTS=8
TIMEOUT_S=3

SRC=$T_TMP/src
mkdir -p "$SRC"
echo 1 > "$SRC/f"
node_init n
node_conf n daemon "control_idle_timeout = ${TIMEOUT_S}s"
node_manual n
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the root" 0 ctl add "$SRC"
rc_is "one real snapshot" 0 ctl snapshot "$SRC"
# the other rows are copies of it with their own ids and times (listing
# needs only the rows)
python3 - "$NODE_DIR/state/index.db" "$ROWS" <<'PY'
import hashlib, sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db, timeout=30)
row = list(c.execute("SELECT * FROM snapshots").fetchone())
cols = [d[0] for d in c.execute("SELECT * FROM snapshots").description]
rows = []
for i in range(1, n):
    r = list(row)
    r[cols.index("id")] = hashlib.sha256(b"row%d" % i).digest()
    r[cols.index("time_ns")] = row[cols.index("time_ns")] - i * 1000000000
    rows.append(r)
c.executemany("INSERT INTO snapshots VALUES (%s)" % ",".join("?" * len(cols)), rows)
c.commit()
PY
is "the index holds $ROWS snapshots" "$(ctl --json snapshots | jq length)" "$ROWS"

before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$CHUTED_PID/status")
$WIRE stall-snapshots "$CHUTE_SOCKET" $CLIENTS 60 > "$T_TMP/stall.out" &
STALL=$!
for _ in $(seq 1 300); do grep -q held "$T_TMP/stall.out" 2>/dev/null && break; sleep 0.1; done
sleep 1.5 # the listings run as far as flow control lets them
during=$(awk '/^VmRSS:/ { print $2 }' "/proc/$CHUTED_PID/status")
growth=$(( (during - before) / 1024 ))
# a whole listing is ~12 MiB encoded (more as messages): held by each of 8
# clients that is 100 MiB and more; flow control holds under 1 MiB each.
# Under a sanitizer every byte touched costs shadow memory as well (TSAN:
# 33 MiB here on an idle machine), which would still be far from 100+.
LIMIT=32
[ -n "${CHUTE_SANITIZER_SUITE:-}" ] && LIMIT=64
[ "$growth" -lt "$LIMIT" ] && ok "$CLIENTS stalled listings of $ROWS rows grow chuted by $growth MiB (< $LIMIT)" ||
    not_ok "$CLIENTS stalled listings of $ROWS rows grow chuted by $growth MiB (< $LIMIT)"
rc_is "chutectl status works while they stall" 0 ctl status
wait "$STALL"
closed=$(sed -n 's/^stall-closed \([0-9]*\) after \([0-9.]*\) s$/\1 \2/p' "$T_TMP/stall.out")
set -- $closed
is "every stalled client was closed" "${1:-none}" "$CLIENTS"
python3 -c "import sys; sys.exit(not ($TIMEOUT_S - 0.5 <= float(sys.argv[1]) <= $TIMEOUT_S * 5))" "${2:-999}" &&
    ok "... after the idle timeout (${2:-?} s, timeout ${TIMEOUT_S} s)" ||
    not_ok "... after the idle timeout (${2:-?} s, timeout ${TIMEOUT_S} s)"
grep -q "read none of its .* bytes of pending output for $TIMEOUT_S s, closing" "$NODE_DIR/chuted.log" &&
    ok "chuted logs why it closed them" || not_ok "chuted logs why it closed them"
is "a reader still gets every row" "$(ctl --json snapshots | jq '[.[].id] | unique | length')" "$ROWS"
$WIRE snapshots "$CHUTE_SOCKET" > "$T_TMP/wire.out"
is "on the wire: $ROWS rows" "$(sed -n 's/^rows //p' "$T_TMP/wire.out")" "$ROWS"
is "... then an empty RESULT" "$(tail -1 "$T_TMP/wire.out")" "RESULT id=9"
chuted_alive "chuted still runs"
done_testing
