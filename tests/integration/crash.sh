#!/bin/bash
# SPDX-License-Identifier: MIT
# Crash safety with two roots sharing content. Eight rounds of: new content
# (the same 50 MB file in both roots, a shared empty directory and small
# file, a file of each root's own), start chuted (its start-up scan and a
# requested snapshot of each root run at once), SIGKILL at a random moment.
# After every kill the index passes SQLite's integrity check and chuted
# restarts. At the end every snapshot that `chutectl snapshots` lists
# restores, byte-identical (sha256 of every file, and the directory list) to
# what its root held in that round, and every snapshot acknowledged before a
# kill is listed. Temporary files, unindexed packs and pack bytes (each
# round's content stored once) stay bounded. SIGTERM: shutdown.sh.
. "$(dirname "$0")/lib.sh"
need jq sqlite3 sha256sum openssl

MB=${CHUTE_CRASH_MB:-50}
if [ "$T_SANITIZER" = tsan ] && [ -z "${CHUTE_CRASH_MB:-}" ]; then
    MB=10; diag "ThreadSanitizer build (10x slower): $MB MB files"
fi
ROUNDS=${CHUTE_CRASH_ROUNDS:-8}
A=$T_TMP/a B=$T_TMP/b M=$T_TMP/manifests
mkdir -p "$A/empty" "$B/empty" "$M"

