#!/bin/bash
# SPDX-License-Identifier: MIT
# A restore by a chuted that is not root: a directory without search
# permission for its owner gets its mode last, after the hard links that must
# reach a file inside it (the restore streams: a directory's metadata is set
# as soon as everything below it is done). Backed up by a root chuted, then
# the same state restored by one running as nobody.
. "$(dirname "$0")/lib.sh"
need setpriv

if [ "$(id -u)" -ne 0 ] || ! getent passwd nobody >/dev/null; then
    ok "# SKIP needs root (to back up as root, then run chuted as nobody) and a user nobody"
    done_testing; exit
fi

SRC=$T_TMP/src
mkdir -p "$SRC/a" "$SRC/a2" "$SRC/b" "$SRC/c/deeper"
echo shared > "$SRC/a/f"
# files walked between a/ and b/: a/ is done (its file written) before b/g
for i in $(seq 1 1500); do echo "$i" > "$SRC/a2/f$i"; done
ln "$SRC/a/f" "$SRC/b/g"
echo inside > "$SRC/c/deeper/x"
for i in $(seq 1 1500); do echo "$i" > "$SRC/c/f$i"; done
ln "$SRC/c/deeper/x" "$SRC/x-link"  # a link reaching two levels down, walked after c/
chmod 0600 "$SRC/a"                 # no search permission for the owner
chmod 0600 "$SRC/c"

node_init r
node_conf r watch "quiet_period = 1h" "max_delay = 2h"
start_chuted r || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add" 0 ctl add "$SRC"
rc_is "snapshot (as root)" 0 ctl snapshot "$SRC"
stop_chuted r || diag "chuted did not stop cleanly"

# the same state, now nobody's, restored by a chuted running as nobody
N=$T_TMP/r
chown -R nobody "$N"
chmod 0711 "$T_TMP"
TGT=$T_TMP/target
mkdir -p "$TGT"; chown nobody "$TGT"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    "$CHUTED" --config "$N/chuted.conf" --log-level debug >>"$N/chuted-nobody.log" 2>&1 &
NPID=$!
T_PIDS+=("$NPID")
SOCK=$N/run/chuted.sock
wait_ready "$SOCK" "$NPID" || diag "chuted as nobody did not become ready"
is "chuted runs as nobody" "$(awk '/^Uid:/ { print $2 }' "/proc/$NPID/status")" "$(id -u nobody)"
rc=0; "$CHUTECTL" --socket "$SOCK" --json restore latest "$TGT" >"$T_TMP/restore.json" 2>"$T_TMP/restore.err" || rc=$?
is "restore as nobody" "$rc" 0
is "... with no errors" "$(jq -r '.errors // 0' "$T_TMP/restore.json" 2>/dev/null)" 0
is "the directory keeps its mode" "$(stat -c %a "$TGT/a" "$TGT/c" | tr '\n' ' ')" "600 600 "
chmod 0700 "$TGT/a" "$TGT/c"
is "the hard link into it was made" "$(stat -c %i "$TGT/a/f")" "$(stat -c %i "$TGT/b/g" 2>/dev/null)"
is "... and the one two levels down" "$(stat -c %i "$TGT/c/deeper/x")" "$(stat -c %i "$TGT/x-link" 2>/dev/null)"
is "... with the content" "$(cat "$TGT/b/g" 2>/dev/null)" shared
kill -TERM "$NPID" 2>/dev/null; wait "$NPID" 2>/dev/null
keep=(); for p in "${T_PIDS[@]}"; do [ "$p" = "$NPID" ] || keep+=("$p"); done; T_PIDS=("${keep[@]}")
done_testing
