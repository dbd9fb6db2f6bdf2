# SPDX-License-Identifier: MIT
# Shell helpers shared by compare.sh, continuous.sh, real.sh and scale.sh: timing, medians,
# dependencies, a chuted of their own (start, stop, CPU and peak RSS), restic's environment,
# the restore tmpfs and content manifests. Source it after setting PROG (the script's name);
# it sets WORK ($BENCH_DIR, default /tmp/chute-bench), RES (the results) and STAMP.

die() { echo "$PROG: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
dusb() { if [ -e "$1" ]; then du -sb "$1" | cut -f1; else echo 0; fi; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "NA"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
MiB=1048576
WORK=${BENCH_DIR:-/tmp/chute-bench}
RES=$WORK/results
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
# mem_avail: MemAvailable in bytes
mem_avail() { echo $(( $(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) * 1024 )); }

# install_deps PACKAGE...: apt-get install the Debian packages that are missing
install_deps() {
        local need=() p
        for p in "$@"; do
                case $p in
                time) [ -x /usr/bin/time ] || need+=("$p") ;;
                borgbackup) command -v borg >/dev/null || need+=("$p") ;;
                *) command -v "$p" >/dev/null || need+=("$p") ;;
                esac
        done
        [ ${#need[@]} -eq 0 ] && return 0
        log "installing ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# bench_daemon DIR: copy $CHUTED to DIR/chute-benchd and set DAEMON. On a shared machine
# other sessions may signal every process called "chuted": the copy has another name.
bench_daemon() { mkdir -p "$1"; cp "$CHUTED" "$1/chute-benchd"; DAEMON=$1/chute-benchd; }

# ---- chuted: state $CST, socket $CSOCK, config $CCONF, log $CLOG; pid in DPID ----------
DPID=
ctl() { "$CHUTECTL" --socket "$CSOCK" "$@"; }
# The config chuted gets, and its log level. By default watching must not snapshot behind
# the benchmark's back: the config pushes the quiet period and the max delay out of the
# measured window.
CHUTE_CONF_TEXT=$(printf '[watch]\nquiet_period = 1h\nmax_delay = 1h\nrescan_interval = 1d')
CHUTE_LOG_LEVEL=info

chute_start() {
        printf '%s\n' "$CHUTE_CONF_TEXT" >"$CCONF"
        "$DAEMON" -c "$CCONF" -d "$CST" -s "$CSOCK" --log-level "$CHUTE_LOG_LEVEL" >>"$CLOG" 2>&1 &
        DPID=$!
        local i
        for i in $(seq 100); do
                ctl status >/dev/null 2>&1 && return 0
                kill -0 "$DPID" 2>/dev/null || die "chuted exited at start, see $CLOG"
                sleep 0.1
        done
        die "chuted not reachable on $CSOCK after 10 s"
}

chute_stop() {
        [ -n "$DPID" ] || return 0
        kill -TERM "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
        DPID=
}

CLK_TCK=$(getconf CLK_TCK)
ticks() { awk -v a="$1" -v b="$2" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }'; }
cpu_ticks() { sed 's/.*) //' "/proc/$DPID/stat" | awk '{ print $12, $13 }'; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status"; }
# Reset chuted's VmHWM to its current RSS. chuted is not dumpable (it holds
# keys), so /proc/PID/clear_refs belongs to root: without root the peak is
# not reset between runs, and the figures say so once.
hwm_reset() {
        echo 5 >"/proc/$DPID/clear_refs" 2>/dev/null && return 0
        [ -n "${HWM_WARNED:-}" ] || echo "note: peak RSS is not reset between runs (not root: chuted's /proc/PID/clear_refs is root's); each figure is the peak so far" >&2
        HWM_WARNED=1
}

# chute_measure calls the script's warm_corpus (page cache warm) and chute_failed WHAT OUTFILE
# (keep the evidence, restart); row is the script's (CONFIG PHASE RUN WALL USER SYS RSS_KB
# REPO_BYTES BYTES_ADDED).
# chute_measure PHASE RUN: `chutectl snapshot` with the daemon's CPU and peak RSS
chute_measure() {
        local phase=$1 run=$2 before after u0 s0 u1 s1 t0 t1
        before=$(dusb "$CST/packs")
        warm_corpus
        sync
        hwm_reset
        read -r u0 s0 < <(cpu_ticks)
        t0=$(now_ns)
        if ! ctl snapshot >"$STATE/out-chute-$phase-$run.txt" 2>&1; then
                chute_failed "chutectl snapshot ($phase $run)" "$STATE/out-chute-$phase-$run.txt"
                return 1
        fi
        t1=$(now_ns)
        read -r u1 s1 < <(cpu_ticks)
        after=$(dusb "$CST/packs")
        row chute "$phase" "$run" "$(secs "$t0" "$t1")" \
                "$(ticks "$u0" "$u1")" "$(ticks "$s0" "$s1")" \
                "$(hwm_kb)" "$after" $((after - before))
}

# ---- restic (and borg): repo and cache under $STATE/CONFIG -----------------------------
tool_env() {  # CONFIG
        local st=$STATE/$1
        export RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR=$st/cache RESTIC_REPOSITORY=$st/repo
        export BORG_PASSPHRASE=bench-password BORG_BASE_DIR=$st/borgbase BORG_REPO=$st/repo
        export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
}

repo_of() { echo "$STATE/$1/repo"; }
tool_init() {
        rm -rf "${STATE:?}/$1"; mkdir -p "$STATE/$1"; tool_env "$1"
        case $1 in
        restic-*) restic init -q >/dev/null ;;
        borg-*) borg init -e repokey >/dev/null 2>&1 ;;
        esac
}
# tool_measure CONFIG PHASE RUN CMD : CMD under /usr/bin/time -v from $WORK
tool_measure() {
        local cfg=$1 phase=$2 run=$3 cmd=$4 tf=$STATE/$1/time-$2-$3.txt before after t0 t1
        tool_env "$cfg"
        before=$(dusb "$(repo_of "$cfg")")
        sync
        t0=$(now_ns)
        (cd "$WORK" && /usr/bin/time -v -o "$tf" bash -c "$cmd" >"$STATE/$cfg/out-$phase-$run.txt" 2>&1) ||
                die "$cfg $phase $run failed: $(tail -5 "$STATE/$cfg/out-$phase-$run.txt")"
        t1=$(now_ns)
        after=$(dusb "$(repo_of "$cfg")")
        row "$cfg" "$phase" "$run" "$(secs "$t0" "$t1")" \
                "$(awk -F': ' '/User time/ { print $2 }' "$tf")" \
                "$(awk -F': ' '/System time/ { print $2 }' "$tf")" \
                "$(awk -F': ' '/Maximum resident/ { print $2 }' "$tf")" "$after" $((after - before))
}

# ---- restore target: a tmpfs mounted on $TMPFS, else /dev/shm ---------------------------
MOUNTED=0
tmpfs_up() {  # BYTES (the size of the tree one restore writes)
        mkdir -p "$TMPFS"
        if mount -t tmpfs -o size=$(($1 * 3 / 2 + 256 * MiB)) chute-bench "$TMPFS" 2>/dev/null; then
                MOUNTED=1
        else
                TMPFS=/dev/shm/chute-bench-restore; mkdir -p "$TMPFS"
                log "cannot mount a tmpfs, restoring under $TMPFS"
        fi
}
tmpfs_down() {
        if [ "$MOUNTED" = 1 ]; then umount "$TMPFS" 2>/dev/null || true; MOUNTED=0; fi
        [ "$TMPFS" = /dev/shm/chute-bench-restore ] && rm -rf "$TMPFS"
        return 0
}
# bench_cleanup: at exit, chuted stopped, the restore tmpfs gone, $STATE removed unless KEEP=1
bench_cleanup() { chute_stop; tmpfs_down; if [ "${KEEP:-0}" != 1 ]; then rm -rf "${STATE:?}"; fi; }
# sums DIR: sorted sha256 manifest of the files under DIR (.nsmall excluded)
sums() { (cd "$1" && find . -type f ! -name .nsmall -print0 | sort -z | xargs -0 -r sha256sum); }
