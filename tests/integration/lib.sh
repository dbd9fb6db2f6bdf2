# SPDX-License-Identifier: MIT
# Integration test harness: TAP output, temporary directories, real chuted
# processes on their own state dir and socket, and cleanup by pid on any exit.
# Source it from a test script:  . "$(dirname "$0")/lib.sh"
# Environment: CHUTE_BUILDDIR (binaries, e.g. an --enable-asan build tree),
# CHUTE_KEEP_TMP=1 keeps the temporary directory; failed scripts print the
# tail of every node's chuted.log.

set -u
: "${CHUTE_BUILDDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${CHUTE_SRCDIR:=$CHUTE_BUILDDIR}"
CHUTED=$CHUTE_BUILDDIR/daemon/chuted
CHUTECTL=$CHUTE_BUILDDIR/ctl/chutectl

T_NUM=0
T_FAILED=0
T_PIDS=()
# OWN_NETNS: the command prefix that runs a chuted without a config file in
# a network namespace of its own, where its default peer listener
# (0.0.0.0:2001) binds no address of the machine and cannot clash with
# another test's; empty when this user cannot make one. The control socket
# is a path and works across namespaces.
OWN_NETNS=()
if unshare -n true 2>/dev/null; then OWN_NETNS=(unshare -n); fi
# t_tmp_base: where T_TMP goes: TMPDIR when set; else /dev/shm when it is a
# tmpfs with room (10 GiB free, and as much memory available) that keeps
# user xattrs (Linux 6.6 on); else /tmp. On a disk file system that has just
# deleted many files, creating one can cost half a millisecond (ext4 scans
# for recently deleted inodes), and the suite creates and deletes hundreds
# of thousands (docs/testing.md).
t_tmp_base() {
    [ -n "${TMPDIR:-}" ] && { echo "$TMPDIR"; return; }
    local shm=/dev/shm probe want=$((10 * 1024 * 1024)) free mem
    free=$(df -P -k "$shm" 2>/dev/null | awk 'NR == 2 { print $4 }')
    mem=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo 2>/dev/null)
    if [ "$(stat -f -c %T "$shm" 2>/dev/null)" = tmpfs ] && [ -w "$shm" ] &&
        [ "${free:-0}" -ge "$want" ] && [ "${mem:-0}" -ge "$want" ] &&
        probe=$(mktemp "$shm/chute-probe.XXXXXX" 2>/dev/null); then
        if setfattr -n user.chute -v 1 "$probe" 2>/dev/null; then rm -f "$probe"; echo "$shm"; return; fi
        rm -f "$probe"
    fi
    echo /tmp
}
T_TMP=$(mktemp -d "$(t_tmp_base)/chute-test.XXXXXX")

# t_our_child PID: PID is still a child of this script, not yet reaped. A pid
# that was reaped (stop_chuted, wait) may since belong to another process,
# e.g. a chuted of a test running in parallel: never signal it.
t_our_child() {
    local ppid
    ppid=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2) || ppid=
    [ "$ppid" = "$$" ]
}

# the first line of a sanitizer's report (TSan, ASan, UBSan)
T_SANITIZER_REPORT='^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: |.*: runtime error: )'

