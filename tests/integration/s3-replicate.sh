#!/bin/bash
# SPDX-License-Identifier: MIT
# Replication to a real S3 service (a one-node Ceph RGW on loopback): a
# store added at run time takes the backlog; every pack lands in the bucket
# as PREFIX + id (s3cmd's listing equals chute's index) and no plaintext of
# the files is in any object; the gateway killed (SIGKILL) while uploads are
# under way: status shows the error and the retries, and once
# the gateway is back the uploads complete with no partial objects (every
# object's SHA-256 is its name); a wrong secret or a missing bucket is a
# clear error with no retry storm; key files readable by others are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
. "$(dirname "$0")/s3-lib.sh"

t0=$(now_ms)
s3_start || bail_out "Ceph RGW did not start"
diag "Ceph RGW ready in $(( $(now_ms) - t0 )) ms"

SRC=$T_TMP/src
MARKER=chute-s3-plaintext-marker-$$
mkdir -p "$SRC"
for i in $(seq 1 20); do { echo "$MARKER $i"; head -c $((i * 7000)) /dev/urandom; } > "$SRC/f$i"; done
head -c $((24 * 1024 * 1024)) /dev/urandom > "$SRC/big"
yes "$MARKER" | head -c $((3 * 1024 * 1024)) > "$SRC/text"

HOOK=$T_TMP/hooks
mkdir -p "$HOOK"
export CHUTE_TEST_HOOK_DIR=$HOOK   # pause point s3-put: just before a pack's PUT
peer_node A
node_conf A prune "grace = 1s"
start_chuted A || bail_out "A did not start"
on A add "$SRC" >/dev/null
check "A takes a snapshot before any store exists" on A snapshot

# ---- key files readable by others are refused --------------------------------------
cp "$S3_SECRET_FILE" "$T_TMP/keys/open"; chmod 644 "$T_TMP/keys/open"
rc_is "store add refuses a secret key file readable by others" 1 on A store add S3 s3 \
    --endpoint "$S3_ENDPOINT" --bucket "$S3_BUCKET" --access-key-file "$S3_ACCESS_FILE" \
    --secret-key-file "$T_TMP/keys/open"
check "... and says to chmod 600 it" grep -q "chmod 600" "$T_TMP/last.err"

# ---- the backlog goes to the bucket --------------------------------------------------
rc_is "store add S3 s3 --prefix node-a/" 0 on A store add S3 s3 --endpoint "$S3_ENDPOINT" \
    --bucket "$S3_BUCKET" --prefix node-a/ --access-key-file "$S3_ACCESS_FILE" --secret-key-file "$S3_SECRET_FILE"
t1=$(now_ms)
s3_done() { [ "$(store_field A S3 pending)" = 0 ] && [ "$(store_field A S3 packs)" -gt 0 ]; }
if wait_until 60 s3_done; then ok "the backlog reaches the bucket"; else
    not_ok "the backlog reaches the bucket"; on A --json stores | sed 's/^/#   /'; fi
