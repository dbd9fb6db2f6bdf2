#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue #10's figure: replication of SIZE_MIB of random data to a one-node
# Ceph RGW on loopback (the cluster of tests/integration/s3-lib.sh, data in
# RAM), in MiB/s and requests per GiB, next to `restic -r s3:...` backing
# the same data up to the same gateway in the same run.
#
#   bench/s3.sh [SIZE_MIB=1024]          (also: make bench-s3)
#   TREE=/usr/share bench/s3.sh           a real tree instead (read only)
#
# chute: A snapshots the data (timed: local MiB/s), then `store add` of the
# bucket; the time until nothing is pending gives the replication MiB/s
# (pack bytes / seconds), `stores --json` the requests. restic: `init` and a
# timed `backup` into another bucket. Needs Ceph from Debian (quickstart's
# DEPS; RAM for 3 x SIZE_MIB of objects) and restic (apt-get installs it when
# missing).
# Environment: BENCH_DIR (default /tmp/chute-bench), CHUTED/CHUTECTL.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SIZE_MIB=${1:-${SIZE_MIB:-1024}}
TREE=${TREE:-}
if [ -n "$TREE" ]; then
        [ -d "$TREE" ] || die "TREE=$TREE is not a directory"
        SIZE_MIB=$(( ($(du -sb "$TREE" | cut -f1) + 1048575) / 1048576 ))
fi
SIZE_BYTES=$((SIZE_MIB * 1024 * 1024))
WORK=${BENCH_DIR:-/tmp/chute-bench}
die() { echo "s3.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
now_ns() { date +%s%N; }
mib_s() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", b / 1048576 / (t / 1e9) }'; }

. "$HERE/build.sh"
. "$HERE/data.sh"
build_chute
BUILT_CHUTED=$CHUTED BUILT_CHUTECTL=$CHUTECTL
command -v restic >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends restic >/dev/null ||
        die "restic is needed"

mkdir -p "$WORK"
export TMPDIR=$WORK
set +e +u
. "$TOP/tests/integration/lib.sh"
. "$TOP/tests/integration/s3-lib.sh"
set -e
CHUTED=$BUILT_CHUTED CHUTECTL=$BUILT_CHUTECTL
export CEPH_MEMSTORE_BYTES=$(( (SIZE_MIB * 3 + 1024) * 1024 * 1024 ))

if [ -n "$TREE" ]; then
        DATA=$TREE
        SIZE_BYTES=$(du -sb "$TREE" | cut -f1)
        WHAT="$TREE ($(find "$TREE" -type f | wc -l) files, $((SIZE_BYTES / 1048576)) MiB)"
        log "reading $WHAT once (both tools then find it in the page cache)"
        warm_tree "$TREE"
else
        DATA=$T_TMP/data
        WHAT="$SIZE_MIB MiB random data"
        random_data "$DATA" "$SIZE_MIB"
fi
log "starting Ceph RGW"
s3_start || die "Ceph RGW did not start (see $CEPH_DIR/log)"
"${S3CMD[@]}" mb s3://restic >/dev/null

node_init A
node_manual A
node_conf A replication "prove_count = 0"
start_chuted A >/dev/null || die "chuted did not start"
ctl add "$DATA" >/dev/null
log "local snapshot"
t0=$(now_ns); ctl snapshot >/dev/null; t1=$(now_ns)
LOCAL=$(mib_s "$SIZE_BYTES" $((t1 - t0)))
PACK_BYTES=$(ctl --json status | jq .bytes)
log "replicating $PACK_BYTES bytes of packs to the bucket"
t0=$(now_ns)
ctl store add S3 s3 --endpoint "$S3_ENDPOINT" --bucket "$S3_BUCKET" --access-key-file "$S3_ACCESS_FILE" \
        --secret-key-file "$S3_SECRET_FILE" >/dev/null
while :; do
        s=$(ctl --json stores | jq -r '.stores[0] | "\(.pending) \(.packs)"')
        [ "${s%% *}" = 0 ] && [ "${s##* }" != 0 ] && break
        sleep 0.05
done
t1=$(now_ns)
S3_MIBS=$(mib_s "$PACK_BYTES" $((t1 - t0)))
ctl --json stores > "$T_TMP/stores.json"
REQ=$(jq '.stores[0].requests' "$T_TMP/stores.json")
PER_GIB=$(awk -v r="$REQ" -v b="$PACK_BYTES" 'BEGIN { printf "%.0f", r / (b / 1073741824) }')

log "restic backup of the same data"
export AWS_ACCESS_KEY_ID=$(cat "$S3_ACCESS_FILE") AWS_SECRET_ACCESS_KEY=$(cat "$S3_SECRET_FILE")
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=s3:$S3_ENDPOINT/restic
restic init >/dev/null
t0=$(now_ns); restic backup --quiet "$DATA" >/dev/null; t1=$(now_ns)
RESTIC_MIBS=$(mib_s "$SIZE_BYTES" $((t1 - t0)))
RESTIC_OBJ=$("${S3CMD[@]}" ls -r s3://restic | wc -l)

echo
echo "S3 replication to Ceph RGW on loopback, $WHAT, $(nproc) cores, $(date -u +%F)"
printf '%-52s %10s\n' "" "MiB/s"
printf '%-52s %10s\n' "chute local snapshot" "$LOCAL"
printf '%-52s %10s   (%s requests, %s per GiB)\n' "chute replication to the bucket ($PACK_BYTES B of packs)" "$S3_MIBS" "$REQ" "$PER_GIB"
printf '%-52s %10s   (%s objects in its bucket)\n' "restic backup -r s3:... (read, chunk, encrypt, upload)" "$RESTIC_MIBS" "$RESTIC_OBJ"
