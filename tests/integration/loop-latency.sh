#!/bin/bash
# SPDX-License-Identifier: MIT
# The event loop stays responsive: `status` answers in under 100 ms while a
# big snapshot runs, while a forget of 500 snapshots runs next to another
# big snapshot, and while automatic retention forgets about 1,000 snapshots
# next to a third. During the forget and the retention an outside SQLite
# connection takes the index's write lock in 0.4 s bursts (standing in for
# a slow disk under the committer), so a write on the loop thread would
# stall it. A small client (ctlwire.py poll-status) connects, asks status
# and reads the answer every 50 ms; its worst times are what is asserted
# (at most 2 polls, or one in 50, at 100 ms or more; all but the slowest
# under 300 ms, that one under 1 s: see judge).
# chutectl is timed the same way alongside (process start included), and
# its distribution is reported, not asserted.
. "$(dirname "$0")/lib.sh"
sanitizer_skip "its bounds are timings, which the sanitizers stretch; the same snapshot, forget and retention paths run under them in other tests"
need python3
WIRE="python3 $CHUTE_SRCDIR/tests/integration/ctlwire.py"
LIMIT_MS=100
SNAPS=1500

BIG=$T_TMP/big
SMALL=$T_TMP/small
mkdir -p "$BIG/many" "$SMALL"
for i in 1 2 3; do head -c $((40 * 1024 * 1024)) /dev/urandom > "$BIG/blob$i"; done
python3 -c '
import os, sys
for i in range(4000):
    with open(os.path.join(sys.argv[1], "f%05d" % i), "wb") as f: f.write(os.urandom(2048))
' "$BIG/many"
echo 0 > "$SMALL/f"

node_init n
node_manual n # every snapshot here is one we take
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the big root" 0 ctl add "$BIG"
rc_is "add the small root" 0 ctl add "$SMALL"
fails=0
for i in $(seq 1 $SNAPS); do echo "$i" > "$SMALL/f"; ctl snapshot "$SMALL" >/dev/null 2>&1 || fails=$((fails + 1)); done
is "$SNAPS snapshots of the small root" "$fails failed, $(ctl --json snapshots --root "$SMALL" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') listed" "0 failed, $SNAPS listed"

# start_polling PHASE / stop_polling PHASE: both pollers write PHASE's files
start_polling() {
    rm -f "$T_TMP/stop"
    $WIRE poll-status "$CHUTE_SOCKET" "$T_TMP/$1.wire" "$T_TMP/stop" & WIRE_PID=$!
    ( while [ ! -e "$T_TMP/stop" ]; do
        s=$(date +%s%N)
        if "$CHUTECTL" status >/dev/null 2>&1; then echo $(( ($(date +%s%N) - s) / 10000 )) | sed 's/..$/.&/'
        else echo fail; fi
        sleep 0.05
      done >> "$T_TMP/$1.chutectl" ) & CTL_PID=$!
    sleep 0.3
}
stop_polling() { touch "$T_TMP/stop"; wait "$WIRE_PID" "$CTL_PID"; }
# hold_lock SECONDS: take the index's write lock in 0.4 s bursts for SECONDS
# (in the background; HOLD_PID), once it has it the first time
hold_lock() {
    python3 - "$NODE_DIR/state/index.db" "$1" > "$T_TMP/hold.out" 2>&1 <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
end, first = time.monotonic() + float(sys.argv[2]), True
while time.monotonic() < end:
    db.execute("BEGIN IMMEDIATE")
    if first:
        print("locked", flush=True); first = False
    time.sleep(0.4)
    db.execute("COMMIT")
    time.sleep(0.02)
PY
    HOLD_PID=$!
    for _ in $(seq 1 300); do grep -q locked "$T_TMP/hold.out" 2>/dev/null && return; sleep 0.05; done
}
# summary FILE: "n=N p50=.. p90=.. p99=.. max=.. (ms) failed=F"
summary() {
    python3 - "$1" "$LIMIT_MS" <<'PY'
import sys
v = open(sys.argv[1]).read().split()
ok = sorted(float(x) for x in v if x != "fail")
q = lambda p: ok[min(len(ok) - 1, int(p * len(ok)))] if ok else float("nan")
over = sum(1 for x in ok if x >= float(sys.argv[2]))
print("n=%d p50=%.1f p90=%.1f p99=%.1f second=%.1f max=%.1f ms over=%d failed=%d" % (len(ok), q(.5), q(.9), q(.99),
      ok[-2] if len(ok) > 1 else float("nan"), ok[-1] if ok else float("nan"), over, len(v) - len(ok)))
PY
}
# judge PHASE: assert the small client's worst times, report both. At most
# ALLOWED polls (2, or one in 50) at LIMIT_MS or over, all but the slowest
# under 3 x LIMIT_MS and that one under 1 s: a write on the loop thread
# under the 0.4 s lock bursts stalls it 400 ms and more, again and again,
# while a test running beside this one on a 2-core CI machine has made a
# single poll take 139 ms.
judge() {
    local w c max second over failed allowed
    w=$(summary "$T_TMP/$1.wire"); c=$(summary "$T_TMP/$1.chutectl")
    diag "$1: status over the socket: $w"
    diag "$1: chutectl status (process included): $c"
    max=$(echo "$w" | sed -n 's/.* max=\([0-9.]*\) ms.*/\1/p'); failed=$(echo "$w" | sed -n 's/.*failed=\([0-9]*\)/\1/p')
    over=$(echo "$w" | sed -n 's/.* over=\([0-9]*\) .*/\1/p')
    second=$(echo "$w" | sed -n 's/.* second=\([0-9.]*\) .*/\1/p')
    n=$(echo "$w" | sed -n 's/^n=\([0-9]*\) .*/\1/p')
    allowed=$(( ${n:-0} / 50 > 2 ? ${n:-0} / 50 : 2 ))
    if [ "${n:-0}" -ge 10 ] && [ "$failed" = 0 ] && [ "${over:-99999}" -le "$allowed" ] &&
        python3 -c "import sys; sys.exit(not (float('$second') < 3 * $LIMIT_MS and float('$max') < 1000))"; then
        ok "$1: every status answered, $over of $n polls at ${LIMIT_MS} ms or more (at most $allowed), the next slowest in ${second} ms < $((3 * LIMIT_MS)) ms, the slowest in ${max} ms < 1000 ms"
    else
        not_ok "$1: every status answered, at most $allowed of ${n:-0} polls at ${LIMIT_MS} ms or more (${over:-?}), all but one under $((3 * LIMIT_MS)) ms (${second:-?}), none at 1 s (slowest ${max:-?} ms, ${failed:-?} failed)"
    fi
}

