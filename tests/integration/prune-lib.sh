# SPDX-License-Identifier: MIT
# Helpers for the prune tests (prune*.sh). Source it after lib.sh.

need python3

# py EXPR FILE: evaluate a Python expression over the JSON document d in FILE
py() { python3 -c 'import json,sys; d = json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"; }
# manifest DIR: sha256 of every file, by relative path
manifest() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
# stored FIELD: one field of `chutectl --json status`
stored() { ctl --json status > "$T_TMP/st.json"; py "d[\"$1\"]" "$T_TMP/st.json"; }

# prune_node SRC: start node n taking only requested snapshots of SRC, no
# automatic retention, records stored uncompressed (sizes are predictable),
# prune with a short grace and nothing left unused
prune_node() {
    node_init n
    cat >> "$NODE_DIR/chuted.conf" <<EOC
compression_level = 0
[watch]
quiet_period = 1h
max_delay = 2h
[retention]
auto = no
[prune]
grace = 1s
max_unused = 0
EOC
    start_chuted n || { not_ok "chuted starts"; done_testing; exit; }
    rc_is "add the root" 0 ctl add "$1"
}
