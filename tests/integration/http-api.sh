#!/bin/bash
# SPDX-License-Identifier: MIT
# The HTTP API (DESIGN.md §8, docs/http-api.md) on a real chuted: the
# bearer token (401 without or with a wrong one, rotation, file mode), the
# Host check, JSON errors (malformed and unknown keys 400, 404, 405), a
# 2 GiB Content-Length refused before any body, /v1 status, stores and
# snapshots equal chutectl --json's, paging, snapshot now, paths, tree,
# diff, forget, and file download: whole, Range 206, 416, ETag 304; a
# damaged token file is replaced.
. "$(dirname "$0")/lib.sh"

node_init A
node_manual A
node_api_listen A
start_chuted A || bail_out "chuted did not start"
SRC=$T_TMP/src
mkdir -p "$SRC/sub"
echo hello > "$SRC/hello.txt"
head -c 3000000 /dev/urandom > "$SRC/sub/big"
# sparse: a 4 MiB hole, then data
truncate -s 4194304 "$SRC/sparse"
head -c 100000 /dev/urandom >> "$SRC/sparse"
ctl add "$SRC" >/dev/null
ctl snapshot "$SRC" >/dev/null
U=http://127.0.0.1:$API_PORT
TOKEN=$(ctl api-token)
H=(-H "Authorization: Bearer $TOKEN")
# get URL [curl args]: body in $T_TMP/body, status in $T_TMP/code
get() { curl -sS -o "$T_TMP/body" -w '%{http_code}' "$@" > "$T_TMP/code"; }
code() { cat "$T_TMP/code"; }

# ---- the token -------------------------------------------------------------------
is "api-token prints 64 hex digits" "$(echo "$TOKEN" | grep -cxE '[0-9a-f]{64}')" 1
is "the token file is mode 0640" "$(stat -c %a "$T_TMP/A/state/api-token")" 640
get "$U/v1/status"
is "no token: 401" "$(code)" 401
jq_is "... as a JSON error" "$T_TMP/body" '.error == "unauthorized" and (.message | length > 0)'
get -H "Authorization: Bearer ${TOKEN%?}0" "$U/v1/status"
[ "${TOKEN: -1}" = 0 ] && get -H "Authorization: Bearer ${TOKEN%?}1" "$U/v1/status"
is "a wrong token: 401" "$(code)" 401
get -H "Authorization: Basic $TOKEN" "$U/v1/status"
is "another scheme: 401" "$(code)" 401

# ---- the Host check ---------------------------------------------------------------
get "${H[@]}" -H "Host: evil.example:$API_PORT" "$U/v1/status"
is "a foreign Host: 403" "$(code)" 403
jq_is "... saying why" "$T_TMP/body" '.error == "forbidden"'
get "${H[@]}" -H "Host: 127.0.0.1" "$U/v1/status"
is "the bound address without its port: 403" "$(code)" 403
get "${H[@]}" -H "Host: localhost:$API_PORT" "$U/v1/status"
is "localhost:PORT is fine" "$(code)" 200
get "${H[@]}" "$U/v1/status"
is "the bound address and port is fine" "$(code)" 200

# ---- status, stores, snapshots equal chutectl --json ---------------------------------
ctl --json status > "$T_TMP/ctl-status.json"
get "${H[@]}" "$U/v1/status"
is "GET /v1/status equals chutectl --json status (but uptime)" \
    "$(jq -S 'del(.uptime)' "$T_TMP/body")" "$(jq -S 'del(.uptime)' "$T_TMP/ctl-status.json")"
jq_is "... with ctl.def's names and types" "$T_TMP/body" \
    '(.roots[0].time | test("^[0-9]{4}-.*Z$")) and (.bytes | type == "number") and (.roots[0].id | test("^[0-9a-f]{64}$"))'
get "${H[@]}" "$U/v1/stores"
is "GET /v1/stores equals chutectl --json stores" "$(jq -S . "$T_TMP/body")" "$(ctl --json stores | jq -S .)"
get "${H[@]}" "$U/v1/peers"
jq_is "GET /v1/peers lists peers (none)" "$T_TMP/body" '.peers == []'

