#!/bin/bash
# SPDX-License-Identifier: MIT
# The repository refusing a file's chunk (a full quota: the test failure
# point chunk-store stands in for EDQUOT) fails the whole snapshot with a
# clear error, instead of a snapshot that looks fine without the file;
# once the repository takes chunks again the next snapshot has everything.
# The changes a failed requested snapshot took are tried again on their own.
. "$(dirname "$0")/lib.sh"

SRC=$T_TMP/src
HOOK=$T_TMP/hook
mkdir -p "$SRC/d" "$HOOK"
export CHUTE_TEST_HOOK_DIR=$HOOK
echo small > "$SRC/small"
head -c 300000 /dev/urandom > "$SRC/d/big"
node_init A
node_conf A watch "quiet_period = 1h" "max_delay = 2h" # snapshots only when asked
start_chuted A || bail_out "chuted did not start"
ctl add "$SRC" >/dev/null || bail_out "add failed"

touch "$HOOK/chunk-store.fail"
rc_is "a snapshot whose chunks the repository refuses fails" 1 ctl snapshot "$SRC"
check "... saying what could not be stored and why" grep -q "cannot store .*quota" "$T_TMP/last.err"
is "no snapshot was made" "$(ctl --json snapshots | jq length)" 0
rm -f "$HOOK/chunk-store.fail"
rc_is "the next snapshot succeeds" 0 ctl snapshot "$SRC"
rm -rf "$T_TMP/r"
rc_is "its restore" 0 ctl restore "latest:$SRC" "$T_TMP/r"
check "has every file" diff -r "$SRC" "$T_TMP/r"
chuted_alive "chuted still runs"
stop_chuted A

# a requested snapshot that fails took the changes the watcher had seen:
# they are tried again later on their own (max_delay), not forgotten
SRC2=$T_TMP/src2
mkdir -p "$SRC2"
echo one > "$SRC2/f"
node_init B
node_conf B watch "quiet_period = 1h" "max_delay = 3s"
start_chuted B || bail_out "B did not start"
ctl add "$SRC2" >/dev/null || bail_out "add failed"
rc_is "B's first snapshot" 0 ctl snapshot "$SRC2"
echo two > "$SRC2/f"
touch "$HOOK/chunk-store.fail"
rc_is "a requested snapshot right after a change fails" 1 ctl snapshot "$SRC2"
rm -f "$HOOK/chunk-store.fail"
got=""
for _ in $(seq 1 150); do
    got=$(ctl cat "latest:$SRC2/f" 2>/dev/null)
    [ "$got" = two ] && break
    sleep 0.2
done
is "the change reaches an automatic snapshot within max_delay" "$got" two
done_testing
