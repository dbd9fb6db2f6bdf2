#!/bin/bash
# SPDX-License-Identifier: MIT
# chutectl finds chuted with no --socket and no $CHUTE_SOCKET: as root, the
# user-mode daemon that `./quickstart run` starts when no system daemon runs,
# and the system daemon (/run/chute/chuted.sock) when one does; as a member
# of group "chute", the system daemon; a user outside the group is refused
# with a hint. Runs in a private mount namespace with its own /run and an
# /etc/group that has a "chute" group, so the host's are never touched.
if [ "$(id -u)" -eq 0 ] && [ -z "${CHUTE_DISCOVERY_NS:-}" ] &&
    unshare --mount --propagation private true 2>/dev/null; then
    exec unshare --mount --propagation private env CHUTE_DISCOVERY_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
if [ -z "${CHUTE_DISCOVERY_NS:-}" ]; then
    ok "# SKIP needs root and a private mount namespace (unshare -m): a system daemon at /run/chute and other uids"
    done_testing; exit
fi
need setpriv
unset CHUTE_SOCKET XDG_RUNTIME_DIR XDG_STATE_HOME XDG_CONFIG_HOME
CHUTE_GID=4240 MEMBER=4242 OUTSIDER=4243
mount -t tmpfs -o mode=0755 tmpfs /run || bail_out "cannot mount a private /run"
cp /etc/group "$T_TMP/group" && echo "chute:x:$CHUTE_GID:" >> "$T_TMP/group"
mount --bind "$T_TMP/group" /etc/group || bail_out "cannot bind a private /etc/group"
chmod 0755 "$T_TMP"

# `./quickstart run DIR` as root without XDG_RUNTIME_DIR: state in
# ~/.local/state/chute, socket there, `chuted --user --socket SOCK --watch DIR`
export HOME=$T_TMP/home
mkdir -p "$HOME/.config/chute" "$T_TMP/user-dir" "$T_TMP/system-dir"
printf '[peer]\nlisten = none\n' > "$HOME/.config/chute/chuted.conf" # no port 2001 clash
QS_SOCK=$HOME/.local/state/chute/chuted.sock
"$CHUTED" --user --socket "$QS_SOCK" --watch "$T_TMP/user-dir" >"$T_TMP/user.log" 2>&1 &
USER_PID=$!; T_PIDS+=("$USER_PID")
wait_ready "$QS_SOCK" "$USER_PID" || diag "the user-mode chuted did not become ready"

check "no system daemon here (no /run/chute)" test ! -e /run/chute
rc_is "root, no system daemon: chutectl status with no options" 0 "$CHUTECTL" --json paths
jq_is "... reaches the quickstart (user-mode) daemon" "$T_TMP/last.out" ".[0].path == \"$T_TMP/user-dir\""

# the system daemon: root, default socket path, group chute
mkdir -p "$T_TMP/sys"
printf '[peer]\nlisten = none\n[daemon]\nstate_dir = %s\n' "$T_TMP/sys/state" > "$T_TMP/sys/chuted.conf"
"$CHUTED" --config "$T_TMP/sys/chuted.conf" --watch "$T_TMP/system-dir" >"$T_TMP/sys/chuted.log" 2>&1 &
SYS_PID=$!; T_PIDS+=("$SYS_PID")
wait_ready /run/chute/chuted.sock "$SYS_PID" || diag "the system chuted did not become ready"
is "the system daemon's socket is /run/chute/chuted.sock, root:chute 0660" \
    "$(stat -c '%U:%G %a' /run/chute/chuted.sock 2>&1)" "root:chute 660"
rc_is "root with both running: chutectl with no options" 0 "$CHUTECTL" --json paths
jq_is "... reaches the system daemon first" "$T_TMP/last.out" ".[0].path == \"$T_TMP/system-dir\""

as_uid() { local u=$1; shift; HOME=$T_TMP/home-$u setpriv --reuid "$u" --regid "$u" "$@"; }
rc_is "a member of group chute: chutectl with no options" 0 \
    as_uid $MEMBER --groups "$CHUTE_GID" "$CHUTECTL" --json paths
jq_is "... reaches the system daemon" "$T_TMP/last.out" ".[0].path == \"$T_TMP/system-dir\""
rc_is "a member of group chute: status" 0 as_uid $MEMBER --groups "$CHUTE_GID" "$CHUTECTL" status
rc_is "a user outside group chute: refused (exit 3)" 3 as_uid $OUTSIDER --clear-groups "$CHUTECTL" status
check "... the message names the system socket and permission" \
    grep -q "cannot reach chuted at /run/chute/chuted.sock: Permission denied" "$T_TMP/last.err"
check "... and says how to join group chute" grep -q 'group "chute"' "$T_TMP/last.err"

# with the system daemon gone and its socket stale, root falls back again
kill -KILL "$SYS_PID"; wait "$SYS_PID" 2>/dev/null
check "a stale system socket is left behind (chuted was killed)" test -S /run/chute/chuted.sock
rc_is "root, stale system socket: chutectl with no options" 0 "$CHUTECTL" --json paths
jq_is "... reaches the quickstart daemon" "$T_TMP/last.out" ".[0].path == \"$T_TMP/user-dir\""
kill -TERM "$USER_PID"; wait_gone "$USER_PID" 10
rc_is "nothing running: exit 3" 3 "$CHUTECTL" status
check "... naming both places it looked" \
    grep -q "cannot reach chuted at /run/chute/chuted.sock nor at $QS_SOCK" "$T_TMP/last.err"
# --socket and CHUTE_SOCKET still mean exactly that socket
rc_is "--socket: only that socket" 3 "$CHUTECTL" --socket "$T_TMP/none.sock" status
check "... and no other is named" grep -q "at $T_TMP/none.sock: No such file" "$T_TMP/last.err"
done_testing
