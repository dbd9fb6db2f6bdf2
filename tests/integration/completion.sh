#!/bin/bash
# SPDX-License-Identifier: MIT
# Shell completion against a running chuted: bash (etc/bash-completion,
# driven through bash-completion's _init_completion with the words readline
# would pass) completes verbs, options, snapshot ids and the paths inside a
# snapshot, names with spaces included; zsh (etc/zsh-completion) parses and
# its helpers list the same snapshot ids and entries. Man pages are clean
# under `man --warnings`.
. "$(dirname "$0")/lib.sh"
need bash zsh man
BC=/usr/share/bash-completion/bash_completion
[ -r "$BC" ] || bail_out "$BC is missing (bash-completion, see DEPS in ./quickstart)"
COMPFILE=$CHUTE_SRCDIR/etc/bash-completion/chutectl
ZCOMP=$CHUTE_SRCDIR/etc/zsh-completion/_chutectl

node_init n
node_manual n
mkdir -p "$T_TMP/data/sub dir" "$T_TMP/data/docs"
echo a > "$T_TMP/data/alpha"; echo b > "$T_TMP/data/sub dir/beta"; echo c > "$T_TMP/data/docs/gamma"
start_chuted n || bail_out "chuted did not start"
ctl add "$T_TMP/data" >/dev/null && ctl snapshot "$T_TMP/data" >/dev/null || bail_out "add and snapshot"
SNAP=$(ctl snapshots | awk 'NR == 2 { print $1 }')
export PATH=$CHUTE_BUILDDIR/ctl:$PATH

# comp LINE WORD...: what bash completion offers for LINE (its last word),
# given the words readline splits it into (":" is a word of its own)
comp() {
    local line=$1; shift
    bash -c '. "$1"; . "$2"; COMP_LINE=$3; shift 3
        COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_POINT=${#COMP_LINE}
        _chutectl chutectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
        printf "%s\n" "${COMPREPLY[@]}"' bash "$BC" "$COMPFILE" "$line" "$@" | sort | paste -sd' '
}
check "bash: the completion file parses" bash -n "$COMPFILE"
is "bash: verbs (chutectl st)" "$(comp "chutectl st" chutectl st)" "status store stores"
is "bash: every verb of chutectl help" "$(comp "chutectl " chutectl "" | tr ' ' '\n' | sort | paste -sd' ')" \
    "$(chutectl help | awk '/^Verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' | sort -u | paste -sd' ')"
is "bash: global options (chutectl --)" "$(comp "chutectl --" chutectl --)" "--help --json --socket --version"
is "bash: snapshot ids from the daemon (chutectl cat )" "$(comp "chutectl cat " chutectl cat "")" \
    "$(printf '%s\n' latest "$SNAP" | sort | paste -sd' ')"
is "bash: a snapshot id prefix (chutectl ls ${SNAP:0:3})" "$(comp "chutectl ls ${SNAP:0:3}" chutectl ls "${SNAP:0:3}")" "$SNAP"
is "bash: the snapshot's root (chutectl cat latest:)" "$(comp "chutectl cat latest:" chutectl cat latest : "")" \
    'alpha docs/ sub\ dir/'
is "bash: a partial name in the snapshot (chutectl ls latest:su)" \
    "$(comp "chutectl ls latest:su" chutectl ls latest : su)" 'sub\ dir/'
is "bash: inside a directory whose name has a space" \
    "$(comp 'chutectl restore latest:sub\ dir/' chutectl restore latest : 'sub\ dir/')" 'sub\ dir/beta'
is "bash: by snapshot id (chutectl cat $SNAP:docs/)" "$(comp "chutectl cat $SNAP:docs/" chutectl cat "$SNAP" : docs/)" \
    "docs/gamma"
is "bash: restore options" "$(comp "chutectl restore latest /tmp --" chutectl restore latest /tmp --)" "--json --overwrite"
is "bash: log levels" "$(comp "chutectl log-level " chutectl log-level "")" "debug err info notice warning"
is "bash: nothing from a daemon that is not there" \
    "$(CHUTE_SOCKET=$T_TMP/none.sock comp "chutectl cat latest:" chutectl cat latest : "")" ""

# zsh: the file parses, and its daemon helpers give what the daemon has
check "zsh: the completion file parses" zsh -n "$ZCOMP"
zhelper() {
    zsh -f -c '_call_program() { shift; eval "$@"; }
        source <(sed "/^_chutectl \"\$@\"\$/d" "$1"); shift; words=(chutectl); CURRENT=2; "$@"' zsh "$ZCOMP" "$@" |
        sort | paste -sd' '
}
is "zsh: snapshot ids from the daemon" "$(zhelper _chutectl_snapshot_ids)" "$(printf '%s\n' latest "$SNAP" | sort | paste -sd' ')"
is "zsh: entries of the snapshot's root" "$(zhelper _chutectl_snap_entries latest "")" 'alpha docs/ sub dir/'
is "zsh: entries of a directory in it" "$(zhelper _chutectl_snap_entries latest "sub dir/")" 'beta'

for m in "$CHUTE_SRCDIR"/man/*.[0-9]; do
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
    is "man --warnings -l $(basename "$m"): no warning" "$out" ""
done
done_testing
