#!/bin/bash
# SPDX-License-Identifier: MIT
# Forgetting a root's newest snapshot while chuted watches it: the changes
# seen since were seen against that snapshot, so the next automatic run
# must not take them alone on top of the older snapshot that is now the
# newest (it would record the old content of everything changed in
# between). It walks in full instead.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"

SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/a" "$SRC/b"
echo one > "$SRC/a/x"
echo one > "$SRC/b/y"

node_init n # default [watch] settings: quiet_period 2s
start_chuted n || bail_out "chuted did not start"
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot" 10 cat_is "$SRC/a/x" one || log_tail
settle "$SRC" 10 || diag "the root did not settle"
echo two > "$SRC/a/x"
waited "a/x = two reaches an automatic snapshot" 10 cat_is "$SRC/a/x" two || log_tail
settle "$SRC" 10 || diag "the root did not settle"
rc_is "forget latest" 0 ctl forget latest
is "latest has a/x = one again" "$(ctl cat "latest:$SRC/a/x")" one
echo two > "$SRC/b/y"
waited "b/y = two reaches an automatic snapshot" 10 cat_is "$SRC/b/y" two || log_tail
is "... and that snapshot has a/x as it is on disk" "$(ctl cat "latest:$SRC/a/x")" two
done_testing
