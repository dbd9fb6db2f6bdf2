#!/bin/bash
# SPDX-License-Identifier: MIT
# chutectl against a real chuted: version, id (stable across a restart), key
# export/import, exit statuses (0 ok, 1 failed, 2 usage, 3 no daemon), --json
# documents, add/paths/remove, config errors as FILE:LINE and clean SIGTERM.
. "$(dirname "$0")/lib.sh"
need jq python3

norm_code() { tr -d ' \n-' | tr a-z A-Z; }

# ---- start, state, version ------------------------------------------------
node_init a
# no automatic snapshots: the snapshots counted here are the ones we take
node_conf a watch "quiet_period = 1h" "max_delay = 2h"
STATE=$NODE_DIR/state
if start_chuted a; then ok "chuted starts and answers status"; else not_ok "chuted starts and answers status"; done_testing; exit; fi
A_PID=$CHUTED_PID
A_SOCK=$CHUTE_SOCKET
if [ -f "$STATE/master.key" ] && [ "$(stat -c %a "$STATE/master.key")" = 400 ]; then
    ok "first start creates the master secret, mode 0400"
else not_ok "first start creates the master secret, mode 0400"; ls -la "$STATE" | sed 's/^/#   /'; fi

want_version=$("$CHUTED" --version | awk '{ print $NF }')
rc_is "chutectl version" 0 ctl version
if grep -qF "$want_version" "$T_TMP/last.out"; then ok "version names $want_version"; else not_ok "version names $want_version"; sed 's/^/#   /' "$T_TMP/last.out"; fi
rc_is "chutectl --json version" 0 ctl --json version
cp "$T_TMP/last.out" "$T_TMP/version.json"
jq_is "version --json has .version = $want_version" "$T_TMP/version.json" ".version == \"$want_version\""

# ---- socket selection: CHUTE_SOCKET, --socket, exit 3 ---------------------
rc_is "--socket beats CHUTE_SOCKET" 0 env CHUTE_SOCKET="$T_TMP/nowhere.sock" "$CHUTECTL" --socket "$A_SOCK" status
rc_is "CHUTE_SOCKET alone selects the daemon" 0 env CHUTE_SOCKET="$A_SOCK" "$CHUTECTL" status
rc_is "no daemon at CHUTE_SOCKET: exit 3" 3 env CHUTE_SOCKET="$T_TMP/nowhere.sock" "$CHUTECTL" status
if [ -s "$T_TMP/last.err" ]; then ok "no daemon: a message on stderr"; else not_ok "no daemon: a message on stderr"; fi
rc_is "no daemon at --socket: exit 3" 3 "$CHUTECTL" --socket "$T_TMP/nowhere.sock" id
: > "$T_TMP/plain-file"
rc_is "--socket naming a plain file: exit 3" 3 "$CHUTECTL" --socket "$T_TMP/plain-file" status

# ---- usage errors: exit 2 ---------------------------------------------------
rc_is "unknown verb: exit 2" 2 ctl frobnicate
rc_is "no verb: exit 2" 2 ctl
rc_is "unknown option: exit 2" 2 ctl --no-such-option status
rc_is "add without PATH: exit 2" 2 ctl add
rc_is "cat without SNAP:PATH: exit 2" 2 ctl cat
rc_is "restore without TARGET: exit 2" 2 ctl restore latest
rc_is "diff with one snapshot: exit 2" 2 ctl diff latest
rc_is "recover with an option it does not take: exit 2, no crash" 2 ctl recover --force somewhere
rc_is "key import without CODE: exit 2" 2 ctl key import
rc_is "store remove without NAME: exit 2" 2 ctl store remove --force
rc_is "store remove with two names: exit 2" 2 ctl store remove a b
rc_is "store remove with an unknown option: exit 2" 2 ctl store remove --forcefully a
# options go anywhere, as with peer remove: a store that is not there is the daemon's error (1)
rc_is "store remove NAME --force parses (no such store: exit 1)" 1 ctl store remove nosuch --force
check "... the daemon says so" grep -qi "nosuch" "$T_TMP/last.err"
rc_is "store remove --force NAME too" 1 ctl store remove --force nosuch
rc_is "unknown verb without a daemon is still a usage error (2)" 2 "$CHUTECTL" --socket "$T_TMP/nowhere.sock" frobnicate

