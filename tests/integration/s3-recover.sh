#!/bin/bash
# SPDX-License-Identifier: MIT
# Disaster recovery from an S3 bucket alone (a real Ceph RGW on loopback): A
# (with the bucket as a [store S3] section of chuted.conf) backs a tree with every kind of metadata up to the bucket; A's state dir
# is wiped; a fresh node imports A's recovery code, adds the same bucket,
# runs `recover S3`, and `restore latest` equals the original, content and
# metadata. The recovered node has nothing left to upload. (Before the
# disaster, A's section moves to another prefix: its packs go there too.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
. "$(dirname "$0")/s3-lib.sh"
need rsync getfattr setfattr

s3_start || bail_out "Ceph RGW did not start"
SRC=$T_TMP/src
mkdir -p "$SRC/docs/deep/er" "$SRC/bin" "$SRC/empty" "$SRC/links"
for i in $(seq 1 30); do head -c $((i * 3000)) /dev/urandom > "$SRC/docs/f$i"; done
echo "a letter" > "$SRC/docs/deep/er/letter.txt"
head -c $((5 * 1024 * 1024 + 17)) /dev/urandom > "$SRC/bin/five"
head -c $((20 * 1024 * 1024)) /dev/urandom > "$SRC/bin/twenty"
: > "$SRC/empty/zero"
ln -s ../docs/f1 "$SRC/links/rel"
ln -s /no/such/target "$SRC/links/dangling"
ln "$SRC/docs/f2" "$SRC/docs/f2-hardlink"
chmod 640 "$SRC/docs/f3"; chmod 4755 "$SRC/bin/five"; chmod 1777 "$SRC/empty"
touch -d '2001-02-03 04:05:06.123456789' "$SRC/docs/f4"
XATTR=0
if setfattr -n user.chute -v "kept" "$SRC/docs/f5" 2>/dev/null; then XATTR=1; fi

# virtual-host addressing (http://BUCKET.localhost:PORT/KEY; the gateway has
# rgw dns name = localhost, and curl takes *.localhost as loopback)
add_store() {
    on "$1" store add S3 s3 --endpoint "http://localhost:$RGW_PORT" --virtual-host --bucket "$S3_BUCKET" \
        --prefix backups/a/ --access-key-file "$S3_ACCESS_FILE" --secret-key-file "$S3_SECRET_FILE" >/dev/null
}
s3_done() { [ "$(store_field "$1" S3 pending)" = 0 ] && [ "$(store_field "$1" S3 packs)" -gt 0 ]; }

# A has the bucket in chuted.conf; the fresh node adds it with chutectl
peer_node A
node_conf A "store S3" "endpoint = $S3_ENDPOINT" "bucket = $S3_BUCKET" "prefix = backups/a/" \
    "access_key_file = $S3_ACCESS_FILE" "secret_key_file = $S3_SECRET_FILE"
start_chuted A || bail_out "A did not start"
is "A has the store of its [store S3] section" "$(store_field A S3 kind)" s3
on A add "$SRC" >/dev/null
check "A takes a snapshot" on A snapshot
echo "a second version" > "$SRC/docs/deep/er/letter.txt"
check "A takes a second snapshot" on A snapshot
if wait_until 60 s3_done A; then ok "every pack of A reaches the bucket"; else
    not_ok "every pack of A reaches the bucket"; on A --json stores | sed 's/^/#   /'; fi
N_PACKS=$(own_packs A | wc -l)
UPPER=$(own_packs A | head -1 | tr a-f A-F)   # an upper-case name is not a pack name
is "the bucket holds A's packs" "$(s3_objects backups/a/ | wc -l)" "$N_PACKS"
# the section moved to another prefix: the packs are uploaded there too
# (the replica rows of the old place do not count)
stop_chuted A
sed -i 's|^prefix = backups/a/$|prefix = backups/a2/|' "$T_TMP/A/chuted.conf"
start_chuted A || bail_out "A did not restart"
if wait_until 60 s3_done A; then ok "a changed prefix: every pack reaches the new one"; else
    not_ok "a changed prefix: every pack reaches the new one"; on A --json stores | sed 's/^/#   /'; fi
is "... which holds A's packs" "$(s3_objects backups/a2/ | wc -l)" "$N_PACKS"
check "... and the log says why" grep -q "Store S3: configuration updated .*somewhere else now" "$T_TMP/A/chuted.log"
CODE=$(on A --json key export | jq -r .code)
[ -n "$CODE" ] && [ "$CODE" != null ] || bail_out "no recovery code from A"

