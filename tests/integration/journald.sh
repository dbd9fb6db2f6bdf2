#!/bin/bash
# SPDX-License-Identifier: MIT
# chuted's structured fields reach a real systemd-journald: chuted runs under
# systemd-cat with JOURNAL_STREAM naming its stderr (as a systemd service
# does), every event in docs/logging.md's MESSAGE_ID table is made to happen
# and found with `journalctl CHUTE_ROOT=... MESSAGE_ID=...` and the fields
# the table names. The journald is the one that runs if there is one; else
# one started here, in a mount namespace with a private /run when unshare is
# allowed, else on the real /run (and stopped by pid). It never skips: when
# no journald can be had, the script fails and says why.

# A private /run needs our own mount namespace: re-run this script in one
# before anything is created (lib.sh's temporary directory, traps).
if [ -z "${CHUTE_JOURNALD_PRIVATE:-}" ] && ! systemd-cat true 2>/dev/null && unshare -m true 2>/dev/null; then
    exec unshare -m env CHUTE_JOURNALD_PRIVATE=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
need systemd-cat journalctl jq setpriv sqlite3 stat

JOURNALD=/lib/systemd/systemd-journald
JOURNALD_ON_HOST_RUN=0

# ---- a journald to talk to --------------------------------------------------------------
if systemd-cat true 2>/dev/null; then
    diag "using the systemd-journald that already runs"
else
    [ -x "$JOURNALD" ] || bail_out "no journald runs and $JOURNALD is missing (package systemd, in quickstart's DEPS)"
    if [ -n "${CHUTE_JOURNALD_PRIVATE:-}" ]; then
        mount -t tmpfs -o mode=0755 chute-test-run /run ||
            bail_out "cannot mount a private /run in this mount namespace"
        diag "starting a private systemd-journald (own mount namespace, tmpfs on /run)"
    else
        JOURNALD_ON_HOST_RUN=1
        diag "no journald and no mount namespace: starting systemd-journald on /run"
    fi
    mkdir -p /run/systemd/journal || bail_out "cannot create /run/systemd/journal"
    "$JOURNALD" >"$T_TMP/journald.log" 2>&1 &
    JOURNALD_PID=$!
    T_PIDS+=("$JOURNALD_PID")
    for _ in $(seq 1 300); do
        systemd-cat true 2>/dev/null && break
        pid_gone "$JOURNALD_PID" && break
        sleep 0.1
    done
    systemd-cat true 2>/dev/null ||
        bail_out "systemd-journald did not start: $(tail -5 "$T_TMP/journald.log" | tr '\n' ' ')"
fi
# journald started on the real /run: once it is stopped, leave no dead sockets behind
journald_cleanup() {
    t_cleanup
    if [ "$JOURNALD_ON_HOST_RUN" = 1 ]; then
        rm -f /run/systemd/journal/socket /run/systemd/journal/stdout /run/systemd/journal/dev-log \
            /run/systemd/journal/io.systemd.journal
    fi
}
trap journald_cleanup EXIT

