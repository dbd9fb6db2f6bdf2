#!/bin/bash
# SPDX-License-Identifier: MIT
# Continuous protection as a user sees it: without any `chutectl snapshot`,
# a change under a watched root shows up in `latest` after the quiet period
# (edits, new directories, deletes, renames, changes made while chuted was
# down), and a burst of writes is debounced into few snapshots.
. "$(dirname "$0")/lib.sh"
need jq

SRC=$T_TMP/src
mkdir -p "$SRC/dir"
echo one > "$SRC/file"
echo keep > "$SRC/dir/keep"
echo gone > "$SRC/gone"
echo old > "$SRC/old-name"

node_init n
node_conf n watch "quiet_period = 1s" "max_delay = 20s"
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }

# until SECONDS cmd...: 0 as soon as cmd succeeds, 1 after SECONDS
until_ok() {
    local end=$(( $(date +%s) + $1 )); shift
    while ! "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done
}
n_snaps() { ctl --json snapshots --root "$SRC" 2>/dev/null | jq length 2>/dev/null || echo 0; }
latest_has() { [ "$(ctl cat "latest:$1" 2>/dev/null)" = "$2" ]; }
latest_lacks() { ! ctl cat "latest:$1" >/dev/null 2>&1 && ctl ls latest >/dev/null 2>&1; }
has_snaps() { [ "$(n_snaps)" -ge "$1" ]; }

rc_is "add the root" 0 ctl add "$SRC"
if until_ok 15 has_snaps 1; then ok "a first snapshot is taken without asking"; else not_ok "a first snapshot is taken without asking"; fi
check "... and holds the files" latest_has file one

echo two > "$SRC/file"
if until_ok 15 latest_has file two; then ok "an edit reaches latest by itself"; else not_ok "an edit reaches latest by itself"; fi

mkdir -p "$SRC/new/deeper"
sleep 0.3
echo fresh > "$SRC/new/deeper/f"
if until_ok 15 latest_has new/deeper/f fresh; then ok "a file in a new directory reaches latest"; else not_ok "a file in a new directory reaches latest"; fi
echo later > "$SRC/new/deeper/g"
if until_ok 15 latest_has new/deeper/g later; then ok "the new directory is watched too"; else not_ok "the new directory is watched too"; fi

rm "$SRC/gone"
if until_ok 15 latest_lacks gone; then ok "a delete reaches latest"; else not_ok "a delete reaches latest"; fi
mv "$SRC/old-name" "$SRC/dir/new-name"
if until_ok 15 latest_has dir/new-name old && latest_lacks old-name; then ok "a rename reaches latest"; else not_ok "a rename reaches latest"; fi

# a burst: a write every 0.2 s for 3 s is one or two snapshots, not fifteen
sleep 1.5   # let anything pending settle
before=$(n_snaps)
for i in $(seq 1 15); do echo "burst $i" > "$SRC/file"; sleep 0.2; done
until_ok 15 latest_has file "burst 15"
sleep 1.5
after=$(n_snaps)
if [ $((after - before)) -ge 1 ] && [ $((after - before)) -le 3 ]; then ok "a 3 s burst of writes makes $((after - before)) snapshot(s)"; else
    not_ok "a 3 s burst of writes makes $((after - before)) snapshot(s) (want 1 to 3)"; fi
check "... and latest has the last write" latest_has file "burst 15"

# quiet: no change, no new snapshots
sleep 3
is "no change, no new snapshot" "$(n_snaps)" "$after"

# changes made while chuted is down are found at start
stop_chuted n || true
echo offline > "$SRC/dir/keep"
echo added-offline > "$SRC/offline-new"
start_chuted n || true
if until_ok 20 latest_has dir/keep offline && latest_has offline-new added-offline; then ok "changes made while chuted was down are snapshotted after start"; else
    not_ok "changes made while chuted was down are snapshotted after start"; fi
chuted_alive "chuted still runs"
done_testing
