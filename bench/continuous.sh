#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue #5's figures: how fast chuted turns a change into a committed snapshot.
#  (a) a 50,000-file tree (small files, 275 dirs): change one file; chuted's processing
#      time (sum of the phases of its debug line "Snapshot of ROOT: walk Xs, read Ys (N files),
#      trees Zs, packs durable Ws, commit Vs") and the latency from the end of the change to
#      the committed snapshot, next to `restic backup` of the same change and a no-op one;
#  (b) one make-corpus.sh mutate round on the corpus (SCALE, 1 GiB at 1): time from the end
#      of the mutate command to the committed snapshot, bytes added, vs restic backup.
# With watching (inotify) chuted snapshots by itself after its quiet period; the script
# detects it (a new snapshot within WATCH_WAIT seconds of the change). Without it, it
# triggers `chutectl snapshot` explicitly and says so in its output.
#
#   bench/continuous.sh [SCALE=1] [RUNS=3]
#
# Environment: BENCH_DIR (default /tmp/chute-bench), NFILES (default 50000), WATCH_WAIT
# (default 10 s), CHUTED / CHUTECTL (default: the -O2 build compare.sh makes under
# $BENCH_DIR/build, built here if missing), BENCH_SHARED (dir of another make-corpus.sh;
# default this directory's).
set -euo pipefail

BENCH_DEPS="restic hyperfine time"      # Debian packages this script needs

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
PROG=continuous.sh
. "$HERE/lib.sh"
MKCORPUS=${BENCH_SHARED:-$HERE}/make-corpus.sh
SCALE=${1:-${SCALE:-1}}
RUNS=${2:-${RUNS:-3}}
NFILES=${NFILES:-50000}
WATCH_WAIT=${WATCH_WAIT:-10}
CW=$WORK/continuous
RAW=$RES/continuous-$STAMP.tsv
OUT=$RES/continuous-$STAMP.txt

# row PART CONFIG WHAT RUN VALUE
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" | tee -a "$RAW" >&2; }
say() { echo "$*" | tee -a "$OUT"; }

. "$HERE/build.sh"

# ---- chuted with default settings (own state, socket; debug log for the phase line) ----
# chute_part NAME: a fresh chuted with built-in defaults (an empty config) on CW/NAME
CHUTE_CONF_TEXT=; CHUTE_LOG_LEVEL=debug
chute_part() {
        CST=$CW/$1/state; CSOCK=$CW/$1/daemon.sock; CLOG=$CW/$1/daemon.log; CCONF=$CW/$1/empty.conf
        ST=$CST; DLOG=$CLOG
        rm -rf "${ST:?}"; mkdir -p "$ST"; : >"$CLOG"
        chute_start
}
nsnaps() { ctl --json snapshots 2>/dev/null | grep -c '"id":' || true; }
# wait_snap COUNT TIMEOUT_S: until more than COUNT snapshots exist; 0 if one came
wait_snap() {
        local n=$1 deadline=$(( $(date +%s) + $2 ))
        while [ "$(date +%s)" -lt "$deadline" ]; do
                [ "$(nsnaps)" -gt "$n" ] && return 0
                sleep 0.05
        done
        return 1
}
# wait_quiet S: until no new snapshot for S seconds
wait_quiet() {
        local n m
        n=$(nsnaps)
        while sleep "$1"; m=$(nsnaps); [ "$m" != "$n" ]; do n=$m; done
}
# phase_sum ROOT FROM_LINE: sum of the phases of the first phase line after FROM_LINE
phase_sum() {
        # "Snapshot of ROOT: walk ..." or "Snapshot of ROOT (incremental): walk ..."
        tail -n +"$(($2 + 1))" "$DLOG" | awk -v pre="Snapshot of $1" '
                index($0, pre ":") || index($0, pre " (") {
                        if ($0 !~ /: walk [0-9.]+s/) next
                        s = 0; n = 0
                        for (i = 1; i <= NF; i++) if ($i ~ /^(walk|read|trees|durable|commit)$/) {
                                v = $(i + 1); sub(/s,?$/, "", v); s += v; n++ }
                        if (n) printf "%.3f", s
                        exit }'
}
# change_done ROOT N_BEFORE LINE_BEFORE T_END PART RUN: wait for or trigger the snapshot
MODE=
change_done() {
        local root=$1 n=$2 line=$3 tend=$4 part=$5 run=$6 t1 p
        if [ "$MODE" != explicit ] && wait_snap "$n" "$WATCH_WAIT"; then
                t1=$(now_ns); MODE=watch
        else
                if [ "$MODE" != explicit ]; then
                        MODE=explicit
                        say "note: no snapshot within ${WATCH_WAIT}s of the change: chuted is not watching;"
                        say "      the script triggers 'chutectl snapshot' explicitly (latency = its wall time)"
                fi
                tend=$(now_ns)
                ctl snapshot >/dev/null || die "chutectl snapshot failed"
                t1=$(now_ns)
        fi
        row "$part" chute latency "$run" "$(secs "$tend" "$t1")"
        p=$(phase_sum "$root" "$line")
        row "$part" chute processing "$run" "${p:-NA}"
}

