#!/bin/bash
# SPDX-License-Identifier: MIT
# Flow control of `ls -R` and `diff`: a recursive listing of 40,000 entries
# (and a diff that adds them all) streams a batch at a time, the next batch
# read only when the client has taken most of the last. Clients that ask
# for it and never read make chuted hold a bounded part each, and are closed
# once none of their output was taken for control_idle_timeout; a reader
# gets every entry. The same diff over the HTTP API streams too, to a fast
# reader and to a slow one.
. "$(dirname "$0")/lib.sh"
need python3
need curl
WIRE="python3 $CHUTE_SRCDIR/tests/integration/ctlwire.py"
DIRS=200
PER_DIR=200
# the sanitizer suites check no memory bound here (see growth_is): a
# smaller tree still streams in several batches
if [ -n "${CHUTE_SANITIZER_SUITE:-}" ]; then DIRS=60; PER_DIR=100; fi
ENTRIES=$((DIRS + DIRS * PER_DIR))
CLIENTS=8
TIMEOUT_S=3

SRC=$T_TMP/src
mkdir -p "$SRC"
node_init n
node_conf n daemon "control_idle_timeout = ${TIMEOUT_S}s"
node_api_listen n
node_manual n
start_chuted n || bail_out "chuted did not start"
rc_is "add the root" 0 ctl add "$SRC"
rc_is "a snapshot of it empty" 0 ctl snapshot "$SRC"
EMPTY=$(ctl --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
python3 - "$SRC" "$DIRS" "$PER_DIR" <<'PY'
import os, sys
top, dirs, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range(dirs):
    p = os.path.join(top, "directory-with-a-longer-name-%03d" % d)
    os.makedirs(p)
    for f in range(per):
        open(os.path.join(p, "file-with-a-longer-name-%04d" % f), "w").close()
PY
rc_is "a snapshot of $ENTRIES entries" 0 ctl snapshot "$SRC"

$WIRE ls-count "$CHUTE_SOCKET" latest "$SRC" > "$T_TMP/count.out"
is "ls -R on the wire: every entry" "$(sed -n 's/^entries //p' "$T_TMP/count.out")" "$ENTRIES"
is "... ending with its RESULT" "$(tail -1 "$T_TMP/count.out")" "RESULT id=13"

before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$CHUTED_PID/status")
$WIRE stall-ls "$CHUTE_SOCKET" $CLIENTS 60 latest "$SRC" > "$T_TMP/stall.out" &
STALL=$!
for _ in $(seq 1 300); do grep -q held "$T_TMP/stall.out" 2>/dev/null && break; sleep 0.1; done
sleep 1.5 # the listings run as far as flow control lets them
during=$(awk '/^VmRSS:/ { print $2 }' "/proc/$CHUTED_PID/status")
growth=$(( (during - before) / 1024 ))
# a whole listing is ~5 MiB encoded, several times that as messages: held
# by each of 8 clients, 100 MiB and more; flow control holds about 1 MiB
# each (more under a sanitizer's shadow memory)
LIMIT=32
# growth_is WHAT: the growth against LIMIT; no bound under AddressSanitizer,
# whose quarantine keeps every freed byte of the walk's trees for a while,
# nor under ThreadSanitizer's shadow memory
growth_is() {
    if [ "$T_SANITIZER" = asan ]; then ok "# SKIP $1 grow chuted by $growth MiB: no bound under AddressSanitizer"
    elif [ "$T_SANITIZER" = tsan ]; then ok "# SKIP $1 grow chuted by $growth MiB: no bound under ThreadSanitizer"
    elif [ "$growth" -lt "$LIMIT" ]; then ok "$1 grow chuted by $growth MiB (< $LIMIT)"
    else not_ok "$1 grow chuted by $growth MiB (< $LIMIT)"; fi
}
growth_is "$CLIENTS stalled ls -R of $ENTRIES entries"
rc_is "chutectl status works while they stall" 0 ctl status
wait "$STALL"
closed=$(sed -n 's/^stall-closed \([0-9]*\) after \([0-9.]*\) s$/\1 \2/p' "$T_TMP/stall.out")
set -- $closed
is "every stalled client was closed" "${1:-none}" "$CLIENTS"
$WIRE ls-count "$CHUTE_SOCKET" latest "$SRC" > "$T_TMP/count2.out"
is "a reader still gets every entry" "$(sed -n 's/^entries //p' "$T_TMP/count2.out")" "$ENTRIES"

# diff streams the same way: the empty snapshot against the full one
$WIRE diff-count "$CHUTE_SOCKET" "$EMPTY" latest > "$T_TMP/diff.out"
is "diff on the wire: every entry added" "$(sed -n 's/^entries //p' "$T_TMP/diff.out")" "$ENTRIES"
is "... ending with its RESULT" "$(tail -1 "$T_TMP/diff.out")" "RESULT id=15"
is "chutectl diff agrees" "$(ctl --json diff "$EMPTY" latest | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for e in d if e["change"] == "added"))')" "$ENTRIES"
before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$CHUTED_PID/status")
$WIRE stall-diff "$CHUTE_SOCKET" $CLIENTS 60 "$EMPTY" latest > "$T_TMP/stall-diff.out" &
STALL=$!
for _ in $(seq 1 300); do grep -q held "$T_TMP/stall-diff.out" 2>/dev/null && break; sleep 0.1; done
sleep 1.5
during=$(awk '/^VmRSS:/ { print $2 }' "/proc/$CHUTED_PID/status")
growth=$(( (during - before) / 1024 ))
growth_is "$CLIENTS stalled diffs of $ENTRIES entries"
wait "$STALL"
closed=$(sed -n 's/^stall-closed \([0-9]*\) .*/\1/p' "$T_TMP/stall-diff.out")
is "every stalled diff client was closed" "${closed:-none}" "$CLIENTS"

# the same diff over the HTTP API: streamed as the client reads it
TOKEN=$(ctl api-token)
DIFF_URL="/v1/diff?from=$EMPTY&to=$(ctl --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')"
before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$CHUTED_PID/status")
curl -sSf --max-time 120 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT$DIFF_URL" \
    > "$T_TMP/http-diff.json" 2> "$T_TMP/http-diff.err" || diag "curl: $(cat "$T_TMP/http-diff.err")"
is "GET /v1/diff: one JSON document with every entry" \
    "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["entries"]))' "$T_TMP/http-diff.json")" "$ENTRIES"
# a slow reader (a 4 KiB receive buffer, 2 s before it reads at all): the
# stream waits while the connection holds its output, and goes on once it
# is out (it used to wait for good: no byte for 5 s is a stall here)
python3 - "$API_PORT" "$TOKEN" "$DIFF_URL" > "$T_TMP/slow-diff.out" <<'PY'
import json, socket, sys, time
port, token, url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
           "Connection: close\r\n\r\n" % (url, port, token)).encode())
