#!/bin/bash
# SPDX-License-Identifier: MIT
# chute next to restic 0.14 (--compression auto) on an existing tree, read-only (issue #14):
# initial backup, no-op after a daemon restart, restore to tmpfs (checked against the tree),
# stored bytes, peak RSS (chuted's VmHWM, restic's /usr/bin/time -v). Prints the issue's table
# row and the figures behind it; raw rows go to $BENCH_DIR/results/real-STAMP.tsv.
#
#   bench/real.sh TREE [RUNS=1]        (also: make bench-real TREE=/usr)
#
# Environment: BENCH_DIR (default /tmp/chute-bench; the repos need about the tree's size),
# RUNS (medians over RUNS; default 1), VERIFY_FILES (files whose sha256 is compared after
# each restore, spread over the sorted file list; default 5000, 0 = all), CHUTED / CHUTECTL
# (default: the -O2 build of build.sh), KEEP=1 (keep repos and state).
set -euo pipefail

BENCH_DEPS="restic time"
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
PROG=real.sh
. "$HERE/lib.sh"
. "$HERE/build.sh"
. "$HERE/data.sh"

TREE=${1:-${TREE:-}}
RUNS=${2:-${RUNS:-1}}
VERIFY_FILES=${VERIFY_FILES:-5000}
[ -n "$TREE" ] || die "usage: bench/real.sh TREE [RUNS]   (make bench-real TREE=/usr)"
[ -d "$TREE" ] || die "$TREE is not a directory"
TREE=$(cd "$TREE" && pwd -P)
STATE=$WORK/real
RAW=$RES/real-$STAMP.tsv
TMPFS=$WORK/tmpfs
CST=$STATE/chute; CSOCK=$STATE/chute.sock; CCONF=$STATE/daemon.conf; CLOG=$STATE/chuted.log
BACKUP="restic backup -q --compression auto $(printf %q "$TREE")"
case $WORK/ in "$TREE"/*) die "BENCH_DIR ($WORK) lies inside $TREE: pick another" ;; esac

row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" | tee -a "$RAW" >&2; }
warm_corpus() { warm_tree "$TREE"; }
chute_failed() { die "$1 failed: $(cat "$2"); chuted's log ends with: $(tail -3 "$CLOG")"; }
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# sample_list DIR: the relative paths checked after a restore (every k-th of the sorted files)
sample_list() {
        (cd "$1" && find . -type f -print0 | sort -z) | tr '\0' '\n' >"$STATE/all-files"
        local n k
        n=$(wc -l <"$STATE/all-files")
        k=1; [ "$VERIFY_FILES" -gt 0 ] && [ "$n" -gt "$VERIFY_FILES" ] && k=$(( (n + VERIFY_FILES - 1) / VERIFY_FILES ))
        awk -v k="$k" '(NR - 1) % k == 0' "$STATE/all-files" >"$STATE/sample-files"
}
# manifest DIR: sha256 of the sample under DIR (a missing file shows as MISSING)
manifest() {
        local f
        while IFS= read -r f; do
                if [ -f "$1/$f" ]; then sha256sum <"$1/$f" | sed "s|-\$|$f|"; else echo "MISSING $f"; fi
        done <"$STATE/sample-files"
}
# verify NAME DIR: file count and sampled content of DIR against the tree's
verify() {
        local count
        count=$(find "$2" -type f | wc -l)
        if [ "$count" = "$(wc -l <"$STATE/all-files")" ] && manifest "$2" | cmp -s - "$STATE/tree.sum"; then
                VERIFY+="$1: $count files, $(wc -l <"$STATE/sample-files") sampled sha256 equal; "
        else
                VERIFY+="$1: RESTORE MISMATCH ($count files); "
        fi
}

install_deps $BENCH_DEPS
build_chute
mkdir -p "$RES"
rm -rf "$STATE"; mkdir -p "$STATE"
bench_daemon "$STATE/bin"
TREE_BYTES=$(du -sb "$TREE" 2>/dev/null | cut -f1 || true)
NFILES=$(find "$TREE" -type f 2>/dev/null | wc -l)
log "tree $TREE: $TREE_BYTES bytes, $NFILES files; warming the page cache"
warm_corpus
printf 'config\tphase\trun\twall_s\tuser_s\tsys_s\tmaxrss_kB\trepo_bytes\tbytes_added\n' >"$RAW"
{
        echo "# real.sh $STAMP tree $TREE bytes $TREE_BYTES files $NFILES runs $RUNS nproc $(nproc)"
        echo "# chuted $CHUTED ($("$CHUTED" --version 2>&1 | head -1)); $(restic version | head -1)"
} | tee -a "$RAW" >&2

log "initial backups (fresh state / repo each run)"
for r in $(seq "$RUNS"); do
        chute_stop; rm -rf "$CST"; mkdir -p "$CST"; chute_start
        ctl add "$TREE" >/dev/null
        chute_measure init "$r"
        tool_init restic-auto; warm_corpus
        tool_measure restic-auto init "$r" "$BACKUP"
done

log "no-op backups (chuted restarted before each)"
for r in $(seq "$RUNS"); do
        chute_stop; chute_start
        chute_measure noop "$r"
        warm_corpus
        tool_measure restic-auto noop "$r" "$BACKUP"
done

# Restores need the tree's size in memory (one restore at a time): refuse clearly otherwise.
AVAIL=$(mem_avail)
VERIFY=""
if [ $((TREE_BYTES + 512 * MiB)) -gt "$AVAIL" ]; then
        VERIFY="restore skipped: the tree ($((TREE_BYTES / MiB)) MiB) does not fit in memory ($((AVAIL / MiB)) MiB available)"
else
        tmpfs_up "$TREE_BYTES"
        if [ "$MOUNTED" = 0 ] && [ "$(df -B1 --output=avail /dev/shm | tail -1)" -lt $((TREE_BYTES + 256 * MiB)) ]; then
                VERIFY="restore skipped: no tmpfs could be mounted and /dev/shm has no room for $((TREE_BYTES / MiB)) MiB"
        fi
fi
if [ -z "$VERIFY" ]; then
        log "restores to tmpfs ($TMPFS)"
        sample_list "$TREE"
        manifest "$TREE" >"$STATE/tree.sum"
        for r in $(seq "$RUNS"); do
                rm -rf "${TMPFS:?}"/*; warm_tree "$CST"; sync
                hwm_reset
                read -r u0 s0 < <(cpu_ticks)
                t0=$(now_ns)
                ctl restore latest "$TMPFS/chute" >"$STATE/out-chute-restore-$r.txt" 2>&1 ||
                        chute_failed "chutectl restore ($r)" "$STATE/out-chute-restore-$r.txt"
                t1=$(now_ns)
                read -r u1 s1 < <(cpu_ticks)
                row chute restore "$r" "$(secs "$t0" "$t1")" "$(ticks "$u0" "$u1")" "$(ticks "$s0" "$s1")" \
                        "$(hwm_kb)" "$(dusb "$CST/packs")" 0
                [ "$r" = "$RUNS" ] && verify chute "$TMPFS/chute"
                rm -rf "${TMPFS:?}"/*; warm_tree "$(repo_of restic-auto)"
                tool_measure restic-auto restore "$r" "restic restore -q latest --target $(printf %q "$TMPFS/restic")"
                [ "$r" = "$RUNS" ] && verify restic "$TMPFS/restic$TREE"
        done
        rm -rf "${TMPFS:?}"/*
fi
echo "# restore check: $VERIFY" >>"$RAW"

# ---- the table row ------------------------------------------------------------------
med() { awk -F'\t' -v c="$1" -v p="$2" -v k="$3" '$1 == c && $2 == p { print $k }' "$RAW" | median; }
peak() { awk -F'\t' -v c="$1" '$1 == c && $7 > m { m = $7 } END { printf "%.0f", m / 1024 }' "$RAW"; }
cell() {  # PHASE: "R.RRx (chute s vs restic s)", R = restic / chute
        local c a
        c=$(med chute "$1" 4); a=$(med restic-auto "$1" 4)
        awk -v c="$c" -v a="$a" 'BEGIN { if (c == "NA" || a == "NA" || c + 0 == 0) print "-";
                else printf "%.2fx (%.2f s vs %.2f s)", a / c, c, a }'
}
# the size-class padding in chute's packs, as chutectl status reports it
PADDING=$(ctl status 2>/dev/null | grep -o 'padding [^)]*' | head -1)
stored=$(awk -v c="$(med chute init 8)" -v a="$(med restic-auto init 8)" 'BEGIN { if (a + 0 > 0) printf "%.2fx (%.0f vs %.0f MiB)", c / a, c / 1048576, a / 1048576; else print "-" }')
{
        echo "real.sh $STAMP: $TREE, $(awk -v b="$TREE_BYTES" 'BEGIN { printf "%.2f GiB", b / 1073741824 }'), $NFILES files, $RUNS run(s), medians, page cache warm; $(nproc) cores"
        echo "| tree | initial | no-op after restart | restore to tmpfs | stored vs restic auto | chuted peak RSS (restic) |"
        echo "|---|---|---|---|---|---|"
        echo "| \`$TREE\` | $(cell init) | $(cell noop) | $(cell restore) | $stored | $(peak chute) MiB ($(peak restic-auto)) |"
        echo "ratios: restic's time / chute's (> 1: chute faster); stored: chute's packs/ / restic's repo (du -sb)"
        echo "chute's packs: ${PADDING:-padding not reported} (size classes that hide each pack's content size)"
        echo "peak RSS: the highest of each tool's runs (chuted: VmHWM, reset before each; restic: /usr/bin/time -v)"
        echo "restore check: ${VERIFY%; }"
        echo "raw rows: $RAW"
} | tee "$RES/real-$STAMP.txt"
