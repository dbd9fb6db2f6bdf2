#!/bin/bash
# SPDX-License-Identifier: MIT
# Snapshot and restore round trip on a tree with every file kind and metadata
# case a backup must keep: sizes across chunk boundaries, empty dirs, symlinks,
# fifo, devices, setuid/setgid/sticky, mode 000, other owners, ns mtimes,
# xattrs, hardlinks, a sparse file, hostile names. Restored trees are compared
# with rsync -c, stat listings and getfattr dumps. Also partial restore, cat,
# ls --json and the refusal to restore over a non-empty target.
. "$(dirname "$0")/lib.sh"
need jq python3 rsync getfattr setfattr

SRC=$T_TMP/src
ROOT_USER=0; [ "$(id -u)" -eq 0 ] && ROOT_USER=1
mkdir -p "$SRC"
SKIPS=()
skip_case() { SKIPS+=("$*"); }

# ---- build the tree --------------------------------------------------------------
# 2,000 small files in 20 directories, sizes 0..12 KiB, fast and deterministic
python3 - "$SRC/many" <<'EOF'
import os, random, sys
top = sys.argv[1]
rnd = random.Random(4)
for d in range(20):
    dd = os.path.join(top, "d%02d" % d)
    os.makedirs(dd)
    for f in range(100):
        with open(os.path.join(dd, "f%03d" % f), "wb") as fh:
            fh.write(rnd.randbytes(rnd.choice([0, 1, 17, 511, 4096, 12288, rnd.randrange(12288)])))
EOF
mkdir -p "$SRC/sizes"
: > "$SRC/sizes/empty"
printf x > "$SRC/sizes/one"
head -c $((300 * 1024)) /dev/urandom > "$SRC/sizes/f300k"
head -c $((256 * 1024)) /dev/urandom > "$SRC/sizes/f256k"
head -c $((3 * 1024 * 1024)) /dev/urandom > "$SRC/sizes/f3m"
head -c $((4 * 1024 * 1024 + 1)) /dev/urandom > "$SRC/sizes/f4m1"
head -c $((9 * 1024 * 1024 + 123)) /dev/urandom > "$SRC/sizes/f9m"
# five blocks of the reader (two in turn): chunks stored while the next block is read
seq 1 3500000 | head -c $((25 * 1024 * 1024 + 7)) > "$SRC/sizes/f25m"
head -c $((2 * 1024 * 1024)) /dev/zero > "$SRC/sizes/zeros2m"
# the same 3 MiB twice in one file: chunks repeat inside a file
cat "$SRC/sizes/f3m" "$SRC/sizes/f3m" > "$SRC/sizes/twice"

mkdir -p "$SRC/deep/a/b/c/d/e/f/g/h" "$SRC/empty-dir" "$SRC/empty-700" "$SRC/sticky-dir" "$SRC/setgid-dir"
echo leaf > "$SRC/deep/a/b/c/d/e/f/g/h/leaf"
chmod 700 "$SRC/empty-700"; chmod 1777 "$SRC/sticky-dir"; chmod 2775 "$SRC/setgid-dir"
echo in-setgid > "$SRC/setgid-dir/file"

mkdir -p "$SRC/links"
ln -s /etc/hostname "$SRC/links/absolute"
ln -s ../sizes/one "$SRC/links/relative"
ln -s no/such/target "$SRC/links/dangling"
ln -s ../deep "$SRC/links/to-dir"
ln -s "$(printf 'x%.0s' $(seq 1 1000))" "$SRC/links/long-target"

mkdir -p "$SRC/special"
mkfifo "$SRC/special/fifo"
if [ "$ROOT_USER" = 1 ] && mknod "$SRC/special/chr" c 1 3 2>/dev/null && mknod "$SRC/special/blk" b 7 0 2>/dev/null; then
    HAVE_DEV=1
else HAVE_DEV=0; rm -f "$SRC/special/chr" "$SRC/special/blk"; skip_case "char/block devices (not root or no mknod here)"; fi

