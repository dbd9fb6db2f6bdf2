# SPDX-License-Identifier: MIT
# Integration test harness: TAP output, temporary directories, real chuted
# processes on their own state dir and socket, and cleanup by pid on any exit.
# Source it from a test script:  . "$(dirname "$0")/lib.sh"

set -u
: "${CHUTE_BUILDDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${CHUTE_SRCDIR:=$CHUTE_BUILDDIR}"
CHUTED=$CHUTE_BUILDDIR/daemon/chuted
CHUTECTL=$CHUTE_BUILDDIR/ctl/chutectl

T_NUM=0
T_FAILED=0
T_PIDS=()
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/chute-test.XXXXXX")

t_cleanup() {
    local pid
    for pid in "${T_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${T_PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
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
# skip_all "reason": the whole script is skipped
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
done_testing() { echo "1..$T_NUM"; [ "$T_FAILED" -eq 0 ]; }

# node_init NAME: make NAME's directories and a config; sets NODE_DIR
node_init() {
    local name=$1
    NODE_DIR=$T_TMP/$name
    mkdir -p "$NODE_DIR/state" "$NODE_DIR/run"
    cat > "$NODE_DIR/chuted.conf" <<EOC
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
    "$CHUTED" --config "$NODE_DIR/chuted.conf" --log-level debug "$@" \
        >>"$NODE_DIR/chuted.log" 2>&1 &
    CHUTED_PID=$!
    T_PIDS+=("$CHUTED_PID")
    echo "$CHUTED_PID" > "$NODE_DIR/pid"
    local i
    for i in $(seq 1 100); do
        if "$CHUTECTL" status >/dev/null 2>&1; then return 0; fi
        kill -0 "$CHUTED_PID" 2>/dev/null || break
        sleep 0.1
    done
    diag "chuted $name did not become ready; log:"
    sed 's/^/#   /' "$NODE_DIR/chuted.log" | tail -30
    return 1
}

# stop_chuted NAME [SIGNAL]: stop NAME's chuted by pid and wait for it
stop_chuted() {
    local name=$1 sig=${2:-TERM} pid
    pid=$(cat "$T_TMP/$name/pid")
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
