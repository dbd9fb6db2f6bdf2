#!/bin/bash
# SPDX-License-Identifier: MIT
# local_copy = cache: A keeps at most cache_size of its packs once they are
# on B. Restore faults the evicted ranges in from B; with B stopped, a no-op
# snapshot, ls and diff still work (trees stay here) while a restore of
# evicted data fails with an error (and makes no hard link to a file it could
# not restore); a pack file the index thinks evicted is
# found at restart (removing a store is refused as busy until the cache's
# first pass has looked); a peer C added later gets every pack, the evicted ones
# fetched from B. verify reads evicted packs back; a pack no store holds
# any more is reported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"

CACHE=$((24 * 1024 * 1024))
SRC=$T_TMP/src
mkdir -p "$SRC/d"
for i in 1 2 3 4 5 6 7 8; do
    head -c $((8 * 1024 * 1024 + i)) /dev/urandom > "$SRC/d/f$i"
    ln "$SRC/d/f$i" "$SRC/d/f$i-link"
done
echo "small file" > "$SRC/small"

peer_node A
node_conf A replication "local_copy = cache" "cache_size = 24M"
peer_node B
start_nodes A B
backed_up A B "$SRC"
ALL=$(hosted_packs B | wc -l)
diag "B holds $ALL packs of A"

local_fits() { [ "$(own_pack_bytes A)" -le "$CACHE" ]; }
if wait_until 30 local_fits; then ok "A's pack files shrink to cache_size"
else not_ok "A's pack files shrink to cache_size"; diag "$(own_pack_bytes A) bytes"; fi
evicted() { [ "$(on A --json status | jq -r .evicted)" -ge 1 ]; }
check "status counts the evicted packs" wait_until 10 evicted
# (a pack file goes on a worker, its index row on the loop after: take the
# status once the two agree)
cache_agrees() {
    on A --json status > "$T_TMP/status.json" &&
        jq -e ".local_bytes <= $CACHE and .local_bytes == $(own_pack_bytes A)" "$T_TMP/status.json"
}
wait_until 10 cache_agrees || diag "status and the pack files still disagree"
jq_is "status --json shows the cache" "$T_TMP/status.json" \
    ".local_copy == \"cache\" and .cache_size == $CACHE and .local_bytes <= $CACHE and
     .local_bytes == $(own_pack_bytes A) and .local_packs + .evicted == $ALL and
     .local_bytes + .evicted_bytes == .bytes"
check "status shows the local copy" sh -c "CHUTE_SOCKET=$T_TMP/A/run/chuted.sock $CHUTECTL status |
    grep -q '^Local copy: cache, .* (cache_size 24.0 MiB), [0-9]* packs (.*) only on stores'"

rc_is "verify --store B checks the evicted packs too (read back, hashed)" 0 on A --json verify --store B
jq_is "every pack, no error, none unanswered" "$T_TMP/last.out" \
    ".store == \"B\" and .packs == $ALL and .errors == 0 and .unanswered == 0"
check "restore reads the evicted packs from B" on A restore latest "$T_TMP/out"
is "the tree is the original, byte for byte" "$(diff -r "$SRC" "$T_TMP/out" && echo same)" same
is "... with its hard links" "$(for i in 1 2 3 4 5 6 7 8; do stat -c %i "$T_TMP/out/d/f$i" "$T_TMP/out/d/f$i-link"; done |
    uniq | wc -l)" 8
is "restoring faulted nothing back in" "$(on A --json status | jq .evicted)" \
    "$(jq .evicted "$T_TMP/status.json")"

is "cat works" "$(on A cat "latest:$SRC/small")" "small file"

stop_chuted B
check "with B stopped, a no-op snapshot works (trees are here)" on A snapshot
check "ls works" on A ls "latest:$SRC/d"
on A --json snapshots > "$T_TMP/snaps.json"
is "diff of the two snapshots is empty" \
    "$(on A diff "$(jq -r '.[0].id' "$T_TMP/snaps.json")" "$(jq -r '.[1].id' "$T_TMP/snaps.json")" && echo done)" done