mkdir -p "$SRC/modes"
for m in 4755 2755 1644 0421 0707 6777; do echo "mode $m" > "$SRC/modes/m$m"; chmod "$m" "$SRC/modes/m$m"; done
if [ "$ROOT_USER" = 1 ]; then echo unreadable > "$SRC/modes/m0000"; chmod 000 "$SRC/modes/m0000"
else skip_case "mode 000 file (chuted could not read it without root)"; fi

if [ "$ROOT_USER" = 1 ]; then
    mkdir -p "$SRC/owners/dir-65534"
    echo a > "$SRC/owners/u1234-g5678"; chown 1234:5678 "$SRC/owners/u1234-g5678"
    echo b > "$SRC/owners/u0-g4321"; chown 0:4321 "$SRC/owners/u0-g4321"
    chown 65534:65534 "$SRC/owners/dir-65534"
    ln -s u1234-g5678 "$SRC/owners/link-4321"; chown -h 4321:8765 "$SRC/owners/link-4321"
    echo c > "$SRC/owners/suid-other"; chown 1234:1234 "$SRC/owners/suid-other"; chmod 6755 "$SRC/owners/suid-other"
else skip_case "other owners (chown needs root)"; fi

HAVE_XATTR=1
mkdir -p "$SRC/xattrs/dir"
echo x > "$SRC/xattrs/file"
if setfattr -n user.color -v blue "$SRC/xattrs/file" 2>/dev/null; then
    setfattr -n user.binary -v 0x00ff10fe00 "$SRC/xattrs/file"
    setfattr -n user.empty "$SRC/xattrs/file"
    setfattr -n user.big -v "0x$(head -c 3000 /dev/urandom | xxd -p | tr -d '\n')" "$SRC/xattrs/file"
    setfattr -n user.on-dir -v 1 "$SRC/xattrs/dir"
    echo y > "$SRC/xattrs/linked"; setfattr -n user.shared -v yes "$SRC/xattrs/linked"
    ln "$SRC/xattrs/linked" "$SRC/xattrs/linked2"
else HAVE_XATTR=0; skip_case "xattrs (user.* not supported on $(df --output=fstype "$SRC" | tail -1))"; fi

# POSIX ACLs: an access ACL on a file, access and default ACLs on a directory
HAVE_ACL=1
mkdir -p "$SRC/acls/dir"
echo acl > "$SRC/acls/file"
if setfacl -m u:65534:r,g:65534:rw "$SRC/acls/file" 2>/dev/null; then
    setfacl -m u:65534:rx -d -m u:65534:rwx "$SRC/acls/dir"
    echo inherited > "$SRC/acls/dir/inner"
else HAVE_ACL=0; skip_case "ACLs (not supported on $(df --output=fstype "$SRC" | tail -1))"; fi

mkdir -p "$SRC/hard/sub"
echo shared > "$SRC/hard/a"
ln "$SRC/hard/a" "$SRC/hard/b"
ln "$SRC/hard/a" "$SRC/hard/sub/c"
head -c 500000 /dev/urandom > "$SRC/hard/big"
ln "$SRC/hard/big" "$SRC/many/d00/big-link"
# many link groups: restore finds each group's first path through an index that grows
mkdir -p "$SRC/hard/groups"
for i in $(seq 1 600); do echo "$i" > "$SRC/hard/groups/f$i"; ln "$SRC/hard/groups/f$i" "$SRC/hard/groups/g$i"; done

truncate -s 50M "$SRC/sparse"
head -c 65536 /dev/urandom | dd of="$SRC/sparse" bs=64k seek=400 conv=notrunc status=none

mkdir -p "$SRC/names/$(printf 'dir\xff')"
echo newline > "$SRC/names/$(printf 'new\nline')"
echo space > "$SRC/names/with space"
echo bytes > "$SRC/names/$(printf '\xff\xfe')"
echo inner > "$SRC/names/$(printf 'dir\xff')/$(printf 'x\x01y')"
echo long > "$SRC/names/$(printf 'L%.0s' $(seq 1 255))"
echo dash > "$SRC/names/-rf"
echo star > "$SRC/names/star*?[x]"
echo back > "$SRC/names/back\\slash"
echo utf8 > "$SRC/names/ünïcödé ☂"
echo tab > "$SRC/names/$(printf 'tab\there')"
echo dots > "$SRC/names/..."

