#!/bin/bash
# SPDX-License-Identifier: MIT
# chutectl forget against a real chuted: --dry-run removes nothing, a
# --keep-last policy keeps exactly the newest N, the configured [retention]
# policy applies without options, forgetting by id prefix and "latest",
# restore of kept snapshots, usage errors, several roots, the prune-pending
# log line. (Automatic retention after snapshots is not tested here.)
. "$(dirname "$0")/lib.sh"

need python3

# rc_is "description" WANT command...: ok when the command exits with WANT;
# its output is kept in $T_TMP/out and $T_TMP/err.
rc_is() {
    local desc=$1 want=$2 rc=0; shift 2
    "$@" >"$T_TMP/out" 2>"$T_TMP/err" || rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$desc"; else
        not_ok "$desc"; diag "exit status $rc, want $want: $*"
        sed 's/^/#   err: /' "$T_TMP/err" | head -20
        sed 's/^/#   out: /' "$T_TMP/out" | head -20
    fi
}
# py EXPR FILE: evaluate a Python expression over the JSON document d in FILE
py() { python3 -c 'import json,sys; d = json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"; }
# ids: the snapshot ids of $1 (all roots when empty), oldest first, one a line
ids() {
    if [ -n "${1:-}" ]; then ctl --json snapshots --root "$1"; else ctl --json snapshots; fi > "$T_TMP/snaps.json"
    python3 -c 'import json,sys; [print(s["id"]) for s in json.load(open(sys.argv[1]))]' "$T_TMP/snaps.json"
}
count() { ids "${1:-}" | wc -l; }

SRC=$T_TMP/src
OTHER=$T_TMP/other
mkdir -p "$SRC" "$OTHER"
echo other > "$OTHER/file"

node_init n
cat >> "$NODE_DIR/chuted.conf" <<EOF
[watch]
# no automatic snapshots: every snapshot here is one we take
quiet_period = 1h
max_delay = 2h

[retention]
auto = no
keep_within = 0
keep_last = 3
keep_hourly = 0
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
EOF
start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
rc_is "add the root" 0 ctl add "$SRC"

# six snapshots, each with its own content
VERSIONS=()
for i in 1 2 3 4 5 6; do
    echo "version $i" > "$SRC/file"
    touch "$SRC/file$i"
    ctl snapshot "$SRC" > "$T_TMP/snap.id" 2>"$T_TMP/err" || { diag "snapshot $i failed: $(cat "$T_TMP/err")"; }
    VERSIONS+=("$(cat "$T_TMP/snap.id")")
done
is "six snapshots taken" "$(count)" 6
mapfile -t BEFORE < <(ids)
NEWEST=${BEFORE[5]}
is "the last snapshot taken is the newest listed" "$NEWEST" "${VERSIONS[5]}"

# --dry-run: says what would go, removes nothing
rc_is "forget --keep-last 2 --dry-run" 0 ctl --json forget --keep-last 2 --dry-run
cp "$T_TMP/out" "$T_TMP/dry.json"
is "dry run: removed is 4" "$(py 'd["removed"]' "$T_TMP/dry.json")" 4
is "dry run: flagged as such" "$(py 'd["dry_run"]' "$T_TMP/dry.json")" True
is "dry run: lists the 4 oldest" "$(py '" ".join(sorted(s["id"] for s in d["snapshots"]))' "$T_TMP/dry.json")" \
    "$(printf '%s\n' "${BEFORE[@]:0:4}" | sort | tr '\n' ' ' | sed 's/ $//')"
is "dry run: still six snapshots" "$(count)" 6
rc_is "forget --dry-run in text" 0 ctl forget --keep-last 2 --dry-run
is "text dry run says what it would do" "$(tail -1 "$T_TMP/out")" "Would remove 4 snapshots."
is "text dry run lists 4 rows and a header" "$(grep -c "$SRC" "$T_TMP/out")" 4

# the policy for real
rc_is "forget --keep-last 2 --json" 0 ctl --json forget --keep-last 2
cp "$T_TMP/out" "$T_TMP/forget.json"
is "removed is 4" "$(py 'd["removed"]' "$T_TMP/forget.json")" 4
is "the objects are those of snapshots --json" \
    "$(py '",".join(sorted(d["snapshots"][0].keys()))' "$T_TMP/forget.json")" \
    "bytes,dirs,errors,files,files_read,hostname,id,new_bytes,parent,root,time,tree"
is "exactly two snapshots left" "$(count)" 2
mapfile -t AFTER < <(ids)
is "the two newest are kept" "${AFTER[*]}" "${BEFORE[4]} ${BEFORE[5]}"
rc_is "forget the same policy again removes nothing" 0 ctl --json forget --keep-last 2
is "nothing more to remove" "$(py 'd["removed"]' "$T_TMP/out")" 0
grep -q "prune pending: 4 snapshots forgotten" "$NODE_DIR/chuted.log" &&
    ok "the log says a prune is pending" || not_ok "the log says a prune is pending"

# a kept snapshot still restores, with its own content
rc_is "restore a kept snapshot" 0 ctl restore "${BEFORE[4]}" "$T_TMP/r5"
is "restored content is version 5" "$(cat "$T_TMP/r5/file" 2>/dev/null)" "version 5"
[ -e "$T_TMP/r5/file5" ] && [ ! -e "$T_TMP/r5/file6" ] && ok "restored tree is snapshot 5's" ||
    not_ok "restored tree is snapshot 5's"
rc_is "a forgotten snapshot is gone" 1 ctl ls "${BEFORE[0]}"

# the configured policy (keep_last = 3) applies without --keep-* options
for i in 7 8 9; do echo "version $i" > "$SRC/file"; ctl snapshot "$SRC" >/dev/null 2>&1; done
is "five snapshots after three more" "$(count)" 5
mapfile -t FIVE < <(ids)
rc_is "forget with the configured policy" 0 ctl --json forget
is "configured keep_last = 3: removes 2" "$(py 'd["removed"]' "$T_TMP/out")" 2
mapfile -t THREE < <(ids)
is "the three newest are kept" "${THREE[*]}" "${FIVE[2]} ${FIVE[3]} ${FIVE[4]}"

# one snapshot by id prefix
MIDDLE=${THREE[1]}
rc_is "forget ID-PREFIX" 0 ctl --json forget "${MIDDLE:0:12}"
is "forget ID-PREFIX removes one" "$(py 'd["removed"]' "$T_TMP/out")" 1
is "forget ID-PREFIX names it" "$(py 'd["snapshots"][0]["id"]' "$T_TMP/out")" "$MIDDLE"
mapfile -t TWO < <(ids)
is "exactly that one is gone" "${TWO[*]}" "${THREE[0]} ${THREE[2]}"
rc_is "forget of an unknown id fails" 1 ctl forget "${MIDDLE:0:12}"
grep -q "no snapshot with id" "$T_TMP/err" && ok "unknown id: says so" || not_ok "unknown id: says so"

# the newest may be forgotten explicitly: latest becomes the previous one
rc_is "forget latest" 0 ctl forget latest
is "forget latest says it removed one" "$(tail -1 "$T_TMP/out")" "Removed 1 snapshot. Their data stays stored until a prune."
is "one snapshot left" "$(ids)" "${THREE[0]}"
rc_is "cat latest:file reads the previous snapshot" 0 ctl cat latest:file
is "latest is now version 7" "$(cat "$T_TMP/out")" "version 7"
echo "version 10" > "$SRC/file"
rc_is "a snapshot after forgetting the newest works" 0 ctl snapshot "$SRC"
is "two snapshots now" "$(count)" 2

# refused requests
rc_is "SNAP and --keep-* together: usage error" 2 ctl forget latest --keep-last 1
rc_is "bad count: usage error" 2 ctl forget --keep-daily many
rc_is "bad duration: usage error" 2 ctl forget --keep-within soon
rc_is "an empty policy is refused" 1 ctl forget --keep-last 0
is "two snapshots after the refusals" "$(count)" 2
rc_is "--keep-within covering everything removes nothing" 0 ctl --json forget --keep-within 1d --keep-yearly unlimited
is "keep-within 1d: removed 0" "$(py 'd["removed"]' "$T_TMP/out")" 0
rc_is "--keep-last -1 (unlimited) --dry-run" 0 ctl --json forget --keep-last -1 --dry-run
is "keep-last -1: removed 0" "$(py 'd["removed"]' "$T_TMP/out")" 0

# several roots: the policy needs --root
rc_is "add a second root" 0 ctl add "$OTHER"
rc_is "snapshot it" 0 ctl snapshot "$OTHER"
echo changed > "$OTHER/file"
rc_is "snapshot it again" 0 ctl snapshot "$OTHER"
rc_is "policy without --root is ambiguous with two roots" 1 ctl forget --keep-last 1
rc_is "forget --root PATH --keep-last 1" 0 ctl --json forget --root "$OTHER" --keep-last 1
is "one removed from the second root" "$(py 'd["removed"]' "$T_TMP/out")" 1
is "the second root keeps one" "$(count "$OTHER")" 1
is "the first root keeps two" "$(count "$SRC")" 2
rc_is "--root of an unwatched path fails" 1 ctl forget --root /nonexistent --keep-last 1

kill -0 "$CHUTED_PID" 2>/dev/null && ok "chuted still runs" || not_ok "chuted still runs"
done_testing
