#!/bin/bash
# SPDX-License-Identifier: MIT
# chute next to restic (and optionally borg) on the make-corpus.sh corpus, in one run,
# page cache warm: initial backup, no-op after a daemon restart, mutate rounds (time and
# repo growth), restore to tmpfs (verified), chuted's peak RSS. Prints a table with the
# ratios and the targets of issue #4, and writes raw rows as TSV under $BENCH_DIR/results/.
#
#   bench/compare.sh [SCALE=1] [RUNS=3]        (also: make bench-compare [SCALE=0.1])
#
# Environment: BENCH_DIR (work dir, default /tmp/chute-bench), RUNS, SCALE,
# RESTIC_OFF=1|0 (also run restic --compression off; default 1), BORG=0|1 (borg lz4),
# CHUTED / CHUTECTL (binaries to use; default: an optimized -O2 build of this source tree
# made under $BENCH_DIR/build), BENCH_SHARED (dir of another make-corpus.sh to use; default
# this directory's, built from bench/corpusgen.c), KEEP=1 (keep repos and state at the end).
set -euo pipefail

BENCH_DEPS="restic time"        # Debian packages this script needs (borgbackup with BORG=1)

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
PROG=compare.sh
. "$HERE/lib.sh"
MKCORPUS=${BENCH_SHARED:-$HERE}/make-corpus.sh
SCALE=${1:-${SCALE:-1}}
RUNS=${2:-${RUNS:-3}}
RESTIC_OFF=${RESTIC_OFF:-1}
BORG=${BORG:-0}
CORPUS=$WORK/corpus
STATE=$WORK/compare
RAW=$RES/compare-$STAMP.tsv
TABLE=$RES/compare-$STAMP.txt
TMPFS=$WORK/tmpfs

. "$HERE/build.sh"

# ---- helpers --------------------------------------------------------------------------
warm_corpus() { tar -C "$WORK" -cf - corpus | cat >/dev/null; }
warm_dir() { find "$1" -type f -print0 | xargs -0 -r cat >/dev/null; }

# row CONFIG PHASE RUN WALL USER SYS RSS_KB REPO_BYTES BYTES_ADDED
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" | tee -a "$RAW" >&2; }

# ---- chute ----------------------------------------------------------------------------
CST=$STATE/chute; CSOCK=$STATE/chute.sock; CCONF=$STATE/daemon.conf; CLOG=$STATE/chuted.log

# chute_failed WHAT OUTFILE: keep the evidence, restart chuted on the same state
FAILS=0
chute_failed() {
        local rc=running
        FAILS=$((FAILS + 1))
        [ "$FAILS" -le 5 ] || die "chuted failed $FAILS times, giving up"
        if ! kill -0 "$DPID" 2>/dev/null; then wait "$DPID" 2>/dev/null && rc=0 || rc=$?; fi
        {
                echo "== $1 failed: $(cat "$2"); chuted exit status: $rc; its log ends with:"
                tail -5 "$STATE/chuted.log"
        } | tee -a "$RES/compare-$STAMP-failures.txt" >&2
        DPID=
        chute_stop; chute_start
}

# ---- restic / borg --------------------------------------------------------------------
tool_backup_cmd() {  # CONFIG TAG (run from $WORK: the path "corpus" stays the same)
        case $1 in
        restic-auto) echo "restic backup -q --compression auto corpus" ;;
        restic-off) echo "restic backup -q --compression off corpus" ;;
        borg-lz4) echo "borg create --compression lz4 ::$2-\$(date +%s%N) corpus" ;;
        esac
}
tool_restore_cmd() {  # CONFIG TARGET
        case $1 in
        restic-*) echo "restic restore -q latest --target $2" ;;
        borg-*) echo "mkdir -p $2 && cd $2 && borg extract ::\$(borg list --short --last 1)" ;;
        esac
}

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# ---- run ------------------------------------------------------------------------------
if [ "${1:-}" = --table ]; then   # re-print the table of an earlier run from its TSV
        RAW=$2; TABLE=/dev/null; trap - EXIT
        read -r STAMP SCALE RUNS CORPUS_BYTES < <(awk '/^# compare.sh/ { print $3, $5, $7, $9; exit }' "$RAW")
        mapfile -t TOOLS < <(awk -F'\t' '$1 ~ /^(restic|borg)-/ && !s[$1]++ { print $1 }' "$RAW")
        VERIFY=$(awk '/^# restore check:/ { sub(/^# restore check: /, ""); print }' "$RAW")
        SKIP_RUN=1