# ---- 1: a big snapshot (120 MiB in 3 files, 4,000 small files) ----
start_polling snapshot
rc_is "big snapshot" 0 ctl snapshot "$BIG"
stop_polling
judge snapshot

# ---- 2: forget 500 snapshots while another big snapshot commits ----
head -c $((40 * 1024 * 1024)) /dev/urandom > "$BIG/blob1"
touch "$BIG"/many/*
start_polling forget
"$CHUTECTL" snapshot "$BIG" > "$T_TMP/snap2.out" 2>&1 & snap=$!
hold_lock 3
rc_is "forget --keep-last $((SNAPS - 500)) of the small root" 0 ctl forget --root "$SMALL" --keep-last $((SNAPS - 500))
wait "$snap"; rc=$?
wait "$HOLD_PID"
stop_polling
is "the big snapshot next to it succeeded" "$rc" 0
is "500 were forgotten" "$(ctl --json snapshots --root "$SMALL" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" $((SNAPS - 500))
judge forget

# ---- 3: automatic retention forgets ~1,000 snapshots next to a big snapshot ----
stop_chuted n
cat >> "$NODE_DIR/chuted.conf" <<EOC
[retention]
auto = yes
keep_within = 0
keep_last = 10
keep_hourly = 0
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
keep_yearly = 0
EOC
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
head -c $((40 * 1024 * 1024)) /dev/urandom > "$BIG/blob2"
touch "$BIG"/many/*
start_polling retention
"$CHUTECTL" snapshot "$BIG" > "$T_TMP/snap3.out" 2>&1 & snap=$!
echo last > "$SMALL/f"
hold_lock 4
rc_is "a snapshot of the small root (retention follows it)" 0 ctl snapshot "$SMALL"
for _ in $(seq 1 300); do grep -q "of $SMALL (retention)" "$NODE_DIR/chuted.log" && break; sleep 0.1; done
wait "$snap"; rc=$?
wait "$HOLD_PID"
stop_polling
is "the big snapshot next to it succeeded" "$rc" 0
line=$(grep "of $SMALL (retention)" "$NODE_DIR/chuted.log" | tail -1)
if [ -n "$line" ]; then ok "retention ran and logged it: ${line#*info: }"; else not_ok "retention ran and logged it"; fi
is "retention kept the newest 10 of the small root" \
    "$(ctl --json snapshots --root "$SMALL" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 10
judge retention
chuted_alive "chuted still runs"
done_testing