diag "$(own_pack_bytes A) bytes in $(own_packs A | wc -l) packs replicated in $(( $(now_ms) - t1 )) ms"
s3_objects node-a/ | sed 's|^node-a/||' > "$T_TMP/bucket.txt"
own_packs A > "$T_TMP/own.txt"
is "s3cmd's listing of the bucket equals A's packs" "$(md5sum < "$T_TMP/bucket.txt")" "$(md5sum < "$T_TMP/own.txt")"
mkdir -p "$T_TMP/objects"
"${S3CMD[@]}" get -r --quiet "s3://$S3_BUCKET/node-a/" "$T_TMP/objects/" >/dev/null 2>&1
bad=0
for f in "$T_TMP"/objects/*; do [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bad=$((bad + 1)); done
is "every object's SHA-256 is its name (whole packs, nothing partial)" "$bad:$(ls "$T_TMP/objects" | wc -l)" "0:$(wc -l < "$T_TMP/own.txt")"
is "no object holds the plaintext marker" "$(grep -rl "$MARKER" "$T_TMP/objects" | wc -l)" 0
on A --json stores > "$T_TMP/stores.json"
jq_is "stores shows kind s3, where, uploaded bytes, requests" "$T_TMP/stores.json" \
    ".stores[0].kind == \"s3\" and .stores[0].bucket == \"$S3_BUCKET\" and .stores[0].prefix == \"node-a/\" and
     .stores[0].endpoint == \"$S3_ENDPOINT\" and .stores[0].uploaded > 0 and
     .stores[0].requests >= .stores[0].packs and .stores[0].error == null"
on A --json status > "$T_TMP/status.json"
jq_is "status shows the store too" "$T_TMP/status.json" '.stores[0].name == "S3" and .stores[0].pending == 0'
stores_text() { on A stores | grep -Eq "^S3: .* uploaded in [0-9]+ requests \([0-9]+ retries\)"; }
check "chutectl stores says what went up in how many requests" stores_text
status_text() { on A status | grep -Eq "^    .* uploaded in [0-9]+ requests \([0-9]+ retries\) to bucket $S3_BUCKET at $S3_ENDPOINT$"; }
check "... and so does chutectl status" status_text

# ---- the gateway is killed mid-upload, comes back: uploads resume ---------------------
# (SIGKILL, as a crash would, while uploads of a new snapshot's packs are under
# way: they are held at the pause point just before their PUT)
for i in $(seq 1 6); do head -c $((6 * 1024 * 1024)) /dev/urandom > "$SRC/new$i"; done
touch "$HOOK/s3-put.wait"
check "A takes a snapshot" on A snapshot
if wait_file 30 "$HOOK/s3-put.reached"; then ok "an upload is under way"; else not_ok "an upload is under way"; fi
s3_rgw_stop KILL 2>/dev/null
rm -f "$HOOK/s3-put.wait"
down() { [ -n "$(store_field A S3 error)" ] && [ "$(store_field A S3 error)" != null ]; }
if wait_until 30 down; then ok "with the gateway down, status has an error"; else not_ok "with the gateway down, status has an error"; fi
diag "error: $(store_field A S3 error)"
# the error is set at the first failure, the retry counted after a backoff
retried() { [ "$(store_field A S3 retries)" -gt 0 ]; }
wait_until 10 retried
r1=$(store_field A S3 retries)
[ "$r1" -gt 0 ] && ok "the failures were retried ($r1 retries)" || not_ok "the failures were retried ($r1)"
s3_rgw_start || bail_out "radosgw did not come back"
if wait_until 90 s3_done; then ok "after the restart the uploads complete"; else
    not_ok "after the restart the uploads complete"; on A --json stores | sed 's/^/#   /'; fi
s3_objects node-a/ | sed 's|^node-a/||' > "$T_TMP/bucket.txt"
own_packs A > "$T_TMP/own.txt"
is "the bucket equals A's packs again" "$(md5sum < "$T_TMP/bucket.txt")" "$(md5sum < "$T_TMP/own.txt")"
is "no error left" "$(store_field A S3 error)" null
rm -rf "$T_TMP/objects"; mkdir -p "$T_TMP/objects"
"${S3CMD[@]}" get -r --quiet "s3://$S3_BUCKET/node-a/" "$T_TMP/objects/" >/dev/null 2>&1
bad=0
for f in "$T_TMP"/objects/*; do [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bad=$((bad + 1)); done
is "no partial or damaged object" "$bad:$(ls "$T_TMP/objects" | wc -l)" "0:$(wc -l < "$T_TMP/own.txt")"

# ---- a wrong secret: a clear error and no hammering -----------------------------------
refuses() { [ "$(store_field A "$1" refused_at)" != null ]; }
(umask 077; echo "not-the-secret" > "$T_TMP/keys/wrong")
check "store add WRONG with a wrong secret" on A store add WRONG s3 --endpoint "$S3_ENDPOINT" \
    --bucket "$S3_BUCKET" --prefix wrong/ --access-key-file "$S3_ACCESS_FILE" --secret-key-file "$T_TMP/keys/wrong"
# once refused, 5 s more in which a storm would go on
t0=$(now_ms)
wait_until 15 refuses WRONG || diag "WRONG is not refused after 15 s"
sleep 5
secs=$(( ($(now_ms) - t0 + 500) / 1000 ))
err=$(store_field A WRONG error)
diag "error: $err"
case $err in *signature*"$T_TMP/keys/wrong"*) ok "the error names the signature and the key file" ;;
    *) not_ok "the error names the signature and the key file" ;; esac
req=$(store_field A WRONG requests)
[ "$req" -gt 0 ] && [ "$req" -le 24 ] && ok "no retry storm: $req requests in $secs s" || not_ok "no retry storm: $req requests in $secs s"
is "nothing written under wrong/" "$(s3_objects wrong/ | wc -l)" 0
is "403s are not retried" "$(store_field A WRONG retries)" 0
check "a store that refuses our key refuses us: its copies count as none" refuses WRONG
is "the good store is not refused" "$(store_field A S3 refused_at)" null
check "store remove WRONG" on A store remove WRONG

# ---- a bucket that does not exist: said so, not retried ------------------------------
check "store add NOBUCKET" on A store add NOBUCKET s3 --endpoint "$S3_ENDPOINT" --bucket no-such-bucket \
    --access-key-file "$S3_ACCESS_FILE" --secret-key-file "$S3_SECRET_FILE"
nobucket() { case $(store_field A NOBUCKET error) in *"bucket no-such-bucket does not exist"*) return 0 ;; esac; return 1; }
if wait_until 15 nobucket; then ok "the error says the bucket does not exist"; else
    not_ok "the error says the bucket does not exist"; diag "error: $(store_field A NOBUCKET error)"; fi
is "404 NoSuchBucket is not retried" "$(store_field A NOBUCKET retries)" 0
check "a bucket that does not exist refuses us" refuses NOBUCKET
check "store remove NOBUCKET" on A store remove NOBUCKET
rc_is "store remove of a missing store fails" 1 on A store remove WRONG

# ---- prune: the bucket loses the packs A deleted, after the new ones are there --------
rm -f "$SRC/big"
check "A snapshots the tree without big" on A snapshot
for id in $(on A --json snapshots | jq -r '.[:-1][].id'); do on A forget "$id" >/dev/null; done
rc_is "A prunes" 0 on A --json prune
check "... deleting or repacking packs" [ "$(jq '.delete_packs + .repack_packs' "$T_TMP/last.out")" -gt 0 ]
bucket_is_own() { [ "$(s3_objects node-a/ | sed 's|^node-a/||')" = "$(own_packs A)" ]; }
if wait_until 60 bucket_is_own; then ok "the bucket holds exactly A's packs after the prune"; else
    not_ok "the bucket holds exactly A's packs after the prune"
    diag "bucket: $(s3_objects node-a/ | wc -l), A: $(own_packs A | wc -l)"; fi
rc_is "check --read-data after the prune" 0 on A check --read-data
chuted_alive "chuted is still running"
done_testing
