#!/bin/bash
# SPDX-License-Identifier: MIT
# chuted never backs up its own files (DESIGN §9). In user mode with HOME in
# a temporary directory, the state dir (~/.local/state/chute), the control
# socket ($XDG_RUNTIME_DIR under HOME here) and key_file all live under HOME:
# `chutectl add $HOME` must give one snapshot and then none for 6 s without
# a user change (quiet_period 1 s and max_delay 4 s here: a change that
# never quiets down, such as chuted's own writes, would have made one by
# then), and nothing of chuted's own appears in `ls -R latest`, also
# not through a hard link to the key file or (as root) a bind mount of the
# state dir, which only matching by device and inode catches. `add` of a
# path inside the state dir is refused. Runs about 13 s.
. "$(dirname "$0")/lib.sh"
need jq

H=$T_TMP/home
mkdir -p "$H/docs" "$H/run" "$H/.config/chute" "$H/secret" "$H/mnt-state" "$T_TMP/n"
chmod 700 "$H/run"
echo hello > "$H/docs/a.txt"
head -c 4096 /dev/urandom > "$H/secret/chute.key"
chmod 600 "$H/secret/chute.key"
ln "$H/secret/chute.key" "$H/docs/key-hardlink"
cat > "$H/.config/chute/chuted.conf" <<EOC
[daemon]
key_file = $H/secret/chute.key
[watch]
quiet_period = 1s
max_delay = 4s
[peer]
listen = none
EOC

export HOME=$H XDG_RUNTIME_DIR=$H/run
unset XDG_STATE_HOME XDG_CONFIG_HOME
STATE=$H/.local/state/chute
export CHUTE_SOCKET=$XDG_RUNTIME_DIR/chute/chuted.sock

# As root, a private mount namespace lets chuted see the state dir a second
# time through a bind mount under HOME; a network namespace of its own keeps
# its default peer listener (0.0.0.0:2001, no config file here) off the
# machine's addresses.
BIND=no
if [ "$(id -u)" = 0 ] && unshare -m -n --propagation private true 2>/dev/null; then BIND=yes; fi

mkdir -p "$STATE"
if [ "$BIND" = yes ]; then
    unshare -m -n --propagation private sh -c 'mount --bind "$1" "$2" && exec "$3" --user --log-level debug' \
        sh "$STATE" "$H/mnt-state" "$CHUTED" >>"$T_TMP/n/chuted.log" 2>&1 &
else
    "${OWN_NETNS[@]}" "$CHUTED" --user --log-level debug >>"$T_TMP/n/chuted.log" 2>&1 &
fi
CHUTED_PID=$!
T_PIDS+=("$CHUTED_PID")
NODE_DIR=$T_TMP/n
wait_ready "$CHUTE_SOCKET" "$CHUTED_PID" || diag "chuted --user did not become ready"
rc_is "chuted --user starts with its state dir, socket and key file under HOME" 0 ctl status
is "the state dir is the user-mode default under HOME" "$(ls "$STATE"/index.db 2>/dev/null)" "$STATE/index.db"

# add of the state dir or anything inside it is refused with a clear error
rc_is "add of the state dir is refused" 1 ctl add "$STATE"
if grep -q "state directory" "$T_TMP/last.err"; then ok "... saying it is chuted's state directory"; else
    not_ok "... saying it is chuted's state directory"; sed 's/^/#   /' "$T_TMP/last.err"; fi
mkdir -p "$STATE/packs"
rc_is "add of a directory inside the state dir is refused" 1 ctl add "$STATE/packs"
if grep -q "state directory" "$T_TMP/last.err"; then ok "... saying it is inside chuted's state directory"; else
    not_ok "... saying it is inside chuted's state directory"; sed 's/^/#   /' "$T_TMP/last.err"; fi
if [ "$BIND" = yes ]; then
    rc_is "add of the state dir through a bind mount is refused" 1 ctl add "$H/mnt-state"
else
    ok "# SKIP add through a bind mount: needs root and mount namespaces"
fi

n_snaps() { ctl --json snapshots 2>/dev/null | jq length 2>/dev/null || echo 0; }
rc_is "add \$HOME" 0 ctl add "$H"
first=0
for _ in $(seq 1 150); do first=$(n_snaps); [ "$first" -ge 1 ] && break; sleep 0.2; done
if [ "$first" -ge 1 ]; then ok "a first snapshot of HOME is taken"; else not_ok "a first snapshot of HOME is taken"; fi
sleep 2   # let a possible second run, caused by the first one's own writes, start
first=$(n_snaps)
diag "6 s without a change under HOME (snapshots so far: $first)"
sleep 6
is "no further snapshot without a user change for 6 s (max_delay 4 s)" "$(n_snaps)" "$first"

rc_is "ls -R latest" 0 ctl ls -R latest
cp "$T_TMP/last.out" "$T_TMP/ls.out"
if grep -q "a.txt" "$T_TMP/ls.out"; then ok "ls -R latest lists the user's files"; else
    not_ok "ls -R latest lists the user's files"; head -20 "$T_TMP/ls.out" | sed 's/^/#   /'; fi
own=$(grep -E 'index\.db|master\.key|packs|chuted\.sock|chute\.key|key-hardlink|state/chute' "$T_TMP/ls.out")
is "nothing of the state dir, socket or key file is in ls -R latest" "$own" ""
if [ "$BIND" = yes ]; then
    is "the bind mount of the state dir is listed empty" "$(grep -c 'mnt-state/' "$T_TMP/ls.out")" 0
else
    ok "# SKIP bind mount of the state dir: needs root and mount namespaces"
fi

# the watcher still works: a user change makes a snapshot
echo changed >> "$H/docs/a.txt"
now=$first
for _ in $(seq 1 300); do now=$(n_snaps); [ "$now" -gt "$first" ] && break; sleep 0.2; done
if [ "$now" -gt "$first" ]; then ok "a user change still makes a snapshot"; else not_ok "a user change still makes a snapshot"; fi
chuted_alive "chuted still runs"
done_testing
