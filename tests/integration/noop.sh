#!/bin/bash
# SPDX-License-Identifier: MIT
# A snapshot of an unchanged 20,000-file tree reads no file content, in the
# same run and after a daemon restart (the file cache survives); after 3
# files change, exactly those 3 are read. (10,000 files in the sanitizer
# suites: the point there is memory and threads, not volume.)
. "$(dirname "$0")/lib.sh"
need jq python3 sqlite3 getfattr setfattr

SRC=$T_TMP/src
DIRS=200
[ -n "${CHUTE_SANITIZER_SUITE:-}" ] && DIRS=100
N=$((DIRS * 100))
LAST=$(printf 'd%03d' $((DIRS - 1)))
python3 - "$SRC" "$DIRS" <<'EOF'
import os, sys
top = sys.argv[1]
for d in range(int(sys.argv[2])):
    dd = os.path.join(top, "d%03d" % d)
    os.makedirs(dd)
    for f in range(100):
        fd = os.open(os.path.join(dd, "f%02d" % f), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b"file %d/%d\n" % (d, f) * (1 + (d * 100 + f) % 7))
        os.close(fd)
EOF
n=$(find "$SRC" -type f | wc -l)
is "generated $N files" "$n" "$N"
# files written in the last instants may be treated as "racily clean" and
# read again by a careful cache; a user's tree is older than that
sleep 1.2

# field FILE NAME: a field of the snapshot in a `snapshot --json` document
field() { jq -r "if type == \"array\" then .[0].$2 else .$2 end" "$1" 2>/dev/null; }
# take NAME: snapshot --json of the root into $T_TMP/NAME.json, timing it
take() {
    local t0=$(date +%s%N)
    rc_is "snapshot --json ($1)" 0 ctl --json snapshot "$SRC"
    cp "$T_TMP/last.out" "$T_TMP/$1.json"
    diag "$1: $(( ($(date +%s%N) - t0) / 1000000 )) ms, files $(field "$T_TMP/$1.json" files), files_read $(field "$T_TMP/$1.json" files_read), new_bytes $(field "$T_TMP/$1.json" new_bytes)"
}

node_init n
# no automatic snapshots during the test: every snapshot here is one we take
node_conf n watch "quiet_period = 1h" "max_delay = 2h"
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the tree" 0 ctl add "$SRC"
take first
is "first snapshot: files" "$(field "$T_TMP/first.json" files)" "$N"
is "first snapshot: errors" "$(field "$T_TMP/first.json" errors)" 0

take again
is "unchanged tree, same run: files_read is 0" "$(field "$T_TMP/again.json" files_read)" 0
is "unchanged tree, same run: files is still $N" "$(field "$T_TMP/again.json" files)" "$N"

stop_chuted n || true
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
take restarted
is "unchanged tree after a restart: files_read is 0" "$(field "$T_TMP/restarted.json" files_read)" 0
is "unchanged tree after a restart: files is still $N" "$(field "$T_TMP/restarted.json" files)" "$N"
nb=$(field "$T_TMP/restarted.json" new_bytes)
if [ -n "$nb" ] && [ "$nb" != null ] && [ "$nb" -lt 1048576 ]; then ok "unchanged tree: new_bytes is small ($nb)"; else not_ok "unchanged tree: new_bytes is small ($nb)"; fi

echo "changed one" >> "$SRC/d000/f00"
echo "changed two" > "$SRC/d041/f50"
size=$(stat -c %s "$SRC/$LAST/f99")
head -c "$size" /dev/zero | tr '\0' S > "$SRC/$LAST/f99"   # same size, new content
take changed
is "3 files changed: files_read is 3" "$(field "$T_TMP/changed.json" files_read)" 3
is "3 files changed: files is still $N" "$(field "$T_TMP/changed.json" files)" "$N"
is "3 files changed: errors" "$(field "$T_TMP/changed.json" errors)" 0

