#!/bin/bash
# SPDX-License-Identifier: MIT
# chuted under a stand-in for systemd (DESIGN.md §10): NOTIFY_SOCKET is a
# datagram socket of this test (notify-listen.py). READY=1 once chutectl
# can talk to it, STATUS= a one-line summary, WATCHDOG=1 every half of
# WATCHDOG_USEC from the event loop and none while the process is stopped,
# RELOADING=1 (with MONOTONIC_USEC=) then READY=1 on SIGHUP, STOPPING=1 on
# SIGTERM.
. "$(dirname "$0")/lib.sh"
need python3

NLOG=$T_TMP/notify.log
python3 "$CHUTE_SRCDIR/tests/integration/notify-listen.py" "$T_TMP/notify.sock" "$NLOG" &
T_PIDS+=("$!")
for _ in $(seq 1 300); do grep -q LISTENING "$NLOG" 2>/dev/null && break; sleep 0.05; done
grep -q LISTENING "$NLOG" 2>/dev/null || bail_out "notify-listen.py did not start"

# msgs PATTERN: how many datagrams so far match PATTERN (extended regex)
msgs() { cut -f2- "$NLOG" | grep -cE "$1"; }
# wait_msg SECONDS PATTERN [COUNT]: 0 once COUNT datagrams match
wait_msg() {
    local end=$(( $(date +%s%N) + $1 * 1000000000 ))
    while [ "$(msgs "$2")" -lt "${3:-1}" ]; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1; sleep 0.05; done
}

node_init n
mkdir -p "$T_TMP/w" && echo hello > "$T_TMP/w/file"
# WATCHDOG_USEC=2 s: chuted must send WATCHDOG=1 every second
NOTIFY_SOCKET=$T_TMP/notify.sock WATCHDOG_USEC=2000000 start_chuted n --watch "$T_TMP/w" ||
    bail_out "chuted did not start"

check "READY=1 was sent" wait_msg 5 '^READY=1$'
check "STATUS= was sent" wait_msg 5 '^STATUS=.'
status=$(cut -f2- "$NLOG" | grep -E '^STATUS=' | tail -1)
diag "$status"
case $status in *"|"*) not_ok "STATUS= is one line" ;; *) ok "STATUS= is one line" ;; esac
is "READY=1 exactly once at start" "$(msgs '^READY=1$')" 1

# the watchdog rate: one a second (half the interval), for 4 s
n0=$(msgs '^WATCHDOG=1$'); sleep 4; n1=$(msgs '^WATCHDOG=1$')
rate=$((n1 - n0))
# under a sanitizer, beside another test, a stall of the loop or of the
# listener is longer: what must hold there is the 2 s timeout itself
RMIN=3 RMAX=5 GAP=1.6
[ "$T_SLOW" -gt 1 ] && RMIN=2 RMAX=6 GAP=1.9
if [ "$rate" -ge $RMIN ] && [ "$rate" -le $RMAX ]; then ok "WATCHDOG=1 every ~1 s ($rate in 4 s)"; else
    not_ok "WATCHDOG=1 every ~1 s ($rate in 4 s, want $RMIN..$RMAX)"; fi
# and at steady intervals: no gap near the 2 s timeout between keep-alives
# (from READY=1 on: start-up is before systemd's watchdog runs)
gap=$(awk -F'\t' '$2 ~ /^READY=1/ { r = 1 } r && $2 == "WATCHDOG=1" { if (p) { d = $1 - p; if (d > m) m = d } p = $1 } END { printf "%.3f", m }' "$NLOG")
if awk -v g="$gap" -v lim="$GAP" 'BEGIN { exit !(g < lim) }'; then ok "largest gap between keep-alives ${gap}s < $GAP s"; else
    not_ok "largest gap between keep-alives ${gap}s, want < $GAP s"; fi

# a stopped loop sends nothing: what a hung daemon looks like to systemd
kill -STOP "$CHUTED_PID"
sleep 1 # a datagram already in flight, logged by a loaded listener
n0=$(msgs '^WATCHDOG=1$'); sleep 3; n1=$(msgs '^WATCHDOG=1$')
kill -CONT "$CHUTED_PID"
is "no WATCHDOG=1 while the process is stopped (3 s, past the 2 s timeout)" "$((n1 - n0))" 0
check "WATCHDOG=1 again after SIGCONT" wait_msg 4 '^WATCHDOG=1$' $((n1 + 2))

# SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again
r0=$(msgs '^READY=1$')
kill -HUP "$CHUTED_PID"
check "RELOADING=1 on SIGHUP" wait_msg 5 '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$'
check "READY=1 after the reload" wait_msg 5 '^READY=1$' $((r0 + 1))
rl=$(grep -n $'\tRELOADING=1' "$NLOG" | tail -1 | cut -d: -f1)
rd=$(grep -n $'\tREADY=1$' "$NLOG" | tail -1 | cut -d: -f1)
if [ "$rl" -lt "$rd" ]; then ok "READY=1 comes after RELOADING=1"; else not_ok "READY=1 comes after RELOADING=1 ($rl, $rd)"; fi
rc_is "chutectl status after the reload" 0 ctl status

# SIGTERM: STOPPING=1, then a clean exit
kill -TERM "$CHUTED_PID"
check "STOPPING=1 on SIGTERM" wait_msg 5 '^STOPPING=1$'
if wait_gone "$CHUTED_PID" 10; then is "chuted exits 0 after SIGTERM" "$WAIT_RC" 0; else not_ok "chuted exits after SIGTERM"; fi
s=$(grep -n $'\tSTOPPING=1$' "$NLOG" | tail -1 | cut -d: -f1)
after=$(tail -n +"$s" "$NLOG" | grep -c $'\tREADY=1$')
is "no READY=1 after STOPPING=1" "$after" 0

# without NOTIFY_SOCKET nothing is sent (and chuted works the same)
lines=$(wc -l < "$NLOG")
start_chuted n || bail_out "chuted did not start without NOTIFY_SOCKET"
rc_is "chuted without NOTIFY_SOCKET answers" 0 ctl status
sleep 0.5
is "nothing reaches the notify socket without NOTIFY_SOCKET" "$(wc -l < "$NLOG")" "$lines"
stop_chuted n
done_testing
