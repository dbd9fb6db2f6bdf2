#!/bin/bash
# SPDX-License-Identifier: MIT
# chutectl prune against a real chuted: 50 snapshots of a changing tree,
# half forgotten; --dry-run changes nothing; prune frees at least 80 % of
# what the forgotten data alone occupied; every kept snapshot restores
# byte-identically; check is clean; a second prune finds nothing; a
# snapshot and a restore run while a prune waits out its grace period, and
# all three complete; usage errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prune-lib.sh"

SRC=$T_TMP/src
mkdir -p "$SRC/sub"

prune_node "$SRC"

# 8 files of 96 KiB; each round rewrites two of them, replaces "churn"
# (so each snapshot has 128 KiB of its own) and adds a small file
for f in 0 1 2 3 4 5 6 7; do head -c 98304 /dev/urandom > "$SRC/f$f"; done
IDS=()
for i in $(seq 1 50); do
    head -c 98304 /dev/urandom > "$SRC/f$((i % 8))"
    head -c 98304 /dev/urandom > "$SRC/sub/g$((i % 3))"
    head -c 131072 /dev/urandom > "$SRC/churn"
    echo "round $i" > "$SRC/sub/small$i"
    id=$(ctl snapshot "$SRC" 2>"$T_TMP/err") || diag "snapshot $i: $(cat "$T_TMP/err")"
    IDS+=("$id")
    manifest "$SRC" > "$T_TMP/m$i"
done
ctl --json snapshots > "$T_TMP/s.json"
check "50 snapshots taken" [ "$(py 'len(d)' "$T_TMP/s.json")" -eq 50 ]

# forget the 25 odd-numbered rounds (spread through the history)
for i in $(seq 1 2 49); do ctl forget "${IDS[$((i - 1))]}" >/dev/null 2>&1 || diag "forget $i failed"; done
ctl --json snapshots > "$T_TMP/s.json"
check "25 kept" [ "$(py 'len(d)' "$T_TMP/s.json")" -eq 25 ]
check "status says 25 snapshots are forgotten since the last prune" [ "$(stored prune_forgotten)" -eq 25 ]
ctl status > "$T_TMP/status.txt"
check "... in text too" grep -q "^Prune: last never; 25 snapshots forgotten since" "$T_TMP/status.txt"

rc_is "prune --dry-run" 0 ctl --json prune --dry-run
cp "$T_TMP/last.out" "$T_TMP/dry.json"
UNUSED=$(py 'd["unused_bytes"]' "$T_TMP/dry.json")
BEFORE=$(py 'd["bytes"]' "$T_TMP/dry.json")
check "the dry run finds unused data" [ "$UNUSED" -gt 0 ]
check "the dry run deletes nothing" [ "$(stored bytes)" -eq "$BEFORE" ]
rc_is "prune --dry-run in text" 0 ctl prune --dry-run
check "the text names what would go" grep -q "Would delete" "$T_TMP/last.out"

rc_is "prune" 0 ctl --json prune
cp "$T_TMP/last.out" "$T_TMP/prune.json"
AFTER=$(stored bytes)
diag "stored before $BEFORE, after $AFTER, freed $((BEFORE - AFTER)); the forgotten data alone $UNUSED"
check "prune frees at least 80 % of the forgotten data" [ $((BEFORE - AFTER)) -ge $((UNUSED * 8 / 10)) ]
# measured without prune's own figure: each forgotten round's churn (random,
# stored uncompressed) was in that snapshot alone
check "... and at least 80 % of the 25 forgotten churn files" [ $((BEFORE - AFTER)) -ge $((25 * 131072 * 8 / 10)) ]
check "the reply's bytes_after is the stored bytes" [ "$(py 'd["bytes_after"]' "$T_TMP/prune.json")" -eq "$AFTER" ]
ctl --json status > "$T_TMP/st.json"
check "status: nothing forgotten since, nothing marked, the time of the prune" \
    [ "$(py '(d.get("prune_forgotten", 0), d["condemned_packs"], d["prune_last"][:2])' "$T_TMP/st.json")" = "(0, 0, '20')" ]
