#!/bin/bash
# SPDX-License-Identifier: MIT
# Open-file limits. chuted raises its soft RLIMIT_NOFILE to the hard limit at
# start (as systemd asks of a service that needs more than 1024), and a
# chuted held to 64 open files (soft = hard) still backs up, watches and
# restores a tree of 580 directories: the walk's listings ahead, each holding
# a directory open, are bounded by an eighth of the limit.
. "$(dirname "$0")/lib.sh"
need python3
need curl

REAL=$CHUTED
# limited SOFT HARD: a wrapper that starts chuted with those limits on open
# files (exec: the pid the test holds is chuted's own)
limited() {
    local w=$T_TMP/chuted-nofile-$1-$2
    printf '#!/bin/bash\nulimit -Sn %s && ulimit -Hn %s && exec %q "$@"\n' "$1" "$2" "$REAL" > "$w"
    chmod +x "$w"
    echo "$w"
}
# nofile PID: "SOFT HARD" of PID's open-file limit
nofile() { awk '/^Max open files/ { print $4, $5 }' "/proc/$1/limits"; }

hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 4096 ]; then
    CHUTED=$(limited 256 4096) start_chuted raised || bail_out "chuted did not start with 256 open files"
    is "the soft limit is raised to the hard one" "$(nofile "$CHUTED_PID")" "4096 4096"
    rc_is "chuted stops cleanly" 0 stop_chuted raised
else
    ok "# SKIP the hard limit on open files here ($hard) is below 4096"
    ok "# SKIP chuted stops cleanly"
fi

# a tree of 20 x 20 directories (two small files in each), a comb 16 deep
# with 9 more directories at each level (the walk lists ahead up to 8 per
# level on its way down: 128 open directories, were they not bounded) and
# two big files
SRC=$T_TMP/src
python3 - "$SRC" <<'PY'
import os, sys
top = sys.argv[1]
d = os.path.join(top, "comb")
for level in range(16):
    for k in range(1, 10):
        os.makedirs(os.path.join(d, "s%d" % k))
        with open(os.path.join(d, "s%d" % k, "f"), "w") as f:
            f.write("%d %d\n" % (level, k))
    d = os.path.join(d, "s0")
os.makedirs(d)
for i in range(20):
    for j in range(20):
        d = os.path.join(top, "d%02d" % i, "e%02d" % j)
        os.makedirs(d)
        for k in range(2):
            with open(os.path.join(d, "f%d" % k), "w") as f:
                f.write("%d %d %d\n" % (i, j, k) * (50 + 7 * j))
for n in ("big1", "big2"):
    with open(os.path.join(top, n), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024))
PY

node_init tight
node_api_listen tight
CHUTED=$(limited 64 64) start_chuted tight || bail_out "chuted did not start with 64 open files"
is "held to 64 open files" "$(nofile "$CHUTED_PID")" "64 64"
rc_is "add the tree" 0 ctl add "$SRC"
rc_is "snapshot of 580 directories" 0 ctl snapshot "$SRC"
# a change, snapshotted again (the file cache, the index and the packs open)
before=$(ctl snapshots | grep -c .)
echo "changed" >> "$SRC/d07/e13/f1"
rc_is "a second snapshot" 0 ctl snapshot "$SRC"
after=$(ctl snapshots | grep -c .)
check "the second snapshot is listed" [ "$after" -gt "$before" ]
rc_is "restore latest" 0 ctl restore latest "$T_TMP/restored"
check "the restored tree is the tree" diff -r "$SRC" "$T_TMP/restored"
if grep -q "Too many open files" "$T_TMP/tight/chuted.log"; then not_ok "no EMFILE in the log"; else ok "no EMFILE in the log"; fi
check "chuted still runs" kill -0 "$CHUTED_PID"

# out of open files because of 100 idle API connections: the listeners
# pause a second at a time instead of calling accept() in a loop, and
# accept again once the connections go
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
python3 - "$API_PORT" "$T_TMP/flood.ready" "$T_TMP/flood.stop" <<'PY' &
import os, socket, sys, time
port, ready, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
held = []
for _ in range(100):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        break
    held.append(s)
open(ready, "w").close()
while not os.path.exists(stop):
    time.sleep(0.05)
PY
FLOOD=$!
T_PIDS+=("$FLOOD")
wait_until 10 test -e "$T_TMP/flood.ready" || diag "the connections were not all made"
sleep 1
t0=$(cpu_ticks "$CHUTED_PID")
sleep 3
t1=$(cpu_ticks "$CHUTED_PID")
tck=$(getconf CLK_TCK)
used=$(( (t1 - t0) * 1000 / tck ))
if [ "$used" -lt 600 ]; then ok "out of open files, chuted does not spin on accept ($used ms of CPU in 3 s)"
else not_ok "out of open files, chuted does not spin on accept ($used ms of CPU in 3 s)"; fi
check "... and says it pauses" grep -q "Cannot accept HTTP API connections, pausing a second" "$T_TMP/tight/chuted.log"
touch "$T_TMP/flood.stop"
wait "$FLOOD" 2>/dev/null
check "with the connections gone, the API answers again" wait_until 10 \
    curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$T_TMP/tight/state/api-token")" \
    "http://127.0.0.1:$API_PORT/v1/status"
rc_is "chuted stops cleanly" 0 stop_chuted tight
done_testing
