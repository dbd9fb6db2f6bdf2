#!/bin/bash
# SPDX-License-Identifier: MIT
# Administration through an ssh-forwarded control socket (DESIGN.md §7): a
# real sshd on a loopback port with a throwaway host key and authorized key,
# `ssh -N -L LOCAL.sock:CHUTED.sock`, then status, add, snapshot, cat and
# restore through `chutectl --socket LOCAL.sock`; a user the daemon does not
# allow (nobody) is refused through the forward, by the socket's mode and,
# with the mode opened up, by chuted's own SO_PEERCRED check.
. "$(dirname "$0")/lib.sh"
need ssh ssh-keygen
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || bail_out "$SSHD is not installed (openssh-server, see DEPS in ./quickstart)"
if [ "$(id -u)" -ne 0 ]; then
    ok "# SKIP sshd logs users in only when run as root (and the refused user is another uid)"
    done_testing; exit
fi
# privilege separation directory, made by the openssh-server package's
# tmpfiles.d entry on a booted system; a container may lack it
[ -d /run/sshd ] || mkdir -m 0755 /run/sshd || bail_out "cannot make /run/sshd"

S=$T_TMP/ssh
mkdir -p "$S/keys"
ssh-keygen -q -t ed25519 -N '' -C chute-test-host -f "$S/host_key" || bail_out "ssh-keygen (host key)"
ssh-keygen -q -t ed25519 -N '' -C chute-test-user -f "$S/id" || bail_out "ssh-keygen (user key)"
cp "$S/id.pub" "$S/keys/root"; cp "$S/id.pub" "$S/keys/nobody"
chmod 0644 "$S/keys/root" "$S/keys/nobody"
PORT=$(free_port)
cat > "$S/sshd_config" <<EOC
ListenAddress 127.0.0.1
Port $PORT
HostKey $S/host_key
PidFile $S/sshd.pid
AuthorizedKeysFile $S/keys/%u
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowStreamLocalForwarding local
AllowTcpForwarding local
X11Forwarding no
PermitTTY no
LogLevel VERBOSE
# the test directory lives in /tmp, whose mode StrictModes may not accept
StrictModes no
EOC
"$SSHD" -D -e -f "$S/sshd_config" 2>"$S/sshd.log" &
T_PIDS+=("$!")
echo "[127.0.0.1]:$PORT $(cat "$S/host_key.pub")" > "$S/known_hosts"
for _ in $(seq 1 150); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

node_init n
node_manual n
start_chuted n || bail_out "chuted did not start"
mkdir -p "$T_TMP/data/sub" "$T_TMP/restored"
echo "through ssh" > "$T_TMP/data/sub/f"
head -c 300000 /dev/urandom > "$T_TMP/data/big"

# forward USER LOCAL: ssh -N -L LOCAL:chuted's socket as USER; sets FWD_PID
forward() {
    ssh -F /dev/null -N -p "$PORT" -i "$S/id" -o BatchMode=yes -o IdentitiesOnly=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$S/known_hosts" \
        -o ExitOnForwardFailure=yes -o StreamLocalBindUnlink=yes \
        -L "$2:$CHUTE_SOCKET" "$1@127.0.0.1" 2>"$S/ssh-$1.log" &
    FWD_PID=$!
    T_PIDS+=("$FWD_PID")
    wait_file 10 "$2"
}
LOCAL=$T_TMP/local.sock
forward root "$LOCAL"; check "ssh -N -L local.sock:chuted.sock as root" test -S "$LOCAL"
f() { "$CHUTECTL" --socket "$LOCAL" "$@"; }
rc_is "status through the forward" 0 f status
f --json status > "$T_TMP/st.json" 2>/dev/null
check "status --json through the forward is one JSON document" json_valid "$T_TMP/st.json"
rc_is "add through the forward" 0 f add "$T_TMP/data"
rc_is "snapshot through the forward (progress frames, then the reply)" 0 f snapshot "$T_TMP/data"
rc_is "snapshots through the forward" 0 f --json snapshots
is "... lists the snapshot" "$(jq length "$T_TMP/last.out" 2>&1)" 1
rc_is "cat through the forward" 0 f cat latest:sub/f
is "... gives the file back" "$(cat "$T_TMP/last.out")" "through ssh"
f cat latest:big > "$T_TMP/big.out" 2>"$T_TMP/big.err"
check "cat of a 300 kB file through the forward is byte-exact" cmp "$T_TMP/data/big" "$T_TMP/big.out"
rc_is "restore through the forward" 0 f restore latest "$T_TMP/restored"
check "... restores the tree" diff -r "$T_TMP/data" "$T_TMP/restored"
kill -TERM "$FWD_PID"; wait "$FWD_PID" 2>/dev/null

# user nobody: an ssh login of its own, forwarding to the same socket
chmod 0711 "$T_TMP" "$NODE_DIR" "$NODE_DIR/run"
NLOCAL=$T_TMP/nobody.sock
forward nobody "$NLOCAL"; check "ssh -N -L as user nobody" test -S "$NLOCAL"
n() { "$CHUTECTL" --socket "$NLOCAL" "$@"; }
rc=0; n status >"$T_TMP/n.out" 2>"$T_TMP/n.err" || rc=$?
if [ "$rc" -ne 0 ]; then ok "nobody is refused through the forward (socket mode 0660; exit $rc)"; else
    not_ok "nobody is refused through the forward (socket mode 0660)"; fi
is "... and gets nothing on stdout" "$(cat "$T_TMP/n.out")" ""
check "... sshd could not connect for nobody (permission denied)" \
    grep -qi "connect.*$CHUTE_SOCKET.*permission denied" "$S/sshd.log"
chmod 0666 "$CHUTE_SOCKET"
rc_is "socket mode 0666: chuted itself refuses nobody through the forward (exit 1)" 1 n status
check "... saying permission is denied" grep -qi -e denied -e permission "$T_TMP/last.err"
rc_is "socket mode 0666: nobody cannot snapshot through the forward" 1 n snapshot "$T_TMP/data"
chmod 0660 "$CHUTE_SOCKET"
check "chuted logged the refusal of uid 65534" grep -q "65534" "$NODE_DIR/chuted.log"
rc_is "root still gets status directly" 0 ctl status
chuted_alive "chuted still runs"
done_testing
