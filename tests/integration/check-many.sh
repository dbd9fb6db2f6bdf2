#!/bin/bash
# SPDX-License-Identifier: MIT
# check streams the paths a damage reaches: snapshot 1 of 3000 files puts
# their data and its trees in packs X; then a file is added to every
# directory, so snapshot 2's trees are all new (other packs) while its
# 3000 old files still point into X. A byte flipped in each X makes check
# --read-data list snapshot 1's root and all 3000 files of snapshot 2,
# more than the daemon queues at once (CHECK_QUEUE_MAX, 1024): they arrive
# in DATA messages as the client reads, each exactly once, text and JSON.
. "$(dirname "$0")/lib.sh"
need jq python3

SRC=$T_TMP/src
python3 - "$SRC" <<'PY'
import os, sys
for d in range(3):
    os.makedirs(os.path.join(sys.argv[1], "d%d" % d))
    for f in range(1000):
        with open(os.path.join(sys.argv[1], "d%d" % d, "f%04d" % f), "wb") as fh:
            fh.write(os.urandom(2000))
PY
node_init A
node_conf A watch "quiet_period = 1h" "max_delay = 2h" # snapshots only when asked
start_chuted A || bail_out "chuted did not start"
ctl add "$SRC" >/dev/null || bail_out "add failed"
ctl snapshot >/dev/null || bail_out "snapshot 1 failed"
mapfile -t X < <(find "$T_TMP/A/state/packs" -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}')
for d in 0 1 2; do echo new > "$SRC/d$d/new"; done
ctl snapshot >/dev/null || bail_out "snapshot 2 failed"
python3 - "${X[@]}" <<'PY'
import sys
for p in sys.argv[1:]:
    with open(p, "r+b") as f:
        f.seek(500)
        b = f.read(1)
        f.seek(500)
        f.write(bytes([b[0] ^ 1]))
PY
S1=$(ctl --json snapshots | jq -r '.[0].id')
S2=$(ctl --json snapshots | jq -r '.[1].id')
rc_is "check --read-data exits 1" 1 ctl check --read-data
OUT=$T_TMP/last.out
is "the text lists 3001 lost paths" "$(grep -c '^lost: ' "$OUT")" 3001
is "each once" "$(grep '^lost: ' "$OUT" | sort -u | wc -l)" 3001
check "snapshot 1's root" grep -q "^lost: snapshot ${S1:0:12} $SRC (pack" "$OUT"
is "snapshot 2's 3000 old files" "$(grep -Ec "^lost: snapshot ${S2:0:12} $SRC/d[0-2]/f[0-9]{4} \(pack" "$OUT")" 3000
check "and counts them" grep -q "^3001 paths in 2 snapshots cannot be restored" "$OUT"
rc_is "check --read-data --json exits 1" 1 ctl --json check --read-data
jq_is "JSON lists the same, each once" "$T_TMP/last.out" \
    ".affected_paths == 3001 and (.affected | length) == 3001 and ([.affected[] | .snapshot + .path] | unique | length) == 3001"
done_testing
