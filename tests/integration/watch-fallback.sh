#!/bin/bash
# SPDX-License-Identifier: MIT
# When the watcher cannot watch a root, the root is rescanned periodically
# and says so (state "polling"), never "watching" with nothing watched:
# - a root directory replaced by a symlink to a directory while chuted was
#   stopped (inotify watches with IN_DONT_FOLLOW);
# - a directory made at run time deeper than inotify can watch (a full
#   path of PATH_MAX or more): the rest of the tree stays backed up, and
#   the root is watched again once that directory is gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/continuous-lib.sh"

SRC=$(realpath -m "$T_TMP/src")
mkdir -p "$SRC/sub"
echo one > "$SRC/sub/f"
node_init n # default [watch] settings, but a polled root is rescanned every second
node_conf n watch "poll_interval = 1s"
start_chuted n || bail_out "chuted did not start"
check "add the root" ctl add "$SRC"
waited "the first automatic snapshot" 10 cat_is "$SRC/sub/f" one || log_tail
settle "$SRC" 10 || diag "the root did not settle"
is "the root is watched" "$(root_status "$SRC" state)" watching

# a directory deeper than PATH_MAX, made while watching
python3 - "$SRC" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for level in range(24):
    name = chr(ord("a") + level) + "d" * 199
    os.mkdir(name, 0o755, dir_fd=fd)
    nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
os.close(fd)
PY
waited "a directory too deep to watch: the root falls back to rescans" 15 root_state_is "$SRC" polling || log_tail
check "... and the log says why" grep -q "Cannot watch .*rescanned periodically instead" "$NODE_DIR/chuted.log"
echo two > "$SRC/sub/f"
rc_is "a requested snapshot still works" 0 ctl snapshot "$SRC"
is "... with the change" "$(ctl cat "latest:$SRC/sub/f")" two
# the deep directory goes: the next rescan watches the root again
python3 - "$SRC" <<'PY'
import os, shutil, sys
top = sys.argv[1]
fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
shutil.rmtree("a" + "d" * 199, dir_fd=fd)
os.close(fd)
PY
waited "once it can be, the root is watched again" 15 root_state_is "$SRC" watching || log_tail
stop_chuted n

# the root directory replaced by a symlink to one, chuted stopped meanwhile
mv "$SRC" "$SRC.real"
ln -s "$SRC.real" "$SRC"
start_chuted n || bail_out "chuted did not restart"
waited "a root that is a symlink now: polled, not shown as watching" 10 root_state_is "$SRC" polling || log_tail
echo three > "$SRC/sub/f"
rc_is "a requested snapshot follows it" 0 ctl snapshot "$SRC"
is "... with the change" "$(ctl cat "latest:$SRC/sub/f")" three
chuted_alive "chuted still runs"
done_testing
