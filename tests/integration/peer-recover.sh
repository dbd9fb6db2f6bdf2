#!/bin/bash
# SPDX-License-Identifier: MIT
# Disaster recovery from a friend, and the ransomware guard. A backs a tree
# with every kind of metadata up to B. Then, as an attacker holding A's
# machine would, A's identity deletes every one of A's packs on B: B only
# marks them. A's state dir is wiped. A fresh node imports A's recovery
# code (and so presents A's node id), adds B, runs `recover B`, which
# undeletes the marked packs and rebuilds the index from them; `restore
# latest` then equals the original, content and metadata. A third snapshot
# that A forgot (its tombstone reached B) stays forgotten on the new node.
# A friend removed while a reindex reads from it does not stall chuted;
# recover from a friend nobody answers for says which address failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer-lib.sh"
need rsync getfattr setfattr

TOOL=$CHUTE_BUILDDIR/tests/peer-client-tool
SRC=$T_TMP/src

# ---- the tree: sizes across chunk and pack boundaries, links, modes, xattrs ----
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

# ---- A backs up to B ----------------------------------------------------------------
peer_node A
peer_node B
start_chuted A || bail_out "A did not start"
start_chuted B || bail_out "B did not start"
ID_A=$(node_id A)
ID_B=$(node_id B)
check "B keeps A's packs, A sends them to B" peer_both A B 1G
on A add "$SRC" >/dev/null
check "A takes a snapshot" on A snapshot
echo "a second version" > "$SRC/docs/deep/er/letter.txt"
check "A takes a second snapshot" on A snapshot
cp -p "$SRC/docs/deep/er/letter.txt" "$T_TMP/letter.saved"
echo "a third version, forgotten" > "$SRC/docs/deep/er/letter.txt"
check "A takes a third snapshot" on A snapshot
THIRD=$(on A --json snapshots | jq -r '.[-1].id')
check "A forgets it" on A forget "$THIRD"
cp -p "$T_TMP/letter.saved" "$SRC/docs/deep/er/letter.txt" # the tree of the second again
if wait_until 90 replicated A B; then ok "every pack of A reaches B"; else
    not_ok "every pack of A reaches B"; on A --json stores | sed 's/^/#   /'; fi
N_PACKS=$(own_packs A | wc -l)
CODE=$(on A --json key export | jq -r .code)
[ -n "$CODE" ] && [ "$CODE" != null ] || bail_out "no recovery code from A"

# ---- the attack: A's identity deletes all its packs on B ------------------------
steps=(hello)
for p in $(own_packs A); do steps+=(delete "$p"); done
"$TOOL" run "code:$CODE" "127.0.0.1:$(port_of B)" "${steps[@]}" usage > "$T_TMP/attack.json" 2>"$T_TMP/tool.err"
is "the attacker's DELETEs are all answered" "$(grep -c '"op":"delete".*"ok":true' "$T_TMP/attack.json")" "$N_PACKS"
tail -1 "$T_TMP/attack.json" > "$T_TMP/usage.json"
jq_is "B counts them as marked, not gone" "$T_TMP/usage.json" ".ok and .marked > 0 and .marked == .used"
is "B still has every byte of them" "$(comm -23 <(own_packs A) <(hosted_packs B) | wc -l)" 0
on B --json peers > "$T_TMP/peers.json"
jq_is "chutectl peers on B shows A's marked bytes" "$T_TMP/peers.json" \
    '[.[] | select(.name == "A")][0].marked > 0'

# ---- disaster: A's machine is gone ---------------------------------------------------
stop_chuted A
rm -rf "$T_TMP/A"
peer_node A2
HOOK=$T_TMP/hook
mkdir -p "$HOOK"
export CHUTE_TEST_HOOK_DIR=$HOOK # pause points, for the end
start_chuted A2 --no-key || bail_out "the fresh node did not start"
unset CHUTE_TEST_HOOK_DIR
check "the fresh node imports A's recovery code" on A2 key import --force "$CODE"
is "... and presents A's node id" "$(node_id A2)" "$ID_A"
check "the fresh node adds B" on A2 peer add B "127.0.0.1:$(port_of B)" "$ID_B"
wait_until 20 store_is A2 B connected true || true
rc_is "recover B" 0 on A2 --json recover B
cp "$T_TMP/last.out" "$T_TMP/recover.json"
jq_is "recover: both snapshots, A's packs, the marked packs undeleted" "$T_TMP/recover.json" \
    ".snapshots == 2 and .packs == $N_PACKS and .undeleted == $N_PACKS and .errors == 0"