time.sleep(2)
s.settimeout(5)
raw = b""
try:
    while True:
        d = s.recv(16384)
        if not d:
            break
        raw += d
except socket.timeout:
    print("stalled after %d bytes" % len(raw))
    sys.exit()
head, _, body = raw.partition(b"\r\n\r\n")
doc = b""
while body:  # chunked
    size, _, rest = body.partition(b"\r\n")
    n = int(size, 16)
    if n == 0:
        break
    doc += rest[:n]
    body = rest[n + 2:]
try:
    print("entries %d" % len(json.loads(doc)["entries"]))
except ValueError:
    print("not one JSON document (%d bytes)" % len(raw))
PY
is "GET /v1/diff read slowly: every entry, no stall" "$(cat "$T_TMP/slow-diff.out")" "entries $ENTRIES"
python3 - "$API_PORT" "$TOKEN" "$DIFF_URL" "$CLIENTS" "$T_TMP/http-stall.ready" "$T_TMP/http-stall.done" <<'PY' &
import os, socket, sys, time
port, token, url, n, ready, done = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
held = []
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" % (url, token)).encode())
    held.append(s)
open(ready, "w").close()
start = time.monotonic()
while not os.path.exists(done) and time.monotonic() - start < 60:
    time.sleep(0.1)  # never reads; closes them once the test has measured
PY
HSTALL=$!
T_PIDS+=("$HSTALL")
for _ in $(seq 1 300); do [ -e "$T_TMP/http-stall.ready" ] && break; sleep 0.1; done
sleep 1.5
during=$(awk '/^VmRSS:/ { print $2 }' "/proc/$CHUTED_PID/status")
growth=$(( (during - before) / 1024 ))
LIMIT=12 # held whole, the listings took 29 MiB here
growth_is "a GET /v1/diff of $ENTRIES entries and $CLIENTS stalled ones"
api_status() { curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/v1/status"; }
rc_is "the API answers while they stall" 0 api_status
touch "$T_TMP/http-stall.done"
wait "$HSTALL"
rc_is "the API still answers once they are gone" 0 api_status
chuted_alive "chuted still runs"
done_testing
