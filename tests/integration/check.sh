#!/bin/bash
# SPDX-License-Identifier: MIT
# chutectl check on real nodes A and B (B holds A's packs). Clean: check and
# check --read-data exit 0, every pack read here and proved on B; the
# --read-data-subset slices 1/3..3/3 read every pack once in all, 50% half.
# Then damage: a byte flipped in pack P2 here (B has a good copy), P3
# truncated here and deleted on B (lost), P1 deleted on B (here it is
# whole). check --read-data names the three packs, the snapshots and the
# paths they reach, exits 1; --repair fetches P2 back from B, deletes and
# queues P1 for B again and reports P3's paths as lost; snapshot 2 restores
# byte-identically afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
need jq python3

SRC=$T_TMP/src
mkdir -p "$SRC/a" "$SRC/b" "$SRC/c"
peer_node A
node_conf A watch "quiet_period = 1h" "max_delay = 2h" # snapshots only when asked
peer_node B
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
check "A and B peer with each other" peer_both A B 1G
on A add "$SRC" >/dev/null

# one snapshot per directory: PACK[i] is the data pack of snapshot i (its
# largest new pack; trees go to packs of their own)
new_packs() { comm -13 <(printf '%s\n' "$@" | sort) <(own_packs A); }
pack_size() { stat -c %s "$(find "$T_TMP/A/state/packs" -type f -name "$1")"; }
declare -a SNAP PACK
for i in 1 2 3; do
    d=$(echo "a b c" | cut -d' ' -f$i)
    head -c $((3 * 1024 * 1024)) /dev/urandom > "$SRC/$d/f$i"
    before=$(own_packs A)
    on A snapshot >/dev/null || bail_out "snapshot $i failed"
    SNAP[$i]=$(on A --json snapshots | jq -r '.[-1].id')
    PACK[$i]=$(for p in $(new_packs $before); do echo "$(pack_size "$p") $p"; done | sort -n | tail -1 | cut -d' ' -f2)
    [ -n "${PACK[$i]}" ] || bail_out "snapshot $i made no pack"
done
N=$(own_packs A | wc -l)
wait_until 60 replicated A B || bail_out "A's packs did not reach B"

rc_is "check of a clean repository exits 0" 0 on A --json check
jq_is "it counts the packs and snapshots, nothing read" "$T_TMP/last.out" \
    ".ok and .packs == $N and .snapshots == 3 and .packs_read == 0 and .errors == 0"
rc_is "check --read-data of a clean repository exits 0" 0 on A --json check --read-data
jq_is "every pack read here and proved on B" "$T_TMP/last.out" \
    ".ok and .packs_read == $N and .packs_proved == $N and .affected_paths == 0"
sum=0
for n in 1 2 3; do
    on A --json check --read-data-subset $n/3 > "$T_TMP/slice.json" || diag "slice $n/3 failed"
    sum=$((sum + $(jq .packs_read "$T_TMP/slice.json")))
done
is "slices 1/3, 2/3 and 3/3 read $N packs in all" "$sum" "$N"
rc_is "check --read-data-subset 50%" 0 on A --json check --read-data-subset 50%
jq_is "reads half the packs, rounded up" "$T_TMP/last.out" ".packs_read == $(((N + 1) / 2))"
rc_is "a bad subset is a usage error" 2 on A check --read-data-subset 4/3
rc_is "so is 0%" 2 on A check --read-data-subset 0%
WIRE="python3 $CHUTE_SRCDIR/tests/integration/ctlwire.py"
for bad in 0/3 4/3 1/0 0% 101% abc ""; do
    is "chuted refuses the subset \"$bad\" with bad-request" \
        "$($WIRE check-subset "$T_TMP/A/run/chuted.sock" "$bad" | head -1)" "ERROR id=5 status=1"
done
is "and says what it takes" "$($WIRE check-subset "$T_TMP/A/run/chuted.sock" 7/3 | tail -1)" \
    'the subset "7/3" is neither N/T (1 <= N <= T) nor P% (0 < P <= 100)'

