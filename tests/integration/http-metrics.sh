#!/bin/bash
# SPDX-License-Identifier: MIT
# GET /metrics of the HTTP API on a real chuted: the token is needed unless
# [api] metrics_public = yes (and then only for /metrics), the text is
# valid Prometheus exposition (every line checked here; promtool too when
# installed), and its numbers are those of chutectl --json status, a peer
# store's among them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

peer_node A
node_api_listen A
peer_node B
start_chuted B || bail_out "B did not start"
start_chuted A || bail_out "chuted did not start"
peer_both A B 1G || bail_out "A and B did not peer"
SRC=$T_TMP/src\ \"q\"
mkdir -p "$SRC"
head -c 200000 /dev/urandom > "$SRC/f"
ctl add "$SRC" >/dev/null
ctl snapshot "$SRC" >/dev/null
synced() { [ "$(store_field A B pending)" = 0 ] && [ "$(store_field A B connected)" = true ]; }
wait_until 20 synced || diag "B did not get every pack of A"
# B keeps its packs on A too: a connection from B to A
mkdir -p "$T_TMP/srcb"
echo b > "$T_TMP/srcb/f"
on B add "$T_TMP/srcb" >/dev/null
on B snapshot "$T_TMP/srcb" >/dev/null
b_synced() { [ "$(store_field B A pending)" = 0 ] && [ "$(store_field B A connected)" = true ]; }
wait_until 20 b_synced || diag "A did not get every pack of B"
TOKEN=$(ctl api-token)
U=http://127.0.0.1:$API_PORT
code() { curl -sS -o "$T_TMP/body" -D "$T_TMP/hdr" -w '%{http_code}' "$@"; }

is "GET /metrics without the token: 401" "$(code "$U/metrics")" 401
is "with it: 200" "$(code -H "Authorization: Bearer $TOKEN" "$U/metrics")" 200
check "... as Prometheus text 0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$T_TMP/hdr"
cp "$T_TMP/body" "$T_TMP/metrics.txt"
python3 - "$T_TMP/metrics.txt" > "$T_TMP/check.out" <<'PY'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
lv = r'"(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^(%s)(\{%s=%s(,%s=%s)*\})? -?[0-9.e+]+$' % (name, name, lv, name, lv))
typed, bad = {}, []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    m = re.match(r'^# (HELP|TYPE) (%s) (.*)$' % name, line)
    if m:
        if m.group(1) == "TYPE":
            if m.group(2) in typed or m.group(3) not in ("gauge", "counter", "histogram"):
                bad.append(line)
            typed[m.group(2)] = m.group(3)
        continue
    m = sample.match(line)
    fam = m and re.sub(r'_(bucket|sum|count)$', '', m.group(1)) if m and m.group(1) not in typed else m and m.group(1)
    if not m or fam not in typed or not m.group(1).startswith("chute_"):
        bad.append(line)
    elif typed[fam] == "histogram" and m.group(1) == fam:
        bad.append(line)
    elif typed[fam] == "counter" and not m.group(1).endswith("_total"):
        bad.append(line)
print("bad: %r" % bad if bad else "all good")
PY
is "every line is HELP, TYPE or a sample of a typed chute_* family" "$(cat "$T_TMP/check.out")" "all good"
if command -v promtool >/dev/null; then
    check "promtool check metrics accepts it" sh -c "promtool check metrics < '$T_TMP/metrics.txt'"
fi
ctl --json status > "$T_TMP/status.json"
metric() { awk -v n="$1" '$1 == n { print $2 }' "$T_TMP/metrics.txt"; }
is "chute_snapshots is status's snapshot_count" "$(metric chute_snapshots)" "$(jq .snapshot_count "$T_TMP/status.json")"
is "chute_snapshots_taken_total counts the snapshot taken" "$(metric chute_snapshots_taken_total)" 1
is "chute_scanned_bytes_total is its size" "$(metric chute_scanned_bytes_total)" 200000
is "the duration histogram counts it in +Inf" "$(metric 'chute_snapshot_duration_seconds_bucket{le="+Inf"}')" 1
is "... and in _count" "$(metric chute_snapshot_duration_seconds_count)" 1
is "chute_peer_incoming_connections: B is connected to A" "$(metric chute_peer_incoming_connections)" 1
is "chute_snapshots_failed_total is 0" "$(metric chute_snapshots_failed_total)" 0
is "chute_stored_bytes is status's bytes" "$(metric chute_stored_bytes)" "$(jq .bytes "$T_TMP/status.json")"
is "chute_packs is status's packs" "$(metric chute_packs)" "$(jq .packs "$T_TMP/status.json")"
is "chute_padding_bytes is status's padding_bytes" "$(metric chute_padding_bytes)" "$(jq .padding_bytes "$T_TMP/status.json")"
jq_is "the padding is there and under an eighth of the packs' bytes (Padme: 6.25 % at most)" "$T_TMP/status.json" \
    '.padding_bytes > 0 and .padding_bytes * 8 < .bytes'
rc_is "status (text)" 0 ctl status
check "... says the padding" grep -qE "stored \(padding [^,]+, [0-9.]+ %\)" "$T_TMP/last.out"
check "a root's label escapes its quotes" grep -qF "chute_root_pending_changes{root=\"$T_TMP/src \\\"q\\\"\"} 0" "$T_TMP/metrics.txt"
check "... and it has a last-snapshot time" grep -qE '^chute_root_last_snapshot_timestamp_seconds\{root=".*"\} [0-9]{10}\.[0-9]{3}$' "$T_TMP/metrics.txt"
is "chute_store_packs{store=\"B\"} is B's packs in status" "$(metric 'chute_store_packs{store="B"}')" \
    "$(jq '.stores[] | select(.name == "B") | .packs' "$T_TMP/status.json")"
is "chute_store_connected{store=\"B\"} is 1" "$(metric 'chute_store_connected{store="B"}')" 1
is "chute_store_pending_packs{store=\"B\"} is 0" "$(metric 'chute_store_pending_packs{store="B"}')" 0
check "chute_store_uploaded_bytes_total{store=\"B\"} counts what went to B" \
    test "$(metric 'chute_store_uploaded_bytes_total{store="B"}')" -gt 0

stop_chuted A
stop_chuted B
node_conf A api "metrics_public = yes"
start_chuted A || bail_out "chuted did not restart"
is "metrics_public = yes: /metrics without the token" "$(code "$U/metrics")" 200
is "... but nothing else" "$(code "$U/v1/status")" 401
is "... and a foreign Host is still refused" "$(code -H "Host: evil.example" "$U/metrics")" 403

done_testing