# ---- id and key export ----------------------------------------------------------
rc_is "chutectl id" 0 ctl id
id_text=$(cat "$T_TMP/last.out")
rc_is "chutectl --json id" 0 ctl --json id
cp "$T_TMP/last.out" "$T_TMP/id.json"
jq_is "id --json is {\"id\": non-empty string}" "$T_TMP/id.json" '(.id | type == "string") and (.id | length > 0)'
id_a=$(jq -r .id "$T_TMP/id.json" 2>/dev/null)
if [ -n "$id_a" ] && printf '%s' "$id_text" | grep -qF "$id_a"; then ok "id text shows the --json id"; else not_ok "id text shows the --json id"; diag "text: $id_text"; diag "json: $id_a"; fi

rc_is "chutectl key export" 0 ctl key export
code_text=$(norm_code < "$T_TMP/last.out")
rc_is "chutectl --json key export" 0 ctl --json key export
cp "$T_TMP/last.out" "$T_TMP/code.json"
jq_is "key export --json is {\"code\": string}" "$T_TMP/code.json" '.code | type == "string" and length >= 50'
code_a=$(jq -r .code "$T_TMP/code.json" 2>/dev/null)
is "key export text and --json show the same code" "$code_text" "$(printf '%s' "$code_a" | norm_code)"

# ---- --json documents ------------------------------------------------------------
rc_is "status --json" 0 ctl --json status
cp "$T_TMP/last.out" "$T_TMP/status.json"
check "status --json parses" json_valid "$T_TMP/status.json"
jq_is "status --json has version, state, roots, objects, packs, bytes" "$T_TMP/status.json" \
    '(.version | type == "string") and (.state | type == "string") and (.roots | type == "array")
     and (.objects | type == "number") and (.packs | type == "number") and (.bytes | type == "number")'

