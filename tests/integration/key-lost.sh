#!/bin/bash
# SPDX-License-Identifier: MIT
# A lost key is never replaced (DESIGN §4): with master.key moved away, or a
# configured key_file absent, chuted refuses to start, names the missing file
# and the recovery command, and leaves the state dir byte for byte as it was.
# chuted --no-key then waits for `chutectl key import CODE`, which refuses a
# wrong code (by the key check value, and by the packs when there is none)
# and brings the node up with the right one: restore latest works. A fresh
# empty state still gets a new key.
. "$(dirname "$0")/lib.sh"
need jq python3

norm_code() { tr -d ' \n-' | tr a-z A-Z; }
# a well-formed recovery code (valid checksum) of a random master secret
random_code() {
    python3 -c 'import base64, hashlib, os
m = os.urandom(32)
print(base64.b32encode(m + hashlib.sha256(b"chute/v1/recovery" + m).digest()[:4]).decode().rstrip("="))'
}
# every entry of a state dir: path, type, mode, size, mtime, and file hashes
state_listing() {
    (cd "$1" && find . -printf '%p %y %m %s %T@\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
# start_refused NAME LOG: run NAME's chuted, which must exit by itself; sets REFUSED_RC
start_refused() {
    local name=$1 rc=0
    timeout 30 "$CHUTED" --config "$T_TMP/$name/chuted.conf" --log-level debug >"$2" 2>&1 || rc=$?
    REFUSED_RC=$rc
}
# grep_is "description" FILE PATTERN: ok when FILE contains the fixed string
grep_is() {
    if grep -qF -- "$3" "$2"; then ok "$1"; else not_ok "$1"; sed 's/^/#   /' "$2" | tail -10; fi
}

R=$T_TMP/root
mkdir -p "$R/sub"
echo hello > "$R/hello.txt"
head -c 300000 /dev/urandom > "$R/sub/blob"

# ---- a node with data under its key ------------------------------------------------
node_init a
node_conf a watch "quiet_period = 1h" "max_delay = 2h"
STATE=$T_TMP/a/state
start_chuted a || { not_ok "node a starts"; done_testing; exit; }
rc_is "add a root" 0 ctl add "$R"
rc_is "snapshot" 0 ctl snapshot "$R"
rc_is "key export" 0 ctl --json key export
CODE=$(jq -r .code "$T_TMP/last.out")
stop_chuted a

# ---- master.key moved away: refuse, change nothing --------------------------------
mv "$STATE/master.key" "$T_TMP/master.key.away"
state_listing "$STATE" > "$T_TMP/before.txt"
start_refused a "$T_TMP/refused-a.log"
if [ "$REFUSED_RC" -ne 0 ] && [ "$REFUSED_RC" -ne 124 ]; then ok "master.key missing over data: chuted exits non-zero ($REFUSED_RC)"; else
    not_ok "master.key missing over data: chuted exits non-zero (got $REFUSED_RC, 124 = still running)"; tail -5 "$T_TMP/refused-a.log" | sed 's/^/#   /'; fi
grep_is "... the message names the missing file" "$T_TMP/refused-a.log" "$STATE/master.key"
grep_is "... and the recovery command" "$T_TMP/refused-a.log" "chutectl key import CODE"
grep_is "... and --no-key" "$T_TMP/refused-a.log" "--no-key"
state_listing "$STATE" > "$T_TMP/after.txt"
if cmp -s "$T_TMP/before.txt" "$T_TMP/after.txt"; then ok "... the state dir is unchanged (names, modes, sizes, mtimes, hashes)"; else
    not_ok "... the state dir is unchanged (names, modes, sizes, mtimes, hashes)"; diff "$T_TMP/before.txt" "$T_TMP/after.txt" | head -20 | sed 's/^/#   /'; fi
if [ ! -e "$STATE/master.key" ]; then ok "... no new master.key"; else not_ok "... no new master.key"; fi

# ---- --no-key: waits for key import ------------------------------------------------
if start_chuted a --no-key; then ok "chuted --no-key starts without the key"; else not_ok "chuted --no-key starts without the key"; done_testing; exit; fi
rc_is "status --json in no-key mode" 0 ctl --json status
jq_is "... state is \"no key\"" "$T_TMP/last.out" '.state == "no key"'
rc_is "snapshots without a key: exit 1" 1 ctl snapshots
grep_is "... the error says how to load the key" "$T_TMP/last.err" "chutectl key import CODE"
rc_is "restore without a key: exit 1" 1 ctl restore latest "$T_TMP/nokey-target"
if [ ! -e "$T_TMP/nokey-target" ]; then ok "... and writes nothing"; else not_ok "... and writes nothing"; fi
WRONG=$(random_code)
rc_is "key import of another node's code: exit 1" 1 ctl key import "$WRONG"
grep_is "... the error says wrong key" "$T_TMP/last.err" "wrong key"
grep_is "... decided by the key check value" "$T_TMP/last.err" "key check value"
if [ ! -e "$STATE/master.key" ]; then ok "... no master.key written"; else not_ok "... no master.key written"; fi
rc_is "status after the refused import" 0 ctl --json status
jq_is "... still \"no key\"" "$T_TMP/last.out" '.state == "no key"'
stop_chuted a

# the same refusal on a state without a key check value (made before it
# existed): the packs decide
python3 - "$STATE/index.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM kv WHERE key = 'key_check'"); c.commit(); c.close()
EOF
start_chuted a --no-key || { not_ok "chuted --no-key restarts"; done_testing; exit; }
rc_is "no key check value: another node's code is refused (1)" 1 ctl key import "$WRONG"
grep_is "... decided by the packs" "$T_TMP/last.err" "packs"
rc_is "key import of the right code: exit 0" 0 ctl key import "$(printf '%s' "$CODE" | tr A-Z a-z)"
if [ -f "$STATE/master.key" ] && [ "$(stat -c %a "$STATE/master.key")" = 400 ]; then ok "... master.key written, mode 0400"; else
    not_ok "... master.key written, mode 0400"; ls -la "$STATE" | sed 's/^/#   /'; fi
if cmp -s "$STATE/master.key" "$T_TMP/master.key.away"; then ok "... the same master.key as the original"; else not_ok "... the same master.key as the original"; fi
rc_is "status after import" 0 ctl --json status
jq_is "... the daemon is up (not \"no key\")" "$T_TMP/last.out" '.state != "no key"'
rc_is "restore latest after import, without a restart" 0 ctl restore latest "$T_TMP/restored"
check "... restores the root exactly" diff -r "$R" "$T_TMP/restored"
rc_is "key export after import" 0 ctl --json key export
is "... gives the imported code" "$(jq -r .code "$T_TMP/last.out" | norm_code)" "$(printf '%s' "$CODE" | norm_code)"
echo more > "$R/more.txt"
rc_is "a new snapshot after import" 0 ctl snapshot "$R"
stop_chuted a
start_chuted a || not_ok "restart after import"
rc_is "after a restart: cat latest:more.txt" 0 ctl cat latest:more.txt
is "... prints the new file" "$(cat "$T_TMP/last.out")" more
python3 - "$STATE/index.db" > "$T_TMP/kv.txt" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); print(len(c.execute("SELECT value FROM kv WHERE key = 'key_check'").fetchone()[0]))
EOF
is "the key check value is recorded again (32 bytes)" "$(cat "$T_TMP/kv.txt")" 32
stop_chuted a