# ---- disaster: A's machine is gone ---------------------------------------------------
stop_chuted A
rm -rf "$T_TMP/A"
# objects under the prefix that are not packs are ignored
echo "not a pack" > "$T_TMP/junk"
"${S3CMD[@]}" put --quiet "$T_TMP/junk" "s3://$S3_BUCKET/backups/a/README" >/dev/null
"${S3CMD[@]}" put --quiet "$T_TMP/junk" "s3://$S3_BUCKET/backups/a/00ff" >/dev/null
"${S3CMD[@]}" put --quiet "$T_TMP/junk" "s3://$S3_BUCKET/backups/a/$UPPER" >/dev/null
peer_node A2
# ListObjectsV2 pages of 2 keys: recovery goes through continuation tokens
mkdir -p "$T_TMP/hooks"
CHUTE_TEST_HOOK_DIR=$T_TMP/hooks CHUTE_TEST_S3_MAX_KEYS=2 start_chuted A2 --no-key ||
    bail_out "the fresh node did not start"
check "the fresh node imports A's recovery code" on A2 key import --force "$CODE"
check "the fresh node adds the bucket (virtual-host style)" add_store A2
t0=$(now_ms)
rc_is "recover S3" 0 on A2 --json recover S3
diag "recovered in $(( $(now_ms) - t0 )) ms"
cp "$T_TMP/last.out" "$T_TMP/recover.json"
jq_is "recover: both snapshots, every pack, no errors" "$T_TMP/recover.json" \
    ".snapshots == 2 and .packs == $N_PACKS and .errors == 0"
rc_is "restore latest to a new directory" 0 on A2 restore latest "$T_TMP/restored"
out=$(rsync -naHAXci --delete "$SRC/" "$T_TMP/restored/" 2>&1)
is "restored tree equals the original (rsync -c, hard links, ACLs, xattrs)" "$out" ""
listing() { (cd "$1" && find . -printf '%P %y %m %U %G %s %T@ %l\n' | sort); }
is "stat listings match (modes, owners, sizes, ns mtimes, link targets)" \
    "$(listing "$T_TMP/restored" | md5sum)" "$(listing "$SRC" | md5sum)"
if [ "$XATTR" = 1 ]; then
    is "xattr kept" "$(getfattr --only-values -n user.chute "$T_TMP/restored/docs/f5" 2>/dev/null)" kept
fi
on A2 --json snapshots > "$T_TMP/snaps.json"
rc_is "the first snapshot restores too" 0 on A2 restore "$(jq -r '.[0].id' "$T_TMP/snaps.json")" "$T_TMP/first"
is "... with the first version of the letter" "$(cat "$T_TMP/first/docs/deep/er/letter.txt")" "a letter"
on A2 --json stores > "$T_TMP/stores.json"
jq_is "recovered packs count as held by the bucket: nothing pending, nothing uploaded" "$T_TMP/stores.json" \
    '.stores[0].pending == 0 and .stores[0].uploaded == 0'
chuted_alive "the recovered node is still running"

# ---- a bucket that pages on through keys that are not packs ----------------------------
# a prefix shared with other data is fine, but a listing stops (with an error
# that says why) after S3_LIST_FOREIGN_MAX such keys in a row: lowered to 2
# here, and three keys after every pack name
stop_chuted A2
for k in zz1 zz2 zz3; do "${S3CMD[@]}" put --quiet "$T_TMP/junk" "s3://$S3_BUCKET/backups/a/$k" >/dev/null; done
CHUTE_TEST_S3_MAX_KEYS=2 CHUTE_TEST_S3_FOREIGN_MAX=2 start_chuted A2 || bail_out "A2 did not restart"
rc_is "recover stops on a listing with 3 foreign keys in a row (the cap lowered to 2)" 1 on A2 recover S3
err=$(cat "$T_TMP/last.err")
case $err in *"keys in a row under prefix \"backups/a/\""*"not packs"*"prefix of its own"*) ok "... saying why" ;;
    *) not_ok "... saying why"; diag "recover said: $err" ;; esac
stop_chuted A2
# (the six foreign keys may all come in a row: README and the upper-case
# name sort between the packs named with a digit and those with a letter)
CHUTE_TEST_S3_MAX_KEYS=2 CHUTE_TEST_S3_FOREIGN_MAX=6 start_chuted A2 || bail_out "A2 did not restart"
rc_is "with the cap at 6 (the foreign keys in all) the same listing is whole" 0 on A2 recover S3
chuted_alive "A2 is still running"
done_testing