MSGID_SNAPSHOT_TAKEN=62598d05c6e140cea6306ac59e6dcdb3
MSGID_SNAPSHOT_FAILED=bae2d47e77284a33891b385df25e375d
MSGID_ROOT_ADDED=8b0f3c1e5a7d4f62a9e1c4b7d2f60a13
MSGID_ROOT_REMOVED=c3d94e7a1b2f4c5d8e6a0f9b7c1d2e34
MSGID_ROOT_UNAVAILABLE=0d93d55aab99480a945b6b3547e37459
MSGID_CONTROL_DENIED=e401feb49df2458292da59b96c1d4bf1
MSGID_DAEMON_STARTED=2c41b0faf6c946b9814cbdd22b22a27a
MSGID_DAEMON_STOPPING=40db4b0d850644b7be1cf5abea86ecd5
MSGID_ERROR=17cfc4b9d14542edac4e0d62168b39c9
MSGID_PEER_CONNECTED=9fa09a813e124a80898f4e6012a2bbe3
MSGID_PEER_REFUSED=fbfefca07fa64b2f9501b2c368f62554
MSGID_PEER_DISCONNECTED=d408e1f532234e8ab2971ecc13ed07e6
MSGID_PEER_QUOTA=854531bb40f94a64801f71b8e063ca8d
MSGID_PEER_ADDED=31b3c58e3be145c2a93023702952cb47
MSGID_PEER_REMOVED=f413339960194266b0afbbdd7d1b58eb
MSGID_HOSTED_PURGED=ec84e121288d4f5f8ed212501bf47e42
MSGID_PACK_REPLICATED=4a405706421f456a9d7fad61244fe6b0
MSGID_STORE_CONNECTED=6f1c2b7e9d3a4e58b0c4a1f2d7e96b35
MSGID_STORE_REFUSED=b2e8d4a61c7f4f0e9a35d6c0e1f7a842
MSGID_STORE_QUOTA=0c5a9e3f7b1d42c6a8e0f4b2d9c1a375
MSGID_PACK_DAMAGED=e7d1a0c94b6f4a2d8c3e5b7f0a9d1e62
SEEN_IDS=()

# start_journal_chuted: chuted for node n with stderr on a journal stream and
# JOURNAL_STREAM=dev:ino of that stream, as systemd sets it; sets CHUTED_PID
start_journal_chuted() {
    CHUTE_SOCKET=$NODE_DIR/run/chuted.sock
    export CHUTE_SOCKET
    # shellcheck disable=SC2016
    systemd-cat -t chuted-test bash -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"' _ \
        "$CHUTED" --config "$NODE_DIR/chuted.conf" &
    CHUTED_PID=$!
    T_PIDS+=("$CHUTED_PID")
    echo "$CHUTED_PID" > "$NODE_DIR/pid"
    wait_ready "$CHUTE_SOCKET" "$CHUTED_PID" && return 0
    diag "chuted did not become ready; the journal has:"
    journalctl -q --no-pager _PID="$CHUTED_PID" 2>&1 | tail -20 | sed 's/^/#   /'
    return 1
}

# jfind "description" MATCH...: ok when `journalctl MATCH...` finds an entry
# within 30 s; the newest one is left in $T_TMP/entry.json
jfind() {
    local desc=$1; shift
    for _ in $(seq 1 300); do
        journalctl -q --no-pager -o json -n 1 "$@" >"$T_TMP/entry.json" 2>"$T_TMP/journalctl.err"
        if grep -q '^{' "$T_TMP/entry.json"; then ok "$desc"; return 0; fi
        sleep 0.1
    done
    not_ok "$desc"
    diag "journalctl $* finds nothing; $(head -c 300 "$T_TMP/journalctl.err")"
    diag "what chuted $CHUTED_PID sent:"
    journalctl -q --no-pager -o verbose _PID="$CHUTED_PID" 2>&1 | tail -40 | sed 's/^/#   /'
    return 1
}
# event "description" MSGID MATCH... [-- JQ]: jfind with MESSAGE_ID=MSGID,
# then the entry must satisfy jq -e JQ (the documented fields)
event() {
    local desc=$1 id=$2 matches=() jqf=; shift 2
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then jqf=$2; break; fi
        matches+=("$1"); shift
    done
    if jfind "$desc" "MESSAGE_ID=$id" "${matches[@]}"; then
        SEEN_IDS+=("$id")
        [ -n "$jqf" ] && jq_is "... with its documented fields" "$T_TMP/entry.json" "$jqf"
    fi
    return 0
}
# every entry's CODE_* fields are single strings (the caller's), not arrays
CODE='(.CODE_FILE | type == "string") and (.CODE_FUNC | type == "string") and .SYSLOG_IDENTIFIER == "chuted"'

