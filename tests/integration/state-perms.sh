#!/bin/bash
# SPDX-License-Identifier: MIT
# Permissions and secrets in the process: chuted makes the state dir 0700 and
# the index and packs 0600 at start (fixing what it finds, and saying so),
# writes new packs 0600, is not dumpable (its /proc/PID/* belong to root, so
# neither core dumps nor the same user can read its memory) and keeps its
# keys in a mapping excluded from core dumps (MADV_DONTDUMP) and locked.
. "$(dirname "$0")/lib.sh"
need python3 setpriv

modes() { (cd "$1" && find . -printf '%m %y %p\n' | LC_ALL=C sort -k3); }
# bad_modes DIR: entries of the state dir whose mode is not what it should be
bad_modes() {
    local dir=$1
    {
        stat -c '%a %n' "$dir" | awk '$1 != "700"'
        find "$dir" -maxdepth 1 -name 'index.db*' -type f -printf '%m %p\n' | awk '$1 != "600"'
        [ -d "$dir/packs" ] && find "$dir/packs" -type d -printf '%m %p\n' | awk '$1 != "700"'
        [ -d "$dir/packs" ] && find "$dir/packs" -type f -printf '%m %p\n' | awk '$1 != "600"'
    } 2>/dev/null
}

R=$T_TMP/root
mkdir -p "$R"
echo one > "$R/one"
head -c 200000 /dev/urandom > "$R/blob"

node_init a
node_conf a watch "quiet_period = 1h" "max_delay = 2h"
STATE=$T_TMP/a/state
start_chuted a || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add a root" 0 ctl add "$R"
rc_is "snapshot" 0 ctl snapshot "$R"
is "a fresh state: every mode is right" "$(bad_modes "$STATE")" ""
stop_chuted a

# ---- wrong modes are fixed at start ------------------------------------------------
chmod 0755 "$STATE"
chmod 0644 "$STATE"/index.db*
find "$STATE/packs" -type d -exec chmod 0755 {} +
find "$STATE/packs" -type f -exec chmod 0644 {} +
n_bad=$(bad_modes "$STATE" | wc -l)
if [ "$n_bad" -ge 4 ]; then ok "made $n_bad entries group/other readable"; else not_ok "made entries group/other readable ($n_bad)"; fi
start_chuted a || { not_ok "chuted restarts"; done_testing; exit; }
ok "chuted starts on a state dir with 0755/0644 entries"
bad=$(bad_modes "$STATE")
if [ -z "$bad" ]; then ok "after start: state dir 0700, index and packs 0600, pack dirs 0700"; else
    not_ok "after start: state dir 0700, index and packs 0600, pack dirs 0700"; printf '%s\n' "$bad" | sed 's/^/#   /'; fi
if grep -q "Fixed the permissions of $STATE: 0755, now 0700" "$NODE_DIR/chuted.log" &&
   grep -q "Fixed the permissions of $STATE/index.db: 0644, now 0600" "$NODE_DIR/chuted.log"; then
    ok "... and the log names what was fixed"
else not_ok "... and the log names what was fixed"; grep -i perm "$NODE_DIR/chuted.log" | sed 's/^/#   /'; fi

# ---- new packs are 0600 --------------------------------------------------------------
find "$STATE/packs" -type f -printf '%p\n' | sort > "$T_TMP/packs-before"
head -c 300000 /dev/urandom > "$R/blob2"
rc_is "a snapshot with new data" 0 ctl snapshot "$R"
find "$STATE/packs" -type f -printf '%p\n' | sort > "$T_TMP/packs-after"
new=$(comm -13 "$T_TMP/packs-before" "$T_TMP/packs-after")
if [ -n "$new" ]; then ok "the snapshot wrote a new pack"; else not_ok "the snapshot wrote a new pack"; fi
bad_new=$(printf '%s\n' "$new" | xargs -r stat -c '%a %n' | awk '$1 != "600"')
is "new packs are 0600" "$bad_new" ""
is "every mode is still right" "$(bad_modes "$STATE")" ""