# ---- a configured key_file that is absent ------------------------------------------
mkdir -p "$T_TMP/keydev"
head -c 4096 /dev/urandom > "$T_TMP/keydev/key"
node_init b
node_conf b daemon "key_file = $T_TMP/keydev/key"
node_conf b watch "quiet_period = 1h" "max_delay = 2h"
start_chuted b || { not_ok "node b (key_file) starts"; done_testing; exit; }
rc_is "node b: add a root" 0 ctl add "$R"
rc_is "node b: snapshot" 0 ctl snapshot "$R"
rc_is "node b: key export" 0 ctl --json key export
CODE_B=$(jq -r .code "$T_TMP/last.out")
stop_chuted b
if [ ! -e "$T_TMP/b/state/master.key" ]; then ok "node b keeps no master.key (key_file)"; else not_ok "node b keeps no master.key (key_file)"; fi
mv "$T_TMP/keydev/key" "$T_TMP/key.unmounted"
state_listing "$T_TMP/b/state" > "$T_TMP/before-b.txt"
start_refused b "$T_TMP/refused-b.log"
if [ "$REFUSED_RC" -ne 0 ] && [ "$REFUSED_RC" -ne 124 ]; then ok "key_file absent: chuted exits non-zero ($REFUSED_RC)"; else
    not_ok "key_file absent: chuted exits non-zero (got $REFUSED_RC)"; fi
