#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/make-corpus.sh (bench/corpusgen.c) from the checkout alone: the corpus is a pure
# function of the seed with fixed mtimes, has the documented shape, a mutate round changes
# what it says (100 bytes in front of blob-1, 2 MiB of log, 1 % of the small files), and
# bad arguments give a usage error.
. "$(dirname "$0")/lib.sh"

MK=$CHUTE_SRCDIR/bench/make-corpus.sh
export BENCH_BIN=$T_TMP/bin
manifest() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

rc_is "gen at scale 0.005" 0 "$MK" gen "$T_TMP/a" 42 0.005
"$MK" gen "$T_TMP/b" 42 0.005
"$MK" gen "$T_TMP/c" 7 0.005
manifest "$T_TMP/a" >"$T_TMP/a.sum"
check "same seed, same bytes" cmp -s "$T_TMP/a.sum" <(manifest "$T_TMP/b")
differ() { ! cmp -s "$1" "$2"; }
manifest "$T_TMP/c" >"$T_TMP/c.sum"
check "another seed, other bytes" differ "$T_TMP/a.sum" "$T_TMP/c.sum"
is "three blobs of 0.005 x 128 MiB" "$(stat -c %s "$T_TMP"/a/big/blob-*.bin | sort -u)" 671088
is "log of 0.005 x 192 MiB" "$(stat -c %s "$T_TMP/a/big/server.log")" 1006632
is "100 small files" "$(find "$T_TMP/a/small" -type f | wc -l)" 100
is "in 5 directories" "$(find "$T_TMP/a/small" -mindepth 2 -type d | wc -l)" 5
is "every mtime is 2024-01-01" "$(find "$T_TMP/a" -printf '%T@\n' | sort -u)" 1704067200.0000000000
small=$(find "$T_TMP/a/small" -type f -printf '%s\n' | sort -n | sed -n '1p;$p' | tr '\n' ' ')
check "small files within 1-64 KiB ($small)" awk -v s="$small" 'BEGIN { split(s, v, " "); exit !(v[1] >= 1024 && v[2] <= 65536) }'
check "the log compresses (log-like text)" [ "$(gzip -c "$T_TMP/a/big/server.log" | wc -c)" -lt 400000 ]

ino=$(stat -c %i "$T_TMP/a/big/blob-1.bin")
cp "$T_TMP/a/big/blob-1.bin" "$T_TMP/blob-1.before"
"$MK" mutate "$T_TMP/a" 1 42
"$MK" mutate "$T_TMP/b" 1 42
check "mutate is deterministic" cmp -s <(manifest "$T_TMP/a") <(manifest "$T_TMP/b")
check "100 bytes inserted in front of blob-1" cmp -s <(tail -c +101 "$T_TMP/a/big/blob-1.bin") "$T_TMP/blob-1.before"
is "blob-1 rewritten in place" "$(stat -c %i "$T_TMP/a/big/blob-1.bin")" "$ino"
is "2 MiB appended to the log" "$(stat -c %s "$T_TMP/a/big/server.log")" $((1006632 + 2097152))
is "blob-1, the log and 1 % of the small files (1) changed" "$(diff "$T_TMP/a.sum" <(manifest "$T_TMP/a") | grep -c '^>')" 3
is "changed files carry the round's mtime" "$(find "$T_TMP/a" -newermt @1704067200 -type f | wc -l)" 3

"$MK" tree "$T_TMP/t" 1 500 20 1024 8192
is "tree: 500 files" "$(find "$T_TMP/t" -type f | wc -l)" 500
is "tree: 20 leaf directories" "$(find "$T_TMP/t" -mindepth 2 -type d | wc -l)" 20
sizes=$(find "$T_TMP/t" -type f -printf '%s\n' | sort -n | sed -n '1p;$p' | tr '\n' ' ')
check "tree: sizes within 1-8 KiB ($sizes)" awk -v s="$sizes" 'BEGIN { split(s, v, " "); exit !(v[1] >= 1024 && v[2] <= 8192) }'

rc_is "usage without a directory" 2 "$MK" gen
rc_is "a bad scale is refused" 2 "$BENCH_BIN/corpusgen" gen "$T_TMP/x" 42 nope
rc_is "an existing directory is refused" 1 "$BENCH_BIN/corpusgen" gen "$T_TMP/a" 42 0.005
done_testing