cleanup() { chute_stop; [ "${KEEP:-0}" = 1 ] || rm -rf "${CW:?}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

restic_env() {  # NAME
        export RESTIC_PASSWORD=bench-password RESTIC_REPOSITORY=$CW/$1/restic RESTIC_CACHE_DIR=$CW/$1/restic-cache
}
# restic_time NAME WHAT RUN DIR PART: restic backup -q DIR (from $CW/NAME), wall + growth
restic_time() {
        local before after t0 t1
        restic_env "$1"; before=$(dusb "$RESTIC_REPOSITORY"); sync
        t0=$(now_ns); (cd "$CW/$1" && restic backup -q "$4" >/dev/null) || die "restic backup failed"; t1=$(now_ns)
        after=$(dusb "$RESTIC_REPOSITORY")
        row "$5" restic "$2" "$3" "$(secs "$t0" "$t1")"
        row "$5" restic "$2-bytes" "$3" $((after - before))
}

# ---- (a) 50,000 small files -------------------------------------------------------------
gen_tree() {  # DIR: NFILES files of 200..8000 bytes of text in 25 x 10 dirs (+25 parents)
        rm -rf "$1"; mkdir -p "$1"
        local d s
        for d in $(seq -w 0 24); do for s in $(seq 0 9); do mkdir -p "$1/d$d/s$s"; done; done
        awk -v root="$1" -v n="$NFILES" 'BEGIN {
                srand(42); text = ""
                while (length(text) < 16384) text = text sprintf("record %06d value %04x state ok\n", length(text), int(rand() * 65535))
                for (i = 0; i < n; i++) {
                        f = sprintf("%s/d%02d/s%d/f%05d.txt", root, i % 25, int(i / 25) % 10, i)
                        len = 200 + int(rand() * 7800); off = 1 + int(rand() * 8000)
                        printf "file %d\n%s", i, substr(text, off, len) > f; close(f)
                } }'
        find "$1" -print0 | xargs -0 touch -h -d @1704067200
}

part_a() {
        local tree=$CW/a/tree n line t0 t1 r f p
        mkdir -p "$CW/a"
        log "(a) generating $NFILES small files"
        gen_tree "$tree"
        say "(a) tree: $(find "$tree" -type f | wc -l) files, $(find "$tree" -type d | wc -l) dirs, $(dusb "$tree") bytes"
        chute_part a
        ctl add "$tree" >/dev/null
        tar -C "$CW/a" -cf - tree | cat >/dev/null
        t0=$(now_ns); ctl snapshot >/dev/null; t1=$(now_ns)
        row a chute initial 1 "$(secs "$t0" "$t1")"
        wait_quiet 3
        restic_env a; restic init -q >/dev/null
        restic_time a initial 1 tree a
        for r in $(seq "$RUNS"); do
                f=$(find "$tree/d$(printf %02d $((r % 25)))" -name '*.txt' | sort | sed -n "$((r * 7))p")
                n=$(nsnaps); line=$(wc -l <"$DLOG")
                echo "changed in run $r" >>"$f"
                t0=$(now_ns)
                change_done "$tree" "$n" "$line" "$t0" a "$r"
                wait_quiet 1
                restic_time a one-change "$r" tree a
        done
        # restic no-op on the same tree (hyperfine: warm-up 1, RUNS runs, sync before each)
        restic_env a
        (cd "$CW/a" && hyperfine -N --warmup 1 --runs "$RUNS" --prepare sync --export-json "$CW/a/hf.json" \
                "restic backup -q tree" >/dev/null 2>&1) ||
                (cd "$CW/a" && hyperfine --warmup 1 --runs "$RUNS" --prepare sync --export-json "$CW/a/hf.json" \
                        "restic backup -q tree" >/dev/null 2>&1)
        row a restic noop median "$(grep -m1 '"median"' "$CW/a/hf.json" | sed 's/.*: *//; s/,$//')"
        # chute no-op, explicit (same tree, nothing changed)
        for r in $(seq "$RUNS"); do
                line=$(wc -l <"$DLOG"); sync
                t0=$(now_ns); ctl snapshot >/dev/null; t1=$(now_ns)
                row a chute noop "$r" "$(secs "$t0" "$t1")"
                p=$(phase_sum "$tree" "$line")
                row a chute noop-processing "$r" "${p:-NA}"
        done
        chute_stop
}

