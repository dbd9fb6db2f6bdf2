#!/bin/bash
# SPDX-License-Identifier: MIT
# Excludes in continuous snapshots, against a real chuted: a root pattern
# (chutectl add --exclude 'cache/'), a .chuteignore (*.tmp) and a directory
# with a valid CACHEDIR.TAG leave their paths out of the automatic and the
# requested snapshots; an invalid tag excludes nothing; a .chuteignore or a
# CACHEDIR.TAG that appears later takes effect in the next snapshot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"

SIG="Signature: 8a477f597d28d172789f06886806bc55"
SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/cache" "$SRC/sub/cache" "$SRC/notdir" "$SRC/build/obj" "$SRC/fake" "$SRC/logs"
echo kept > "$SRC/keep.txt"
echo c > "$SRC/cache/blob"
echo c > "$SRC/sub/cache/blob"
echo "a file named cache" > "$SRC/notdir/cache"
echo '*.tmp' > "$SRC/.chuteignore"
echo t > "$SRC/a.tmp"
echo t > "$SRC/sub/b.tmp"
echo kept > "$SRC/sub/b.txt"
printf '%s\n# This file is a cache directory tag.\n' "$SIG" > "$SRC/build/CACHEDIR.TAG"
echo o > "$SRC/build/obj/x.o"
printf 'Signature: not the right one\n' > "$SRC/fake/CACHEDIR.TAG"
echo kept > "$SRC/fake/data"
echo l > "$SRC/logs/x.log"

# absent LISTING PATH...: none of the paths is listed (a path or its prefix)
excluded() {
    local desc=$1 file=$2 p bad=""; shift 2
    for p in "$@"; do grep -qE "^$p( |/)" "$file" && bad="$bad $p"; done
    if [ -z "$bad" ]; then ok "$desc"; else not_ok "$desc"; diag "listed:$bad"; fi
}
listed() {
    local desc=$1 file=$2 p missing=""; shift 2
    for p in "$@"; do grep -qE "^$p " "$file" || missing="$missing $p"; done
    if [ -z "$missing" ]; then ok "$desc"; else not_ok "$desc"; diag "missing:$missing"; fi
}

node_init n
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
check "add the root with --exclude 'cache/'" ctl add "$SRC" --exclude 'cache/'
waited "the first automatic snapshot exists" 10 cat_is "$SRC/keep.txt" kept || log_tail
settle "$SRC" 10 || diag "the root did not settle after the first snapshot"
snap_listing latest "$T_TMP/l1"
excluded "first snapshot: cache/ (any depth), *.tmp and the tagged directory's content are left out" "$T_TMP/l1" \
    cache sub/cache a.tmp sub/b.tmp build/obj build/obj/x.o
listed "first snapshot: everything else is in" "$T_TMP/l1" \
    keep.txt notdir/cache sub/b.txt fake/CACHEDIR.TAG fake/data logs/x.log

# changes to excluded and kept paths: the automatic snapshot takes only the kept
OLD=$(latest_id "$SRC")
echo new > "$SRC/cache/new"
echo new > "$SRC/sub/c.tmp"
echo new > "$SRC/build/obj/y.o"
echo new > "$SRC/sub/new.txt"
waited "a kept change reaches an automatic snapshot within 5 s" 5 cat_is "$SRC/sub/new.txt" new
settle "$SRC" 10 || diag "the root did not settle"
snap_listing latest "$T_TMP/l2"
excluded "automatic snapshot: new excluded files are left out" "$T_TMP/l2" cache sub/c.tmp build/obj
# excluded changes alone make no snapshot
OLD=$(latest_id "$SRC")
echo more > "$SRC/cache/more"
echo more > "$SRC/a.tmp"
sleep 0.1
settle "$SRC" 10 || diag "the root did not settle"
is "changes only to excluded paths make no new snapshot" "$(latest_id "$SRC")" "$OLD"

# a .chuteignore and a CACHEDIR.TAG that appear later
echo '*.log' > "$SRC/logs/.chuteignore"
printf '%s\n' "$SIG" > "$SRC/fake/CACHEDIR.TAG"
waited "a new .chuteignore and a newly valid tag: a snapshot within 5 s" 5 new_snapshot "$SRC" "$OLD"
settle "$SRC" 10 || diag "the root did not settle"
snap_listing latest "$T_TMP/l3"
excluded "a .chuteignore made later excludes what was there before" "$T_TMP/l3" logs/x.log
excluded "a tag made valid later excludes its directory's content" "$T_TMP/l3" fake/data

# a requested snapshot (full walk) agrees
check "a requested snapshot" ctl snapshot "$SRC"
snap_listing latest "$T_TMP/l4"
same "the requested snapshot lists what the automatic one does" "$T_TMP/l3" "$T_TMP/l4"

kill -0 "$CHUTED_PID" 2>/dev/null && ok "chuted still runs" || not_ok "chuted still runs"
done_testing
