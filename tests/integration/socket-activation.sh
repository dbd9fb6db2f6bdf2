#!/bin/bash
# SPDX-License-Identifier: MIT
# Socket activation (chuted.socket): chuted takes the control socket the
# service manager passes (LISTEN_FDS/LISTEN_PID, here from
# systemd-socket-activate, which starts chuted on the first connection) and
# is driven through it; LISTEN_FDS meant for another process is ignored; a
# passed fd that is not a listening UNIX stream socket is a clear error.
. "$(dirname "$0")/lib.sh"
need systemd-socket-activate

node_init n
node_manual n
mkdir -p "$T_TMP/data" && echo "through the passed socket" > "$T_TMP/data/f"
ACT=$T_TMP/act.sock
systemd-socket-activate -l "$ACT" "$CHUTED" --config "$NODE_DIR/chuted.conf" --log-level debug \
    >>"$NODE_DIR/chuted.log" 2>&1 &
PID=$!
T_PIDS+=("$PID")
wait_file 5 "$ACT" || bail_out "systemd-socket-activate did not make $ACT"
actl() { "$CHUTECTL" --socket "$ACT" "$@"; }

# the first connection starts chuted, and is answered by it
rc_is "chutectl status through the passed socket (starts chuted)" 0 actl status
is "the activator became chuted (same pid, LISTEN_PID)" "$(readlink "/proc/$PID/exe")" "$(readlink -f "$CHUTED")"
if [ -e "$NODE_DIR/run/chuted.sock" ]; then not_ok "chuted did not make its own socket at the configured path"
else ok "chuted did not make its own socket at the configured path"; fi
check "the log names the passed socket" grep -q "Control socket $ACT passed by the service manager" "$NODE_DIR/chuted.log"
rc_is "add through the passed socket" 0 actl add "$T_TMP/data"
rc_is "snapshot through the passed socket" 0 actl snapshot "$T_TMP/data"
rc_is "cat through the passed socket" 0 actl cat "latest:f"
is "... gives the file back" "$(cat "$T_TMP/last.out")" "through the passed socket"
actl --json status > "$T_TMP/st.json" 2>&1
jq_is "status --json through the passed socket" "$T_TMP/st.json" '.roots | length == 1'

kill -TERM "$PID"
if wait_gone "$PID" 10; then is "chuted exits 0 on SIGTERM" "$WAIT_RC" 0; else not_ok "chuted exits on SIGTERM"; fi
T_PIDS=()
if [ -S "$ACT" ]; then ok "the passed socket is left to the service manager (not unlinked)"; else
    not_ok "the passed socket is left to the service manager (not unlinked)"; fi

# LISTEN_FDS for another pid: ignored, chuted listens on its own socket
LISTEN_FDS=1 LISTEN_PID=1 start_chuted n 3</dev/null || bail_out "chuted with a foreign LISTEN_PID did not start"
rc_is "LISTEN_PID of another process: chuted listens on its configured socket" 0 ctl status
stop_chuted n

# a passed fd that is not a listening UNIX stream socket: refused clearly
rc=0
sh -c 'LISTEN_FDS=1 LISTEN_PID=$$ exec "$@"' sh "$CHUTED" --config "$NODE_DIR/chuted.conf" \
    3</dev/null >"$T_TMP/bad.out" 2>&1 || rc=$?
is "a passed /dev/null instead of a socket: chuted exits 1" "$rc" 1
check "... saying the passed socket is not a listening UNIX stream socket" \
    grep -q "not a listening UNIX stream socket" "$T_TMP/bad.out"
done_testing
