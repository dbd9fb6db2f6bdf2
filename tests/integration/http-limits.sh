#!/bin/bash
# SPDX-License-Identifier: MIT
# The HTTP API's bounds on a real chuted: [api] max_clients (one connection
# over it gets a JSON 503, a freed slot is reused), [api] timeout (a client
# that never finishes its request is cut off), a client that vanishes in
# the middle of a download (chuted goes on), HEAD, and a listen address
# that is not IPv4 (logged; chuted runs without the API).
. "$(dirname "$0")/lib.sh"

node_init A
node_manual A
node_api_listen A
node_conf A api "max_clients = 2" "timeout = 2s"
start_chuted A || bail_out "chuted did not start"
SRC=$T_TMP/src
mkdir -p "$SRC"
head -c 20000000 /dev/urandom > "$SRC/big"
ctl add "$SRC" >/dev/null
ctl snapshot "$SRC" >/dev/null
TOKEN=$(ctl api-token)
U=http://127.0.0.1:$API_PORT

# ---- the connection cap ----------------------------------------------------------------
python3 - "$API_PORT" "$TOKEN" > "$T_TMP/cap.out" <<'PY'
import http.client, json, sys
port, token = int(sys.argv[1]), sys.argv[2]
hdr = {"Authorization": "Bearer " + token}
def ask(c):
    c.request("GET", "/v1/status", headers=hdr)
    r = c.getresponse()
    return r.status, r.read()
a, b, c = (http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(3))
print(ask(a)[0], ask(b)[0])
st, body = ask(c)
print(st, json.loads(body)["error"])
a.close()
d = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
import time
for _ in range(50):
    try:
        st = ask(d)[0]
    except Exception:
        d = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        st = None
    if st == 200:
        break
    time.sleep(0.1)
print(st, ask(b)[0])
PY
is "two connections at max_clients = 2 are served" "$(sed -n 1p "$T_TMP/cap.out")" "200 200"
is "a third gets 503 busy" "$(sed -n 2p "$T_TMP/cap.out")" "503 busy"
is "a slot freed is taken again, the others go on" "$(sed -n 3p "$T_TMP/cap.out")" "200 200"

# clients without the token (or with a wrong Host) take no slot: each is
# answered and its connection closed, and a client with the token is served
python3 - "$API_PORT" "$TOKEN" > "$T_TMP/noauth.out" <<'PY'
import http.client, sys
port, token = int(sys.argv[1]), sys.argv[2]
held, answers = [], []
for i in range(6):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    hdr = {"Host": "evil.example"} if i % 2 else {}
    c.request("GET", "/v1/status", headers=hdr)
    r = c.getresponse()
    r.read()
    answers.append("%d %s" % (r.status, (r.getheader("Connection") or "").lower()))
    held.append(c)
print(" ".join(sorted(set(answers))))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("GET", "/v1/status", headers={"Authorization": "Bearer " + token})
print(c.getresponse().status)
PY
is "unauthorized requests are answered with Connection: close" "$(sed -n 1p "$T_TMP/noauth.out")" "401 close 403 close"
is "... and take no slot: a client with the token is served" "$(sed -n 2p "$T_TMP/noauth.out")" "200"

# ---- slow clients -------------------------------------------------------------------------
python3 - "$API_PORT" > "$T_TMP/slow.out" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end
t = time.monotonic()
try:
    while s.recv(4096):
        pass
    print("closed after %.0f s" % (time.monotonic() - t))
except socket.timeout:
    print("still open after 10 s")
PY
check "a request never finished is cut off by timeout = 2s" grep -Eq "closed after [1-5] s" "$T_TMP/slow.out"

# ---- a download abandoned half way -----------------------------------------------------------
ID=$(ctl --json snapshots | jq -r '.[0].id')
F="$U/v1/snapshots/$ID/file?path=$SRC/big"
curl -sS -o /dev/null --limit-rate 200k -H "Authorization: Bearer $TOKEN" "$F" 2>/dev/null &
CURL=$!
sleep 1
kill "$CURL"; wait "$CURL" 2>/dev/null
sleep 0.5
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$U/v1/status")
is "chuted serves on after a client left in the middle of a download" "$code" 200
check "... and its control socket too" ctl status
curl -sS -o "$T_TMP/big" -H "Authorization: Bearer $TOKEN" "$F"
is "a whole download afterwards is right" "$(sha256sum < "$T_TMP/big")" "$(sha256sum < "$SRC/big")"

# ---- HEAD ----------------------------------------------------------------------------------
curl -sS -I -H "Authorization: Bearer $TOKEN" "$F" | tr -d '\r' > "$T_TMP/head"
check "HEAD says the length" grep -qx "Content-Length: 20000000" "$T_TMP/head"
check "... and the ETag" grep -qiE '^etag: "[0-9a-f]{64}"$' "$T_TMP/head"

# ---- not IPv4 ------------------------------------------------------------------------------
node_init B
node_api_listen B
node_conf B api "listen = [::1]:$(free_port)"
start_chuted B || bail_out "B did not start"
check "an IPv6 listen address is refused in the log" grep -q "the API speaks IPv4 only" "$T_TMP/B/chuted.log"
check "... and chuted runs on without the API" ctl status

done_testing