# nanosecond mtimes, set last (creating entries changes a directory's mtime)
touch -d '2019-02-03 04:05:06.123456789' "$SRC/sizes/f300k"
touch -d '1999-12-31 23:59:59.999999999' "$SRC/names/with space"
touch -d '1970-01-01 00:00:01.000000001' "$SRC/sizes/one"
touch -h -d '2001-02-03 04:05:06.5' "$SRC/links/relative"
find "$SRC" -mindepth 1 -depth -type d -exec touch -d '2021-06-07 08:09:10.111111111' {} +
touch -d '2022-01-01 00:00:00.000000002' "$SRC/deep/a/b/c"
touch -d '2023-03-03 03:03:03.333333333' "$SRC"

nfiles=$(find "$SRC" | wc -l)
if [ "$nfiles" -ge 2000 ]; then ok "source tree has $nfiles entries"; else not_ok "source tree has $nfiles entries (want >= 2000)"; fi

# listings used for comparison: stat (directories without their size, which
# depends on the file system's history) and xattr dumps
listing() {
    (cd "$1" && {
        find . ! -type d -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %f %u %g %s %h %t:%T %Y %y'
        find . -type d -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %f %u %g %Y %y'
    })
}
xattr_dump() { (cd "$1" && find . -print0 | LC_ALL=C sort -z | xargs -0 getfattr -h -d -m - -e hex 2>/dev/null); }
# tree_same "desc" A B: rsync -c (with --delete) finds nothing to do, stat listings and xattrs match
tree_same() {
    local desc=$1 a=$2 b=$3 out
    out=$(rsync -naHAXc --delete --numeric-ids -i "$a/" "$b/" 2>&1)
    if [ -z "$out" ]; then ok "$desc: rsync -naHAXci --delete sees no difference"; else
        not_ok "$desc: rsync -naHAXci --delete sees no difference"; printf '%s\n' "$out" | head -30 | sed 's/^/#   /'; fi
    listing "$a" > "$T_TMP/list.a"; listing "$b" > "$T_TMP/list.b"
    if cmp -s "$T_TMP/list.a" "$T_TMP/list.b"; then ok "$desc: stat listings match"; else
        not_ok "$desc: stat listings match"; diff "$T_TMP/list.a" "$T_TMP/list.b" | head -30 | sed 's/^/#   /'; fi
    xattr_dump "$a" > "$T_TMP/xattr.a"; xattr_dump "$b" > "$T_TMP/xattr.b"
    if cmp -s "$T_TMP/xattr.a" "$T_TMP/xattr.b"; then ok "$desc: xattr dumps match"; else
        not_ok "$desc: xattr dumps match"; diff "$T_TMP/xattr.a" "$T_TMP/xattr.b" | head -30 | sed 's/^/#   /'; fi
}

# ---- snapshot ----------------------------------------------------------------------
node_init n
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the tree" 0 ctl add "$SRC"
rc_is "snapshot --json" 0 ctl --json snapshot "$SRC"
cp "$T_TMP/last.out" "$T_TMP/snap.json"
jq_is "snapshot counts every regular file and reports no errors" "$T_TMP/snap.json" \
    "(if type == \"array\" then .[0] else . end) | .errors == 0 and .files == $(find "$SRC" -type f -print0 | tr -dc '\0' | wc -c)"
SNAP=$(jq -r 'if type == "array" then .[0].id else .id end' "$T_TMP/snap.json" 2>/dev/null)

# ---- full restore into a new directory ----------------------------------------------
DST=$T_TMP/restored
rc_is "restore SNAP TARGET" 0 ctl restore "$SNAP" "$DST"
tree_same "full restore" "$SRC" "$DST"
if [ "$HAVE_XATTR" = 0 ]; then ok "# SKIP user.* xattrs not supported here"
elif grep -q user.color "$T_TMP/xattr.a"; then ok "the xattr comparison saw the source's xattrs"
else not_ok "the xattr comparison saw the source's xattrs"; fi
if [ -f "$DST/sparse" ] && [ "$(du -k "$DST/sparse" | cut -f1)" -le 4096 ]; then
    ok "the restored sparse file stays sparse ($(du -k "$DST/sparse" | cut -f1) KiB for 50 MiB)"
