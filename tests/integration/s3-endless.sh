#!/bin/bash
# SPDX-License-Identifier: MIT
# An S3 service whose error answers never end (403, a chunked body sent on
# and on: s3-endless.py): chuted reads the first 16 KiB of an error body for
# its Code and then hangs up, so a store thread is never held by it. The
# store shows the refusal within seconds, with the Code (AccessDenied) the
# body began with; every connection is closed by chuted with under 1 MiB
# sent, and chuted keeps answering. A service that answers a PUT 200 with
# a body that never ends gets the same: the upload is not counted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
need python3 jq

python3 "$(dirname "$0")/s3-endless.py" "$T_TMP/port" "$T_TMP/conns" &
T_PIDS+=($!)
wait_until 10 test -s "$T_TMP/port" || bail_out "the endless S3 service did not start"
PORT=$(cat "$T_TMP/port")

SRC=$T_TMP/src
mkdir -p "$SRC"
head -c 100000 /dev/urandom > "$SRC/f"
peer_node A
start_chuted A || bail_out "A does not start"
on A add "$SRC" >/dev/null
check "A snapshots" on A snapshot
mkdir -p "$T_TMP/keys"
(umask 077; echo id > "$T_TMP/keys/id"; echo secret > "$T_TMP/keys/secret")
check "store add H (the endless service)" on A store add H s3 --endpoint "http://127.0.0.1:$PORT" \
    --bucket endless --access-key-file "$T_TMP/keys/id" --secret-key-file "$T_TMP/keys/secret"
refused() { [ "$(store_field A H refused_at)" != null ] && [ -n "$(store_field A H error)" ]; }
if wait_until 15 refused; then ok "the store shows the refusal within 15 s (${WAITED_MS} ms)"; else
    not_ok "the store shows the refusal within 15 s"; diag "error: $(store_field A H error)"; fi
err=$(store_field A H error)
case $err in *", AccessDenied)"*) ok "the error has the Code from the first bytes of the body" ;;
    *) not_ok "the error has the Code from the first bytes of the body"; diag "error: $err" ;; esac
wait_until 5 test -s "$T_TMP/conns"
# one copy for every count: chuted goes on retrying, and the service adds a
# line for each connection that ends while this reads
cp "$T_TMP/conns" "$T_TMP/conns.seen"
diag "connections: $(sort "$T_TMP/conns.seen" | uniq -c | tr '\n' ' ')"
n=$(grep -c . "$T_TMP/conns.seen")
cut=$(awk '$1 == "closed-by-client" && $2 < 1048576' "$T_TMP/conns.seen" | wc -l)
[ "${n:-0}" -gt 0 ] && [ "$cut" -eq "$n" ] && ok "chuted hung up on each endless body under 1 MiB ($n connections)" ||
    not_ok "chuted hung up on each endless body under 1 MiB ($cut of ${n:-0} connections)"
check "chuted still answers" on A status
check "store remove H" on A store remove H

# a success whose body never ends: the PUT is not taken for done, and the
# thread is not held by it either
python3 "$(dirname "$0")/s3-endless.py" "$T_TMP/port2" "$T_TMP/conns2" ok &
T_PIDS+=($!)
wait_until 10 test -s "$T_TMP/port2" || bail_out "the second endless S3 service did not start"
check "store add K (a 200 without end)" on A store add K s3 --endpoint "http://127.0.0.1:$(cat "$T_TMP/port2")" \
    --bucket endless --access-key-file "$T_TMP/keys/id" --secret-key-file "$T_TMP/keys/secret"
said() { store_field A K error | grep -q "with a body of more than 16384 bytes: not trusted"; }
if wait_until 15 said; then ok "the store says the answer's body was not trusted (${WAITED_MS} ms)"; else
    not_ok "the store says the answer's body was not trusted"; diag "error: $(store_field A K error)"; fi
is "no pack counts as uploaded there" "$(store_field A K packs)" 0
wait_until 5 test -s "$T_TMP/conns2"
cp "$T_TMP/conns2" "$T_TMP/conns2.seen"
n=$(grep -c . "$T_TMP/conns2.seen")
cut=$(awk '$1 == "closed-by-client" && $2 < 1048576' "$T_TMP/conns2.seen" | wc -l)
[ "${n:-0}" -gt 0 ] && [ "$cut" -eq "$n" ] && ok "chuted hung up on each endless success under 1 MiB ($n connections)" ||
    not_ok "chuted hung up on each endless success under 1 MiB ($cut of ${n:-0} connections)"
check "store remove K" on A store remove K
done_testing
