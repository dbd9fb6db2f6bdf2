#!/bin/bash
# SPDX-License-Identifier: MIT
# Chunk faults: once A's packs are on B, A's own pack files are deleted
# (as an eviction would); restore, cat and ls still work, each read of a
# pack that is not here going to B for its byte range. With B stopped too,
# the same reads fail with an error instead of hanging.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

SRC=$T_TMP/src
mkdir -p "$SRC/d"
for i in 1 2 3; do head -c $((3 * 1024 * 1024 + i)) /dev/urandom > "$SRC/d/f$i"; done
echo "small file" > "$SRC/small"

peer_node A
peer_node B
start_nodes A B
backed_up A B "$SRC"

find "$T_TMP/A/state/packs" -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}' -delete
is "A has no pack file left" "$(own_packs A | wc -l)" 0

check "restore reads every pack from B" on A restore latest "$T_TMP/out"
is "the tree is the original, byte for byte" "$(diff -r "$SRC" "$T_TMP/out" && echo same)" same
is "cat reads from B too" "$(on A cat "latest:$SRC/small")" "small file"
check "ls works" on A ls "latest:$SRC/d"

stop_chuted B
rc_is "with B gone a read fails, with an error" 1 on A cat "latest:$SRC/d/f2"
CHUTED_PID=$(cat "$T_TMP/A/pid")
chuted_alive "A is still running"
done_testing
