#!/bin/bash
# SPDX-License-Identifier: MIT
# Per-store rate limits: A replicates the same 32 MiB to B (its own upload
# limit 2M) and C (no limit) at once. C gets everything quickly while B's
# measured rate stays near 2 MiB/s; `peer set B --upload-limit 512K` slows
# B on the live connection (no reconnect), `--upload-limit 0` lifts it and
# B catches up. stores and status show each store's limits (text and
# JSON), and bad values are refused with a clear error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

MIB=1048576
SRC=$T_TMP/src
mkdir -p "$SRC"
for i in 1 2 3 4; do head -c $((8 * MIB)) /dev/urandom > "$SRC/r$i"; done

peer_node A
peer_node B
peer_node C
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
start_chuted C || bail_out "C did not start"
IDA=$(node_id A) IDB=$(node_id B) IDC=$(node_id C)
check "B keeps A's packs" on B peer add A - "$IDA" --quota 1G
check "C keeps A's packs" on C peer add A - "$IDA" --quota 1G
check "A adds B with an upload limit of 2M" \
    on A peer add B "127.0.0.1:$(port_of B)" "$IDB" --upload-limit 2M
check "A adds C without a limit" on A peer add C "127.0.0.1:$(port_of C)" "$IDC"
wait_until 10 store_is A B connected true || diag "B is not connected yet"
wait_until 10 store_is A C connected true || diag "C is not connected yet"

# ---- the limits as stores and status show them ----
on A --json stores > "$T_TMP/stores.json"
jq_is "stores --json: B's own limits, C none" "$T_TMP/stores.json" \
    "(.stores[] | select(.name == \"B\") | .upload_limit == $((2 * MIB)) and .download_limit == 0) and
     (.stores[] | select(.name == \"C\") | .upload_limit == 0 and .download_limit == 0)"
check "stores text: B's limits" grep -q "^B: limits upload 2.0 MiB/s, download none" <(on A stores)
check "status text: B's limits" grep -q "limits: upload 2.0 MiB/s, download none" <(on A status)
jq_is "status --json: B's limits" <(on A --json status) \
    ".stores[] | select(.name == \"B\") | .upload_limit == $((2 * MIB))"

# ---- bad values ----
rc_is "a rate that is not a size is a usage error" 2 on A peer set B --upload-limit fast
check "  saying what a rate looks like" grep -q 'upload-limit takes bytes per second such as 10M' "$T_TMP/last.err"
rc_is "a rate below 64K is refused" 1 on A peer set B --download-limit 1K
check "  saying what the smallest is" grep -Eq 'below the smallest, 64(\.0)? KiB/s \(0 means no limit\)' "$T_TMP/last.err"
rc_is "peer set without a limit is a usage error" 2 on A peer set B
rc_is "an unknown store is not found" 1 on A peer set nosuch --upload-limit 1M
check "  by name" grep -q 'no peer named nosuch' "$T_TMP/last.err"
rc_is "a peer that only keeps its packs has no limits" 1 on B peer set A --upload-limit 1M
check "  and says so" grep -q 'only keeps its packs here' "$T_TMP/last.err"
rc_is "limits without an address are refused at peer add" 1 \
    on B peer add D - "$IDC" --upload-limit 1M
jq_is "the refused values changed nothing" <(on A --json stores) \
    ".stores[] | select(.name == \"B\") | .upload_limit == $((2 * MIB)) and .download_limit == 0"

# ---- B at 2M, C unlimited, at once ----
# timed: what only holds while A keeps up with B's limit and C finishes well
# inside B's 16 s (under a sanitizer, beside another test, neither is sure)
# is checked in the plain build only; the limits themselves everywhere
timed() {
    local desc=$1; shift
    if [ "$T_SLOW" -gt 1 ]; then ok "# SKIP $desc: a timing the sanitizer's slowdown decides"; else check "$desc" "$@"; fi
}
uploaded() { store_field A "$1" uploaded; }
# rate_over NAME SECONDS: the bytes/s A's store NAME acknowledged over SECONDS
rate_over() {
    local b0 b1 t0 t1
    b0=$(uploaded "$1"); t0=$(now_ms)
    sleep "$2"
    b1=$(uploaded "$1"); t1=$(now_ms)
    echo $(( (b1 - b0) * 1000 / (t1 - t0) ))
}
on A add "$SRC" >/dev/null
START=$(now_ms)
check "A takes a snapshot of 32 MiB" on A snapshot
TOTAL=$(own_pack_bytes A)
if wait_until 30 replicated A C; then ok "C gets every pack quickly"; else
    not_ok "C gets every pack quickly"; on A --json stores | sed 's/^/#   /'; fi
# B's bytes first, then the time: B goes on sending while chutectl starts
B_DONE=$(uploaded B)
ELAPSED=$(( $(now_ms) - START ))
diag "C done after $ELAPSED ms; B has $B_DONE of $TOTAL bytes"
# a token bucket full at the start (0.2 MiB), the range being acknowledged
check "B is held to its limit meanwhile (at most 2 MiB/s + 2 MiB)" \
    test "$B_DONE" -le $(( 2 * MIB * ELAPSED / 1000 + 2 * MIB ))
timed "B is still far from done" test "$B_DONE" -lt "$TOTAL"
RATE=$(rate_over B 4)
diag "B over 4 s: $RATE bytes/s"
check "B's rate stays at most near 2 MiB/s (2.75)" test "$RATE" -le $(( 11 * MIB / 4 ))
timed "... and near it (at least 1 MiB/s)" test "$RATE" -ge "$MIB"

# ---- changed at run time ----
HELLOS=$(grep -c "Store B: connected to" "$T_TMP/A/chuted.log")
check "peer set B --upload-limit 512K" on A peer set B --upload-limit 512K
check "  which A logs" grep -Eq "Store B: upload limit 512(\.0)? KiB/s, download limit none" "$T_TMP/A/chuted.log"
sleep 1
RATE=$(rate_over B 4)
diag "B over 4 s at 512K: $RATE bytes/s"
# acknowledged in 1 MiB ranges: 4 s at 512K is 2 MiB, give or take a range
check "B slows down to its new limit (at most 0.8 MiB/s)" test "$RATE" -le $(( 4 * MIB / 5 ))
timed "B has not caught up yet" test "$(uploaded B)" -lt "$TOTAL"
LEFT=$(( TOTAL - $(uploaded B) ))
check "peer set B --upload-limit 0 lifts it" on A peer set B --upload-limit 0
T0=$(now_ms)
if wait_until 20 replicated A B; then ok "B catches up once the limit is lifted"; else
    not_ok "B catches up once the limit is lifted"; on A --json stores | sed 's/^/#   /'; fi
diag "B's last $LEFT bytes took $(( $(now_ms) - T0 )) ms"
is "the limits changed on the live connection (no reconnect)" \
    "$(grep -c "Store B: connected to" "$T_TMP/A/chuted.log")" "$HELLOS"
jq_is "stores --json: B has no limit now" <(on A --json stores) \
    ".stores[] | select(.name == \"B\") | .upload_limit == 0 and .download_limit == 0"
is "every copy on B and C is whole" "$(hosted_bad B)$(hosted_bad C)" ""

# ---- kept across a restart ----
check "peer set B --download-limit 10M" on A peer set B --download-limit 10M
stop_chuted A
start_chuted A || bail_out "A did not restart"
jq_is "the limits are kept across a restart" <(on A --json stores) \
    ".stores[] | select(.name == \"B\") | .upload_limit == 0 and .download_limit == $((10 * MIB))"
done_testing
