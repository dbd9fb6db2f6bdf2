#!/bin/bash
# SPDX-License-Identifier: MIT
# Who may use the control socket, checked by the daemon on the connecting
# process's own credentials before it reads a byte: a stranger gets one
# DENIED frame with request id 0 (nothing of what it sent was decoded) and
# is disconnected; group membership counts as the process has it at connect
# time (SO_PEERGROUPS), not as the user database lists it; a member of the
# socket group may use the socket but not key export / key import, which
# are for root and chuted's own user. Needs root (runuser to user nobody).
. "$(dirname "$0")/lib.sh"
need python3
[ "$(id -u)" -eq 0 ] || skip_all "switching to another user needs root"
command -v runuser >/dev/null || skip_all "runuser is not installed"
getent passwd nobody >/dev/null || skip_all "no user nobody"
getent group users >/dev/null || skip_all "no group users"
# nobody's primary group stands in for the socket group "chute"
GROUP=$(id -gn nobody)
[ "$GROUP" != users ] || skip_all "nobody's primary group is users"
WIRE="python3 $CHUTE_SRCDIR/tests/integration/ctlwire.py"

node_init n
cat >> "$NODE_DIR/chuted.conf" <<EOC
socket_group = $GROUP
EOC
# socket_group belongs to [daemon], the last section node_init wrote
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
chmod 0711 "$T_TMP" "$NODE_DIR" "$NODE_DIR/run"
is "the socket belongs to group $GROUP" "$(stat -c %G "$CHUTE_SOCKET")" "$GROUP"
# the file mode must not be what stops a stranger here: the daemon must
chmod 0666 "$CHUTE_SOCKET"

# ---- a stranger: nobody with primary group users and no other group ----
stranger() { runuser -u nobody -g users -- "$@"; }
stranger $WIRE stranger "$CHUTE_SOCKET" > "$T_TMP/stranger.out" 2>&1
is "a stranger who sends nothing gets DENIED at once (request id 0) and is closed" \
    "$(grep '^silent:' "$T_TMP/stranger.out")" "silent: ERROR id=0 status=6, then EOF"
is "a stranger sending garbage gets DENIED without it being decoded, and is closed" \
    "$(grep '^garbage:' "$T_TMP/stranger.out")" "garbage: ERROR id=0 status=6, then EOF"
is "a stranger's valid request (id 77) is not decoded either: DENIED carries id 0" \
    "$(grep '^valid:' "$T_TMP/stranger.out")" "valid: ERROR id=0 status=6, then EOF"
n=$(grep -c "denied: not root" "$NODE_DIR/chuted.log")
[ "$n" -ge 3 ] && ok "each refusal is logged ($n lines)" || not_ok "each refusal is logged ($n lines, want >= 3)"
if grep -q "Bad control request" "$NODE_DIR/chuted.log"; then not_ok "no decode error was logged for the stranger's bytes"
else ok "no decode error was logged for the stranger's bytes"; fi

rc=0; stranger "$CHUTECTL" --socket "$CHUTE_SOCKET" status >"$T_TMP/out" 2>"$T_TMP/err" || rc=$?
is "chutectl as a stranger: exit 1" "$rc" 1
if grep -q "permission denied" "$T_TMP/err"; then ok "... saying permission denied"; else
    not_ok "... saying permission denied"; sed 's/^/#   /' "$T_TMP/err"; fi

# user nobody is in $GROUP by the user database (its primary group), but a
# process of it started with -g users is not: the daemon goes by the process
rc=0; stranger "$CHUTECTL" --socket "$CHUTE_SOCKET" status >/dev/null 2>&1 || rc=$?
is "membership is the process's, not /etc/group's: nobody without $GROUP is refused" "$rc" 1
rc=0; runuser -u nobody -g users -G "$GROUP" -- "$CHUTECTL" --socket "$CHUTE_SOCKET" status \
    >/dev/null 2>"$T_TMP/err" || rc=$?
is "$GROUP as a supplementary group (SO_PEERGROUPS) admits: status works" "$rc" 0

# ---- a member of the socket group ----
member() { runuser -u nobody -- "$CHUTECTL" --socket "$CHUTE_SOCKET" "$@"; }
chmod 0660 "$CHUTE_SOCKET"
rc_is "a member of $GROUP gets status" 0 member status
rc_is "... and the snapshot list" 0 member snapshots
rc_is "a member of $GROUP cannot key export (exit 1)" 1 member key export
if grep -q "permission denied" "$T_TMP/last.err"; then ok "... saying permission denied"; else
    not_ok "... saying permission denied"; sed 's/^/#   /' "$T_TMP/last.err"; fi
if grep -qE '([A-Z2-7]{4}-){5}' "$T_TMP/last.out" "$T_TMP/last.err"; then
    not_ok "... and no recovery code is printed"; else ok "... and no recovery code is printed"; fi
rc_is "root can key export" 0 ctl key export
CODE=$(grep -oE '[A-Z2-7]{4}(-[A-Z2-7]{4})+' "$T_TMP/last.out" | head -1)
[ -n "$CODE" ] && ok "... and gets the recovery code" || not_ok "... and gets the recovery code"
rc_is "a member of $GROUP cannot key import (exit 1)" 1 member key import "$CODE"
if grep -q "permission denied" "$T_TMP/last.err"; then ok "... saying permission denied"; else
    not_ok "... saying permission denied"; sed 's/^/#   /' "$T_TMP/last.err"; fi
rc_is "root still gets status" 0 ctl status
chuted_alive "chuted still runs"
done_testing