# ---- (b) one mutate round on the corpus --------------------------------------------------
part_b() {
        local c=$CW/b/corpus n line t0 t1 before after
        mkdir -p "$CW/b"
        log "(b) corpus scale $SCALE"
        (cd "$CW/b" && "$MKCORPUS" gen corpus 42 "$SCALE")
        say "(b) corpus: $(dusb "$c") bytes (scale $SCALE)"
        chute_part b
        ctl add "$c" >/dev/null
        tar -C "$CW/b" -cf - corpus | cat >/dev/null
        t0=$(now_ns); ctl snapshot >/dev/null; t1=$(now_ns)
        row b chute initial 1 "$(secs "$t0" "$t1")"
        wait_quiet 3
        restic_env b; restic init -q >/dev/null
        restic_time b initial 1 corpus b
        n=$(nsnaps); line=$(wc -l <"$DLOG"); before=$(dusb "$ST/packs")
        t0=$(now_ns)
        (cd "$CW/b" && "$MKCORPUS" mutate corpus 1 42)
        t1=$(now_ns)
        row b - mutate-command 1 "$(secs "$t0" "$t1")"
        change_done "$c" "$n" "$line" "$t1" b 1
        after=$(dusb "$ST/packs")
        row b chute bytes-added 1 $((after - before))
        wait_quiet 1
        restic_time b mutate 1 corpus b
        chute_stop
}

# ---- run ----------------------------------------------------------------------------------
install_deps $BENCH_DEPS
build_chute
[ -x "$MKCORPUS" ] || die "no $MKCORPUS (set BENCH_SHARED)"
rm -rf "$CW"; bench_daemon "$CW/bin"
mkdir -p "$RES"
printf 'part\tconfig\twhat\trun\tvalue\n' >"$RAW"
: >"$OUT"
say "continuous.sh $STAMP: runs $RUNS, nfiles $NFILES, scale $SCALE, chuted $CHUTED"
part_a
part_b

v() {  # PART CONFIG WHAT: median, times to the ms, bytes as integers
        awk -F'\t' -v p="$1" -v c="$2" -v w="$3" '$1 == p && $2 == c && $3 == w && $5 != "NA" { print $5 }' "$RAW" |
                median | awk -v w="$3" '{ if ($1 == "NA") print; else if (w ~ /bytes/) printf "%d\n", $1; else printf "%.3f\n", $1 }'
}
say ""
say "mode: $MODE ($( [ "$MODE" = watch ] && echo "chuted snapshotted by itself after its quiet period" ||
        echo "no watching yet: snapshots triggered with chutectl snapshot"))"
say "(a) $NFILES small files, one file changed (medians of $RUNS):"
say "    chuted processing (walk+read+trees+packs+commit)  $(v a chute processing) s   (NA: no phase line in the log)"
say "    chuted latency change -> committed snapshot      $(v a chute latency) s   (watch mode: includes the quiet period)"
say "    restic backup of the same change                 $(v a restic one-change) s"
say "    restic no-op backup (hyperfine median)           $(v a restic noop) s"
say "    chutectl snapshot, nothing changed               $(v a chute noop) s (processing $(v a chute noop-processing) s)"
say "(b) one mutate round on the corpus:"
say "    mutate command                                   $(v b - mutate-command) s"
say "    chuted: end of mutate -> committed snapshot      $(v b chute latency) s (processing $(v b chute processing) s)"
say "    chuted bytes added (packs/)                      $(v b chute bytes-added)"
say "    restic backup of the same change                 $(v b restic mutate) s, $(v b restic mutate-bytes) bytes"
say "raw rows: $RAW"
