#!/bin/bash
# SPDX-License-Identifier: MIT
# An upload cut in the middle resumes: A uploads ~200 MB (slowed by
# upload_limit) to B; B is killed (SIGKILL) mid-transfer and restarted. A
# reconnects, learns what B holds durably and sends only the rest: the
# bytes B acknowledged (uploaded) never exceed the packs' bytes, and
# resumed_bytes shows what was not sent again. B never shows a partial
# pack: every pack-named file it keeps is whole (its SHA-256 is its name).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

SRC=$T_TMP/src
mkdir -p "$SRC"
for i in $(seq 1 10); do head -c $((20 * 1024 * 1024)) /dev/urandom > "$SRC/r$i"; done

peer_node A
peer_node B
node_conf A replication "upload_limit = 25M"
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
on A add "$SRC" >/dev/null
check "A takes a snapshot of 200 MB" on A snapshot
TOTAL=$(own_pack_bytes A)
check "A and B peer with each other" peer_both A B 1G

uploaded() { local u; u=$(store_field A B uploaded); [ "$u" != null ] && [ "$u" -ge "$1" ]; }
if wait_until 60 uploaded $((50 * 1024 * 1024)); then ok "the upload is under way"; else
    not_ok "the upload is under way"; on A --json stores | sed 's/^/#   /'; fi
# kill B while it holds durable bytes of an unfinished pack (a partial
# upload on disk is fdatasync'ed before B acknowledges it), so that there is
# something to resume whatever the timing
b_partial() { [ -n "$(find "$T_TMP/B/state/hosted" -name '*.part' -size +1024k -print -quit 2>/dev/null)" ]; }
wait_until 60 b_partial || diag "no partial upload of 1 MiB seen on B before the kill"
stop_chuted B KILL
before=$(store_field A B uploaded)
# what B holds of unfinished packs now: a pack may have been finished
# between the look above and the kill (the sanitizers slow both ends)
PARTS=$(find "$T_TMP/B/state/hosted" -name '*.part' -size +0 -printf '%s ' 2>/dev/null)
diag "partial uploads on B at the kill (bytes): ${PARTS:-none}"
is "B, killed mid-transfer, shows no partial pack" "$(hosted_bad B)" ""
[ "$before" -lt "$TOTAL" ] || bail_out "the upload finished before B was killed ($before of $TOTAL)"
diag "B killed after $before of $TOTAL bytes"

wait_until 15 store_is A B connected false || true
on A --json stores > "$T_TMP/down.json"
jq_is "A says B is offline and why" "$T_TMP/down.json" \
    '.stores[0].connected == false and (.stores[0].error | test("127.0.0.1"))'

start_chuted B || bail_out "B did not restart"
if wait_until 120 replicated A B; then ok "the upload completes after B is back"; else
    not_ok "the upload completes after B is back"; on A --json stores | sed 's/^/#   /'; fi
on A --json stores > "$T_TMP/after.json"
RESUMED=$(jq -r '.stores[0].resumed_bytes' "$T_TMP/after.json")
UPLOADED=$(jq -r '.stores[0].uploaded' "$T_TMP/after.json")
diag "packs $TOTAL bytes, acknowledged $UPLOADED, resumed $RESUMED"
if [ -n "$PARTS" ]; then
    check "bytes of partial uploads B had were resumed, not sent again" test "$RESUMED" -gt 0
else
    ok "bytes of partial uploads B had were resumed, not sent again # SKIP B held no partial upload at the kill"
fi
check "no acknowledged byte was sent twice (acknowledged <= the packs' bytes)" test "$UPLOADED" -le "$TOTAL"
check "the resumed bytes and the acknowledged ones cover every pack" test $((UPLOADED + RESUMED)) -ge "$TOTAL"
is "every copy on B is whole" "$(hosted_bad B)" ""
is "B has exactly A's packs" "$(comm -3 <(own_packs A) <(hosted_packs B) | wc -l)" 0
check "A's log tells the connection was lost" grep -q "Store B: connection to 127.0.0.1:$(port_of B) lost" "$T_TMP/A/chuted.log"
done_testing