grep_is "... the message names the key file" "$T_TMP/refused-b.log" "$T_TMP/keydev/key"
grep_is "... and the recovery command" "$T_TMP/refused-b.log" "chutectl key import CODE"
state_listing "$T_TMP/b/state" > "$T_TMP/after-b.txt"
if cmp -s "$T_TMP/before-b.txt" "$T_TMP/after-b.txt"; then ok "... the state dir is unchanged"; else
    not_ok "... the state dir is unchanged"; diff "$T_TMP/before-b.txt" "$T_TMP/after-b.txt" | head -20 | sed 's/^/#   /'; fi
if [ ! -e "$T_TMP/b/state/master.key" ]; then ok "... no fresh master.key"; else not_ok "... no fresh master.key"; fi
start_chuted b --no-key || { not_ok "node b --no-key starts"; done_testing; exit; }
rc_is "node b: a wrong code is refused (1)" 1 ctl key import "$WRONG"
printf '%s\n' "$CODE_B" > "$T_TMP/code-b.txt"
rc_is "node b: the key_file's code is accepted (key import - reads it from stdin)" 0 \
    sh -c '"$1" key import - < "$2"' sh "$CHUTECTL" "$T_TMP/code-b.txt"
rc_is "node b: restore latest after import" 0 ctl restore latest "$T_TMP/restored-b"
check "... restores the root exactly" diff -r "$R" "$T_TMP/restored-b"
if [ ! -e "$T_TMP/b/state/master.key" ]; then ok "... still no master.key (the key_file stays the source)"; else not_ok "... still no master.key (the key_file stays the source)"; fi
stop_chuted b
mv "$T_TMP/key.unmounted" "$T_TMP/keydev/key"
if start_chuted b; then ok "node b starts again once the key_file is back"; else not_ok "node b starts again once the key_file is back"; fi
stop_chuted b

# ---- a wrong key_file over existing data is refused --------------------------------
head -c 4096 /dev/urandom > "$T_TMP/keydev/key"
start_refused b "$T_TMP/refused-b2.log"
if [ "$REFUSED_RC" -ne 0 ] && [ "$REFUSED_RC" -ne 124 ]; then ok "another key_file over node b's data: refused ($REFUSED_RC)"; else
    not_ok "another key_file over node b's data: refused (got $REFUSED_RC)"; fi
grep_is "... the message says the key check value differs" "$T_TMP/refused-b2.log" "key check value"

# ---- a fresh empty state still creates a key ---------------------------------------
node_init c
if start_chuted c; then ok "a fresh state starts"; else not_ok "a fresh state starts"; fi
if [ -f "$T_TMP/c/state/master.key" ]; then ok "... and creates master.key"; else not_ok "... and creates master.key"; fi
stop_chuted c
# an empty state with --no-key waits instead of creating one
node_init d
if start_chuted d --no-key; then ok "a fresh state with --no-key starts"; else not_ok "a fresh state with --no-key starts"; fi
if [ ! -e "$T_TMP/d/state/master.key" ]; then ok "... without creating a key"; else not_ok "... without creating a key"; fi
rc_is "... and takes any code (no data to check it on)" 0 ctl key import "$WRONG"
rc_is "... key export then gives that code" 0 ctl --json key export
is "... the same code" "$(jq -r .code "$T_TMP/last.out" | norm_code)" "$(printf '%s' "$WRONG" | norm_code)"
stop_chuted d

done_testing