get "${H[@]}" -X POST -d '{}' "$U/v1/snapshots"
is "POST /v1/snapshots takes a snapshot" "$(code)" 200
echo changed > "$SRC/hello.txt"
get "${H[@]}" -X POST -H 'Content-Type: application/json' -d "{\"path\": \"$SRC\"}" "$U/v1/snapshots"
jq_is "... of one root when asked" "$T_TMP/body" ".snapshots[0].root == \"$SRC\" and .snapshots[0].files == 3"
get "${H[@]}" "$U/v1/snapshots"
is "GET /v1/snapshots: 200" "$(code)" 200
is "... .snapshots equals chutectl --json snapshots" "$(jq -S .snapshots "$T_TMP/body")" "$(ctl --json snapshots | jq -S .)"
mapfile -t IDS < <(jq -r '.snapshots[].id' "$T_TMP/body")
is "three snapshots" "${#IDS[@]}" 3
get "${H[@]}" "$U/v1/snapshots?limit=2"
jq_is "limit=2: the first two and where to go on" "$T_TMP/body" \
    "(.snapshots | map(.id)) == [\"${IDS[0]}\", \"${IDS[1]}\"] and .next == \"${IDS[1]}\""
get "${H[@]}" "$U/v1/snapshots?limit=2&after=${IDS[1]:0:12}"
jq_is "after=NEXT: the rest, no next" "$T_TMP/body" "(.snapshots | map(.id)) == [\"${IDS[2]}\"] and (has(\"next\") | not)"
get "${H[@]}" "$U/v1/snapshots?limit=1&after=${IDS[0]:0:12}"
jq_is "a page in the middle: one item, and where to go on" "$T_TMP/body" \
    "(.snapshots | map(.id)) == [\"${IDS[1]}\"] and .next == \"${IDS[1]}\""
get "${H[@]}" "$U/v1/snapshots?limit=2&after=0123456789ab"
is "after= a snapshot not in the list: 404" "$(code)" 404
jq_is "... saying so" "$T_TMP/body" '.error == "not-found" and (.message | test("no snapshot 0123456789ab"))'
get "${H[@]}" "$U/v1/snapshots?limit=0"
is "limit=0: 400" "$(code)" 400
get "${H[@]}" "$U/v1/snapshots?limit=-1"
is "limit=-1: 400" "$(code)" 400
get "${H[@]}" "$U/v1/snapshots?limit=18446744073709551615&after=${IDS[0]:0:12}"
jq_is "a limit past any count: the rest (no wrap to an empty page)" "$T_TMP/body" \
    "(.snapshots | map(.id)) == [\"${IDS[1]}\", \"${IDS[2]}\"]"
get "${H[@]}" "$U/v1/snapshots?colour=red"
is "an unknown query parameter: 400" "$(code)" 400

# ---- bad requests --------------------------------------------------------------------
get "${H[@]}" -X POST -d '{"path": ' "$U/v1/snapshots"
is "malformed JSON: 400" "$(code)" 400
jq_is "... bad-request, saying where" "$T_TMP/body" '.error == "bad-request" and (.message | test("malformed JSON"))'
get "${H[@]}" -X POST -d '{"paht": "/x"}' "$U/v1/paths"
jq_is "an unknown key: 400 naming it" "$T_TMP/body" '.error == "bad-request" and (.message | test("unknown key \"paht\""))'
get "${H[@]}" -X POST -d '{"path": 7}' "$U/v1/paths"
jq_is "a wrong type: 400 naming it" "$T_TMP/body" '.message | test("\"path\" must be a string")'
get "${H[@]}" "$U/v1/nothing"
is "an unknown resource: 404" "$(code)" 404
get "${H[@]}" -X DELETE "$U/v1/status"
is "a method a resource does not take: 405" "$(code)" 405
get "${H[@]}" -X PUT "$U/v1/status"
is "a method the API does not take: 405" "$(code)" 405
# 2 GiB announced, nothing sent: the answer comes without reading a byte
python3 - "$API_PORT" "$TOKEN" > "$T_TMP/big.out" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(("POST /v1/paths HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: 2147483648\r\n\r\n" % (sys.argv[1], sys.argv[2])).encode())
print(s.recv(200).split(b"\r\n")[0].decode())
PY
is "a 2 GiB Content-Length is refused before the body is read (413)" "$(cut -d' ' -f2 "$T_TMP/big.out")" 413
# the same limit for a chunked body, which has no Content-Length: valid JSON
# padded past 1 MiB
{ printf '{"path": "%s"' "$T_TMP/nowhere"; head -c 1200000 /dev/zero | tr '\0' ' '; echo '}'; } > "$T_TMP/padded.json"
get "${H[@]}" -X POST -H "Transfer-Encoding: chunked" --data-binary @"$T_TMP/padded.json" "$U/v1/paths"
is "a chunked body over 1 MiB: 413" "$(code)" 413
get "${H[@]}" "$U/v1/status"
is "... and chuted serves on" "$(code)" 200