# ---- not dumpable, keys not in core dumps ------------------------------------------
PID=$CHUTED_PID
if [ "$(id -u)" -ne 0 ]; then
    is "/proc/PID/environ of chuted belongs to root: not dumpable" "$(stat -c %u "/proc/$PID/environ")" 0
    ok "# SKIP smaps of a non-dumpable process is unreadable to its own (non-root) user"
    ok "# SKIP (same)"
else
    # as root, root owns a root chuted's /proc/PID/* anyway: run one as nobody
    N=$T_TMP/nobody
    mkdir -p "$N/state" "$N/run"
    # no peer listener nor API: the defaults (0.0.0.0:2001, 127.0.0.1:2002) would
    # clash with a test running beside this one
    printf '[peer]\nlisten = none\n[api]\nlisten = none\n[daemon]\nstate_dir = %s\nsocket = %s\n' \
        "$N/state" "$N/run/chuted.sock" > "$N/chuted.conf"
    chown -R nobody "$N"
    chmod 0711 "$T_TMP"
    setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
        "$CHUTED" --config "$N/chuted.conf" --log-level debug \
        >"$N/chuted.log" 2>&1 &
    NPID=$!
    T_PIDS+=("$NPID")
    wait_ready "$N/run/chuted.sock" "$NPID" || diag "chuted as nobody did not become ready"
    is "chuted as nobody: its uid" "$(awk '/^Uid:/ { print $2 }' "/proc/$NPID/status")" "$(id -u nobody)"
    # the kernel gives a non-dumpable process's /proc/PID/* files to root
    is "... but its /proc/PID/environ belongs to root: not dumpable" "$(stat -c %u "/proc/$NPID/environ")" 0
    # the keys: one anonymous mapping marked dd (MADV_DONTDUMP), not the kernel's [vvar]
    dd=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 } /^VmFlags:.* dd/ && name !~ /^\[vvar/ { n++ } END { print n + 0 }' "/proc/$PID/smaps")
    if [ "$dd" -ge 1 ]; then ok "chuted has a mapping excluded from core dumps (MADV_DONTDUMP)"; else not_ok "chuted has a mapping excluded from core dumps (MADV_DONTDUMP)"; fi
    lck=$(awk '/^VmLck:/ { print $2 }' "/proc/$PID/status")
    if [ -n "$T_SANITIZER" ]; then ok "# SKIP locked memory: the sanitizer runtime makes mlock a no-op (VmLck ${lck:-?} kB)"
    elif [ "${lck:-0}" -ge 4 ]; then ok "... and locked memory (VmLck ${lck} kB)"; else not_ok "... and locked memory (VmLck ${lck:-?} kB)"; fi
fi
stop_chuted a

# ---- umask 077 does not narrow what others must reach --------------------------------
node_init e
sed -i "s|^socket = .*|socket = $T_TMP/e/newrun/sub/chuted.sock|" "$T_TMP/e/chuted.conf"
"$CHUTED" --config "$T_TMP/e/chuted.conf" >"$T_TMP/e/chuted.log" 2>&1 &
E_PID=$!
T_PIDS+=("$E_PID")
echo "$E_PID" > "$T_TMP/e/pid"
wait_ready "$T_TMP/e/newrun/sub/chuted.sock" "$E_PID" || diag "chuted e did not become ready"
is "a socket directory chuted creates is 0755 despite umask 077" \
    "$(stat -c %a "$T_TMP/e/newrun" "$T_TMP/e/newrun/sub" 2>&1 | tr '\n' ' ')" "755 755 "
is "... the socket 0660" "$(stat -c %a "$T_TMP/e/newrun/sub/chuted.sock" 2>&1)" 660
is "... the state dir 0700" "$(stat -c %a "$T_TMP/e/state" 2>&1)" 700
stop_chuted e
done_testing
