#!/bin/bash
# SPDX-License-Identifier: MIT
# compression_level reaches the packs: three daemons with levels 0, 1 and 19
# snapshot the same compressible tree; level 0 stores it raw (packs at least
# as big as the files), 1 smaller, 19 smaller still. A SIGHUP that raises a
# daemon's level from 0 to 19 compresses what it stores next.
. "$(dirname "$0")/lib.sh"
need jq python3

# gen DIR SEED: 24 files of pseudo-text (a 400-word vocabulary), 3 MiB in all
gen() {
    python3 - "$1" "$2" <<'EOF'
import os, random, sys
top, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
syl = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu", "ba", "de", "fo", "gi", "hu", "ja"]
words = ["".join(rnd.choice(syl) for _ in range(rnd.randint(1, 4))) for _ in range(400)]
os.makedirs(top)
for f in range(24):
    out, n = [], 0
    while n < 128 * 1024:
        w = rnd.choice(words) + ("\n" if rnd.random() < 0.08 else " ")
        out.append(w)
        n += len(w)
    with open(os.path.join(top, "f%02d.txt" % f), "w") as fh:
        fh.write("".join(out)[:128 * 1024])
EOF
}
# pack_bytes NAME: bytes of all of NAME's packs
pack_bytes() { find "$T_TMP/$1/state/packs" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

SRC=$(realpath -m "$T_TMP/src")
gen "$SRC" 1
RAW=$(find "$SRC" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
is "the tree holds 3 MiB" "$RAW" $((24 * 128 * 1024))

declare -A SIZE
for level in 0 1 19; do
    node_init "l$level"
    node_conf "l$level" daemon "compression_level = $level"
    node_conf "l$level" watch "quiet_period = 1h" "max_delay = 2h"
    if start_chuted "l$level"; then ok "chuted with compression_level = $level starts"; else
        not_ok "chuted with compression_level = $level starts"; continue; fi
    rc_is "level $level: add the tree" 0 ctl add "$SRC"
    rc_is "level $level: snapshot" 0 ctl snapshot "$SRC"
    SIZE[$level]=$(pack_bytes "l$level")
    diag "compression_level = $level: ${SIZE[$level]} bytes of packs for $RAW bytes of files"
done
if [ "${SIZE[0]:-0}" -ge "$RAW" ]; then ok "level 0: the packs are at least as big as the files (stored raw)"; else
    not_ok "level 0: the packs are at least as big as the files (${SIZE[0]:-none} < $RAW)"; fi
if [ "${SIZE[1]:-0}" -gt 0 ] && [ "${SIZE[1]}" -lt $((RAW / 2)) ]; then ok "level 1: the packs are under half the files"; else
    not_ok "level 1: the packs are under half the files (${SIZE[1]:-none} of $RAW)"; fi
# a margin of 2%: the gain of 19 over 1 on this text is near 20%
if [ "${SIZE[19]:-0}" -gt 0 ] && [ "${SIZE[19]}" -lt $((${SIZE[1]:-0} * 98 / 100)) ]; then
    ok "level 19: the packs are smaller than at level 1"
else not_ok "level 19: the packs are smaller than at level 1 (${SIZE[19]:-none} vs ${SIZE[1]:-none})"; fi

# SIGHUP: level 0 -> 19 applies to the next snapshot's new data
gen "$SRC/more" 2
before=$(pack_bytes l0)
sed -i 's/^compression_level = 0$/compression_level = 19/' "$T_TMP/l0/chuted.conf"
CHUTE_SOCKET=$T_TMP/l0/run/chuted.sock
kill -HUP "$(cat "$T_TMP/l0/pid")"
# the reload runs whole on the daemon's loop, from this line on: a request
# sent after the line shows is handled after the new level is set
for _ in $(seq 1 300); do grep -q "Reloading the configuration" "$T_TMP/l0/chuted.log" && break; sleep 0.1; done
check "chuted logs the reload" grep -q "Reloading the configuration" "$T_TMP/l0/chuted.log"
rc_is "after SIGHUP to level 19: snapshot" 0 ctl snapshot "$SRC"
added=$(( $(pack_bytes l0) - before ))
diag "after the reload: $added bytes of packs for $RAW new bytes of files"
if [ "$added" -gt 0 ] && [ "$added" -lt $((RAW / 2)) ]; then ok "SIGHUP to level 19: the new data is compressed"; else
    not_ok "SIGHUP to level 19: the new data is compressed ($added bytes for $RAW)"; fi
done_testing
