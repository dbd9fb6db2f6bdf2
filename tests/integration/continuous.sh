#!/bin/bash
# SPDX-License-Identifier: MIT
# Continuous protection with the default [watch] settings, against a real
# chuted: a changed file, a new deep directory, a renamed directory, a
# deleted subtree and a chmod each reach the next snapshot within seconds,
# without a request; status shows the root watching with a watch per
# directory. (Flood, restart, root loss, debounce and excludes: the other
# continuous-*.sh scripts.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"

SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/docs/old" "$SRC/junk/x/y"
echo "first" > "$SRC/docs/note.txt"
echo "kept" > "$SRC/docs/old/kept.txt"
echo "junk" > "$SRC/junk/x/y/z.txt"
echo "script" > "$SRC/run.sh"
chmod 644 "$SRC/run.sh"

node_init n # default [watch] settings: quiet_period 2s, max_delay 60s
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot exists" 10 cat_is "$SRC/docs/note.txt" first || log_tail
settle "$SRC" 10 || diag "the root did not settle after the first snapshot"

# status: watching, one watch per directory
is "status: the root is watching" "$(root_status "$SRC" state)" watching
W=$(root_status "$SRC" watches)
[ "${W:-0}" -gt 0 ] 2>/dev/null && ok "status: watches > 0 ($W)" || not_ok "status: watches > 0 (got '$W')"
is "status: one watch per directory" "$W" "$(find "$SRC" -type d | wc -l)"
is "status: nothing pending when idle" "$(root_status "$SRC" pending)" 0

# 1. a changed file is in a snapshot within 5 s, nothing asked
echo "second" > "$SRC/docs/note.txt"
waited "changed file: latest has the new content within 5 s" 5 cat_is "$SRC/docs/note.txt" second || log_tail

# 2. a deep new directory made and filled in one command
settle "$SRC" 10 || diag "the root did not settle"
OLD=$(latest_id "$SRC")
mkdir -p "$SRC/a/b/c" && echo x > "$SRC/a/b/c/f"
waited "mkdir -p a/b/c && echo x > a/b/c/f: a new snapshot within 5 s" 5 new_snapshot "$SRC" "$OLD"
is "a/b/c/f is in the next snapshot" "$(ctl cat "latest:$SRC/a/b/c/f" 2>&1)" x
settle "$SRC" 10 || diag "the root did not settle"
is "status: the new directories are watched" "$(root_status "$SRC" watches)" "$(find "$SRC" -type d | wc -l)"

# 2b. and a file added later in that new directory (its watch works)
echo y > "$SRC/a/b/c/g"
waited "a file later added to the new directory is in a snapshot within 5 s" 5 cat_is "$SRC/a/b/c/g" y

# 3a. a renamed directory: the new name, not the old one
settle "$SRC" 10 || diag "the root did not settle"
OLD=$(latest_id "$SRC")
mv "$SRC/docs" "$SRC/papers"
waited "rename a directory: a new snapshot within 5 s" 5 new_snapshot "$SRC" "$OLD"
snap_listing latest "$T_TMP/l1"
grep -q '^papers/old/kept.txt file ' "$T_TMP/l1" && ok "rename: the new name is listed with its content" ||
    { not_ok "rename: the new name is listed with its content"; sed 's/^/#   /' "$T_TMP/l1"; }
grep -q '^docs[/ ]' "$T_TMP/l1" && not_ok "rename: the old name is gone" || ok "rename: the old name is gone"
is "rename: content under the new name" "$(ctl cat "latest:$SRC/papers/note.txt" 2>&1)" second
echo "after move" > "$SRC/papers/old/moved.txt"
waited "a file added below the renamed directory is in a snapshot within 5 s" 5 \
    cat_is "$SRC/papers/old/moved.txt" "after move"

# 3b. a deleted subtree is gone from the next snapshot
settle "$SRC" 10 || diag "the root did not settle"
OLD=$(latest_id "$SRC")
rm -rf "$SRC/junk"
waited "delete a subtree: a new snapshot within 5 s" 5 new_snapshot "$SRC" "$OLD"
snap_listing latest "$T_TMP/l2"
grep -q '^junk[/ ]' "$T_TMP/l2" && { not_ok "delete: the subtree is gone"; grep '^junk' "$T_TMP/l2" | sed 's/^/#   /'; } ||
    ok "delete: the subtree is gone"

# 3c. chmod of a file: the new mode
settle "$SRC" 10 || diag "the root did not settle"
OLD=$(latest_id "$SRC")
chmod 750 "$SRC/run.sh"
waited "chmod a file: a new snapshot within 5 s" 5 new_snapshot "$SRC" "$OLD"
snap_listing latest "$T_TMP/l3"
is "chmod: the new mode is in the snapshot" "$(awk '$1 == "run.sh" { print $4 }' "$T_TMP/l3")" 750

# the latest automatic snapshot is the real tree
settle "$SRC" 10 || diag "the root did not settle"
tree_listing "$SRC" "$T_TMP/real"
snap_listing latest "$T_TMP/auto"
same "the latest automatic snapshot lists exactly the real tree" "$T_TMP/real" "$T_TMP/auto"
is "status: watches follow renames and deletions" "$(root_status "$SRC" watches)" "$(find "$SRC" -type d | wc -l)"

kill -0 "$CHUTED_PID" 2>/dev/null && ok "chuted still runs" || not_ok "chuted still runs"
grep -E 'error|failed' "$NODE_DIR/chuted.log" | grep -v 'errors' | sed 's/^/#   log: /' | head -5
done_testing
