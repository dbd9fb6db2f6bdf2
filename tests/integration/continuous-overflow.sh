#!/bin/bash
# SPDX-License-Identifier: MIT
# A certain inotify queue overflow against a real chuted (default [watch]
# settings): chuted is stopped with SIGSTOP while more events happen than
# fs.inotify.max_queued_events holds, and the changes made last (a write, a
# chmod, a delete, a new directory tree, a renamed directory) are lost from
# the queue. After SIGCONT the rescan must still put them all in the next
# automatic snapshot, equal to a requested full walk and to the restored
# tree, and changes in the new and renamed directories must be seen later.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"
need rsync

SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/noise"
echo a > "$SRC/noise/a"
echo b > "$SRC/noise/b"
OUTSIDE=$(realpath -m "$T_TMP/outside")
mkdir -p "$OUTSIDE"
for d in 20 21 22 23 24; do
    mkdir -p "$SRC/flood/d$d"
    for i in 0 1 2 3 4 5 6 7 8 9; do echo "v1 $d $i" > "$SRC/flood/d$d/f$i"; done
done

node_init n
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot exists" 10 cat_is "$SRC/noise/a" a || log_tail
settle "$SRC" 10 || diag "the root did not settle after the first snapshot"

BEFORE=$(snap_count "$SRC")
QMAX=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 16384)
kill -STOP "$CHUTED_PID"
python3 - "$SRC" "$QMAX" "$OUTSIDE" <<'PY'
import os, sys
top, qmax, outside = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# more attribute events than the queue holds (on alternating files, so the
# kernel cannot merge them) ...
for i in range(qmax + 4000):
    t = (i + 1) * 10**9
    os.utime(os.path.join(top, "noise", "ab"[i % 2]), ns=(t, t))
# ... so these changes, made last, are not in the queue
with open(os.path.join(top, "flood", "d20", "f1"), "w") as f:
    f.write("changed while the queue was full\n")
os.chmod(os.path.join(top, "flood", "d21", "f2"), 0o600)
os.unlink(os.path.join(top, "flood", "d22", "f3"))
os.makedirs(os.path.join(top, "flood", "late", "deeper"))
with open(os.path.join(top, "flood", "late", "deeper", "new"), "w") as f:
    f.write("new\n")
os.rename(os.path.join(top, "flood", "d23"), os.path.join(top, "flood", "moved23"))
os.rename(os.path.join(top, "flood", "d24"), os.path.join(outside, "d24"))
PY
kill -CONT "$CHUTED_PID"
waited "chuted sees the queue overflow (log)" 5 grep -q 'inotify event queue overflowed' "$NODE_DIR/chuted.log"
settle "$SRC" 20 && ok "the overflow settles" || { not_ok "the overflow settles"; log_tail; }
N=$(( $(snap_count "$SRC") - BEFORE ))
[ "$N" -ge 1 ] && [ "$N" -le 3 ] && ok "the overflow made 1..3 snapshots ($N)" ||
    not_ok "the overflow made 1..3 snapshots (got $N)"
is "a write lost from the queue is in the latest snapshot" \
    "$(ctl cat "latest:$SRC/flood/d20/f1" 2>&1)" "changed while the queue was full"
is "a directory tree made after the overflow is in the latest snapshot" \
    "$(ctl cat "latest:$SRC/flood/late/deeper/new" 2>&1)" "new"

tree_listing "$SRC" "$T_TMP/real"
snap_listing latest "$T_TMP/auto" || diag "ls -R latest failed"
same "the latest automatic snapshot lists exactly the real tree" "$T_TMP/real" "$T_TMP/auto"
check "restore the latest automatic snapshot" ctl restore latest "$T_TMP/restore"
check "diff -r of the restored tree and the source" diff -r "$SRC" "$T_TMP/restore"
rsync -naHAXc --delete -i "$SRC/" "$T_TMP/restore/" > "$T_TMP/rsync" 2>&1
if [ -s "$T_TMP/rsync" ]; then
    not_ok "rsync -naHAXc finds no difference (content, modes, times)"
    head -20 "$T_TMP/rsync" | sed 's/^/#   /'
else
    ok "rsync -naHAXc finds no difference (content, modes, times)"
fi
check "a requested snapshot (full walk)" ctl snapshot "$SRC"
snap_listing latest "$T_TMP/full" || diag "ls -R latest failed"
same "the automatic snapshot equals a requested full walk" "$T_TMP/auto" "$T_TMP/full"

# after the rescan the watches must match the tree again: a change below the
# renamed and below the new directory is seen like any other
echo "after" > "$SRC/flood/late/deeper/new2"
check "a file added in a directory made during the overflow reaches a snapshot within 5 s" \
    wait_until $((5 * T_SLOW)) cat_is "$SRC/flood/late/deeper/new2" after
settle "$SRC" 10 || diag "the root did not settle"
echo "after" > "$SRC/flood/moved23/f0"
check "a change in a directory renamed during the overflow reaches a snapshot within 5 s" \
    wait_until $((5 * T_SLOW)) cat_is "$SRC/flood/moved23/f0" after
settle "$SRC" 10 || diag "the root did not settle"
W=$(root_status "$SRC" watches)
D=$(find "$SRC" -type d | wc -l)
diag "watches: $W, directories: $D"
is "status: one watch per directory after the overflow (none left on the one moved out)" "$W" "$D"
BEFORE=$(snap_count "$SRC")
echo "outside" > "$OUTSIDE/d24/f0"
sleep 4
is "a change in the directory moved out of the root during the overflow makes no snapshot" \
    "$(snap_count "$SRC")" "$BEFORE"

kill -0 "$CHUTED_PID" 2>/dev/null && ok "chuted still runs" || not_ok "chuted still runs"
done_testing