else not_ok "the restored sparse file stays sparse ($(du -k "$DST/sparse" 2>/dev/null | cut -f1) KiB for 50 MiB)"; fi
is "hardlinks restored as one inode with 3 links" "$(stat -c '%h %i' "$DST/hard/b" 2>/dev/null)" "3 $(stat -c %i "$DST/hard/a" 2>/dev/null)"
if [ "$HAVE_DEV" = 1 ]; then
    is "char device restored" "$(stat -c '%F %t:%T' "$DST/special/chr" 2>/dev/null)" "character special file 1:3"
else ok "# SKIP char/block devices: not root or no mknod"; fi

# ---- restore from a restarted daemon, by id prefix and by latest ------------------------
stop_chuted n || true
start_chuted n || true
rc_is "restore latest after a restart" 0 ctl restore latest "$T_TMP/restored2"
tree_same "restore after restart" "$SRC" "$T_TMP/restored2"
rc_is "restore by a 10-character id prefix" 0 ctl restore "${SNAP:0:10}" "$T_TMP/restored3"
out=$(rsync -naHAXc --delete --numeric-ids -i "$SRC/" "$T_TMP/restored3/" 2>&1)
is "restore by id prefix: rsync sees no difference" "$out" ""

# ---- partial restore --------------------------------------------------------------------
rc_is "restore latest:FILE TARGET" 0 ctl restore latest:sizes/f300k "$T_TMP/part-file"
check "partial file restore: same bytes" cmp "$SRC/sizes/f300k" "$T_TMP/part-file"
is "partial file restore: same mode and ns mtime" "$(stat -c '%f %y' "$T_TMP/part-file" 2>/dev/null)" "$(stat -c '%f %y' "$SRC/sizes/f300k")"
rc_is "restore latest:FILE NEW/ (a trailing slash)" 0 ctl restore latest:sizes/f300k "$T_TMP/part-slash/"
check "... restores the file as NEW" cmp "$SRC/sizes/f300k" "$T_TMP/part-slash"
echo "was here" > "$T_TMP/part-over"; ln "$T_TMP/part-over" "$T_TMP/part-over-link"
rc_is "restore --overwrite latest:FILE over a file" 0 ctl restore --overwrite latest:sizes/f300k "$T_TMP/part-over"
check "... replaces it" cmp "$SRC/sizes/f300k" "$T_TMP/part-over"
is "... as a new inode: another link to the old one keeps the old bytes" "$(cat "$T_TMP/part-over-link")" "was here"
is "... leaving nothing beside it" "$(find "$T_TMP" -maxdepth 1 -name '.chute-restore-*' | wc -l)" 0
rc_is "restore latest:DIR TARGET" 0 ctl restore latest:names "$T_TMP/part-dir"
out=$(rsync -naHAXc --delete --numeric-ids -i "$SRC/names/" "$T_TMP/part-dir/" 2>&1)
is "partial dir restore (hostile names): rsync sees no difference" "$out" ""
rc_is "restore latest:deep/a/b TARGET" 0 ctl restore latest:deep/a/b "$T_TMP/part-deep"
out=$(rsync -naHAXc --delete --numeric-ids -i "$SRC/deep/a/b/" "$T_TMP/part-deep/" 2>&1)
is "partial nested dir restore: rsync sees no difference" "$out" ""
mkdir "$T_TMP/part-empty-target"
rc_is "restore into an existing empty directory" 0 ctl restore latest:many/d05 "$T_TMP/part-empty-target"
out=$(rsync -naHAXc --delete --numeric-ids -i "$SRC/many/d05/" "$T_TMP/part-empty-target/" 2>&1)
is "restore into an empty directory: rsync sees no difference" "$out" ""
rc_is "restore of a missing path fails (1)" 1 ctl restore latest:no/such/path "$T_TMP/part-missing"