t_cleanup() {
    local pid st
    for pid in "${T_PIDS[@]}"; do
        t_our_child "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${T_PIDS[@]}"; do
        t_our_child "$pid" || continue
        for _ in $(seq 1 50); do
            st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || st= # gone (set -e callers: bench/)
            [ -n "$st" ] && [ "$st" != Z ] || break
            sleep 0.1
        done
        t_our_child "$pid" && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    done
    # ThreadSanitizer reports and goes on (ASan and UBSan stop chuted, which
    # a test sees): a report in any chuted's log fails the test, even one
    # whose checks all passed (a check after the plan: the TAP driver counts
    # that as an error too). Every log a test keeps: a node's chuted.log and
    # those of the chuteds a test starts by hand (user.log, wrong.log, ...).
    local log
    for log in "$T_TMP"/*.log "$T_TMP"/*/*.log; do
        [ -f "$log" ] && grep -qE "$T_SANITIZER_REPORT" "$log" || continue
        not_ok "no sanitizer report in ${log#"$T_TMP"/}"
    done
    if [ "$T_FAILED" -gt 0 ]; then
        for log in "$T_TMP"/*.log "$T_TMP"/*/*.log; do
            [ -f "$log" ] || continue
            if [ "${log##*/}" = chuted.log ]; then
                echo "# ---- last lines of $log"
                tail -15 "$log" | sed 's/^/#   /'
            fi
            # a sanitizer's report, wherever it is in the log (its exit
            # status 66 or 1 may be all a check sees of it)
            if grep -qE "$T_SANITIZER_REPORT" "$log"; then
                echo "# ---- the first sanitizer report in $log"
                sed -n -E "/$T_SANITIZER_REPORT/,\$p" "$log" |
                    head -60 | sed 's/^/#   /'
            fi
        done
    fi
    local port
    [ -f "$T_TMP/ports" ] && while read -r port; do rmdir "$T_PORT_CLAIMS/$port" 2>/dev/null; done < "$T_TMP/ports"
    if [ -n "${CHUTE_KEEP_TMP:-}" ]; then echo "# kept $T_TMP"; return; fi
    chmod -R u+rwx "$T_TMP" 2>/dev/null || true
    rm -rf "$T_TMP"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# plan N: print the TAP plan
plan() { echo "1..$1"; }
diag() { printf '# %s\n' "$*"; }
ok() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $*"; }
not_ok() { T_NUM=$((T_NUM + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_NUM - $*"; }
# check "description" command...: ok when the command succeeds
check() {
    local desc=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; printf '%s\n' "$out" | sed 's/^/#   /' | head -40; fi
}
# is "description" got want
is() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; diag "got:  '$2'"; diag "want: '$3'"; fi
}
# bail_out "reason": the whole script fails now (TAP "Bail out!"). There is
# no skip_all: a test either runs or fails, it never stops testing silently.
# (counted as a failure: t_cleanup then prints the nodes' logs)
bail_out() { T_FAILED=$((T_FAILED + 1)); echo "Bail out! $*"; exit 1; }
done_testing() { echo "1..$T_NUM"; [ "$T_FAILED" -eq 0 ]; }

# node_init NAME: make NAME's directories and a config; sets NODE_DIR
node_init() {
    local name=$1
    NODE_DIR=$T_TMP/$name
    mkdir -p "$NODE_DIR/state" "$NODE_DIR/run"
    cat > "$NODE_DIR/chuted.conf" <<EOC
# no peer listener unless a test asks for one (node_peer_listen): tests run
# side by side and the default port would be taken by the first
[peer]
listen = none
# no HTTP API either (node_api_listen turns it on)
[api]
listen = none
# [daemon] last: tests append keys to it
[daemon]
state_dir = $NODE_DIR/state
socket = $NODE_DIR/run/chuted.sock
EOC
}

# start_chuted NAME [extra args...]: start a chuted for NAME, wait until it
# answers on its socket; sets CHUTE_SOCKET and CHUTED_PID.
start_chuted() {
    local name=$1; shift
    [ -d "$T_TMP/$name" ] || node_init "$name"
    NODE_DIR=$T_TMP/$name
    CHUTE_SOCKET=$NODE_DIR/run/chuted.sock
    export CHUTE_SOCKET
    # CHUTED_WRAP: a command that execs chuted (the pid stays chuted's)
    ${CHUTED_WRAP[@]+"${CHUTED_WRAP[@]}"} "$CHUTED" --config "$NODE_DIR/chuted.conf" --log-level debug "$@" \
        >>"$NODE_DIR/chuted.log" 2>&1 &
    CHUTED_PID=$!
    T_PIDS+=("$CHUTED_PID")
    echo "$CHUTED_PID" > "$NODE_DIR/pid"
    # 30 s: a fresh node's start on a loaded two-core CI machine, under a
    # sanitizer, can take more than the 10 s this once allowed
    wait_ready "$CHUTE_SOCKET" "$CHUTED_PID" && return 0
    diag "chuted $name did not become ready; log:"
    sed 's/^/#   /' "$NODE_DIR/chuted.log" | tail -30
    return 1
}

# stop_chuted NAME [SIGNAL]: stop NAME's chuted by pid and wait for it
stop_chuted() {
    local name=$1 sig=${2:-TERM} pid
    pid=$(cat "$T_TMP/$name/pid")
    t_our_child "$pid" || return 1
    kill "-$sig" "$pid" 2>/dev/null || true
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    # reaped: its pid may be reused by anyone now, so cleanup must not kill it
    local p keep=()
    for p in "${T_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    T_PIDS=("${keep[@]}")
    return $rc
}

ctl() { "$CHUTECTL" "$@"; }

# ---- helpers shared by the chuted/chutectl suites ------------------------

# rc_is "description" WANT command...: ok when the command exits with WANT;
# its stdout and stderr are kept in $T_TMP/last.out and last.err.
rc_is() {
    local desc=$1 want=$2 rc=0; shift 2
    "$@" >"$T_TMP/last.out" 2>"$T_TMP/last.err" || rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$desc"; else
        not_ok "$desc"; diag "exit status $rc, want $want: $*"
        head -c 2000 "$T_TMP/last.err" | sed 's/^/#   err: /'
        head -c 2000 "$T_TMP/last.out" | sed 's/^/#   out: /'
    fi
}
# json_valid FILE: FILE holds exactly one JSON document
json_valid() { python3 -c 'import json,sys; json.load(open(sys.argv[1], "rb"))' "$1"; }
# jq_is "description" FILE FILTER: ok when `jq -e FILTER` is true on FILE
jq_is() {
    if jq -e "$3" "$2" >/dev/null 2>&1; then ok "$1"; else
        not_ok "$1"; diag "jq -e '$3' is false on:"; head -c 1500 "$2" | sed 's/^/#   /'; echo
    fi
}
# node_conf NAME SECTION "key = value"...: append a section to NAME's config
node_conf() {
    local name=$1 section=$2; shift 2
    [ -d "$T_TMP/$name" ] || node_init "$name"
    { echo "[$section]"; printf '%s\n' "$@"; } >> "$T_TMP/$name/chuted.conf"
}
# free_port: a TCP port on 127.0.0.1 that is free now and stays this test's.
# It is drawn below the kernel's ephemeral range (ip_local_port_range), where
# no outgoing connection of a test running beside this one can take it
# between now and the moment a chuted binds it, and claimed under
# T_PORT_CLAIMS (one directory per port, made atomically), so two tests never
# draw the same one; t_cleanup drops this test's claims. A claim older than
# a day is a killed test's and is taken over.
T_PORT_CLAIMS=${TMPDIR:-/tmp}/chute-test-ports-$(id -u)
free_port() {
    python3 - "$T_PORT_CLAIMS" "$T_TMP/ports" <<'EOP'
import os, random, socket, sys, time
claims, mine = sys.argv[1], sys.argv[2]
os.makedirs(claims, exist_ok=True)
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    lo, hi = (int(x) for x in f.read().split())
# below the ephemeral range if there is room there, else above it
pool = (10000, lo) if lo - 10000 >= 2000 else (hi + 1, 65536)
for _ in range(2000):
    port = random.randrange(*pool)
    path = os.path.join(claims, str(port))
    try:
        os.mkdir(path)
    except FileExistsError:
        try:
            if time.time() - os.stat(path).st_mtime < 86400:
                continue
            os.utime(path)
        except OSError:
            continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        os.rmdir(path)  # someone outside the tests holds it
        continue
    s.close()
    with open(mine, "a") as f:
        f.write(f"{port}\n")
    print(port)
    sys.exit(0)
sys.exit("free_port: no free port in %d-%d" % pool)
EOP
}
# node_peer_listen NAME [PORT]: NAME's chuted listens for peers on
# 127.0.0.1:PORT (a free port by default); sets PEER_PORT
node_peer_listen() {
    PEER_PORT=${2:-$(free_port)}
    node_conf "$1" peer "listen = 127.0.0.1:$PEER_PORT"
}
# node_api_listen NAME [PORT]: NAME's chuted serves the HTTP API on
# 127.0.0.1:PORT (a free port by default); sets API_PORT
node_api_listen() {
    API_PORT=${2:-$(free_port)}
    node_conf "$1" api "listen = 127.0.0.1:$API_PORT"
}
# now_ms: milliseconds since the epoch
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_until SECONDS command...: run the command every 0.2 s until it
# succeeds (0) or SECONDS have passed (1). WAITED_MS is the time it took.
wait_until() {
    local limit_ms start deadline
    limit_ms=$(python3 -c 'import sys; print(int(float(sys.argv[1]) * 1000))' "$1"); shift
    start=$(now_ms)
    deadline=$((start + limit_ms))
    while :; do
        if "$@" >/dev/null 2>&1; then WAITED_MS=$(($(now_ms) - start)); return 0; fi
        if [ "$(now_ms)" -ge "$deadline" ]; then WAITED_MS=$(($(now_ms) - start)); return 1; fi
        sleep 0.2
    done
}

# node_manual NAME: the node takes only the snapshots a test asks for (no
# automatic snapshots, no automatic retention)
node_manual() {
    node_conf "$1" watch "quiet_period = 1h" "max_delay = 2h"
    node_conf "$1" retention "auto = no"
}
# pid_gone PID: the process has exited (zombies count as gone)
pid_gone() {
    local st
    [ -r "/proc/$1/stat" ] || return 0
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}
# wait_ready SOCKET PID [SECONDS]: 0 once a chuted answers `status` on
# SOCKET (30 s at most: a loaded CI machine under a sanitizer); 1 at once
# when PID has exited (a zombie too: kill -0 would wait the 30 s out), or
# when time runs out. start_chuted waits with it; so does a test for a
# chuted it starts by hand.
wait_ready() {
    local sock=$1 pid=$2 i
    for i in $(seq 1 $((${3:-30} * 10))); do
        "$CHUTECTL" --socket "$sock" status >/dev/null 2>&1 && return 0
        pid_gone "$pid" && return 1
        sleep 0.1
    done
    return 1
}
# wait_gone PID SECONDS: 0 when PID exits within SECONDS; then reaps it and
# leaves its exit status in WAIT_RC
wait_gone() {
    local pid=$1 deadline=$(( $(date +%s%N) + $2 * 1000000000 ))
    WAIT_RC=
    while ! pid_gone "$pid"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
    WAIT_RC=0; wait "$pid" 2>/dev/null || WAIT_RC=$?
    return 0
}
# wait_file SECONDS PATH: 0 once PATH exists (a test pause point's
# POINT.reached, see daemon/test-hook.h), 1 after SECONDS
wait_file() {
    local end=$(( $(date +%s) + $1 ))
    while [ ! -e "$2" ]; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.05; done
}
# flip_byte FILE OFFSET: invert bit 6 of the byte at OFFSET, in place
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || return 1
    printf "$(printf '\\%03o' $((b ^ 0x40)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# vm_hwm_kib PID: peak resident set size of PID in KiB
vm_hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# sanitizer_skip REASON: skip this whole script, saying why, in the
# sanitizer suites of .ci/run (CHUTE_SANITIZER_SUITE set): for tests whose
# point is timing or volume, which the sanitizers' slowdown only stretches,
# while other tests run the same code paths under them.
sanitizer_skip() {
    if [ -n "${CHUTE_SANITIZER_SUITE:-}" ]; then echo "1..0 # SKIP $*"; exit 0; fi
}
# T_SLOW: the factor for a limit on how long something may take: 1 in the
# plain suite, 3 in the ASan suite and 6 in the TSan one (they run chuted
# about 2x and 5-10x slower, and .ci/run runs three of their tests at a
# time on two cores)
# T_SANITIZER: what chuted is built with: asan, tsan or "" (none); tests
# skip the bounds a sanitizer's runtime makes meaningless (memory, mlock)
T_SANITIZER=
if grep -qa __tsan_init "$CHUTED" 2>/dev/null; then T_SANITIZER=tsan
elif grep -qa __asan_init "$CHUTED" 2>/dev/null; then T_SANITIZER=asan; fi
T_SLOW=1
if [ -n "${CHUTE_SANITIZER_SUITE:-}" ]; then
    if [ "$T_SANITIZER" = tsan ]; then T_SLOW=6; else T_SLOW=3; fi
fi
# need CMD...: fail the whole script unless every command exists (the
# packages are in quickstart's DEPS list)
need() {
    local c
    for c in "$@"; do command -v "$c" >/dev/null 2>&1 || bail_out "$c is not installed (see DEPS in ./quickstart)"; done
}
# chuted_alive "description": ok when the current CHUTED_PID still runs
chuted_alive() {
    if pid_gone "$CHUTED_PID"; then not_ok "$1"; diag "chuted exited; log tail:"
        tail -20 "$NODE_DIR/chuted.log" | sed 's/^/#   /'
    else ok "$1"; fi
}
