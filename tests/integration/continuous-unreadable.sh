#!/bin/bash
# SPDX-License-Identifier: MIT
# An inotify queue overflow while a watched directory cannot be read (here
# chuted runs as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, and
# the directory has mode 000): the rescan cannot see below it, so it must
# not drop the watches it cannot confirm. Once the directory can be read
# again, a change below it is seen like any other. (Dropping them, a change
# there went unseen until a full walk.) A snapshot that found it unreadable
# recorded it empty; the next one walks it again, not reusing that tree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"
need setpriv python3

SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/noise" "$SRC/locked/inner/deeper"
echo a > "$SRC/noise/a"
echo b > "$SRC/noise/b"
echo v1 > "$SRC/locked/inner/deeper/f"

node_init n
CHUTED_WRAP=(setpriv --bounding-set -dac_override,-dac_read_search --)
start_chuted n || bail_out "chuted (without the DAC capabilities) did not start"
unset CHUTED_WRAP
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot exists" 10 cat_is "$SRC/locked/inner/deeper/f" v1 || log_tail
settle "$SRC" 10 || diag "the root did not settle after the first snapshot"
W=$(root_status "$SRC" watches)

chmod 000 "$SRC/locked"
QMAX=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 16384)
kill -STOP "$CHUTED_PID"
python3 - "$SRC" "$QMAX" <<'PY'
import os, sys
top, qmax = sys.argv[1], int(sys.argv[2])
for i in range(qmax + 4000):
    t = (i + 1) * 10**9
    os.utime(os.path.join(top, "noise", "ab"[i % 2]), ns=(t, t))
PY
kill -CONT "$CHUTED_PID"
waited "chuted sees the queue overflow (log)" 5 grep -q 'inotify event queue overflowed' "$NODE_DIR/chuted.log"
settle "$SRC" 20 || diag "the overflow did not settle"
is "the watches below the unreadable directory are kept" "$(root_status "$SRC" watches)" "$W"

chmod 755 "$SRC/locked"
settle "$SRC" 10 || diag "the root did not settle after the chmod"
echo v2 > "$SRC/locked/inner/deeper/f"
check "a change below the directory, readable again, reaches a snapshot within 5 s" \
    wait_until $((5 * T_SLOW)) cat_is "$SRC/locked/inner/deeper/f" v2

# a snapshot that cannot read a directory records it empty; once it can be
# read again, the next automatic snapshot walks it (nothing in it changed:
# only the chmod's own events say so), instead of reusing the empty tree
settle "$SRC" 10 || diag "the root did not settle after v2"
chmod 000 "$SRC/locked"
check "a requested snapshot with the directory unreadable" ctl snapshot "$SRC"
if cat_is "$SRC/locked/inner/deeper/f" v2; then not_ok "... records it empty"; else ok "... records it empty"; fi
settle "$SRC" 10 || diag "the root did not settle after the requested snapshot"
chmod 755 "$SRC/locked"
waited "readable again: the next automatic snapshot has what it holds" 5 \
    cat_is "$SRC/locked/inner/deeper/f" v2 || log_tail
kill -0 "$CHUTED_PID" 2>/dev/null && ok "chuted still runs" || not_ok "chuted still runs"
done_testing