# a target whose directory has a default ACL: what the snapshot has no ACL
# for gets none (not the one the new inodes inherit), what it has is kept
if [ "$HAVE_ACL" = 1 ]; then
    mkdir "$T_TMP/acl-parent"
    setfacl -d -m u:65534:rwx,g:65534:rwx "$T_TMP/acl-parent"
    rc_is "restore under a directory with a default ACL" 0 ctl restore latest "$T_TMP/acl-parent/r"
    tree_same "restore under a default ACL" "$SRC" "$T_TMP/acl-parent/r"
    is "a file without an ACL gets none from the target's default ACL" \
        "$(getfattr -h -m - -d "$T_TMP/acl-parent/r/sizes/one" 2>/dev/null | grep -c posix_acl)" 0
    is "a directory without one neither (no access or default ACL)" \
        "$(getfattr -h -m - -d "$T_TMP/acl-parent/r/names" 2>/dev/null | grep -c posix_acl)" 0
    is "a file's own ACL is kept" "$(getfacl -cpn "$T_TMP/acl-parent/r/acls/file" 2>/dev/null | grep -c 65534)" 2
    is "a directory's default ACL is kept" "$(getfacl -cpnd "$T_TMP/acl-parent/r/acls/dir" 2>/dev/null | grep -c 65534)" 1
    # an existing, empty target keeps the default ACL its owner gave it
    mkdir "$T_TMP/acl-target"
    setfacl -d -m u:65534:rwx "$T_TMP/acl-target"
    rc_is "restore into an existing directory with a default ACL" 0 ctl restore latest:names "$T_TMP/acl-target"
    is "... which keeps it" "$(getfacl -cpnd "$T_TMP/acl-target" 2>/dev/null | grep -c 65534)" 1
    is "... while what the restore made there has none" \
        "$(getfattr -h -m - -d "$T_TMP/acl-target/with space" 2>/dev/null | grep -c posix_acl)" 0
else ok "# SKIP ACLs not supported here"; fi

# ---- cat -----------------------------------------------------------------------------------
for f in sizes/f9m sizes/empty sizes/twice "names/with space" "names/$(printf '\xff\xfe')" sparse; do
    ctl cat "latest:$f" > "$T_TMP/cat.out" 2>"$T_TMP/cat.err"; rc=$?
    if [ "$rc" -eq 0 ] && cmp -s "$T_TMP/cat.out" "$SRC/$f"; then ok "cat latest:$f equals the file"; else
        not_ok "cat latest:$f equals the file (exit $rc)"; head -3 "$T_TMP/cat.err" | sed 's/^/#   /'; fi
done
rc_is "cat of a directory fails (1)" 1 ctl cat latest:deep

# ---- ls --json --------------------------------------------------------------------------------
rc_is "ls --json latest" 0 ctl --json ls latest
cp "$T_TMP/last.out" "$T_TMP/ls-root.json"
want=$(cd "$SRC" && ls -A | LC_ALL=C sort | jq -R . | jq -sc .)
jq_is "ls --json latest lists the root's names" "$T_TMP/ls-root.json" "map(.name) | sort == $want"
jq_is "ls --json entries have name, kind, size, mode, mtime" "$T_TMP/ls-root.json" \
    'length > 0 and all(.[]; has("name") and has("kind") and has("size") and has("mode") and has("mtime"))'
jq_is "ls --json kinds: dir and file" "$T_TMP/ls-root.json" \
    '(map(select(.name == "deep"))[0].kind == "dir") and (map(select(.name == "sparse"))[0] | .kind == "file" and .size == 52428800)'
rc_is "ls --json latest:links" 0 ctl --json ls latest:links
jq_is "ls --json kinds: symlink" "$T_TMP/last.out" 'map(.kind) | unique == ["symlink"] and length == 5'
rc_is "ls --json latest:special" 0 ctl --json ls latest:special
jq_is "ls --json kinds: fifo" "$T_TMP/last.out" 'map(select(.name == "fifo"))[0].kind == "fifo"'
rc_is "ls --json latest:sizes" 0 ctl --json ls latest:sizes
jq_is "ls --json sizes: f300k is 307200 bytes, empty is 0" "$T_TMP/last.out" \
    '(map(select(.name == "f300k"))[0].size == 307200) and (map(select(.name == "empty"))[0].size == 0)'
rc_is "ls --json latest:modes" 0 ctl --json ls latest:modes
jq_is "ls --json mode of a setuid file is 4755" "$T_TMP/last.out" \
    'map(select(.name == "m4755"))[0].mode | if type == "number" then . % 4096 == 2541 else ltrimstr("0") == "4755" end'