check "every pack file left is in the index" \
    [ "$(find "$NODE_DIR/state/packs" -path '*/tmp' -prune -o -type f -print | wc -l)" -eq "$(stored packs)" ]

ok_all=1
for i in $(seq 2 2 50); do
    rm -rf "$T_TMP/r"
    if ! ctl restore "${IDS[$((i - 1))]}" "$T_TMP/r" >/dev/null 2>"$T_TMP/err"; then
        ok_all=0; diag "restore $i: $(cat "$T_TMP/err")"; continue
    fi
    manifest "$T_TMP/r" | cmp -s - "$T_TMP/m$i" || { ok_all=0; diag "snapshot $i differs after prune"; }
done
check "every kept snapshot restores byte-identically" [ "$ok_all" -eq 1 ]
rc_is "check is clean after prune" 0 ctl check --read-data
rc_is "a second prune" 0 ctl --json prune
check "a second prune finds nothing to delete" \
    [ "$(py 'd["delete_packs"] + d["repack_packs"]' "$T_TMP/last.out")" -eq 0 ]
rc_is "a snapshot after the prune" 0 ctl snapshot "$SRC"

# a backup and a restore while a prune waits (a longer grace keeps it there)
stop_chuted n
sed -i 's/^grace = 1s/grace = 4s/' "$NODE_DIR/chuted.conf"
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
ctl forget --keep-last 3 >/dev/null 2>&1
ctl prune > "$T_TMP/bg.out" 2>&1 &
BG=$!
T_PIDS+=("$BG")
sleep 1
head -c 200000 /dev/urandom > "$SRC/during"
rc_is "a snapshot while prune runs" 0 ctl snapshot "$SRC"
NEW=$(cat "$T_TMP/last.out")
manifest "$SRC" > "$T_TMP/m-during"
rm -rf "$T_TMP/r"
rc_is "a restore while prune runs" 0 ctl restore "${IDS[49]}" "$T_TMP/r"
check "the restore during prune is exact" cmp -s <(manifest "$T_TMP/r") "$T_TMP/m50"
rc=0; wait "$BG" || rc=$?
check "the prune completes" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T_TMP/bg.out"
rm -rf "$T_TMP/r"
rc_is "the snapshot taken during prune restores" 0 ctl restore "$NEW" "$T_TMP/r"
check "... exactly" cmp -s <(manifest "$T_TMP/r") "$T_TMP/m-during"
rc_is "check is clean afterwards" 0 ctl check --read-data

# automatic: retention after a snapshot forgets, then prune runs by itself
for i in 1 2 3; do
    head -c 300000 /dev/urandom > "$SRC/churn"
    ctl snapshot "$SRC" >/dev/null 2>&1
done
stop_chuted n
cat >> "$NODE_DIR/chuted.conf" <<EOC
[retention]
keep_within = 0
keep_last = 2
keep_hourly = 0
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
[prune]
interval = 1s
EOC
sed -i 's/^auto = no/auto = yes/; s/^grace = 4s/grace = 1s/' "$NODE_DIR/chuted.conf"
sleep 1.1 # [prune] interval since the last prune
start_chuted n || { not_ok "chuted restarts"; done_testing; exit; }
B0=$(stored bytes)
head -c 300000 /dev/urandom > "$SRC/churn"
ctl snapshot "$SRC" >/dev/null 2>&1
auto_pruned() { grep -q "Prune (automatic):" "$NODE_DIR/chuted.log"; }
for i in $(seq 1 300); do auto_pruned && break; sleep 0.1; done
check "retention forgets and an automatic prune follows" auto_pruned
ctl --json snapshots > "$T_TMP/s.json"
check "retention kept the last 2" [ "$(py 'len(d)' "$T_TMP/s.json")" -eq 2 ]
check "the automatic prune freed the forgotten churn" [ "$(stored bytes)" -lt "$B0" ]
rc_is "check is clean after the automatic prune" 0 ctl check

rc_is "bad --max-unused: usage error" 2 ctl prune --max-unused 120
rc_is "bad --max-repack: usage error" 2 ctl prune --max-repack lots
rc_is "unknown option: usage error" 2 ctl prune --everything
done_testing
