#!/bin/bash
# SPDX-License-Identifier: MIT
# A [store S3] section that moves (another prefix) while a pack the index
# has here lost its file: an eviction (local_copy = cache) cut short by a
# crash between the unlink and the index update. The move must not forget
# the bucket's copy, the only one left: chuted finds the file gone, keeps
# the section's old place and says why; the pack is read from the bucket.
# (A real Ceph RGW on loopback.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
. "$(dirname "$0")/s3-lib.sh"

s3_start || bail_out "Ceph RGW did not start"
SRC=$T_TMP/src
mkdir -p "$SRC"
for i in 1 2 3; do head -c $((4 * 1024 * 1024 + i)) /dev/urandom > "$SRC/f$i"; done
s3_done() { [ "$(store_field "$1" S3 pending)" = 0 ] && [ "$(store_field "$1" S3 packs)" -gt 0 ]; }

peer_node A
node_conf A replication "local_copy = cache" "cache_size = 1G"
node_conf A "store S3" "endpoint = $S3_ENDPOINT" "bucket = $S3_BUCKET" "prefix = moves/a/" \
    "access_key_file = $S3_ACCESS_FILE" "secret_key_file = $S3_SECRET_FILE"
start_chuted A || bail_out "A did not start"
on A add "$SRC" >/dev/null
check "A takes a snapshot" on A snapshot
wait_until 60 s3_done A || bail_out "A's packs did not reach the bucket"
is "nothing is evicted (cache_size 1G)" "$(on A --json status | jq .evicted)" 0

# the crash: the biggest pack file (file data) is gone, the index still has it here
stop_chuted A
victim=$(find "$T_TMP/A/state/packs" -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}' -printf '%s %p\n' |
    sort -n | tail -1 | cut -d' ' -f2)
[ -n "$victim" ] || bail_out "no pack file"
rm -f "$victim"
sed -i 's|^prefix = moves/a/$|prefix = moves/b/|' "$T_TMP/A/chuted.conf"
start_chuted A || bail_out "A did not restart"
check "the log says why the section keeps its old place" \
    grep -q "\[store S3\] in .*: its endpoint, bucket or prefix changed, but 1 packs evicted here .* are held by it alone: keeping its old configuration" \
    "$T_TMP/A/chuted.log"
is "the store stays where it was" "$(store_field A S3 prefix)" moves/a/
is "status counts the pack as evicted" "$(on A --json status | jq .evicted)" 1
check "restore reads that pack from the bucket" on A restore latest "$T_TMP/out"
is "the tree is the original" "$(diff -r "$SRC" "$T_TMP/out" && echo same)" same
is "nothing went to the new prefix" "$(s3_objects moves/b/ | wc -l)" 0
CHUTED_PID=$(cat "$T_TMP/A/pid")
chuted_alive "A is still running"
done_testing