fi
if [ -z "${SKIP_RUN:-}" ]; then
install_deps $BENCH_DEPS $([ "$BORG" = 1 ] && echo borgbackup)
build_chute
[ -x "$MKCORPUS" ] || die "no $MKCORPUS (set BENCH_SHARED)"
# On a shared machine other sessions may signal every process called "chuted": run a copy
# under another name (and no "chuted" in its arguments).
bench_daemon "$WORK/bin"
TOOLS=(restic-auto)
[ "$RESTIC_OFF" = 1 ] && TOOLS+=(restic-off)
[ "$BORG" = 1 ] && TOOLS+=(borg-lz4)

mkdir -p "$WORK" "$RES"
rm -rf "$STATE"; mkdir -p "$STATE"
printf 'config\tphase\trun\twall_s\tuser_s\tsys_s\tmaxrss_kB\trepo_bytes\tbytes_added\n' >"$RAW"
log "corpus: make-corpus.sh gen seed 42 scale $SCALE in $CORPUS"
(cd "$WORK" && "$MKCORPUS" gen corpus 42 "$SCALE")
CORPUS_BYTES=$(du -sb "$CORPUS" | cut -f1)
warm_corpus
{
        echo "# compare.sh $STAMP scale $SCALE runs $RUNS corpus_bytes $CORPUS_BYTES nproc $(nproc)"
        echo "# chuted $CHUTED ($("$CHUTED" --version 2>&1 | head -1)); $(restic version | head -1)"
} | tee -a "$RAW" >&2

log "initial backups (each into a fresh repo; tools interleaved per run)"
for r in $(seq "$RUNS"); do
        chute_stop; rm -rf "$CST"; mkdir -p "$CST"
        chute_start
        ctl add "$CORPUS" >/dev/null
        until chute_measure init "$r"; do
                chute_stop; rm -rf "$CST"; mkdir -p "$CST"; chute_start; ctl add "$CORPUS" >/dev/null
        done
        for t in "${TOOLS[@]}"; do
                tool_init "$t"; warm_corpus
                tool_measure "$t" init "$r" "$(tool_backup_cmd "$t" init)"
        done
done

log "no-op backups (chuted restarted before each)"
for r in $(seq "$RUNS"); do
        chute_stop; chute_start
        until chute_measure noop "$r"; do :; done
        for t in "${TOOLS[@]}"; do
                warm_corpus
                tool_measure "$t" noop "$r" "$(tool_backup_cmd "$t" noop)"
        done
done

log "mutate rounds (make-corpus.sh mutate corpus ROUND, then each tool backs up)"
for r in $(seq "$RUNS"); do
        (cd "$WORK" && "$MKCORPUS" mutate corpus "$r" 42)
        until chute_measure mutate "$r"; do :; done
        for t in "${TOOLS[@]}"; do
                warm_corpus
                tool_measure "$t" mutate "$r" "$(tool_backup_cmd "$t" mut$r)"
        done
done