on A restore latest "$T_TMP/out2" > "$T_TMP/restore2.out" 2>&1
rc=$?
is "a restore needing evicted data fails" "$rc" 1
check "and says so" grep -q "files could not be restored" "$T_TMP/restore2.out"
check "chuted's log says why" grep -qE "Restore: cannot read the backed-up data of .*/out2/d/f[0-9]: Transport endpoint is not connected" \
    "$T_TMP/A/chuted.log"
bad=0
for f in "$T_TMP"/out2/d/*; do
    cmp -s "$f" "$SRC/d/${f##*/}" || { bad=1; diag "$f differs ($(stat -c %s "$f") bytes)"; }
done
is "every file there is whole: none is left half-written at its name" "$bad" 0
# a hard link to a file that could not be restored is not made (it would pass
# for the file); one to a file restored whole is
links_ok=0 skipped=0
for i in 1 2 3 4 5 6 7 8; do
    f=$T_TMP/out2/d/f$i
    if cmp -s "$f" "$SRC/d/f$i"; then
        [ "$(stat -c %i "$f")" = "$(stat -c %i "$f-link" 2>/dev/null)" ] && links_ok=$((links_ok + 1)) ||
            diag "f$i-link is not a link of the restored f$i"
    elif [ -e "$f-link" ]; then
        diag "f$i-link exists though f$i could not be restored"
    elif grep -qF "Restore: cannot create the hard link $f-link: its first name $f could not be restored" \
        "$T_TMP/A/chuted.log"; then
        skipped=$((skipped + 1))
    else
        diag "f$i-link: nothing in the log"
    fi
done
is "each link made to a whole file, or skipped and logged" "$((links_ok + skipped))" 8
check "... and some were skipped ($skipped)" test "$skipped" -ge 1
# --overwrite over an older restore: a file whose data cannot be read keeps
# what was there (the new one is written beside it and renamed over it once whole)
for i in 1 2 3 4 5 6 7 8; do echo "older $i" > "$T_TMP/out/d/f$i"; done # f$i-link: the same inode
rc_is "restore --overwrite with B stopped fails" 1 on A restore --overwrite latest "$T_TMP/out"
kept=0 new=0 bad=0
for i in 1 2 3 4 5 6 7 8; do
    if echo "older $i" | cmp -s - "$T_TMP/out/d/f$i"; then kept=$((kept + 1))
    elif cmp -s "$T_TMP/out/d/f$i" "$SRC/d/f$i"; then new=$((new + 1))
    else bad=$((bad + 1)); diag "f$i is neither what was there nor the original"; fi
done
is "each file is what was there or the whole original ($kept kept, $new restored)" "$bad" 0
check "... some were kept" test "$kept" -ge 1
is "no file written beside is left" "$(find "$T_TMP/out" -name '.chute-restore-*' | wc -l)" 0
CHUTED_PID=$(cat "$T_TMP/A/pid")
chuted_alive "A is still running"

# a crash between the unlink and the index: a file back that the index thinks evicted
stop_chuted A
victim=$(comm -23 <(hosted_packs B) <(own_packs A) | head -1)
mkdir -p "$T_TMP/A/state/packs/${victim:0:2}"
cp "$(hosted_files B | grep "$victim")" "$T_TMP/A/state/packs/${victim:0:2}/$victim"
start_chuted B || bail_out "B did not start again"
# the cache's first pass held (pause point cache-pass): until it has compared
# the rows with the files, a row may say "local" for a file a crash deleted,
# so removing a peer (or a store) is refused as busy
export CHUTE_TEST_HOOK_DIR=$T_TMP/hooks
mkdir -p "$CHUTE_TEST_HOOK_DIR"
touch "$CHUTE_TEST_HOOK_DIR/cache-pass.wait"
start_chuted A || bail_out "A did not start again"
check "A's first cache pass is under way" wait_file 30 "$CHUTE_TEST_HOOK_DIR/cache-pass.reached"
rc_is "peer remove B meanwhile fails" 1 on A peer remove B
check "... as busy: the cache is checking its files" \
    grep -q "the local cache is evicting packs or checking its files right now; try again in a moment" "$T_TMP/last.err"
