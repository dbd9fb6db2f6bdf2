#!/bin/bash
# SPDX-License-Identifier: MIT
# Chunk fingerprints (docs/fingerprints.md): the chunks of a big file are
# fingerprinted; when the file changes, its unchanged chunks are recognized
# by fingerprint instead of being hashed again. Each version restores byte
# for byte with every id recomputed (--verify), and prune drops the
# fingerprints of the objects it deletes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prune-lib.sh"
need sqlite3
if ! grep -qw aes /proc/cpuinfo || ! grep -qwE 'pclmulqdq|pmull' /proc/cpuinfo; then
    echo "1..0 # SKIP no AES and carry-less multiply instructions: no fingerprints"; exit 0
fi

SRC=$T_TMP/src
mkdir -p "$SRC"
head -c $((12 * 1024 * 1024)) /dev/urandom > "$SRC/big"
head -c 100000 /dev/urandom > "$SRC/small"
cp "$SRC/big" "$T_TMP/v1"
prune_node "$SRC"
db() { sqlite3 "$NODE_DIR/state/index.db" "$1"; }
content() { db "SELECT hex(content) FROM file_cache WHERE CAST(path AS TEXT) = '$1'"; }
# same_chunks FILE COPY WHAT: FILE's file-cache content (its chunks) is COPY's,
# a path chunked from scratch
same_chunks() {
    if [ -n "$(content "$1")" ] && [ "$(content "$1")" = "$(content "$2")" ]; then ok "$3"; else not_ok "$3"; fi
}
# recognized: "CHUNKS BYTES UNCHUNKED" of the last snapshot's debug line
recognized() {
    sed -n 's/.* \([0-9]*\) chunks (\([0-9]*\) bytes) recognized by fingerprint, \([0-9]*\) bytes not chunked.*/\1 \2 \3/p' \
        "$NODE_DIR/chuted.log" | tail -1
}

rc_is "first snapshot" 0 ctl snapshot "$SRC"
n1=$(db "SELECT count(*) FROM chunk_fingerprints")
if [ "$n1" -ge 3 ] && [ "$n1" -le 48 ]; then ok "the big file's chunks are fingerprinted ($n1)"; else
    not_ok "the big file's chunks are fingerprinted ($n1 rows)"; fi
read -r c b u < <(recognized)
is "nothing recognized the first time" "$c $b $u" "0 0 0"

# one byte changed in the middle: one chunk is new (or two, when a cut moved)
printf X | dd of="$SRC/big" bs=1 seek=6000000 conv=notrunc status=none
cp "$SRC/big" "$T_TMP/v2"
cp "$SRC/big" "$SRC/copy" # chunked from scratch: the same chunks as the changed file's
rc_is "snapshot after a byte changed" 0 ctl snapshot "$SRC"
read -r c b u < <(recognized)
# (the copy's chunks count too: at most 12 MiB of each file)
if [ "${b:-0}" -ge $((4 * 1024 * 1024)) ] && [ "$b" -lt $((24 * 1024 * 1024)) ]; then
    ok "the unchanged chunks are recognized: $c chunks, $b bytes"
else
    not_ok "the unchanged chunks are recognized ($c chunks, $b bytes)"
fi
# where they start as before, the chunker does not cut them again (all but
# the changed one, the one after it if a cut moved, and the last)
if [ "${u:-0}" -ge $((2 * 1024 * 1024)) ] && [ "$u" -le "$b" ]; then ok "... $u bytes of them not chunked again"; else
    not_ok "... most of them not chunked again ($u bytes)"; fi
same_chunks big copy "the changed file has the chunks a fresh read of it gets"
rm "$SRC/copy"
n2=$(db "SELECT count(*) FROM chunk_fingerprints")
if [ "$n2" -gt "$n1" ]; then ok "the new chunk's fingerprint is recorded ($n1 -> $n2)"; else
    not_ok "the new chunk's fingerprint is recorded ($n1 -> $n2)"; fi

head -c 3000000 /dev/urandom >> "$SRC/big"
cp "$SRC/big" "$SRC/copy3" # a path never seen: chunked from scratch
rc_is "snapshot after an append" 0 ctl snapshot "$SRC"
same_chunks big copy3 "the grown file has the chunks a fresh read of it gets (its old last chunk is cut again)"
rm "$SRC/copy3"
read -r c b u < <(recognized)
if [ "${b:-0}" -ge $((8 * 1024 * 1024)) ] && [ "$b" -lt $((30 * 1024 * 1024)) ]; then ok "the old part is recognized: $c chunks, $b bytes"; else
    not_ok "the old part is recognized ($c chunks, $b bytes)"; fi
if [ "${u:-0}" -ge $((6 * 1024 * 1024)) ] && [ "$u" -le "$b" ]; then ok "... $u bytes of it not chunked again"; else
    not_ok "... most of it not chunked again ($u bytes)"; fi