# ---- the events -------------------------------------------------------------------------
node_init n
# no automatic snapshots: the ones in the journal are the ones asked for
node_conf n watch "quiet_period = 1h" "max_delay = 2h"
# a peer listener, and deleted hosted packs purged after 2 s
node_peer_listen n
node_conf n peer "delete_delay = 2s"
R=$(realpath -m "$T_TMP/photos")
R2=$(realpath -m "$T_TMP/docs")
mkdir -p "$R/sub" "$R2"
echo one > "$R/a.txt"; echo two > "$R/sub/b.txt"; echo three > "$R2/c.txt"

if start_journal_chuted; then ok "chuted starts under systemd-cat"; else not_ok "chuted starts under systemd-cat"; done_testing; exit; fi
event "daemon started" "$MSGID_DAEMON_STARTED" _PID="$CHUTED_PID" -- "$CODE and .PRIORITY == \"6\""
jq_is "... CODE_FUNC is main, not log.c's own" "$T_TMP/entry.json" '.CODE_FUNC == "main" and (.CODE_FILE | test("main\\.c$"))'

rc_is "chutectl add ROOT" 0 ctl add "$R"
event "root added: journalctl CHUTE_ROOT=ROOT MESSAGE_ID=..." "$MSGID_ROOT_ADDED" CHUTE_ROOT="$R" -- "$CODE and .CHUTE_ROOT == \"$R\""

rc_is "chutectl snapshot ROOT" 0 ctl --json snapshot "$R"
SNAP=$(jq -r .id "$T_TMP/last.out" 2>/dev/null)
event "snapshot taken: found by CHUTE_ROOT and CHUTE_SNAPSHOT" "$MSGID_SNAPSHOT_TAKEN" CHUTE_ROOT="$R" \
    CHUTE_SNAPSHOT="$SNAP" -- "$CODE and .CHUTE_ROOT == \"$R\" and .CHUTE_SNAPSHOT == \"$SNAP\" and .PRIORITY == \"6\""

# the README's query: everything about one root
n=$(journalctl -q --no-pager -o json CHUTE_ROOT="$R" 2>/dev/null | grep -c '^{')
if [ "$n" -ge 2 ]; then ok "journalctl CHUTE_ROOT=ROOT lists its messages ($n)"; else
    not_ok "journalctl CHUTE_ROOT=ROOT lists its messages ($n, want >= 2)"; fi

# a bad config on SIGHUP is an error: MESSAGE_ID is the error id, PRIORITY 3
cp "$NODE_DIR/chuted.conf" "$T_TMP/good.conf"
printf '[daemon]\nno_such_key = 1\n' >> "$NODE_DIR/chuted.conf"
kill -HUP "$CHUTED_PID"
event "an error (SIGHUP with a bad config)" "$MSGID_ERROR" _PID="$CHUTED_PID" PRIORITY=3 -- "$CODE"
cp "$T_TMP/good.conf" "$NODE_DIR/chuted.conf"

# a user who may not use the control socket (the file mode opened up so the daemon decides)
chmod 0711 "$T_TMP" "$NODE_DIR" "$NODE_DIR/run"
chmod 0666 "$CHUTE_SOCKET"
rc_is "another user is refused" 1 setpriv --reuid=65534 --regid=65534 --clear-groups "$CHUTECTL" status
event "control client denied" "$MSGID_CONTROL_DENIED" _PID="$CHUTED_PID" -- "$CODE and .PRIORITY == \"4\""

mv "$R" "$R.moved"
event "root unavailable when it is moved away" "$MSGID_ROOT_UNAVAILABLE" CHUTE_ROOT="$R" -- "$CODE and .CHUTE_ROOT == \"$R\""
mv "$R.moved" "$R"
rc_is "chutectl remove ROOT" 0 ctl remove "$R"
event "root removed" "$MSGID_ROOT_REMOVED" CHUTE_ROOT="$R" -- "$CODE and .CHUTE_ROOT == \"$R\""

