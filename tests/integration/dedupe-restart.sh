#!/bin/bash
# SPDX-License-Identifier: MIT
# Dedupe after a restart: the repository keeps no set of every object id
# in memory but a Bloom filter filled from the index at start and a lookup
# in the index. After a restart, a tree whose files were all touched (so
# all are read again) and a copy of a file store no data again; a file
# with new content is stored; every snapshot restores.
. "$(dirname "$0")/lib.sh"
need jq python3

SRC=$T_TMP/src
python3 - "$SRC" <<'PY'
import os, sys
top = sys.argv[1]
for d in range(4):
    dd = os.path.join(top, "d%d" % d)
    os.makedirs(dd)
    for f in range(10):
        with open(os.path.join(dd, "f%d" % f), "wb") as fh:
            fh.write(os.urandom(64 * 1024 * (1 + (d * 10 + f) % 8)))
PY
n=$(find "$SRC" -type f | wc -l)
is "generated 40 files" "$n" 40
data=$(find "$SRC" -type f -printf "%s\n" | awk "{ s += \$1 } END { print s }")

field() { jq -r "if type == \"array\" then .[0].$2 else .$2 end" "$1" 2>/dev/null; }
take() {
    local t0=$(date +%s%N)
    rc_is "snapshot --json ($1)" 0 ctl --json snapshot "$SRC"
    cp "$T_TMP/last.out" "$T_TMP/$1.json"
    diag "$1: $(( ($(date +%s%N) - t0) / 1000000 )) ms, files_read $(field "$T_TMP/$1.json" files_read), new_bytes $(field "$T_TMP/$1.json" new_bytes)"
}
# small NAME LIMIT: the snapshot's new_bytes is at most LIMIT
small() {
    local nb
    nb=$(field "$T_TMP/$1.json" new_bytes)
    if [ -n "$nb" ] && [ "$nb" != null ] && [ "$nb" -le "$2" ]; then ok "$1: new_bytes $nb <= $2"
    else not_ok "$1: new_bytes $nb <= $2"; fi
}

node_init n
node_conf n watch "quiet_period = 1h" "max_delay = 2h"
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the tree" 0 ctl add "$SRC"
take first
nb=$(field "$T_TMP/first.json" new_bytes)
if [ "$nb" -ge "$data" ]; then ok "first: all $data bytes stored ($nb)"; else not_ok "first: all $data bytes stored ($nb)"; fi

stop_chuted n || true
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
grep -q "Repository open: [1-9][0-9]* objects (dedupe filter [1-9][0-9]* KiB)" "$T_TMP/n/chuted.log" &&
    ok "the filter is filled at start" || not_ok "the filter is filled at start"
sleep 1.1
find "$SRC" -type f -exec touch {} +
take touched
is "touched: every file is read again" "$(field "$T_TMP/touched.json" files_read)" 40
small touched 65536

cp "$SRC/d0/f3" "$SRC/d1/copy"
head -c 200000 /dev/urandom > "$SRC/d2/new"
take grown
nb=$(field "$T_TMP/grown.json" new_bytes)
if [ "$nb" -ge 200000 ] && [ "$nb" -le 300000 ]; then ok "grown: only the new file is stored ($nb)"
else not_ok "grown: only the new file is stored ($nb)"; fi

for s in first touched grown; do
    rm -rf "$T_TMP/out"
    rc_is "restore $s" 0 ctl restore "$(field "$T_TMP/$s.json" id)" "$T_TMP/out"
done
if diff -r "$SRC" "$T_TMP/out" >/dev/null; then ok "the last snapshot restores the tree"; else not_ok "the last snapshot restores the tree"; fi
rc_is "check --read-data" 0 ctl check --read-data
chuted_alive "chuted still runs"
done_testing