log "restores to tmpfs"
tmpfs_up "$CORPUS_BYTES"
sums "$CORPUS" >"$STATE/corpus.sum"
VERIFY=""
for r in $(seq "$RUNS"); do
        # chute: restore latest into a fresh dir (state re-read into the page cache first)
        rm -rf "${TMPFS:?}"/*; warm_dir "$CST"; sync
        hwm_reset
        read -r u0 s0 < <(cpu_ticks)
        t0=$(now_ns)
        until ctl restore latest "$TMPFS/chute" >"$STATE/out-chute-restore-$r.txt" 2>&1; do
                chute_failed "chutectl restore ($r)" "$STATE/out-chute-restore-$r.txt"
                rm -rf "${TMPFS:?}"/*; sync; t0=$(now_ns)
        done
        t1=$(now_ns)
        read -r u1 s1 < <(cpu_ticks)
        row chute restore "$r" "$(secs "$t0" "$t1")" "$(ticks "$u0" "$u1")" "$(ticks "$s0" "$s1")" \
                "$(hwm_kb)" "$(dusb "$CST/packs")" 0
        if [ "$r" = "$RUNS" ]; then
                if sums "$TMPFS/chute" | cmp -s - "$STATE/corpus.sum"; then VERIFY+="chute: restore verified; "
                else VERIFY+="chute: RESTORE MISMATCH; "; sums "$TMPFS/chute" >"$RES/compare-$STAMP-chute-restore.sum"; fi
        fi
        for t in "${TOOLS[@]}"; do
                rm -rf "${TMPFS:?}"/*; warm_dir "$(repo_of "$t")"
                tool_measure "$t" restore "$r" "$(tool_restore_cmd "$t" "$TMPFS/$t")"
                if [ "$r" = "$RUNS" ]; then
                        if sums "$TMPFS/$t/corpus" | cmp -s - "$STATE/corpus.sum"; then VERIFY+="$t: restore verified; "
                        else VERIFY+="$t: RESTORE MISMATCH; "; fi
                fi
        done
done
rm -rf "${TMPFS:?}"/*
echo "# restore check: $VERIFY" >>"$RAW"
fi

# ---- table ----------------------------------------------------------------------------
# med CONFIG PHASE COLUMN (1-based TSV column)
med() { awk -F'\t' -v c="$1" -v p="$2" -v k="$3" '$1 == c && $2 == p { print $k }' "$RAW" | median; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "NA" || v == "") print "-"; else printf f, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }

print_table() {
local t cols hdr=()
echo "compare.sh $STAMP: corpus $(fmt "$CORPUS_BYTES" "%d") bytes (scale $SCALE, seed 42), $RUNS runs, medians, page cache warm"
echo "r:TOOL = TOOL / chute for times (>1: chute faster), chute / TOOL for bytes and RSS; verdicts against restic-auto"
cols="%-25s %11s"; hdr=("phase" "chute")
for t in "${TOOLS[@]}"; do cols+=" %11s"; hdr+=("$t"); done
for t in "${TOOLS[@]}"; do cols+=" %8s"; hdr+=("r:${t#restic-}"); done
cols+="  %-13s %s\n"; hdr+=("target" "verdict")
# shellcheck disable=SC2059
printf "$cols" "${hdr[@]}"
line() {  # LABEL COLUMN PHASE FORMAT KIND(time|bytes|rss|tinfo|binfo) GOAL
        local label=$1 col=$2 phase=$3 f=$4 kind=$5 goal=$6 c a o vals=() rs=() verdict=""
        c=$(med chute "$phase" "$col")
        [ "$kind" = rss ] && { c=$(med chute init 7); }
        for t in "${TOOLS[@]}"; do vals+=("$(fmt "$(med "$t" "$phase" "$col")" "$f")"); done
        for t in "${TOOLS[@]}"; do
                o=$(med "$t" "$phase" "$col")
                case $kind in
                time | tinfo) rs+=("$(ratio "$o" "$c")") ;;
                *) rs+=("$(ratio "$c" "$o")") ;;
                esac
        done
        a=$(med restic-auto "$phase" "$col")
        case $kind in
        time) verdict=$(awk -v a="$a" -v c="$c" -v g="$goal" 'BEGIN { if (c + 0 == 0) print "-"; else print (a / c >= g ? "MET" : "not met") }'); goal=">= ${goal}x" ;;
        bytes) verdict=$(awk -v a="$a" -v c="$c" 'BEGIN { print (c <= a ? "MET" : "not met") }'); goal="<= restic" ;;
        rss) verdict=$(awk -v c="$c" -v g="$goal" 'BEGIN { print (c / 1024 <= g ? "MET" : "not met") }'); goal="<= ${goal} MiB" ;;
        *) goal="" ;;
        esac
        # shellcheck disable=SC2059
        printf "$cols" "$label" "$(fmt "$c" "$f")" "${vals[@]}" "${rs[@]}" "$goal" "$verdict"
}
line "initial wall (s)" 4 init "%.2f" time 4
mibs=()
for t in chute "${TOOLS[@]}"; do mibs+=("$(awk -v b="$CORPUS_BYTES" -v s="$(med "$t" init 4)" 'BEGIN { if (s + 0 > 0) printf "%.0f", b / s / 1048576; else print "-" }')"); done
for t in "${TOOLS[@]}"; do mibs+=(""); done
# shellcheck disable=SC2059
printf "$cols" "initial MiB/s" "${mibs[@]}" "" ""
line "initial cpu user (s)" 5 init "%.2f" tinfo 0
line "initial cpu sys (s)" 6 init "%.2f" tinfo 0
line "initial repo bytes" 8 init "%d" binfo 0
line "no-op after restart (s)" 4 noop "%.3f" time 8
line "mutate round wall (s)" 4 mutate "%.3f" time 10
line "mutate round bytes added" 9 mutate "%d" bytes 0
line "restore to tmpfs (s)" 4 restore "%.2f" time 3
line "restore cpu user (s)" 5 restore "%.2f" tinfo 0
line "initial peak RSS (kB)" 7 init "%d" rss 64
echo "restore check: ${VERIFY:-not recorded}"
echo "chute rows: wall of 'chutectl snapshot'/'restore'; cpu and peak RSS (VmHWM, reset before each run) of chuted"
echo "restic/borg rows: /usr/bin/time -v of the command; bytes = du -sb of packs/ (chute) or the repo"
echo "raw rows: $RAW"
}
print_table | tee "$TABLE"