# a failing snapshot: an exclude pattern that cannot compile, written into
# the index behind chuted's back (chutectl add refuses it)
rc_is "chutectl add ROOT2 --exclude" 0 ctl add "$R2" --exclude 'marker-pattern/'
OLD_PID=$CHUTED_PID
kill -TERM "$CHUTED_PID"
if wait_gone "$CHUTED_PID" 10; then ok "SIGTERM: chuted stops"; else not_ok "SIGTERM: chuted stops"; fi
event "daemon stopping" "$MSGID_DAEMON_STOPPING" _PID="$OLD_PID" -- "$CODE"
sqlite3 "$NODE_DIR/state/index.db" "UPDATE roots SET excludes = '[' WHERE excludes LIKE '%marker-pattern%';"
is "the index now holds the bad pattern" "$(sqlite3 "$NODE_DIR/state/index.db" "SELECT count(*) FROM roots WHERE excludes = '['")" 1
if start_journal_chuted; then ok "chuted restarts"; else not_ok "chuted restarts"; fi
rc_is "chutectl snapshot ROOT2 fails (1)" 1 ctl snapshot "$R2"
event "snapshot failed" "$MSGID_SNAPSHOT_FAILED" CHUTE_ROOT="$R2" -- "$CODE and .CHUTE_ROOT == \"$R2\" and .PRIORITY == \"3\""

# ---- peers: tests/peer-client-tool plays a friend's node ------------------------------------
TOOL=$CHUTE_BUILDDIR/tests/peer-client-tool
[ -x "$TOOL" ] || bail_out "$TOOL is not built (make check builds it)"
SEED=$(printf '%064x' 31337)
TID=$("$TOOL" id "$SEED")
UNKNOWN_ID=$("$TOOL" id "$(printf '%064x' 31338)")
rc_is "chutectl peer add friend - ID --quota 1M" 0 ctl peer add friend - "$TID" --quota 1M
event "peer added: CHUTE_PEER is its id" "$MSGID_PEER_ADDED" _PID="$CHUTED_PID" CHUTE_PEER="$TID" -- "$CODE and .CHUTE_PEER == \"$TID\""
head -c 2000000 /dev/urandom > "$T_TMP/too-big"
head -c 1000 /dev/urandom > "$T_TMP/small"
SMALL=$(sha256sum "$T_TMP/small" | cut -c1-64)
"$TOOL" run "$SEED" "127.0.0.1:$PEER_PORT" hello put "$T_TMP/too-big" put "$T_TMP/small" delete "$SMALL" \
    >"$T_TMP/tool.out" 2>&1
event "peer connected" "$MSGID_PEER_CONNECTED" _PID="$CHUTED_PID" CHUTE_PEER="$TID" -- "$CODE and .CHUTE_PEER == \"$TID\""
event "peer over its quota, a warning" "$MSGID_PEER_QUOTA" _PID="$CHUTED_PID" CHUTE_PEER="$TID" -- "$CODE and .PRIORITY == \"4\""
event "peer disconnected" "$MSGID_PEER_DISCONNECTED" _PID="$CHUTED_PID" CHUTE_PEER="$TID" -- "$CODE"
event "hosted packs purged after delete_delay" "$MSGID_HOSTED_PURGED" _PID="$CHUTED_PID" CHUTE_PEER="$TID" -- "$CODE"
"$TOOL" run "$(printf '%064x' 31338)" "127.0.0.1:$PEER_PORT" hello >/dev/null 2>&1
event "an unknown node refused: journalctl CHUTE_PEER=ID" "$MSGID_PEER_REFUSED" _PID="$CHUTED_PID" CHUTE_PEER="$UNKNOWN_ID" -- "$CODE and .PRIORITY == \"5\""
rc_is "chutectl peer remove friend" 0 ctl peer remove friend
event "peer removed" "$MSGID_PEER_REMOVED" _PID="$CHUTED_PID" CHUTE_PEER="$TID" -- "$CODE"

