#!/bin/bash
# SPDX-License-Identifier: MIT
# Restore reads data objects authenticated by their tag alone (the AEAD binds
# each record to its id); --verify recomputes every id as well. Both restore
# the tree byte for byte; a byte flipped inside a pack fails the restore,
# with or without --verify, instead of writing wrong bytes.
. "$(dirname "$0")/lib.sh"
need sqlite3

SRC=$T_TMP/src
mkdir -p "$SRC/a/b"
for i in 1 2 3; do head -c $((i * 700000)) /dev/urandom > "$SRC/a/r$i"; done
seq 1 200000 > "$SRC/a/b/text"
echo small > "$SRC/small"

node_init n
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the tree" 0 ctl add "$SRC"
rc_is "a snapshot" 0 ctl snapshot "$SRC"

rc_is "restore (tags only)" 0 ctl restore latest "$T_TMP/plain"
if diff -r "$SRC" "$T_TMP/plain" >/dev/null; then ok "... equal to the tree"; else not_ok "... equal to the tree"; fi
rc_is "restore --verify (ids recomputed)" 0 ctl restore latest "$T_TMP/verified" --verify
if diff -r "$SRC" "$T_TMP/verified" >/dev/null; then ok "... equal to the tree"; else not_ok "... equal to the tree"; fi
rc_is "an unknown option is refused" 2 ctl restore latest "$T_TMP/x" --verify-all

# flip one byte in the middle of the largest data record (type 1): the
# restore's own reads, not the trees', meet it
stop_chuted n
read -r hexid off len < <(sqlite3 -separator ' ' "$NODE_DIR/state/index.db" \
    "SELECT lower(hex(pack_id)), offset, length FROM objects WHERE type = 1 ORDER BY length DESC LIMIT 1")
pack=$(find "$NODE_DIR/state/packs" -type f -name "$hexid")
if [ -n "$pack" ] && [ "$len" -gt 100000 ]; then ok "a data record of $len bytes at $off in a pack"; else
    not_ok "a data record of the largest file in a pack ($hexid $off $len)"; fi
flip_byte "$pack" $((off + len / 2))
start_chuted n || { not_ok "chuted starts again"; done_testing; exit; }
for opt in "" --verify; do
    ctl restore latest "$T_TMP/bad$opt" $opt >"$T_TMP/bad.out" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q "damaged" "$T_TMP/bad.out"; then
        ok "a flipped byte fails restore ${opt:-(tags only)}: $(head -c 160 "$T_TMP/bad.out")"
    else
        not_ok "a flipped byte fails restore ${opt:-(tags only)} (status $rc)"; diag "$(cat "$T_TMP/bad.out")"
    fi
done
stop_chuted n
done_testing
