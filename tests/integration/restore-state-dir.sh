#!/bin/bash
# SPDX-License-Identifier: MIT
# restore --overwrite into a directory that holds chuted's own state dir,
# of a snapshot that has a directory (or a file) at that very path (say,
# another node's /var/lib/chute restored into /): the state dir is neither
# merged into nor replaced, each such entry is an error, the rest is
# restored, and chuted goes on with its index intact.
. "$(dirname "$0")/lib.sh"
need jq

node_init n
node_conf n watch "quiet_period = 1h" "max_delay = 2h"
start_chuted n || bail_out "chuted did not start"
SRC=$T_TMP/src
mkdir -p "$SRC/state" "$SRC/other"
echo "not an index" > "$SRC/state/index.db"
echo "kept" > "$SRC/other/file"
check "add the root" ctl add "$SRC"
check "snapshot it" ctl snapshot "$SRC"

# the target holds chuted's state dir as "state", the snapshot a "state" of its own
rc_is "restore --overwrite over the state dir's parent: exit 1" 1 \
    ctl restore --overwrite "latest:$SRC" "$NODE_DIR"
check "the log says why" grep -q "cannot restore into chuted's own state directory $NODE_DIR/state" "$NODE_DIR/chuted.log"
is "the rest is restored" "$(cat "$NODE_DIR/other/file")" kept
is "index.db is still chuted's (SQLite)" "$(head -c 15 "$NODE_DIR/state/index.db")" "SQLite format 3"
check "chuted still lists its snapshots" ctl snapshots

# a file at that path: the state dir is not removed to make room for it
rm -rf "$SRC/state"; echo "a file now" > "$SRC/state"
check "snapshot the file" ctl snapshot "$SRC"
rc_is "restore --overwrite of a file over the state dir: exit 1" 1 \
    ctl restore --overwrite "latest:$SRC" "$NODE_DIR"
check "the state dir is still a directory, with its index" test -d "$NODE_DIR/state" -a -s "$NODE_DIR/state/index.db"
check "chuted still lists its snapshots" ctl snapshots
chuted_alive "chuted still runs"
done_testing