is "B is still a store of A" "$(store_field A B name)" B
rm -f "$CHUTE_TEST_HOOK_DIR/cache-pass.wait"
unset CHUTE_TEST_HOOK_DIR
found() { grep -q "pack $victim is here, unlike what the index said" "$T_TMP/A/chuted.log"; }
check "A finds the pack file the index thought evicted" wait_until 10 found
check "and evicts it again" wait_until 20 local_fits

# C joins: every pack reaches it, the evicted ones copied from B
peer_node C
start_chuted C || bail_out "C did not start"
check "A and C peer with each other" peer_both A C 1G
all_on_c() { [ "$(hosted_packs C)" = "$(hosted_packs B)" ]; }
if wait_until ${C_WAIT:-60} all_on_c; then ok "C receives every pack of A"
else not_ok "C receives every pack of A"; diag "C has $(hosted_packs C | wc -l) of $ALL"; [ -n "${CACHE_DEBUG:-}" ] && gdb -p "$(cat $T_TMP/A/pid)" -batch -ex "thread apply all bt" > $T_TMP/A-bt.txt 2>&1; fi
is "no pack C holds is damaged" "$(hosted_bad C)" ""
# (C makes a pack visible before it answers, and A counts it when the answer comes)
no_pending_c() { [ "$(store_field A C pending)" = 0 ]; }
check "A's store C has nothing pending" wait_until 10 no_pending_c

# an evicted pack damaged on C while B holds it: verify finds it, the copy
# stops counting (removing B is refused meanwhile) and is replaced from B's
fixable=$(comm -23 <(hosted_packs B) <(own_packs A) | sed -n 2p)
flip_byte "$(hosted_files C | grep "$fixable")" 2000
rc_is "verify --store C finds the damaged evicted pack" 1 on A verify --store C
check "A's log says it is replaced from another store" \
    grep -q "Store C: pack $fixable is damaged there and was evicted here (local_copy = cache); it no longer counts" \
    "$T_TMP/A/chuted.log"
c_good() { [ -z "$(hosted_bad C)" ] && [ "$(store_field A C pending)" = 0 ]; }
check "C's damaged copy is replaced by B's" wait_until 30 c_good

# an evicted pack damaged on B and gone from C: verify finds both, keeps B's
# damaged copy (nothing here could replace it), and the upload to C says the
# only copy it could fetch is damaged
lost=$(comm -23 <(hosted_packs B) <(own_packs A) | head -1)
flip_byte "$(hosted_files B | grep "$lost")" 1000
rm -f "$(hosted_files C | grep "$lost")"
rc_is "verify --store B finds the damaged evicted pack" 1 on A verify --store B
check "A's log names it" grep -q "pack $lost is damaged there and was evicted here" "$T_TMP/A/chuted.log"
is "B keeps its copy: the only one there is" "$(hosted_files B | grep -c "$lost")" 1
rc_is "verify --store C finds it missing" 1 on A verify --store C
check "A's log names it too" grep -q "Store C: pack $lost is missing there and was evicted here" "$T_TMP/A/chuted.log"
said() { grep -q "Store C: pack $lost is not here and the copy fetched from another store is damaged" "$T_TMP/A/chuted.log"; }
check "the upload to C finds B's copy damaged and says so" wait_until 10 said

# the lost pack is only on B now: removing B is refused, unless --force
# (asked again while a cache pass happens to be running: that one says "try again")
remove_b() {
    local i err rc
    for i in $(seq 1 20); do
        rc=0; err=$(on A peer remove B 2>&1 >/dev/null) || rc=$?
        case $err in *"evicting packs or checking its files right now"*) sleep 0.3 ;; *) printf '%s\n' "$err" >&2; return $rc ;; esac
    done
    return 1
}
rc_is "peer remove B is refused: evicted packs only B holds" 1 remove_b
check "and says why" grep -q "only B holds them" "$T_TMP/last.err"
check "peer remove --force B removes it all the same" on A peer remove --force B
done_testing