rc_is "snapshots --json --root" 0 ctl --json snapshots --root "$SRC"
jq_is "snapshots lists the 4 snapshots, with the new id" "$T_TMP/last.out" \
    "length >= 4 and (map(.id) | index([\"$(field "$T_TMP/changed.json" id)\"]) != null)"
rc_is "cat latest:d041/f50" 0 ctl cat latest:d041/f50
is "latest has the new content" "$(cat "$T_TMP/last.out")" "changed two"

# ---- changes made while chuted was down: the start-up full walk joins each
# directory's listing with that directory's file-cache rows ----
sleep 1.2
take settle   # the 3 files just changed were "racily clean": read once more, now settled
rows() { sqlite3 "$NODE_DIR/state/index.db" "SELECT count(*) FROM file_cache WHERE $1"; }
n_snaps() { ctl --json snapshots --root "$SRC" | jq length; }
BEFORE=$(n_snaps)
is "the file cache has a row per file" "$(rows 1)" "$N"
stop_chuted n
rm -rf "$SRC/d050"                                      # a directory gone
rm -f "$SRC/d060/f01"                                   # a file gone
rm -f "$SRC/d070/f02"; mkdir "$SRC/d070/f02"; echo inside > "$SRC/d070/f02/x"   # a file now a directory
echo "while down" >> "$SRC/d080/f03"                    # changed
mkdir "$SRC/d090/new"; echo fresh > "$SRC/d090/new/y"   # new
sleep 1.2
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
# the start-up scan is a full walk
for _ in $(seq 1 300); do [ "$(n_snaps)" -gt "$BEFORE" ] && break; sleep 0.2; done
ctl --json snapshots --root "$SRC" | jq '[.[-1]]' > "$T_TMP/down.json"
is "the start-up scan after changes while down: files_read is 3 (changed, new, in the new directory)" \
    "$(field "$T_TMP/down.json" files_read)" 3
is "... files" "$(field "$T_TMP/down.json" files)" $((N - 100))
is "the gone directory's rows are forgotten" "$(rows "CAST(path AS TEXT) LIKE 'd050/%'"):$(rows "CAST(path AS TEXT) LIKE 'd051/%'")" 0:100
is "the gone file's row is forgotten" "$(rows "CAST(path AS TEXT) IN ('d060/f01', 'd060/f02')")" 1
is "the file that became a directory: its row is forgotten, the file inside has one" \
    "$(rows "CAST(path AS TEXT) = 'd070/f02'"):$(rows "CAST(path AS TEXT) = 'd070/f02/x'")" 0:1
is "the file cache has a row per file" "$(rows 1)" $((N - 100))
rc_is "cat latest:d080/f03" 0 ctl cat latest:d080/f03
check "... the change made while down" grep -q "while down" "$T_TMP/last.out"
take again-after-down
is "then nothing is read" "$(field "$T_TMP/again-after-down.json" files_read)" 0

# ---- extended attributes: a file's are read with its content when it is read,
# and by the walk only when the file cache does not say it had none ----
xattr_of() { rm -rf "$T_TMP/x"; ctl restore latest "$T_TMP/x" >/dev/null && getfattr --only-values -n user.chute "$T_TMP/x/$1" 2>/dev/null; }
rc_is "setfattr user.chute" 0 setfattr -n user.chute -v one "$SRC/d011/f01"
take xattr
is "an extended attribute set: the file is read again (its ctime moved)" "$(field "$T_TMP/xattr.json" files_read)" 1
is "... and the snapshot has it" "$(xattr_of d011/f01)" one
sleep 1.2
take xattr-settle
stop_chuted n
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
take xattr-restart
is "after a restart, the unchanged file is not read" "$(field "$T_TMP/xattr-restart.json" files_read)" 0
is "... and the snapshot still has its extended attribute" "$(xattr_of d011/f01)" one
check "... and a file without any still has none" test -z "$(getfattr -d "$T_TMP/x/d011/f02" 2>/dev/null)"
chuted_alive "chuted still runs"
done_testing