# state_tmp DIR: files that look like temporary or partial state
state_tmp() { (cd "$1" && find . -type f \( -ipath '*tmp*' -o -ipath '*partial*' -o -name '*.part' -o -name '*.new' -o -name '*~' \) 2>/dev/null); }
pack_files() { find "$1" -type f -path '*pack*' 2>/dev/null; }
# manifest DIR: every directory, and every file with its sha256
manifest() { (cd "$1" && find . -type d | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
# fill K: round K's content in both roots, and their manifests
fill() {
    openssl enc -aes-128-ctr -pass pass:"chute-crash-$1" -nosalt -pbkdf2 </dev/zero 2>/dev/null |
        head -c $((MB * 1000 * 1000)) > "$T_TMP/big.tmp"
    head -c 3000 /dev/urandom > "$T_TMP/shared.tmp"
    for r in a b; do
        d=$T_TMP/$r
        cp "$T_TMP/big.tmp" "$d/big"
        cp "$T_TMP/shared.tmp" "$d/shared"
        echo "$1" > "$d/round"
        head -c $((1000 + $1 * 7)) /dev/urandom > "$d/own-$r"
        manifest "$d" > "$M/$r.$1"
    done
}

node_init n
STATE=$NODE_DIR/state
fill 0
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add root a" 0 ctl add "$A"
rc_is "add root b" 0 ctl add "$B"
t0=$(date +%s%N)
rc_is "snapshot a" 0 ctl snapshot "$A"
rc_is "snapshot b" 0 ctl snapshot "$B"
# kill within twice the time the two snapshots took (a slower build or
# machine gets later kills, so some rounds still complete)
span=$(( ($(date +%s%N) - t0) / 1000000 * 2 + 300 ))
diag "SIGKILL within $span ms of each start"
stop_chuted n || true

acked="" completed=0 integrity_bad=0 restart_bad=0 counts=""
for k in $(seq 1 "$ROUNDS"); do
    fill "$k" # while chuted is down: every snapshot of round k holds exactly this
    if ! start_chuted n; then restart_bad=$((restart_bad + 1)); diag "round $k: start failed"; break; fi
    counts="$counts $(state_tmp "$STATE" | wc -l)/$(pack_files "$STATE" | wc -l)"
    ctl --json snapshot "$A" > "$T_TMP/ack.a" 2>/dev/null &
    pa=$!
    ctl --json snapshot "$B" > "$T_TMP/ack.b" 2>/dev/null &
    pb=$!
    ms=$(( (RANDOM * 32768 + RANDOM) % span ))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -KILL "$CHUTED_PID"
    wait "$CHUTED_PID" 2>/dev/null
    for p in "$pa:a" "$pb:b"; do
        rc=0; wait "${p%%:*}" || rc=$?
        if [ "$rc" -eq 0 ]; then
            completed=$((completed + 1))
            acked="$acked $(jq -r 'if type == "array" then .[0].id else .id end' "$T_TMP/ack.${p#*:}")"
        fi
    done
    r=$(sqlite3 "$STATE/index.db" 'PRAGMA integrity_check' 2>&1)
    [ "$r" = ok ] || { integrity_bad=$((integrity_bad + 1)); diag "round $k: integrity_check: $r"; }
done
diag "tmp/pack files at each start:$counts"
diag "requested snapshots acknowledged before their kill: $completed of $((2 * ROUNDS))"
is "index.db passes PRAGMA integrity_check after every SIGKILL" "$integrity_bad" 0

start_chuted n || { not_ok "chuted restarts after the last kill"; done_testing; exit; }
is "chuted restarts after every SIGKILL" "$restart_bad" 0
rc_is "list snapshots" 0 ctl --json snapshots
cp "$T_TMP/last.out" "$T_TMP/snapshots.json"
n=$(jq length "$T_TMP/snapshots.json")
diag "$n snapshots listed"
missing=0
for id in $acked; do
    jq -e --arg id "$id" 'any(.[]; .id == $id)' "$T_TMP/snapshots.json" >/dev/null || { missing=$((missing + 1)); diag "acknowledged snapshot $id is not listed"; }
done
is "every snapshot acknowledged before a kill is listed ($completed)" "$missing" 0

bad=0 t0=$(date +%s)
while read -r id root; do
    r=$(basename "$root")
    out=$T_TMP/restore-$id
    if ! ctl restore "$id" "$out" >/dev/null 2>"$T_TMP/restore.err"; then
        bad=$((bad + 1)); diag "snapshot $id of $r does not restore: $(head -c 300 "$T_TMP/restore.err")"; continue
    fi
    round=$(cat "$out/round" 2>/dev/null)
    if [ -z "$round" ] || [ ! -f "$M/$r.$round" ]; then
        bad=$((bad + 1)); diag "snapshot $id of $r: no round marker restored"
    elif ! manifest "$out" | cmp -s - "$M/$r.$round"; then
        bad=$((bad + 1)); diag "snapshot $id of $r (round $round) differs from what was snapshotted:"
        manifest "$out" | diff - "$M/$r.$round" | head -5 | sed 's/^/#   /'
    fi
    rm -rf "$out"
done < <(jq -r '.[] | "\(.id) \(.root)"' "$T_TMP/snapshots.json")
diag "restored and compared $n snapshots in $(( $(date +%s) - t0 )) s"
if [ "$n" -gt 2 ]; then ok "snapshots listed: $n (2 before the rounds)"; else not_ok "snapshots listed: $n (want more than the 2 made before the rounds)"; fi
is "every listed snapshot restores byte-identical to its round's content" "$bad" 0

rc_is "status --json" 0 ctl --json status
# (the restart's start-up scan may still be writing packs, each linked into
# packs/ just before its row commits: compare once the two agree)
packs_agree() {
    ctl --json status > "$T_TMP/st.json" &&
        [ "$(jq -r .packs "$T_TMP/st.json")" = "$(pack_files "$STATE" | wc -l)" ]
}
wait_until 30 packs_agree
is "every pack file on disk is in the index (status packs = files in packs/)" \
    "$(jq -r .packs "$T_TMP/st.json" 2>/dev/null)" "$(pack_files "$STATE" | wc -l)"
# each round's content is stored once however the two roots and the kills
# interleave (records add a few bytes per chunk; small packs per snapshot)
bytes=$(pack_files "$STATE" | tr '\n' '\0' | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
want=$(( (ROUNDS + 1) * MB * 1000 * 1000 ))
if [ "${bytes:-0}" -le $((want * 105 / 100 + 16 * 1024 * 1024)) ]; then ok "pack bytes stay bounded ($bytes for $want bytes of content)"; else
    not_ok "pack bytes stay bounded ($bytes for $want bytes of content)"; fi
stop_chuted n || true
r=$(sqlite3 "$STATE/index.db" 'PRAGMA integrity_check' 2>&1)
is "index.db passes integrity_check at the end" "$r" ok
tmp_n=$(state_tmp "$STATE" | wc -l)
if [ "$tmp_n" -le 2 ]; then ok "temporary files left in the state dir: $tmp_n"; else
    not_ok "temporary files left in the state dir: $tmp_n (want <= 2)"; state_tmp "$STATE" | head | sed 's/^/#   /'; fi
done_testing
