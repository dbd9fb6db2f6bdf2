# SPDX-License-Identifier: MIT
# Helpers for the continuous-protection tests (continuous*.sh): waiting with
# deadlines, snapshot counts and ids, status fields, and listings of a
# snapshot and of the real tree in one comparable form.
# Source it after lib.sh:  . "$(dirname "$0")/continuous-lib.sh"

need python3

# js FILE EXPR: evaluate a Python expression over the JSON document d in FILE
js() { python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# snap_ids ROOT: the snapshot ids of ROOT, oldest first, one a line
snap_ids() {
    "$CHUTECTL" --json snapshots --root "$1" > "$T_TMP/snaps.json" || return 1
    python3 -c 'import json,sys; [print(s["id"]) for s in json.load(open(sys.argv[1]))]' "$T_TMP/snaps.json"
}
# snap_count ROOT: how many snapshots ROOT has
snap_count() { snap_ids "$1" | wc -l; }
# latest_id ROOT: the newest snapshot's id of ROOT (empty when none)
latest_id() { snap_ids "$1" | tail -1; }
# new_snapshot ROOT OLD_ID: succeeds once ROOT's newest snapshot is not OLD_ID
new_snapshot() { local l; l=$(latest_id "$1") && [ -n "$l" ] && [ "$l" != "$2" ]; }

# root_status ROOT FIELD: FIELD of ROOT's entry in status --json
root_status() {
    "$CHUTECTL" --json status > "$T_TMP/status.json" 2>/dev/null || return 1
    python3 - "$T_TMP/status.json" "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["roots"]:
    if r["path"] == sys.argv[2]:
        print(r.get(sys.argv[3]))
        sys.exit(0)
sys.exit(1)
EOF
}
# root_state_is ROOT STATE: ROOT's state in status is STATE
root_state_is() { [ "$(root_status "$1" state)" = "$2" ]; }
# root_idle ROOT: watched, nothing running, no change pending
root_idle() { root_state_is "$1" watching && [ "$(root_status "$1" pending)" = 0 ]; }
# settle ROOT [SECONDS]: wait until ROOT stays idle for 1.5 s in a row
settle() {
    local limit=${2:-30} start; start=$(now_ms)
    local since=""
    while [ $(($(now_ms) - start)) -lt $((limit * 1000)) ]; do
        if root_idle "$1"; then
            [ -n "$since" ] || since=$(now_ms)
            [ $(($(now_ms) - since)) -ge 1500 ] && return 0
        else
            since=""
        fi
        sleep 0.2
    done
    return 1
}

# cat_is ROOT_PATH WANT: latest:ROOT_PATH has exactly the content WANT
cat_is() { [ "$("$CHUTECTL" cat "latest:$1" 2>/dev/null)" = "$2" ]; }

# snap_listing SNAP[:PATH] OUT: `ls -R --json` of SNAP as sorted lines
# "name kind size mode mtime_ns" (size only for files)
snap_listing() {
    "$CHUTECTL" --json ls -R "$1" > "$T_TMP/ls.json" || return 1
    python3 - "$T_TMP/ls.json" > "$2" <<'EOF'
import json, sys, datetime
def ns(t):
    # RFC 3339 UTC with nanoseconds: 2026-11-21T22:30:01.123456789Z
    if t is None:
        return None
    base, _, frac = t.rstrip("Z").partition(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 10**9 + int((frac + "000000000")[:9])
rows = []
for e in json.load(open(sys.argv[1])):
    size = e["size"] if e["kind"] == "file" else "-"
    rows.append("%s %s %s %o %s" % (e["name"], e["kind"], size, e["mode"], ns(e["mtime"])))
for r in sorted(rows):
    print(r)
EOF
}

# tree_listing DIR OUT: the same lines for the real tree below DIR
tree_listing() {
    python3 - "$1" > "$2" <<'EOF'
import os, stat, sys
top = sys.argv[1]
rows = []
for dirpath, dirs, files in os.walk(top):
    for name in dirs + files:
        p = os.path.join(dirpath, name)
        st = os.lstat(p)
        kind = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}.get(stat.S_IFMT(st.st_mode), "other")
        size = st.st_size if kind == "file" else "-"
        rows.append("%s %s %s %o %d" % (os.path.relpath(p, top), kind, size, stat.S_IMODE(st.st_mode), st.st_mtime_ns))
for r in sorted(rows):
    print(r)
EOF
}

# same "description" FILE1 FILE2: ok when the files are equal, else the diff
same() {
    if cmp -s "$2" "$3"; then ok "$1"; else
        not_ok "$1"; diff -u "$2" "$3" | head -30 | sed 's/^/#   /'
    fi
}

# waited "description" SECONDS command...: ok when the command succeeds
# within SECONDS (polled), with the time it took
waited() {
    # SECONDS is the plain build's limit; a sanitizer suite allows T_SLOW times it
    local desc=$1 secs=$(($2 * T_SLOW)); shift 2
    if wait_until "$secs" "$@"; then ok "$desc (${WAITED_MS} ms)"; return 0; fi
    not_ok "$desc (not within $secs s)"
    return 1
}

# log_tail [N]: the last N lines of the node's chuted log as diagnostics
log_tail() { tail -"${1:-20}" "$NODE_DIR/chuted.log" | sed 's/^/#   log: /'; }

# With CHUTE_KEEP_LOGS=DIR, every node's chuted.log is copied to DIR (named
# after the script and the node) before the temporary directory goes.
c_save_logs() {
    local f
    if [ -n "${CHUTE_KEEP_LOGS:-}" ]; then
        mkdir -p "$CHUTE_KEEP_LOGS"
        for f in "$T_TMP"/*/chuted.log; do
            [ -e "$f" ] || continue
            cp "$f" "$CHUTE_KEEP_LOGS/$(basename "$0" .sh).$(basename "$(dirname "$f")").log"
        done
    fi
    t_cleanup
}
trap c_save_logs EXIT

# todo "description" "reason" command...: a check that fails because of a
# known daemon bug. It is TAP "# TODO reason" whatever the outcome, so it
# does not fail the run now, and shows as XPASS (which fails the run) once
# the bug is fixed: then turn it back into an ordinary check.
todo() {
    local desc=$1 reason=$2; shift 2
    T_NUM=$((T_NUM + 1))
    if "$@"; then echo "ok $T_NUM - $desc # TODO $reason"; else echo "not ok $T_NUM - $desc # TODO $reason"; fi
}
