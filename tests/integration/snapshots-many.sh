#!/bin/bash
# SPDX-License-Identifier: MIT
# 6,000 snapshots: more than one 1 MiB frame holds. The list streams in
# DATA frames of bounded size, so `chutectl snapshots` and `--json` print
# every one of them. The snapshots are real ones, taken through chutectl
# (four roots, a change and a `chutectl snapshot` each time).
. "$(dirname "$0")/lib.sh"
sanitizer_skip "6,000 real snapshots is volume; snapshots-stall.sh streams 40,000 rows in pages under the sanitizers"
need python3 jq
WIRE="python3 $CHUTE_SRCDIR/tests/integration/ctlwire.py"
ROOTS=4
PER_ROOT=1500
TOTAL=$((ROOTS * PER_ROOT))

node_init n
node_manual n # every snapshot here is one we take
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
for r in $(seq 1 $ROOTS); do
    mkdir -p "$T_TMP/root-with-a-longer-name-$r"
    echo 0 > "$T_TMP/root-with-a-longer-name-$r/f"
    ctl add "$T_TMP/root-with-a-longer-name-$r" >/dev/null
done
take() {
    local dir=$T_TMP/root-with-a-longer-name-$1 i fails=0
    for i in $(seq 1 $PER_ROOT); do
        echo "$i" > "$dir/f"
        "$CHUTECTL" snapshot "$dir" >/dev/null 2>&1 || fails=$((fails + 1))
    done
    echo "$fails" > "$T_TMP/fails-$1"
}
start=$(date +%s)
pids=()
for r in $(seq 1 $ROOTS); do take "$r" & pids+=($!); done
wait "${pids[@]}"
diag "$TOTAL snapshots took $(( $(date +%s) - start )) s"
is "every chutectl snapshot succeeded" "$(cat "$T_TMP"/fails-* | awk "{ s += \$1 } END { print s }")" 0

rc_is "snapshots --json" 0 ctl --json snapshots
cp "$T_TMP/last.out" "$T_TMP/all.json"
is "... lists all $TOTAL" "$(jq length "$T_TMP/all.json")" "$TOTAL"
is "... each once" "$(jq '[.[].id] | unique | length' "$T_TMP/all.json")" "$TOTAL"
jq_is "... oldest first" "$T_TMP/all.json" '[.[].time] == ([.[].time] | sort)'
rc_is "snapshots (text)" 0 ctl snapshots
is "... prints a header and $TOTAL rows" "$(wc -l < "$T_TMP/last.out")" $((TOTAL + 1))
rc_is "snapshots --root" 0 ctl --json snapshots --root "$T_TMP/root-with-a-longer-name-2"
jq_is "... lists that root's $PER_ROOT" "$T_TMP/last.out" \
    "length == $PER_ROOT and all(.[]; .root == \"$T_TMP/root-with-a-longer-name-2\")"
oldest=$(jq -r '.[0].id' "$T_TMP/all.json")
rc_is "ls by the id prefix of the oldest snapshot (chutectl looks it up in the list)" 0 \
    ctl ls "${oldest:0:12}:f"

$WIRE snapshots "$CHUTE_SOCKET" > "$T_TMP/wire.out"
is "on the wire: $TOTAL rows" "$(sed -n 's/^rows //p' "$T_TMP/wire.out")" "$TOTAL"
frames=$(sed -n 's/^data frames //p' "$T_TMP/wire.out")
[ "${frames:-0}" -ge $((TOTAL / 500)) ] && ok "... in $frames DATA frames" || not_ok "... in several DATA frames (got ${frames:-none})"
largest=$(sed -n 's/^largest frame //p' "$T_TMP/wire.out")
[ "${largest:-9999999}" -le $((256 * 1024)) ] && ok "... none over 256 KiB ($largest bytes)" ||
    not_ok "... none over 256 KiB (largest ${largest:-?} bytes)"
is "... then an empty RESULT" "$(tail -1 "$T_TMP/wire.out")" "RESULT id=9"
rc_is "status" 0 ctl status
chuted_alive "chuted still runs"
done_testing