jq_is "recover: the forgotten third snapshot stays forgotten (its tombstone came back)" \
    "$T_TMP/recover.json" ".forgotten == 1"
on B --json peers > "$T_TMP/peers2.json"
jq_is "nothing of A's is marked on B any more" "$T_TMP/peers2.json" \
    '[.[] | select(.name == "A")][0].marked == 0'
on A2 --json snapshots > "$T_TMP/snaps.json"
jq_is "snapshots lists both, with their root" "$T_TMP/snaps.json" \
    "[.[] | select(.root == \"$SRC\")] | length == 2"
jq_is "... and not the forgotten one" "$T_TMP/snaps.json" "[.[] | select(.id == \"$THIRD\")] | length == 0"

rc_is "restore latest to a new directory" 0 on A2 restore latest "$T_TMP/restored"
out=$(rsync -naHAXci --delete "$SRC/" "$T_TMP/restored/" 2>&1)
is "restored tree equals the original (rsync -c, hard links, ACLs, xattrs)" "$out" ""
listing() { (cd "$1" && find . -printf '%P %y %m %U %G %s %T@ %l\n' | sort); }
is "stat listings match (modes, owners, sizes, ns mtimes, link targets)" \
    "$(listing "$T_TMP/restored" | md5sum)" "$(listing "$SRC" | md5sum)"
if [ "$XATTR" = 1 ]; then
    is "xattr kept" "$(getfattr --only-values -n user.chute "$T_TMP/restored/docs/f5" 2>/dev/null)" kept
fi
rc_is "the first snapshot restores too" 0 on A2 restore "$(jq -r '.[0].id' "$T_TMP/snaps.json")" "$T_TMP/first"
is "... with the first version of the letter" "$(cat "$T_TMP/first/docs/deep/er/letter.txt")" "a letter"

# the recovered node goes on: a new snapshot of the restored tree dedupes
# against what it recovered and reaches B; nothing is uploaded twice
on A2 --json stores > "$T_TMP/stores.json"
jq_is "recovered packs count as held by B: nothing pending" "$T_TMP/stores.json" \
    '.stores[0].pending == 0 and .stores[0].uploaded == 0'

# a friend that cannot be reached: recover says why in the store's own words
GONE_PORT=$(free_port)
# ... after dropping B while a reindex reads from it: the reindex gives B
# back on the loop, which must not wait for that
touch "$HOOK/reindex.wait"
on A2 reindex --from B > "$T_TMP/reindex.out" 2>&1 &
RPID=$!
check "a reindex from B pauses on its way" wait_file 30 "$HOOK/reindex.reached"
rc_is "the fresh node drops B meanwhile, at once" 0 \
    env CHUTE_SOCKET="$T_TMP/A2/run/chuted.sock" timeout $((10 * T_SLOW)) "$CHUTECTL" peer remove B
rm -f "$HOOK/reindex.wait"
wait "$RPID"; diag "the reindex, its store removed under it: exit $? ($(head -c 200 "$T_TMP/reindex.out"))"
check "chuted still answers" on A2 status
check "... and adds it again where nobody answers" on A2 peer add gone "127.0.0.1:$GONE_PORT" "$ID_B"
rc_is "recover from it fails" 1 on A2 recover gone
grep -q "cannot connect to 127.0.0.1:$GONE_PORT" "$T_TMP/last.err" &&
    ok "... and says which address it could not connect to" ||
    { not_ok "... and says which address it could not connect to"; sed 's/^/#   /' "$T_TMP/last.err"; }

CHUTED_PID=$(cat "$T_TMP/B/pid")
chuted_alive "B is still running"
done_testing
