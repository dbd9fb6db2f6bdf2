#!/bin/bash
# SPDX-License-Identifier: MIT
# Debouncing and per-root status against a real chuted: with quiet_period =
# 3s a change shows as pending in status --json at once and no snapshot
# comes before the quiet period ends; with quiet_period = 1s and max_delay =
# 4s a file written every 0.3 s for 10 s gets a snapshot about every 4 s
# (2 to 4 in all), not one per write and not none.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"
sanitizer_skip "its checks are timings (quiet period, max_delay), which the sanitizers stretch; continuous.sh and continuous-restart.sh run the same debounce paths under them"

# ---- 8. status with quiet_period = 3s
SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/d1/d2"
echo 0 > "$SRC/file"
node_init quiet
cat >> "$NODE_DIR/chuted.conf" <<EOC
[watch]
quiet_period = 3s
EOC
start_chuted quiet || { not_ok "chuted starts"; done_testing; exit; }
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot exists (quiet_period 3s)" 10 cat_is "$SRC/file" 0 || log_tail
settle "$SRC" 10 || diag "the root did not settle after the first snapshot"
is "status: state watching" "$(root_status "$SRC" state)" watching
is "status: a watch per directory (3)" "$(root_status "$SRC" watches)" 3
is "status: nothing pending" "$(root_status "$SRC" pending)" 0
OLD=$(latest_id "$SRC")
T0=$(now_ms)
echo 1 > "$SRC/d1/d2/file"
# (the event is read on chuted's loop: give it up to 2 s, within the 3 s quiet period)
pending_now() { P=$(root_status "$SRC" pending); [ "${P:-0}" -gt 0 ] 2>/dev/null; }
wait_until 2 pending_now
[ "${P:-0}" -gt 0 ] 2>/dev/null && ok "status: pending > 0 right after a change ($P)" ||
    not_ok "status: pending > 0 right after a change (got '$P')"
is "status: still watching while changes wait" "$(root_status "$SRC" state)" watching
waited "a snapshot once the quiet period is over" 8 new_snapshot "$SRC" "$OLD"
# when it was taken, by its own time: not before the 3 s quiet period
ctl --json snapshots --root "$SRC" > "$T_TMP/snaps1.json"
E=$(python3 - "$T_TMP/snaps1.json" "$T0" <<'PY'
import datetime, json, sys
t = json.load(open(sys.argv[1]))[-1]["time"]
base, _, frac = t.rstrip("Z").partition(".")
dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
print(int(dt.timestamp()) * 1000 + int((frac + "000")[:3]) - int(sys.argv[2]))
PY
)
[ "${E:-0}" -ge 2900 ] && ok "no snapshot before the 3 s quiet period ended (taken $E ms after the change)" ||
    not_ok "no snapshot before the 3 s quiet period ended (taken ${E:-?} ms after the change)"
[ "${E:-99999}" -le 5000 ] && ok "the snapshot came soon after the quiet period (within 5 s of the change)" ||
    not_ok "the snapshot came soon after the quiet period (taken ${E:-?} ms after the change)"
is "the change is in it" "$(ctl cat "latest:$SRC/d1/d2/file" 2>&1)" 1
waited "status: nothing pending after the snapshot" 3 root_idle "$SRC"
stop_chuted quiet || true

# ---- 9. debounce: quiet_period = 1s, max_delay = 4s, a write every 0.3 s for 10 s
SRC2=$(realpath -m "$T_TMP/src2")
mkdir -p "$SRC2"
echo start > "$SRC2/busy"
node_init busy
cat >> "$NODE_DIR/chuted.conf" <<EOC
[watch]
quiet_period = 1s
max_delay = 4s
EOC
start_chuted busy || { not_ok "chuted starts"; done_testing; exit; }
check "add the busy root" ctl add "$SRC2"
waited "the first automatic snapshot exists (quiet_period 1s)" 10 cat_is "$SRC2/busy" start || log_tail
settle "$SRC2" 10 || diag "the root did not settle after the first snapshot"
BEFORE=$(snap_count "$SRC2")
python3 - "$SRC2/busy" > "$T_TMP/window" <<'PY'
import sys, time
start = time.time_ns()
n = 0
while time.time_ns() - start < 10 * 10**9:
    with open(sys.argv[1], "w") as f:
        f.write("write %d\n" % n)
    n += 1
    time.sleep(0.3)
print(start, time.time_ns(), n)
PY
read -r WSTART WEND NWRITES < "$T_TMP/window"
LAST_WRITE="write $((NWRITES - 1))"
settle "$SRC2" 10 || diag "the root did not settle after the writes"
N=$(( $(snap_count "$SRC2") - BEFORE ))
diag "$NWRITES writes in 10 s made $N snapshots"
[ "$N" -ge 2 ] && [ "$N" -le 4 ] && ok "a write every 0.3 s for 10 s: 2 to 4 snapshots ($N)" ||
    not_ok "a write every 0.3 s for 10 s: 2 to 4 snapshots (got $N)"
ctl --json snapshots --root "$SRC2" > "$T_TMP/snaps2.json"
python3 - "$T_TMP/snaps2.json" "$WSTART" "$WEND" > "$T_TMP/times" <<'PY'
import datetime, json, sys
def ns(t):
    base, _, frac = t.rstrip("Z").partition(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 10**9 + int((frac + "000000000")[:9])
start, end = int(sys.argv[2]), int(sys.argv[3])
times = [ns(s["time"]) for s in json.load(open(sys.argv[1]))]
during = [t for t in times if start <= t <= end]
gaps = [b - a for a, b in zip(during, during[1:])]
print(len(during), min(gaps) / 1e9 if gaps else "none")
PY
read -r DURING MINGAP < "$T_TMP/times"
[ "$DURING" -ge 2 ] && ok "max_delay: snapshots while the writes go on ($DURING)" ||
    not_ok "max_delay: snapshots while the writes go on (got $DURING, want >= 2)"
if [ "$MINGAP" = none ] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) >= 3.5)" "$MINGAP"; then
    ok "snapshots during the writes are about max_delay apart (closest $MINGAP s)"
else
    not_ok "snapshots during the writes are about max_delay apart (closest $MINGAP s, want >= 3.5)"
fi
is "the last write is in the latest snapshot" "$(ctl cat "latest:$SRC2/busy" 2>&1)" "$LAST_WRITE"

kill -0 "$CHUTED_PID" 2>/dev/null && ok "chuted still runs" || not_ok "chuted still runs"
done_testing
