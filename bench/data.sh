# SPDX-License-Identifier: MIT
# Shared by the bench scripts that take TREE=DIR or random data (replication.sh,
# s3.sh, http-load.sh). Source it after defining log.

# random_data DIR MIB: MIB MiB of incompressible data in files of up to 64 MiB,
# read back once (page cache warm)
random_data() {
        local dir=$1 left=$2 i=0 n
        mkdir -p "$dir"
        log "making $2 MiB of random data"
        while [ "$left" -gt 0 ]; do
                n=$(( left < 64 ? left : 64 ))
                head -c $((n * 1024 * 1024)) /dev/urandom >"$dir/r$i"
                left=$((left - n)); i=$((i + 1))
        done
        cat "$dir"/* >/dev/null
        sync
}

# warm_tree DIR: read every file of DIR once (into the page cache)
warm_tree() { find "$1" -type f -print0 2>/dev/null | xargs -0 cat >/dev/null 2>&1 || true; }
