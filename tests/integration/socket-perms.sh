#!/bin/bash
# SPDX-License-Identifier: MIT
# The control socket is mode 0660, and a user who is neither root, the
# daemon's owner nor in its socket group is refused: by the file mode, and
# by the daemon's SO_PEERCRED check when the mode is opened up.
. "$(dirname "$0")/lib.sh"

node_init n
start_chuted n || { echo "1..1"; echo "not ok 1 - chuted starts"; exit 1; }
is "control socket mode is 660" "$(stat -c %a "$CHUTE_SOCKET")" 660
is "control socket is a socket" "$(stat -c %F "$CHUTE_SOCKET")" socket
rc_is "the owner (root here, or the daemon's user) gets status" 0 ctl status

if [ "$(id -u)" -ne 0 ]; then ok "# SKIP refusing another user needs root"; done_testing; exit; fi
if ! getent passwd nobody >/dev/null || ! command -v runuser >/dev/null; then
    ok "# SKIP no user nobody or no runuser"; done_testing; exit; fi
# let nobody reach the socket's directory (but not write the socket)
chmod 0711 "$T_TMP" "$NODE_DIR" "$NODE_DIR/run"
as_nobody() { runuser -u nobody -- "$CHUTECTL" --socket "$CHUTE_SOCKET" "$@"; }
rc=0; as_nobody status >"$T_TMP/nobody.out" 2>"$T_TMP/nobody.err" || rc=$?
if [ "$rc" -eq 3 ] || [ "$rc" -eq 1 ]; then ok "user nobody is refused (exit $rc)"; else not_ok "user nobody is refused (exit $rc, want 3 or 1)"; fi
if grep -qi -e denied -e permission "$T_TMP/nobody.err"; then ok "... with a message saying permission is denied"; else
    not_ok "... with a message saying permission is denied"; sed 's/^/#   /' "$T_TMP/nobody.err"; fi
is "... and nothing on stdout" "$(cat "$T_TMP/nobody.out")" ""

# with the file mode opened up, the daemon itself must refuse (SO_PEERCRED)
chmod 0666 "$CHUTE_SOCKET"
rc=0; as_nobody status >"$T_TMP/nobody.out" 2>"$T_TMP/nobody.err" || rc=$?
is "socket mode 0666: the daemon refuses nobody itself (exit 1)" "$rc" 1
if grep -qi -e denied -e permission "$T_TMP/nobody.err"; then ok "... with a message saying permission is denied"; else
    not_ok "... with a message saying permission is denied"; sed 's/^/#   /' "$T_TMP/nobody.err"; fi
rc=0; as_nobody key export >"$T_TMP/nobody.out" 2>&1 || rc=$?
is "socket mode 0666: nobody cannot export the key (exit 1)" "$rc" 1
if grep -qE '([A-Z2-7]{4}-){5}' "$T_TMP/nobody.out"; then not_ok "... and no recovery code is printed"; else ok "... and no recovery code is printed"; fi
rc_is "root still gets status" 0 ctl status
chuted_alive "chuted still runs"
done_testing
