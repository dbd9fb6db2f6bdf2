#!/bin/bash
# SPDX-License-Identifier: MIT
# What happens while chuted does not see: changes made while it is stopped
# (modified, added, deleted files, a new directory, a chmod) are in a
# snapshot soon after it starts, without any request (the start-up scan);
# a root deleted while watched is "unavailable" (its snapshots kept) and,
# once recreated, "watching" again with a snapshot of its new content.
# Default [watch] settings.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"

SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/sub"
echo "one" > "$SRC/modified"
echo "gone soon" > "$SRC/deleted"
echo "gone too" > "$SRC/sub/deleted2"
echo "same" > "$SRC/unchanged"
chmod 644 "$SRC/unchanged"

node_init n
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot exists" 10 cat_is "$SRC/modified" one || log_tail
settle "$SRC" 10 || diag "the root did not settle after the first snapshot"

# ---- 5. changes while chuted is stopped
# stopped DESC: stop_chuted n in this shell (a subshell cannot wait for chuted)
stopped() { local rc=0; stop_chuted n || rc=$?; is "$1 (exit status)" "$rc" 0; }
stopped "chuted stops on SIGTERM"
echo "two" > "$SRC/modified"
touch -d '2020-01-01 00:00:00' "$SRC/modified" # an old mtime must not hide it: the size and ctime differ
echo "new" > "$SRC/added"
mkdir -p "$SRC/newdir/deep"
echo "deep" > "$SRC/newdir/deep/file"
rm "$SRC/deleted" "$SRC/sub/deleted2"
chmod 600 "$SRC/unchanged"
start_chuted n || { not_ok "chuted starts again"; done_testing; exit; }
waited "after a restart, a snapshot with the changes exists within 5 s, unasked" 5 \
    cat_is "$SRC/newdir/deep/file" deep || log_tail
settle "$SRC" 10 || diag "the root did not settle"
is "restart: the modified file has its new content" "$(ctl cat "latest:$SRC/modified" 2>&1)" two
is "restart: the added file is there" "$(ctl cat "latest:$SRC/added" 2>&1)" new
snap_listing latest "$T_TMP/l1"
grep -qE '^(deleted|sub/deleted2) ' "$T_TMP/l1" && not_ok "restart: the deleted files are gone" ||
    ok "restart: the deleted files are gone"
is "restart: the new mode is there" "$(awk '$1 == "unchanged" { print $4 }' "$T_TMP/l1")" 600
tree_listing "$SRC" "$T_TMP/real"
same "restart: the snapshot lists exactly the real tree" "$T_TMP/real" "$T_TMP/l1"
N=$(snap_count "$SRC")
is "restart: exactly one new snapshot" "$N" 2

# and a restart with nothing changed makes no snapshot
stopped "chuted stops again"
start_chuted n || { not_ok "chuted starts a third time"; done_testing; exit; }
settle "$SRC" 10 || diag "the root did not settle"
grep -q "Nothing changed in $SRC" "$NODE_DIR/chuted.log" && ok "restart without changes: the start-up scan ran" ||
    not_ok "restart without changes: the start-up scan ran"
is "restart without changes: no new snapshot" "$(snap_count "$SRC")" 2
is "status: watching after the restart" "$(root_status "$SRC" state)" watching

# ---- 7. the root deleted and recreated
LAST=$(latest_id "$SRC")
rm -rf "$SRC"
waited "root deleted: status says unavailable within 3 s" 3 root_state_is "$SRC" unavailable ||
    diag "state: $(root_status "$SRC" state)"
is "root deleted: its snapshots are kept" "$(snap_count "$SRC")" 2
is "root deleted: no snapshot of the empty or missing root" "$(latest_id "$SRC")" "$LAST"
is "root deleted: latest still has its files" "$(ctl cat "latest:$SRC/added" 2>&1)" new
mkdir "$SRC"
echo y > "$SRC/g"
waited "root recreated: status says watching within 10 s" 10 root_state_is "$SRC" watching ||
    diag "state: $(root_status "$SRC" state)"
waited "root recreated: a snapshot with g exists within 10 s" 10 cat_is "$SRC/g" y || log_tail
snap_listing latest "$T_TMP/l2"
is "root recreated: the snapshot lists exactly the new content" "$(cat "$T_TMP/l2" | cut -d' ' -f1-3)" "g file 2"
W=$(root_status "$SRC" watches)
[ "${W:-0}" -gt 0 ] 2>/dev/null && ok "root recreated: watches > 0 ($W)" || not_ok "root recreated: watches > 0 (got '$W')"
settle "$SRC" 10 || diag "the root did not settle"
echo z > "$SRC/h"
waited "root recreated: a later change reaches a snapshot within 5 s" 5 cat_is "$SRC/h" z || log_tail

kill -0 "$CHUTED_PID" 2>/dev/null && ok "chuted still runs" || not_ok "chuted still runs"
done_testing