# ---- paths ---------------------------------------------------------------------------------
mkdir -p "$T_TMP/other"
get "${H[@]}" -X POST -d "{\"path\": \"$T_TMP/other\", \"excludes\": [\"*.tmp\"]}" "$U/v1/paths"
is "POST /v1/paths adds a root" "$(code)" 200
get "${H[@]}" "$U/v1/paths"
jq_is "GET /v1/paths lists it with its excludes" "$T_TMP/body" \
    "any(.roots[]; .path == \"$T_TMP/other\" and .excludes == [\"*.tmp\"])"
get "${H[@]}" -X POST -d "{\"path\": \"$T_TMP/other\"}" "$U/v1/paths"
is "adding it twice: 409" "$(code)" 409
get "${H[@]}" -X DELETE -d "{\"path\": \"$T_TMP/other\"}" "$U/v1/paths"
is "DELETE /v1/paths removes it" "$(code)" 200
is "... chutectl agrees" "$(ctl paths | grep -c "other")" 0

# ---- tree, file, diff, forget ----------------------------------------------------------------
S=${IDS[2]}
get "${H[@]}" "$U/v1/snapshots/${S:0:12}/tree?path=$SRC"
jq_is "GET tree lists the root's entries" "$T_TMP/body" '(.entries | map(.path) | sort) == ["hello.txt", "sparse", "sub"]'
get "${H[@]}" "$U/v1/snapshots/${S:0:12}/tree?path=$SRC/none"
is "a missing path: 404" "$(code)" 404
get "${H[@]}" "$U/v1/snapshots/ffff/tree?path=$SRC"
is "a missing snapshot: 404" "$(code)" 404
get "${H[@]}" "$U/v1/snapshots/${S:0:12}/tree?path=$SRC%00x"
is "a query value with %00 in it: 400 (not cut short at the NUL)" "$(code)" 400
F="$U/v1/snapshots/$S/file?path=$SRC/sub/big"
curl -sS -D "$T_TMP/hdr" -o "$T_TMP/big" "${H[@]}" "$F"
is "GET file streams the whole content" "$(sha256sum < "$T_TMP/big")" "$(sha256sum < "$SRC/sub/big")"
ETAG=$(grep -i '^etag:' "$T_TMP/hdr" | tr -d '\r' | cut -d' ' -f2)
is "... with an ETag (the content id)" "$(echo "$ETAG" | grep -cxE '"[0-9a-f]{64}"')" 1
get "${H[@]}" -H "If-None-Match: $ETAG" "$F"
is "If-None-Match with it: 304" "$(code)" 304
get "${H[@]}" -H 'If-None-Match: "0000"' "$F"
is "another ETag: 200" "$(code)" 200
curl -sS -D "$T_TMP/hdr" -o "$T_TMP/part" "${H[@]}" -H "Range: bytes=1000000-1999999" "$F"
is "Range: 206" "$(head -1 "$T_TMP/hdr" | cut -d' ' -f2)" 206
is "... the bytes asked for" "$(sha256sum < "$T_TMP/part")" "$(tail -c +1000001 "$SRC/sub/big" | head -c 1000000 | sha256sum)"
check "... with Content-Range" grep -qi '^content-range: bytes 1000000-1999999/3000000' "$T_TMP/hdr"
curl -sS -o "$T_TMP/part" "${H[@]}" -H "Range: bytes=-10" "$F"
is "a suffix range: the last 10 bytes" "$(sha256sum < "$T_TMP/part")" "$(tail -c 10 "$SRC/sub/big" | sha256sum)"
# a header that is no valid range is ignored: the whole file, from its start
for r in "bytes=1000-5" "bytes=1000-x" "bytes=+1000-" "bytes=1000 -"; do
    curl -sS -D "$T_TMP/hdr" -o "$T_TMP/part" "${H[@]}" -H "Range: $r" "$F"
    is "Range: $r is ignored: 200 with the whole file" \
        "$(head -1 "$T_TMP/hdr" | cut -d' ' -f2) $(sha256sum < "$T_TMP/part")" "200 $(sha256sum < "$SRC/sub/big")"
