#!/bin/bash
# SPDX-License-Identifier: MIT
# An event flood against a real chuted: for 8 s, up to 50,000
# creates, writes and deletes (and renames and subtree deletions at the
# end) with [watch] max_delay = 3s, so the flood outlasts the maximum delay
# a few times. It must become a handful of snapshots (about one per
# max_delay), and once it settles the latest automatic snapshot is the real
# tree: as listed, as a requested full walk sees it, and as restored.
# (A certain inotify queue overflow: continuous-overflow.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"
need rsync

SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/flood" "$SRC/other"
echo a > "$SRC/other/a"

node_init n
cat >> "$NODE_DIR/chuted.conf" <<EOC
[watch]
quiet_period = 2s
max_delay = 3s
EOC
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot exists" 10 cat_is "$SRC/other/a" a || log_tail
settle "$SRC" 10 || diag "the root did not settle after the first snapshot"

BEFORE=$(snap_count "$SRC")
FLOOD_T0=$(now_ms)
python3 - "$SRC/flood" > "$T_TMP/flood.out" <<'PY'
import os, shutil, sys, time
top = sys.argv[1]
start = time.monotonic()
end = start + 8
for d in range(50):
    os.mkdir(os.path.join(top, "d%02d" % d))
def path(i):
    return os.path.join(top, "d%02d" % (i % 50), "f%05d" % (i // 50))
creates = writes = deletes = 0
i = 0
# create up to 50,000 files; append to every 4th a little later; delete
# 9 in 10 a little later still; then keep appending until 8 s are over
# and at least 10,000 writes are made (25 s at most, on a slow machine)
while (time.monotonic() < end or writes < 10000) and time.monotonic() < start + 25:
    if i < 50000:
        with open(path(i), "w") as f:
            f.write("v1 %d\n" % i)
        creates += 1
        writes += 1
        j = i - 100
        if j >= 0 and j % 4 == 0:
            with open(path(j), "a") as f:
                f.write("v2\n")
            writes += 1
        j = i - 200
        if j >= 0 and j % 10:
            os.unlink(path(j))
            deletes += 1
    else:
        j = (i % 5000) * 10  # the files that stay
        if j < 50000:
            with open(path(j), "a") as f:
                f.write("v3\n")
            writes += 1
    i += 1
for d in range(5):
    os.rename(os.path.join(top, "d%02d" % d), os.path.join(top, "r%02d" % d))
for d in range(45, 50):
    shutil.rmtree(os.path.join(top, "d%02d" % d))
print("%d %d %d %.1f" % (creates, writes, deletes, time.monotonic() - start))
PY
read -r CREATES WRITES DELETES SECS < "$T_TMP/flood.out"
diag "flood: $CREATES creates, $WRITES writes, $DELETES deletes in $SECS s"
[ "${WRITES:-0}" -ge 10000 ] && ok "the flood made at least 10,000 writes ($WRITES)" ||
    not_ok "the flood made at least 10,000 writes (got ${WRITES:-none})"
settle "$SRC" $((30 * T_SLOW)) && ok "the flood settles" || { not_ok "the flood settles"; log_tail; }
AFTER=$(snap_count "$SRC")
N=$((AFTER - BEFORE))
# about one snapshot per max_delay (3 s) while chuted sees the flood, and
# one after: from its start until it settled, as chuted may take the events
# in later than the writer made them (under a sanitizer, beside another test)
SETTLED_S=$(( ($(now_ms) - FLOOD_T0) / 1000 ))
MAXN=$((SETTLED_S / 3 + 3))
diag "$WRITES writes in $SECS s made $N snapshots; settled after $SETTLED_S s"
check "the flood made a handful of snapshots, about one per max_delay ($N, want 1..$MAXN)" \
    [ "$N" -ge 1 -a "$N" -le "$MAXN" ]
[ "$N" -le 10 ] || grep -c 'info: Snapshot ' "$NODE_DIR/chuted.log" | sed 's/^/#   snapshot lines in the log: /'

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
is "status: one watch per directory after the flood" "$(root_status "$SRC" watches)" "$(find "$SRC" -type d | wc -l)"

kill -0 "$CHUTED_PID" 2>/dev/null && ok "chuted still runs" || not_ok "chuted still runs"
done_testing