rc_is "ls (text) latest:deep/a" 0 ctl ls latest:deep/a
if grep -qw b "$T_TMP/last.out"; then ok "ls text lists deep/a's entry"; else not_ok "ls text lists deep/a's entry"; fi
rc_is "ls of a missing path fails (1)" 1 ctl ls latest:no/such/dir

# ---- restore refuses a non-empty target without --overwrite -------------------------------------
BUSY=$T_TMP/busy
mkdir -p "$BUSY/sizes"
echo changed > "$BUSY/sizes/one"
rc_is "restore into a non-empty target without --overwrite fails (1)" 1 ctl restore latest "$BUSY"
is "... and leaves the target as it was" "$(cd "$BUSY" && find . | LC_ALL=C sort | tr '\n' ' ')" ". ./sizes ./sizes/one "
is "... the existing file is untouched" "$(cat "$BUSY/sizes/one")" changed
rc_is "restore --overwrite into the non-empty target" 0 ctl restore latest "$BUSY" --overwrite
out=$(rsync -naHAXc --delete --numeric-ids -i "$SRC/" "$BUSY/" 2>&1)
is "restore --overwrite: rsync sees no difference" "$out" ""
rc_is "restore of a file over an existing file without --overwrite fails (1)" 1 ctl restore latest:sizes/f3m "$T_TMP/part-file"
check "... the existing file is untouched" cmp "$SRC/sizes/f300k" "$T_TMP/part-file"

# ---- --overwrite never empties a mount point in the way -----------------------------------------
MNT_T=$T_TMP/mount-target
mkdir -p "$MNT_T/sizes/one"
if [ "$ROOT_USER" = 1 ] && mount -t tmpfs chute-test "$MNT_T/sizes/one" 2>/dev/null; then
    echo keep > "$MNT_T/sizes/one/keep"
    rc_is "restore --overwrite over a mount point where a file was: exit 1 (an error)" 1 \
        ctl restore latest "$MNT_T" --overwrite
    check "... the mounted file system is untouched" grep -qx keep "$MNT_T/sizes/one/keep"
    check "... and the rest is restored" cmp "$SRC/sizes/f300k" "$MNT_T/sizes/f300k"
    umount "$MNT_T/sizes/one"
    # deeper in a directory in the way: the directory is left whole, not
    # emptied up to the mount point
    MNT_T2=$T_TMP/mount-target2
    mkdir -p "$MNT_T2/sizes/one/mnt"
    for i in 1 2 3 4 5 6 7 8; do echo "mine $i" > "$MNT_T2/sizes/one/f$i"; done
    mount -t tmpfs chute-test "$MNT_T2/sizes/one/mnt"
    rc_is "restore --overwrite over a directory holding a mount point: exit 1" 1 \
        ctl restore latest "$MNT_T2" --overwrite
    is "... the directory keeps every file it had" "$(cat "$MNT_T2"/sizes/one/f* | wc -l)" 8
    umount "$MNT_T2/sizes/one/mnt"
else skip_case "a mount point in an --overwrite target (mount needs root)"; fi

# ---- a setgid target keeps no group of its own on what is restored ----------------------------
if [ "$ROOT_USER" = 1 ]; then
    SG=$T_TMP/setgid-target
    mkdir -p "$SG" && chgrp 4321 "$SG" && chmod 2775 "$SG"
    rc_is "restore into a setgid directory of another group" 0 ctl restore latest "$SG"
    is "a root:root file comes back root:root, not with the directory's group" \
        "$(stat -c %u:%g "$SG/sizes/one")" "$(stat -c %u:%g "$SRC/sizes/one")"
    is "... the fifo too" "$(stat -c %u:%g "$SG/special/fifo")" "$(stat -c %u:%g "$SRC/special/fifo")"
    is "... with its mode" "$(stat -c %a "$SG/special/fifo")" "$(stat -c %a "$SRC/special/fifo")"
else skip_case "a setgid target (chgrp needs root)"; fi

chuted_alive "chuted still runs"
for s in "${SKIPS[@]}"; do diag "skipped case: $s"; done
done_testing
