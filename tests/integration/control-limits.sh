#!/bin/bash
# SPDX-License-Identifier: MIT
# The control socket's limits: at most control_max_clients (default 64)
# connections are served at once, the next ones get a BUSY frame (request
# id 0) and are closed, and chutectl says to try again later; idle
# connections are closed after control_idle_timeout, after which chutectl
# works again; a client in the middle of a long request is not idle while
# it takes its output, but one that takes none of it for the idle timeout
# (an output stall) is closed, also one that keeps sending requests (they
# are no longer read once 4 MiB of answers wait). A key import whose code
# holds a NUL gets a clear error.
. "$(dirname "$0")/lib.sh"
need python3
WIRE="python3 $CHUTE_SRCDIR/tests/integration/ctlwire.py"
# the idle timeout, and how long after its connects `hold` counts the
# refusals: under a sanitizer, beside another test, chuted takes longer to
# answer 36 of them, and the checks after the count must still come before
# the idle timeout closes the rest
# (6 s under TSan cost CI 23 s: the stall checks wait 3 idle timeouts)
IDLE=3 CTLWIRE_SETTLE=1
[ "$T_SLOW" -gt 1 ] && IDLE=4 CTLWIRE_SETTLE=1.5
export CTLWIRE_SETTLE

SRC=$T_TMP/src
mkdir -p "$SRC"
head -c $((24 * 1024 * 1024)) /dev/urandom > "$SRC/big"

node_init n
cat >> "$NODE_DIR/chuted.conf" <<EOC
control_idle_timeout = ${IDLE}s
[watch]
quiet_period = 1h
max_delay = 2h
EOC
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add" 0 ctl add "$SRC"
rc_is "snapshot" 0 ctl snapshot "$SRC"

# ---- 100 idle connections: 64 served, 36 refused; the daemon closes the 64 when idle ----
$WIRE hold "$CHUTE_SOCKET" 100 $((IDLE * 10)) > "$T_TMP/hold.out" 2>&1 & hold=$!
for _ in $(seq 1 300); do grep -q held "$T_TMP/hold.out" 2>/dev/null && break; sleep 0.1; done
is "64 of 100 connections are served" "$(grep '^open' "$T_TMP/hold.out")" "open 64"
is "the other 36 get BUSY (status 5) with request id 0 and are closed" \
    "$(grep '^refused' "$T_TMP/hold.out")" "refused 36: ERROR id=0 status=5"
rc=0; "$CHUTECTL" status >"$T_TMP/out" 2>"$T_TMP/err" || rc=$?
is "chutectl status while 64 are open: exit 1" "$rc" 1
if grep -q "try again later" "$T_TMP/err"; then ok "... saying to try again later"; else
    not_ok "... saying to try again later"; sed 's/^/#   /' "$T_TMP/err"; fi
if grep -q "64 control connections are open" "$NODE_DIR/chuted.log"; then ok "the refusals are logged"; else
    not_ok "the refusals are logged"; fi
wait "$hold"
closed=$(sed -n 's/^idle-closed \([0-9]*\) after \([0-9]*\) s$/\1 \2/p' "$T_TMP/hold.out")
set -- $closed
is "chuted closes all 64 idle connections" "${1:-none}" 64
if [ -n "${2:-}" ] && [ "$2" -ge $((IDLE - 1)) ] && [ "$2" -le $((IDLE * 5)) ]; then
    ok "... after about ${IDLE} s ($2 s)"; else not_ok "... after about ${IDLE} s (${2:-?} s)"; fi
rc_is "chutectl status works again" 0 ctl status

# ---- the cap frees up as soon as clients close ----
$WIRE hold "$CHUTE_SOCKET" 64 0 > "$T_TMP/hold2.out" 2>&1 & hold=$!
for _ in $(seq 1 300); do grep -q held "$T_TMP/hold2.out" 2>/dev/null && break; sleep 0.1; done
is "64 more connections are served" "$(grep '^open' "$T_TMP/hold2.out")" "open 64"
rc_is "chutectl status while they are open: exit 1" 1 ctl status
kill "$hold"; wait "$hold" 2>/dev/null
ok=0
for _ in $(seq 1 150); do ctl status >/dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
is "chutectl status works once they closed" "$ok" 1

# ---- a client pausing mid-cat for less than the timeout is not idle ----
HALF=$(python3 -c "print($IDLE / 2)")
$WIRE slow-cat "$CHUTE_SOCKET" "latest:$SRC/big" "$HALF" > "$T_TMP/cat.out" 2>&1
is "cat with a reader silent for $HALF s (half the idle timeout) gets every byte" \
    "$(cat "$T_TMP/cat.out")" "$((24 * 1024 * 1024)) bytes, RESULT id=5"
# ---- one that takes nothing for 3 timeouts is closed as stalled (the
# client stops waiting when chuted hangs up) ----
$WIRE slow-cat "$CHUTE_SOCKET" "latest:$SRC/big" $((IDLE * 3)) > "$T_TMP/cat.out" 2>&1
grep -q "^EOF after [0-9]* bytes" "$T_TMP/cat.out" &&
    ok "cat with a reader silent is closed within $((IDLE * 3)) s ($(sed -n 's/.*silent //p' "$T_TMP/cat.out"))" ||
    { not_ok "cat with a reader silent is closed within $((IDLE * 3)) s"; diag "$(cat "$T_TMP/cat.out")"; }
grep -q "bytes of pending output for $IDLE s, closing" "$NODE_DIR/chuted.log" &&
    ok "... and chuted says why" || not_ok "... and chuted says why"

# ---- one that sends requests and reads no answer: no more are read once
# 4 MiB of answers wait, and it is closed as stalled ----
# (the sanitizers slow the requests down: longer to fill 4 MiB, and their
# allocators keep freed memory for a while)
FLOOD_S=$((IDLE * 5)) FLOOD_RSS_KIB=65536
[ -n "${CHUTE_SANITIZER_SUITE:-}" ] && FLOOD_S=60 FLOOD_RSS_KIB=$((512 * 1024))
hwm0=$(vm_hwm_kib "$CHUTED_PID")
$WIRE flood-unread "$CHUTE_SOCKET" "$FLOOD_S" > "$T_TMP/flood.out" 2>&1
diag "$(cat "$T_TMP/flood.out")"
if grep -q "^closed after " "$T_TMP/flood.out"; then
    ok "a client sending requests without reading the answers is closed as stalled"
else not_ok "a client sending requests without reading the answers is closed as stalled"; fi
hwm1=$(vm_hwm_kib "$CHUTED_PID")
if [ $((hwm1 - hwm0)) -lt "$FLOOD_RSS_KIB" ]; then ok "... while chuted's peak RSS grew by less than $((FLOOD_RSS_KIB / 1024)) MiB ($(( (hwm1 - hwm0) / 1024 )) MiB)"
else not_ok "... while chuted's peak RSS grew by less than $((FLOOD_RSS_KIB / 1024)) MiB ($(( (hwm1 - hwm0) / 1024 )) MiB)"; fi

# ---- a request whose text field holds a NUL: a clear error, nothing else ----
$WIRE key-import-nul "$CHUTE_SOCKET" > "$T_TMP/nul.out" 2>&1
is "key import with a NUL in the code: BAD_REQUEST" "$(head -1 "$T_TMP/nul.out")" "ERROR id=4 status=1"
check "... saying why" grep -q "NUL" "$T_TMP/nul.out"
chuted_alive "chuted still runs"
done_testing