done
get "${H[@]}" -H "Range: bytes=3000000-" "$F"
is "a range past the end: 416" "$(code)" 416
# ranges start in the daemon (cat OFFSET): inside a hole, across its end
SP="$U/v1/snapshots/$S/file?path=$SRC/sparse"
range_is() {
    curl -sS -o "$T_TMP/part" "${H[@]}" -H "Range: bytes=$2-$3" "$SP"
    is "$1" "$(sha256sum < "$T_TMP/part")" "$(tail -c +$(($2 + 1)) "$SRC/sparse" | head -c $(($3 - $2 + 1)) | sha256sum)"
}
range_is "a range inside a hole: zeros" 1000 2999
range_is "a range across the end of a hole" 4194000 4194999
range_is "a range to the end" 4200000 4294303
get "${H[@]}" "$U/v1/snapshots/$S/file?path=$SRC/hello.txt"
is "a small file" "$(cat "$T_TMP/body")" changed
get "${H[@]}" "$U/v1/snapshots/$S/file?path=$SRC/sub"
is "a directory is no file: 400" "$(code)" 400
get "${H[@]}" "$U/v1/diff?from=${IDS[1]}&to=${IDS[2]}"
jq_is "GET diff: hello.txt modified" "$T_TMP/body" '.entries | any(.path | test("hello.txt$"))'
get "${H[@]}" -X POST -d '{"keep_last": 1, "dry_run": true}' "$U/v1/forget"
jq_is "POST forget (dry run) names what would go" "$T_TMP/body" '.removed == 2'
is "... and removes nothing" "$(ctl --json snapshots | jq length)" 3

# ---- rotation --------------------------------------------------------------------------------
NEW=$(ctl api-token --rotate)
is "api-token --rotate prints a new token" "$([ "$NEW" != "$TOKEN" ] && echo "$NEW" | grep -cxE '[0-9a-f]{64}')" 1
get "${H[@]}" "$U/v1/status"
is "the old token stops working at once" "$(code)" 401
get -H "Authorization: Bearer $NEW" "$U/v1/status"
is "the new one works" "$(code)" 200
is "api-token prints the new one" "$(ctl api-token)" "$NEW"
stop_chuted A
start_chuted A || bail_out "chuted did not restart"
get -H "Authorization: Bearer $NEW" "$U/v1/status"
is "it survives a restart" "$(code)" 200
stop_chuted A
echo garbage > "$T_TMP/A/state/api-token"
start_chuted A || bail_out "chuted did not start with a damaged token file"
check "a damaged token file is replaced, with a warning" grep -q "holds no token, making a new one" "$T_TMP/A/chuted.log"
FRESH=$(ctl api-token)
get -H "Authorization: Bearer $FRESH" "$U/v1/status"
is "... and the new token works" "$(code)" 200

# HEAD on a keep-alive connection: headers only, with the length a GET's
# body has; the next response on the connection is read from its start
python3 - "$API_PORT" "$FRESH" > "$T_TMP/head.out" <<'PY'
import http.client, sys
port, token = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
out = []
for method, path, hdr in (("HEAD", "/", {}), ("GET", "/style.css", {}), ("GET", "/", {}),
                          ("HEAD", "/v1/status", {"Authorization": "Bearer " + token}),
                          ("GET", "/v1/status", {"Authorization": "Bearer " + token})):
    c.request(method, path, headers=hdr)
    r = c.getresponse()
    body = r.read()
    out.append((method, path, r.status, r.getheader("Content-Length"), len(body)))
head, css, page, shead, sget = out
print(head[2], css[2], head[4], head[3] == str(page[4]), shead[2], sget[2], shead[4])
PY
is "HEAD / and HEAD /v1/status: 200 without a body, Content-Length as GET's, the next response intact" \
    "$(cat "$T_TMP/head.out")" "200 200 0 True 200 200 0"

done_testing