# 100 bytes put in front: every chunk after the first is found again, shifted
cp "$SRC/big" "$T_TMP/v3"
{ head -c 100 /dev/urandom; cat "$T_TMP/v3"; } > "$SRC/big"
cp "$SRC/big" "$SRC/copy4"
rc_is "snapshot after bytes put in front" 0 ctl snapshot "$SRC"
read -r c b u < <(recognized)
if [ "${u:-0}" -ge $((8 * 1024 * 1024)) ]; then ok "the shifted chunks are not chunked again ($u bytes)"; else
    not_ok "the shifted chunks are not chunked again ($u bytes)"; fi
same_chunks big copy4 "the shifted file has the chunks a fresh read of it gets"
rm "$SRC/copy4"

# every version as it was, every id recomputed from the bytes
ctl --json snapshots > "$T_TMP/snaps.json"
i=0
for id in $(python3 -c 'import json,sys; [print(s["id"]) for s in sorted(json.load(open(sys.argv[1])), key=lambda s: s["time"])]' \
    "$T_TMP/snaps.json"); do
    i=$((i + 1))
    rc_is "restore --verify of snapshot $i" 0 ctl restore "$id" "$T_TMP/r$i" --verify
    want=$T_TMP/v$i; [ $i = 4 ] && want=$SRC/big
    if cmp -s "$T_TMP/r$i/big" "$want"; then ok "... its big file as it was"; else not_ok "... its big file as it was"; fi
done
is "four snapshots restored" "$i" 4

# the first version's changed chunk goes with its snapshots: so does its fingerprint
n2=$(db "SELECT count(*) FROM chunk_fingerprints")
rc_is "forget all but the latest" 0 ctl forget --keep-last 1
rc_is "prune" 0 ctl prune
n3=$(db "SELECT count(*) FROM chunk_fingerprints")
gone=$(db "SELECT count(*) FROM chunk_fingerprints WHERE id NOT IN (SELECT id FROM objects)")
if [ "$n3" -lt "$n2" ] && [ "$gone" = 0 ]; then ok "prune dropped the fingerprints of deleted objects ($n2 -> $n3)"; else
    not_ok "prune dropped the fingerprints of deleted objects ($n2 -> $n3, $gone left without object)"; fi
rc_is "restore --verify after the prune" 0 ctl restore latest "$T_TMP/after" --verify
if cmp -s "$T_TMP/after/big" "$SRC/big"; then ok "... the big file as it is"; else not_ok "... the big file as it is"; fi

# rows that were changed in the index (every one now names the same object)
# do not match their tags: they are not taken, nothing wrong is stored, and
# good rows replace them (the start's scan may read the file first)
stop_chuted n
db "UPDATE chunk_fingerprints SET id = (SELECT min(id) FROM chunk_fingerprints)"
printf Y | dd of="$SRC/big" bs=1 seek=1000 conv=notrunc status=none
start_chuted n || { not_ok "chuted starts again"; done_testing; exit; }
rc_is "snapshot over damaged fingerprint rows" 0 ctl snapshot "$SRC"
if grep -q "fingerprint row of the index has a wrong tag" "$NODE_DIR/chuted.log"; then
    ok "damaged rows are found by their tags"; else not_ok "damaged rows are found by their tags"; fi
distinct=$(db "SELECT count(DISTINCT id) FROM chunk_fingerprints")
if [ "$distinct" -gt 3 ]; then ok "... and replaced ($distinct ids)"; else not_ok "... and replaced ($distinct ids)"; fi
rc_is "restore --verify" 0 ctl restore latest "$T_TMP/damaged" --verify
if cmp -s "$T_TMP/damaged/big" "$SRC/big"; then ok "... the big file as it is"; else not_ok "... the big file as it is"; fi

# a file of more than 64 chunks keeps them in a list object, which the
# reader loads to line up with
head -c $((80 * 1024 * 1024)) /dev/urandom > "$SRC/long"
rc_is "snapshot of an 80 MiB file" 0 ctl snapshot "$SRC"
# (the file-cache content's second byte: bit 0 says "a list")
if [ -n "$(db "SELECT 1 FROM file_cache WHERE CAST(path AS TEXT) = 'long' AND hex(substr(content, 2, 1)) IN ('01', '03')")" ]; then
    ok "its chunks are in a list object"; else not_ok "its chunks are in a list object"; fi
printf Z | dd of="$SRC/long" bs=1 seek=$((40 * 1024 * 1024)) conv=notrunc status=none
cp "$SRC/long" "$SRC/long-copy"
rc_is "snapshot after a byte of it changed" 0 ctl snapshot "$SRC"
read -r c b u < <(recognized)
if [ "${u:-0}" -ge $((70 * 1024 * 1024)) ]; then ok "... $u bytes of it not chunked again"; else
    not_ok "... most of it not chunked again ($u bytes)"; fi
same_chunks long long-copy "... and its chunks are a fresh read's"
rc_is "restore --verify" 0 ctl restore latest "$T_TMP/long" --verify
if cmp -s "$T_TMP/long/long" "$SRC/long"; then ok "... the long file as it is"; else not_ok "... the long file as it is"; fi
stop_chuted n
done_testing
