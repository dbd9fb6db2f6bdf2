#!/bin/bash
# SPDX-License-Identifier: MIT
# Path races against a daemon that may run as root, made deterministic with
# the test pause points (CHUTE_TEST_HOOK_DIR, daemon/test-hook.c):
# - snapshot: between the walk and the read, a file is renamed over by
#   another one and a directory is swapped for a symlink to elsewhere; the
#   snapshot must not store the new file under the old file's metadata, nor
#   the file the symlink reaches;
# - restore: after the directories are made and before the files are
#   written, a restored directory is swapped for a symlink to a directory
#   outside the target; nothing may be written, linked or chmod'ed there.
#   A symlink already in the target is replaced by --overwrite, not followed.
#   A new target swapped for a symlink once it is made, or filled meanwhile,
#   is not restored into.
. "$(dirname "$0")/lib.sh"
need jq

HOOK=$T_TMP/hook
SRC=$T_TMP/src
OUT=$T_TMP/outside
mkdir -p "$HOOK" "$SRC/d" "$SRC/d2" "$SRC/sub/deeper" "$OUT/deeper"
export CHUTE_TEST_HOOK_DIR=$HOOK
printf 'old\n' > "$SRC/d/f"; chmod 644 "$SRC/d/f"; touch -d '2001-01-01 00:00:00' "$SRC/d/f"
printf 'mine\n' > "$SRC/d2/g"
printf 'secret\n' > "$OUT/g"
printf 'one\n' > "$SRC/sub/file1"
printf 'two\n' > "$SRC/sub/deeper/file2"
printf 'linked\n' > "$SRC/sub/h1"; ln "$SRC/sub/h1" "$SRC/sub/h2"
chmod 700 "$OUT/deeper"

node_init n
node_conf n watch "quiet_period = 1s"
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }

n_snaps() { ctl --json snapshots 2>/dev/null | jq length 2>/dev/null || echo 0; }

# ---- snapshot: the file read is the one described ----
touch "$HOOK/snapshot-read.wait"
rc_is "add the root" 0 ctl add "$SRC"
if wait_file 30 "$HOOK/snapshot-read.reached"; then ok "the first snapshot pauses between walk and read"; else
    not_ok "the first snapshot pauses between walk and read"; fi
printf 'new and longer\n' > "$SRC/d/f.new"; chmod 600 "$SRC/d/f.new"; touch -d '2005-05-05 00:00:00' "$SRC/d/f.new"
mv -f "$SRC/d/f.new" "$SRC/d/f"
mv "$SRC/d2" "$SRC/d2.moved"; ln -s "$OUT" "$SRC/d2"
rm -f "$HOOK/snapshot-read.wait"
for _ in $(seq 1 150); do [ "$(n_snaps)" -ge 1 ] && break; sleep 0.2; done
SNAP=$(ctl --json snapshots | jq -r '.[0].id')
rc_is "ls the first snapshot's d" 0 ctl --json ls "$SNAP:d"
mode=$(jq -r '.[] | select(.name == "f") | .mode' "$T_TMP/last.out")
[ -n "$mode" ] && mode=$(printf '%o' $((mode % 4096)))   # ls --json gives the mode as a number
content=$(ctl cat "$SNAP:d/f" 2>/dev/null)
if [ "$content" = "new and longer" ]; then
    is "the file renamed over is stored with its own mode, not the old file's" "$mode" 600
else
    is "the file renamed over: the old content, or the new one with its own metadata" "$content:$mode" "old:644"
fi
g=$(ctl cat "$SNAP:d2/g" 2>/dev/null)
if [ "$g" != "secret" ]; then ok "a directory swapped for a symlink is not followed (d2/g is not the outside file)"; else
    not_ok "a directory swapped for a symlink is not followed (d2/g is the outside file)"; fi
if grep -q "d2/g.*left out" "$NODE_DIR/chuted.log"; then ok "... and the file it hid is reported"; else
    not_ok "... and the file it hid is reported"; grep "d2" "$NODE_DIR/chuted.log" | tail -5 | sed 's/^/#   /'; fi
rm -f "$SRC/d2"; mv "$SRC/d2.moved" "$SRC/d2"

# ---- restore: nothing is written outside the target ----
rc_is "snapshot with sub/" 0 ctl snapshot "$SRC"
# restore_paused POINT TARGET OUTFILE DESC: `restore latest TARGET` in the
# background (pid in RPID), held at pause point POINT; release POINT lets it go
restore_paused() {
    rm -f "$HOOK/$1.reached"
    touch "$HOOK/$1.wait"
    ctl restore latest "$2" > "$3" 2>&1 &
    RPID=$!
    check "$4" wait_file 30 "$HOOK/$1.reached"
}
# release POINT: let the held restore go on; its exit status in RC
release() { rm -f "$HOOK/$1.wait"; RC=0; wait "$RPID" || RC=$?; }
outside() { (cd "$OUT" && find . -mindepth 1 | sort | tr '\n' ' '); }

TGT=$T_TMP/target
restore_paused restore-contents "$TGT" "$T_TMP/restore.out" "the restore pauses before writing file contents"
mv "$TGT/sub" "$TGT/sub.moved"; ln -s "$OUT" "$TGT/sub"
release restore-contents
is "nothing was written through the swapped-in symlink" "$(outside)" "./deeper ./g "
is "the directory outside keeps its mode" "$(stat -c %a "$OUT/deeper")" 700
is "the file outside is untouched" "$(cat "$OUT/g")" secret
check "the rest of the restore went through" test "$(cat "$TGT/d/f")" = "new and longer"

TGT2=$T_TMP/target2
mkdir -p "$TGT2"; ln -s "$OUT" "$TGT2/sub"
rc_is "restore --overwrite over a target holding a symlink" 0 ctl restore --overwrite latest "$TGT2"
check "the symlink became the restored directory" test -d "$TGT2/sub" -a ! -L "$TGT2/sub"
is "... and nothing was written outside" "$(outside)" "./deeper ./g "
check "... and the files are in it" test "$(cat "$TGT2/sub/deeper/file2")" = two

# a new target: made, then swapped for a symlink (or filled) before it is opened
TGT3=$T_TMP/target3
restore_paused restore-target "$TGT3" "$T_TMP/restore3.out" "the restore pauses once it has made the new target"
rmdir "$TGT3" && ln -s "$OUT" "$TGT3"
release restore-target
is "the restore into a target swapped for a symlink fails" "$RC" 1
check "... and says why" grep -q "$TGT3 changed while it was made (it is no longer a directory): restore again" \
    "$T_TMP/restore3.out"
is "... and wrote nothing through it" "$(outside)" "./deeper ./g "
rm -f "$TGT3"
restore_paused restore-target "$TGT3" "$T_TMP/restore4.out" "... and again"
echo planted > "$TGT3/planted"
release restore-target
is "a new target filled meanwhile is not restored into" "$RC" 1
check "... and says so" grep -q "$TGT3 changed while it was made: restore again" "$T_TMP/restore4.out"
is "... leaving what was put there alone" "$(ls "$TGT3")" planted
chuted_alive "chuted still runs"
done_testing