# ---- add / paths / remove ----------------------------------------------------------
R1=$T_TMP/root1
R2=$T_TMP/root\ two
mkdir -p "$R1/sub" "$R2"
echo hello > "$R1/hello.txt"
echo skipped > "$R1/junk.tmp"
echo kept > "$R1/sub/kept"
echo two > "$R2/file"
rc_is "add a root with --exclude" 0 ctl add "$R1" --exclude '*.tmp'
rc_is "add a second root (name with a space)" 0 ctl add "$R2"
rc_is "add a missing directory fails (1)" 1 ctl add "$T_TMP/does-not-exist"
rc_is "add a directory inside a root fails (1)" 1 ctl add "$R1/sub"
rc_is "add a directory around a root fails (1)" 1 ctl add "$(dirname "$R1")"
check "... saying which root it contains" grep -q "contains .* which is already watched" "$T_TMP/last.err"
rc_is "paths" 0 ctl paths
if grep -qxF "$R1" "$T_TMP/last.out" && grep -qxF "$R2" "$T_TMP/last.out"; then ok "paths lists both roots, one per line"; else not_ok "paths lists both roots, one per line"; sed 's/^/#   /' "$T_TMP/last.out"; fi
rc_is "paths --json" 0 ctl --json paths
cp "$T_TMP/last.out" "$T_TMP/paths.json"
jq_is "paths --json names both roots" "$T_TMP/paths.json" "any(.. | strings; . == \"$R1\") and any(.. | strings; . == \"$R2\")"
rc_is "status --json after add" 0 ctl --json status
cp "$T_TMP/last.out" "$T_TMP/status2.json"
jq_is "status --json roots carry path, state, pending" "$T_TMP/status2.json" \
    "(.roots | length == 2) and (.roots | map(.path) | sort == ([\"$R1\", \"$R2\"] | sort))
     and all(.roots[]; has(\"state\") and has(\"pending\"))"
rc_is "remove the second root" 0 ctl remove "$R2"
rc_is "paths after remove" 0 ctl paths
if grep -qxF "$R1" "$T_TMP/last.out" && ! grep -qF "$R2" "$T_TMP/last.out"; then ok "paths no longer lists the removed root"; else not_ok "paths no longer lists the removed root"; sed 's/^/#   /' "$T_TMP/last.out"; fi
rc_is "remove a path that is not a root fails (1)" 1 ctl remove "$T_TMP/does-not-exist"

# ---- snapshot, exclude, cat, key import refused ---------------------------------------
rc_is "snapshot --json ROOT" 0 ctl --json snapshot "$R1"
cp "$T_TMP/last.out" "$T_TMP/snap.json"
jq_is "snapshot --json: {id, time, root, files, bytes, new_bytes, files_read, errors}" "$T_TMP/snap.json" \
    "type == \"object\" and (.id | type == \"string\") and (.root == \"$R1\")
     and (.time | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$\"))
     and (.files | type == \"number\") and (.bytes | type == \"number\") and (.new_bytes | type == \"number\")
     and (.files_read | type == \"number\") and .errors == 0"
snap_id=$(jq -r .id "$T_TMP/snap.json" 2>/dev/null)
rc_is "snapshot (text) prints the new id" 0 ctl snapshot "$R1"
snap2_id=$(grep -oE '[0-9a-zA-Z]{8,}' "$T_TMP/last.out" | head -1)
if [ -n "$snap2_id" ] && [ "$snap2_id" != "$snap_id" ]; then ok "a second snapshot has its own id"; else not_ok "a second snapshot has its own id"; diag "first '$snap_id', second '$snap2_id'"; fi
rc_is "snapshots --json" 0 ctl --json snapshots
cp "$T_TMP/last.out" "$T_TMP/snaps.json"
jq_is "snapshots --json: an array of {id, time, root, files, bytes, new_bytes}, both ids" "$T_TMP/snaps.json" \
    "type == \"array\" and length == 2 and all(.[]; has(\"id\") and has(\"time\") and has(\"root\") and has(\"files\") and has(\"bytes\") and has(\"new_bytes\"))
     and (map(.id) | index([\"$snap_id\"]) != null) and any(.[]; .id | startswith(\"$snap2_id\"))"
rc_is "snapshots --root ROOT --json" 0 ctl --json snapshots --root "$R1"
cp "$T_TMP/last.out" "$T_TMP/snaps-root.json"
jq_is "snapshots --root lists that root's snapshots" "$T_TMP/snaps-root.json" "length == 2 and all(.[]; .root == \"$R1\")"

rc_is "cat latest:hello.txt" 0 ctl cat latest:hello.txt
is "cat prints the file's content" "$(cat "$T_TMP/last.out")" hello
rc_is "cat SNAP-ID-PREFIX:sub/kept" 0 ctl cat "${snap_id:0:12}:sub/kept"
is "cat by id prefix prints the content" "$(cat "$T_TMP/last.out")" kept
rc_is "cat of a missing path: exit 1" 1 ctl cat latest:no-such-file
# an error naming a path that is not UTF-8 still arrives as an error
rc_is "cat of a missing path that is not UTF-8: exit 1" 1 ctl cat "latest:dir$(printf '\377')/no-such-file"
check "... with the daemon's error, not a malformed reply" grep -q "dir?/no-such-file" "$T_TMP/last.err"
rc_is "cat of an unknown snapshot: exit 1" 1 ctl cat ffffffffffffffff:hello.txt
rc_is "ls --json latest" 0 ctl --json ls latest
cp "$T_TMP/last.out" "$T_TMP/ls.json"
jq_is "ls --json lists hello.txt (file) and sub (dir)" "$T_TMP/ls.json" \
    'type == "array" and (map(select(.name == "hello.txt"))[0].kind == "file") and (map(select(.name == "sub"))[0].kind == "dir")'
jq_is "ls --json: exactly hello.txt and sub, not the excluded junk.tmp" "$T_TMP/ls.json" \
    'type == "array" and (map(.name) | sort == ["hello.txt", "sub"])'

rc_is "key import refused once snapshots exist (1)" 1 ctl key import "$code_a"
rc_is "key export unchanged after the refused import" 0 ctl --json key export
is "... same code" "$(jq -r .code "$T_TMP/last.out" 2>/dev/null)" "$code_a"

# ---- id stable across a restart; SIGTERM exits 0 within 5 s ---------------------------
kill -TERM "$A_PID"
t0=$(date +%s%N)
if wait_gone "$A_PID" $((5 * T_SLOW)); then ok "SIGTERM: chuted exits within $((5 * T_SLOW)) s ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"; else not_ok "SIGTERM: chuted exits within $((5 * T_SLOW)) s"; fi
is "SIGTERM: exit status 0" "${WAIT_RC:-none}" 0
rc_is "after stop: exit 3" 3 ctl status
if start_chuted a; then ok "restart on the same state dir"; else not_ok "restart on the same state dir"; fi
rc_is "id after restart" 0 ctl --json id
is "the node id is the same after a restart" "$(jq -r .id "$T_TMP/last.out" 2>/dev/null)" "$id_a"
rc_is "snapshots after restart" 0 ctl --json snapshots
jq_is "... still lists both snapshots" "$T_TMP/last.out" 'length == 2'
rc_is "status --json after snapshots" 0 ctl --json status
cp "$T_TMP/last.out" "$T_TMP/status3.json"
jq_is "status --json: the root's time is set" "$T_TMP/status3.json" \
    "(.roots | map(select(.path == \"$R1\"))[0].time) != null"

# ---- diff ---------------------------------------------------------------------------------
echo changed > "$R1/hello.txt"
echo new > "$R1/new.txt"
rm "$R1/sub/kept"
rc_is "snapshot after changes" 0 ctl --json snapshot "$R1"
snap3_id=$(jq -r 'if type == "array" then .[0].id else .id end' "$T_TMP/last.out" 2>/dev/null)
rc_is "diff SNAP1 SNAP2" 0 ctl diff "$snap_id" "$snap3_id"
cp "$T_TMP/last.out" "$T_TMP/diff.txt"
for f in hello.txt new.txt sub/kept; do
    if grep -qF "$f" "$T_TMP/diff.txt"; then ok "diff names $f"; else not_ok "diff names $f"; sed 's/^/#   /' "$T_TMP/diff.txt"; fi
done
if grep -qF junk.tmp "$T_TMP/diff.txt"; then not_ok "diff does not name unchanged files"; else ok "diff does not name unchanged files"; fi
rc_is "diff --json" 0 ctl --json diff "$snap_id" "$snap3_id"
check "diff --json parses" json_valid "$T_TMP/last.out"
rc_is "diff of an unknown snapshot fails (1)" 1 ctl diff "$snap_id" ffffffffffffffff
# a file name with terminal control sequences in it: on a terminal, ls and
# diff print them as '?' (script(1) gives chutectl a pseudo-terminal)
EVIL=$(printf 'evil\033]0;pwned\007name')
echo x > "$R1/$EVIL"
rc_is "snapshot of a file whose name holds escape sequences" 0 ctl snapshot "$R1"
script -qec "$(printf '%q ' "$CHUTECTL" ls "latest:$R1")" /dev/null > "$T_TMP/tty.out" 2>&1
check "ls on a terminal lists it" grep -q 'evil?]0;pwned?name' "$T_TMP/tty.out"
if grep -q $'\x1b\|\x07' "$T_TMP/tty.out"; then not_ok "... without the escape and bell characters"; else
    ok "... without the escape and bell characters"; fi
rc_is "ls into a pipe keeps the name's bytes" 0 ctl ls "latest:$R1"
check "... as they are" grep -qF "$EVIL" "$T_TMP/last.out"
rm "$R1/$EVIL"
# every kind of change, nested: exactly these entries
mkdir -p "$R1/gone/deep" "$R1/swap"
echo x > "$R1/gone/deep/f"; echo y > "$R1/gone/g"; echo z > "$R1/swap/inner"; echo k > "$R1/kind"
rc_is "snapshot before the changes" 0 ctl --json snapshot "$R1"
d1=$(jq -r '.id' "$T_TMP/last.out")
rm -r "$R1/gone" "$R1/kind"
mkdir -p "$R1/kind/deeper" "$R1/fresh/a/b"
echo 1 > "$R1/kind/deeper/one"; echo 2 > "$R1/fresh/a/b/two"; echo changed > "$R1/swap/inner"
rc_is "snapshot after the changes" 0 ctl --json snapshot "$R1"
d2=$(jq -r '.id' "$T_TMP/last.out")
rc_is "diff --json of nested changes" 0 ctl --json diff "$d1" "$d2"
is "... names exactly what changed, in order" \
    "$(jq -r '.[] | "\(.change) \(.path)"' "$T_TMP/last.out" | sed "s|$R1/||" | tr '\n' ';')" \
    "added fresh;added fresh/a;added fresh/a/b;added fresh/a/b/two;removed gone;removed gone/deep;removed gone/deep/f;removed gone/g;removed kind;added kind;modified swap/inner;"

kill -INT "$CHUTED_PID"
if wait_gone "$CHUTED_PID" $((5 * T_SLOW)); then ok "SIGINT: chuted exits within $((5 * T_SLOW)) s"; else not_ok "SIGINT: chuted exits within $((5 * T_SLOW)) s"; fi
is "SIGINT: exit status 0" "${WAIT_RC:-none}" 0

# ---- key import on a node without snapshots ----------------------------------------------
if start_chuted b; then ok "a second node starts"; else not_ok "a second node starts"; fi
rc_is "node b: id" 0 ctl --json id
id_b=$(jq -r .id "$T_TMP/last.out" 2>/dev/null)
if [ -n "$id_b" ] && [ "$id_b" != "$id_a" ]; then ok "a new node has its own id"; else not_ok "a new node has its own id"; fi
rc_is "key import CODE on a node without snapshots" 0 ctl key import "$code_a"
rc_is "node b: key export after import" 0 ctl --json key export
is "node b now has node a's master secret" "$(jq -r .code "$T_TMP/last.out" 2>/dev/null)" "$code_a"
stop_chuted b || true
start_chuted b || true
rc_is "node b: id after import and restart" 0 ctl --json id
is "node b's id is node a's id (identity follows the secret)" "$(jq -r .id "$T_TMP/last.out" 2>/dev/null)" "$id_a"
rc_is "key import of a damaged code fails (1)" 1 ctl key import "AAAA-BBBB-CCCC"
stop_chuted b || true

# ---- command line without a config file -----------------------------------------------
mkdir -p "$T_TMP/c/run"
"${OWN_NETNS[@]}" "$CHUTED" --state-dir "$T_TMP/c/state" --socket "$T_TMP/c/run/c.sock" --log-level info \
    >"$T_TMP/c/chuted.log" 2>&1 &
C_PID=$!
T_PIDS+=("$C_PID")
wait_ready "$T_TMP/c/run/c.sock" "$C_PID" || diag "chuted c did not become ready"
rc_is "--state-dir and --socket on the command line" 0 "$CHUTECTL" --socket "$T_TMP/c/run/c.sock" status
if [ -f "$T_TMP/c/state/master.key" ]; then ok "--state-dir holds the master secret"; else not_ok "--state-dir holds the master secret"; fi
kill -TERM "$C_PID"; wait_gone "$C_PID" 5 || true

# ---- config errors: FILE:LINE on stderr, non-zero exit --------------------------------------
bad_config() { # bad_config NAME LINE-NUMBER-OF-THE-BAD-LINE: lines on stdin
    local f=$T_TMP/$1.conf want=$2 rc=0
    cat > "$f"
    timeout 10 "$CHUTED" --config "$f" >"$T_TMP/$1.out" 2>"$T_TMP/$1.err" || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then ok "$1: chuted refuses to start (exit $rc)"; else not_ok "$1: chuted refuses to start (exit $rc)"; fi
    if grep -qF "$f:$want:" "$T_TMP/$1.err"; then ok "$1: stderr says $f:$want:"; else
        not_ok "$1: stderr says $f:$want:"; sed 's/^/#   /' "$T_TMP/$1.err" | head -5; fi
}
mkdir -p "$T_TMP/bad/state" "$T_TMP/bad/run"
bad_config unknown-key 4 <<EOC
[daemon]
state_dir = $T_TMP/bad/state
socket = $T_TMP/bad/run/s.sock
no_such_key = 1
EOC
bad_config bad-value 5 <<EOC
# a comment
[daemon]
state_dir = $T_TMP/bad/state
socket = $T_TMP/bad/run/s.sock
log_level = loudest
EOC
bad_config no-equals 4 <<EOC
[daemon]
state_dir = $T_TMP/bad/state
socket = $T_TMP/bad/run/s.sock
this line has no equals sign
EOC
if [ ! -e "$T_TMP/bad/run/s.sock" ]; then ok "a refused config leaves no socket behind"; else not_ok "a refused config leaves no socket behind"; fi
rc=0; timeout 10 "$CHUTED" --config "$T_TMP/missing.conf" \
    --state-dir "$T_TMP/bad/state" --socket "$T_TMP/bad/run/s.sock" >/dev/null 2>"$T_TMP/missing.err" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF "$T_TMP/missing.conf" "$T_TMP/missing.err"; then
    ok "--config of a missing file: non-zero exit naming the file"; else not_ok "--config of a missing file: non-zero exit naming the file (exit $rc)"; fi

# ---- [watch] path lines that nest: the first one listed is watched, the other is ignored with a warning
mkdir -p "$T_TMP/nest/outer/inner" "$T_TMP/nest/solo" "$T_TMP/nest/wide/deep/er"
node_conf nested watch "path = $T_TMP/nest/outer/inner" "path = $T_TMP/nest/outer" "path = $T_TMP/nest/solo" \
    "path = $T_TMP/nest/wide" "path = $T_TMP/nest/wide/deep/er"
if start_chuted nested; then
    rc_is "paths on a daemon with nested [watch] paths" 0 ctl paths
    is "nested [watch] paths: the first of each pair is watched, the others are not" \
        "$(LC_ALL=C sort "$T_TMP/last.out" | tr '\n' ' ')" "$T_TMP/nest/outer/inner $T_TMP/nest/solo $T_TMP/nest/wide "
    check "... the log says which one contains the other" \
        grep -qF "Cannot watch $T_TMP/nest/outer: it contains $T_TMP/nest/outer/inner, which is already watched" \
        "$T_TMP/nested/chuted.log"
    check "... and which one is inside the other" \
        grep -qF "Cannot watch $T_TMP/nest/wide/deep/er: it is inside $T_TMP/nest/wide, which is already watched" \
        "$T_TMP/nested/chuted.log"
    stop_chuted nested || true
else not_ok "chuted starts with nested [watch] paths"; fi

done_testing
