#!/bin/bash
# SPDX-License-Identifier: MIT
# A file with two names in two directories, changed through one of them
# while chuted watches. inotify reports the change to that directory only,
# so the automatic snapshot that follows reads the file there and keeps the
# other directory's listing from the parent snapshot: the two names may be
# recorded with different content. Then:
# - a restore gives every name the content recorded for it (a name is
#   hard-linked to the group's first only when their content is the same);
# - a full walk follows on its own, and its snapshot records the new
#   content under both names, restored as one file with two names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"

SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/a" "$SRC/b"
echo "one" > "$SRC/a/x"
ln "$SRC/a/x" "$SRC/b/x"
echo "other" > "$SRC/a/other"

node_init n # default [watch] settings: quiet_period 2s
start_chuted n || bail_out "chuted did not start"
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot" 10 cat_is "$SRC/b/x" one || log_tail
settle "$SRC" 10 || diag "the root did not settle after the first snapshot"
FIRST=$(latest_id "$SRC")

# changed through b/x only: a new snapshot (or two) within a few seconds
echo "two" > "$SRC/b/x"
waited "the change through b/x reaches a snapshot" 10 cat_is "$SRC/b/x" two || log_tail
IDS=$(snap_ids "$SRC")
# the snapshot that first has b/x = two: what does it record for a/x?
for id in $IDS; do
    [ "$(ctl cat "$id:$SRC/b/x" 2>/dev/null)" = two ] && { SECOND=$id; break; }
done
check "found the snapshot with the change" test -n "${SECOND:-}"
A_REC=$(ctl cat "$SECOND:$SRC/a/x")
diag "a/x as recorded by that snapshot: $A_REC"
rm -rf "$T_TMP/r1"
rc_is "restore that snapshot" 0 ctl restore "$SECOND" "$T_TMP/r1"
is "b/x restored with the content recorded for it" "$(cat "$T_TMP/r1/b/x")" two
is "a/x restored with the content recorded for it" "$(cat "$T_TMP/r1/a/x")" "$A_REC"
if [ "$A_REC" = two ]; then
    is "... the same content: one file with two names" "$(stat -c %i "$T_TMP/r1/b/x")" "$(stat -c %i "$T_TMP/r1/a/x")"
else
    check "... other content: the log says the link was not kept" grep -q "recorded as a hard link of .* but with other content" "$NODE_DIR/chuted.log"
fi

# a full walk follows without a request: a later snapshot records two under both names
waited "a later snapshot records the new content under a/x too" 15 cat_is "$SRC/a/x" two || log_tail
rm -rf "$T_TMP/r2"
rc_is "restore latest" 0 ctl restore "latest:$SRC" "$T_TMP/r2"
is "both names have the new content" "$(cat "$T_TMP/r2/a/x") $(cat "$T_TMP/r2/b/x")" "two two"
is "... as one file with two names" "$(stat -c %i "$T_TMP/r2/b/x")" "$(stat -c %i "$T_TMP/r2/a/x")"
check "the first snapshot is untouched" test "$(ctl cat "$FIRST:$SRC/a/x")" = one
done_testing