# ---- replication: n uploads its packs to two more chuted, h (room) and q (1 byte) ----------
N_SOCKET=$CHUTE_SOCKET N_PID=$CHUTED_PID N_DIR=$NODE_DIR
host_node() {  # NAME: a plain chuted (its log in a file) listening for peers; sets PORT_NAME, ID_NAME
    node_init "$1"
    node_peer_listen "$1"
    start_chuted "$1" || bail_out "chuted $1 did not start"
    eval "PORT_$1=$PEER_PORT ID_$1=\$(\"\$CHUTECTL\" --json id | jq -r .id)"
}
host_node h
host_node q
CHUTE_SOCKET=$N_SOCKET CHUTED_PID=$N_PID NODE_DIR=$N_DIR
export CHUTE_SOCKET
NID=$(ctl --json id | jq -r .id)
on_node() { local s=$T_TMP/$1/run/chuted.sock; shift; CHUTE_SOCKET=$s "$CHUTECTL" "$@"; }
on_node h peer add n - "$NID" --quota 1G >/dev/null
on_node q peer add n - "$NID" --quota 1 >/dev/null
rc_is "chutectl peer add h ADDRESS ID" 0 ctl peer add h "127.0.0.1:$PORT_h" "$ID_h" --quota 1G
event "store connected: CHUTE_STORE and CHUTE_PEER" "$MSGID_STORE_CONNECTED" _PID="$CHUTED_PID" CHUTE_STORE=h -- \
    "$CODE and .CHUTE_STORE == \"h\" and .CHUTE_PEER == \"$ID_h\""
event "packs replicated" "$MSGID_PACK_REPLICATED" _PID="$CHUTED_PID" CHUTE_STORE=h -- "$CODE and .PRIORITY == \"6\""
HOSTED=$(find "$T_TMP/h/state" -path "$T_TMP/h/state/packs" -prune -o -type f -regextype posix-extended \
    -regex '.*/[0-9a-f]{64}' -print | head -1)
[ -n "$HOSTED" ] || bail_out "h keeps no pack of n"
printf 'X' | dd of="$HOSTED" bs=1 seek=100 conv=notrunc 2>/dev/null
rc_is "chutectl verify --store h finds the damaged pack (1)" 1 ctl verify --store h
event "pack damaged on a store, a warning" "$MSGID_PACK_DAMAGED" _PID="$CHUTED_PID" CHUTE_STORE=h -- \
    "$CODE and .PRIORITY == \"4\""
rc_is "chutectl peer add x (h's address, another id)" 0 ctl peer add x "127.0.0.1:$PORT_h" "$TID" --quota 1G
event "store refused: CHUTE_PEER is the id it presented" "$MSGID_STORE_REFUSED" _PID="$CHUTED_PID" CHUTE_STORE=x -- \
    "$CODE and .CHUTE_PEER == \"$ID_h\" and .PRIORITY == \"4\""
rc_is "chutectl peer add q ADDRESS ID (q keeps 1 byte: no pack fits)" 0 ctl peer add q "127.0.0.1:$PORT_q" "$ID_q" --quota 1G
# the refusal takes a connection and an upload: wait for it (a loaded machine may need more than jfind's 10 s)
for _ in $(seq 1 150); do
    ctl --json stores 2>/dev/null | jq -e '.stores[] | select(.name == "q") | .error | test("quota")' >/dev/null 2>&1 && break
    sleep 0.2
done
event "store over its quota, a warning" "$MSGID_STORE_QUOTA" _PID="$CHUTED_PID" CHUTE_STORE=q -- \
    "$CODE and .PRIORITY == \"4\""

# ---- docs/logging.md lists exactly the ids seen here --------------------------------------
DOC_IDS=$(grep -oE '^\| [^|]+ \| `[0-9a-f]{32}` \|' "$CHUTE_SRCDIR/docs/logging.md" | grep -oE '[0-9a-f]{32}' | sort -u)
SEEN=$(printf '%s\n' "${SEEN_IDS[@]}" | sort -u)
if [ -n "$DOC_IDS" ]; then ok "docs/logging.md has a MESSAGE_ID table"; else not_ok "docs/logging.md has a MESSAGE_ID table"; fi
is "every MESSAGE_ID documented in docs/logging.md was sent and found in the journal" "$DOC_IDS" "$SEEN"
done_testing