# ---- damage -------------------------------------------------------------------
local_file() { find "$T_TMP/A/state/packs" -type f -name "$1"; }
hosted_file() { hosted_files B | grep "/$1\$"; }
flip_byte "$(local_file "${PACK[2]}")" 1000
truncate -s 1000 "$(local_file "${PACK[3]}")"
rm -f "$(hosted_file "${PACK[3]}")" "$(hosted_file "${PACK[1]}")"

rc_is "check (no read-data) finds the truncated pack" 1 on A --json check
jq_is "it names P3 as damaged here" "$T_TMP/last.out" \
    "[.damaged[] | select(.pack == \"${PACK[3]}\" and .store == null)] | length == 1"
rc_is "check --read-data exits 1" 1 on A check --read-data
OUT=$T_TMP/last.out; sed "s/^/# out: /" "$OUT"
check "names P2 damaged here" grep -q "pack ${PACK[2]} damaged here: its bytes do not hash" "$OUT"
check "names P3 damaged here (truncated)" grep -q "pack ${PACK[3]} damaged here: the pack file has 1000 of" "$OUT"
check "names P1 missing on B" grep -q "pack ${PACK[1]} missing on store B" "$OUT"
# which paths a pack's loss reaches depends on what it holds (data of the
# file, maybe trees too): the file or one of its parents
check "names snapshot 2 and b/f2 (or a parent), in P2" \
    grep -Eq "^lost: snapshot ${SNAP[2]:0:12} $SRC(/b(/f2)?)? \(pack ${PACK[2]:0:12}\)" "$OUT"
check "names snapshot 3 and c/f3 (or a parent), in P3" \
    grep -Eq "^lost: snapshot ${SNAP[3]:0:12} $SRC(/c(/f3)?)? \(pack ${PACK[3]:0:12}\)" "$OUT"
check "every path listed is one of those" \
    bash -c "! grep '^lost:' '$OUT' | grep -Ev ' $SRC(/b(/f2)?|/c(/f3)?)? \(pack (${PACK[2]:0:12}|${PACK[3]:0:12})\)\$'"
check "snapshot 1 is not affected" bash -c "! grep -q 'lost: snapshot ${SNAP[1]:0:12}' '$OUT'"
on A --json check --read-data > "$T_TMP/before.json"
jq_is "JSON: two snapshots affected, P2 repairable" "$T_TMP/before.json" \
    ".ok == false and .affected_snapshots == 2 and ([.damaged[].pack] | sort) == ([\"${PACK[1]}\", \"${PACK[2]}\", \"${PACK[3]}\"] | sort)"

rc_is "check --read-data --repair still exits 1 (P3 is lost)" 1 on A --json check --read-data --repair
R=$T_TMP/last.out
jq_is "P2 repaired from B" "$R" "[.damaged[] | select(.pack == \"${PACK[2]}\" and .repaired)] | length == 1"
jq_is "P1 deleted on B and queued again" "$R" "[.damaged[] | select(.pack == \"${PACK[1]}\" and .store == \"B\" and .repaired)] | length == 1"
jq_is "P3 not repaired, its paths in snapshot 3 lost" "$R" \
    "([.damaged[] | select(.pack == \"${PACK[3]}\" and (.repaired | not))] | length == 1) and .affected_snapshots == 1 and ([.affected[].snapshot] | unique) == [\"${SNAP[3]}\"] and ([.affected[].pack] | unique) == [\"${PACK[3]}\"]"
is "P2's local copy is whole again" "$(sha256sum < "$(local_file "${PACK[2]}")" | cut -d' ' -f1)" "${PACK[2]}"
back_on_b() { [ -n "$(hosted_file "${PACK[1]}")" ]; }
check "P1 is uploaded to B again" wait_until 20 back_on_b
mkdir -p "$T_TMP/r2"
rc_is "snapshot 2 restores after the repair" 0 on A restore "${SNAP[2]}" "$T_TMP/r2"
check "byte-identical" cmp "$T_TMP/r2/b/f2" "$SRC/b/f2"
rc_is "a second check --read-data still reports only P3" 1 on A --json check --read-data
jq_is "only P3 is left" "$T_TMP/last.out" "[.damaged[].pack] == [\"${PACK[3]}\"]"
done_testing
