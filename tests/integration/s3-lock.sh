#!/bin/bash
# SPDX-License-Identifier: MIT
# S3 Object Lock on a real Ceph RGW: with --object-lock-days every pack is
# PUT under COMPLIANCE retention (and a Content-MD5) into a bucket made with
# object lock; deleting a pack's version by hand is refused before the lock
# expires; a store added again over the same bucket finds its packs there
# and adds no second version of any; a damaged locked version (PROVE fails,
# the delete is refused) stops counting as held and gets a good version
# uploaded over it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
. "$(dirname "$0")/s3-lib.sh"

s3_start || bail_out "Ceph RGW did not start"
is "a bucket with object lock is made" "$(s3_curl PUT /locked -H 'x-amz-bucket-object-lock-enabled: true' | tail -1)" 200

SRC=$T_TMP/src
mkdir -p "$SRC"
for i in $(seq 1 10); do head -c $((i * 50000)) /dev/urandom > "$SRC/f$i"; done
peer_node A
start_chuted A || bail_out "A did not start"
add_locked() {
    on A store add L s3 --endpoint "$S3_ENDPOINT" --bucket locked --access-key-file "$S3_ACCESS_FILE" \
        --secret-key-file "$S3_SECRET_FILE" --object-lock-days 1 >/dev/null
}
check "store add L --object-lock-days 1" add_locked
on A add "$SRC" >/dev/null
check "A takes a snapshot" on A snapshot
s3_done() { [ "$(store_field A L pending)" = 0 ] && [ "$(store_field A L packs)" -gt 0 ]; }
if wait_until 60 s3_done; then ok "the packs reach the locked bucket"; else
    not_ok "the packs reach the locked bucket"; on A --json stores | sed 's/^/#   /'; fi
PACK=$(own_packs A | head -1)
s3_curl HEAD "/locked/$PACK" -I > "$T_TMP/head.txt"
check "the pack is under COMPLIANCE retention" grep -qi '^x-amz-object-lock-mode: COMPLIANCE' "$T_TMP/head.txt"
until=$(sed -n 's/^x-amz-object-lock-retain-until-date: *\([0-9T:-]*\).*/\1/Ip' "$T_TMP/head.txt")
left=$(( $(date -d "$until" +%s) - $(date +%s) ))
[ "$left" -gt 86000 ] && [ "$left" -le 86400 ] && ok "... until a day from now ($until)" || not_ok "... until a day from now (got '$until')"
s3_curl GET "/locked?versions=" > "$T_TMP/versions.xml"
VERSION=$(grep -o "<Key>$PACK</Key><VersionId>[^<]*" "$T_TMP/versions.xml" | sed 's/.*<VersionId>//')
[ -n "$VERSION" ] || bail_out "no version id for $PACK"
is "deleting the pack's version by hand is refused" "$(s3_curl DELETE "/locked/$PACK?versionId=$VERSION" | tail -1)" 403
is "... and it is still there" "$(s3_curl HEAD "/locked/$PACK" -I | tail -1)" 200

# the store again over the same bucket: every pack is pending again, found there, not PUT twice
check "store remove L" on A store remove L
check "store add L again" add_locked
if wait_until 60 s3_done; then ok "the packs count as held again"; else not_ok "the packs count as held again"; fi
s3_curl GET "/locked?versions=" > "$T_TMP/versions2.xml"
is "no pack has a second version" "$(grep -o '<Version>' "$T_TMP/versions2.xml" | wc -l)" "$(own_packs A | wc -l)"
is "nothing was uploaded the second time" "$(store_field A L uploaded)" 0
is "... every byte was found there" "$(store_field A L resumed_bytes)" "$(own_pack_bytes A)"

# a damaged copy under the lock: a new version of the pack, flipped, itself
# locked (so it cannot be deleted). PROVE finds it; the copy stops counting
# as held and a good version is uploaded over it (the ETag, the MD5 of a
# single PUT, tells the two apart).
BAD=$T_TMP/damaged
cp "$(find "$T_TMP/A/state/packs" -name "$PACK")" "$BAD"
flip_byte "$BAD" 100
BAD_SHA=$(sha256sum < "$BAD" | cut -d' ' -f1)
BAD_MD5=$(openssl dgst -md5 -binary < "$BAD" | base64)
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$(cat "$S3_ACCESS_FILE"):$(cat "$S3_SECRET_FILE")" -H "x-amz-content-sha256: $BAD_SHA" \
    -H "Content-MD5: $BAD_MD5" -H "x-amz-object-lock-mode: COMPLIANCE" \
    -H "x-amz-object-lock-retain-until-date: $(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)" \
    --data-binary @"$BAD" "$S3_ENDPOINT/locked/$PACK")
is "a damaged, locked version of a pack is put by hand" "$code" 200
rc_is "verify --store L finds it damaged" 1 on A verify --store L
if wait_until 60 s3_done; then ok "a good version is uploaded over it"; else
    not_ok "a good version is uploaded over it"; on A --json stores | sed 's/^/#   /'; fi
rc_is "verify --store L is clean again" 0 on A verify --store L
s3_curl GET "/locked?versions=" > "$T_TMP/versions3.xml"
is "the pack has three versions (good, damaged, good)" "$(grep -o "<Key>$PACK</Key>" "$T_TMP/versions3.xml" | wc -l)" 3
chuted_alive "chuted is still running"
done_testing
