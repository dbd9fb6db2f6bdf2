# SPDX-License-Identifier: MIT
# A real S3 service for the S3 tests (s3-*.sh): a throwaway one-node Ceph
# cluster (monitor, memstore OSD, RADOS Gateway) on loopback, everything in
# $T_TMP/ceph, free ports, auth off inside the cluster (SigV4 is still
# checked by the gateway); a user with its key files (0600) and a bucket.
# Stopped by pid on exit (gateway, OSD, monitor, in that order). The OSD keeps
# its data in RAM: CEPH_MEMSTORE_BYTES (default 2 GiB) bounds it.
# Source it after lib.sh:  . "$(dirname "$0")/s3-lib.sh"

need ceph-mon ceph-osd radosgw ceph monmaptool ceph-authtool radosgw-admin s3cmd jq python3

CEPH_DIR=$T_TMP/ceph
CEPH_CONF=$CEPH_DIR/ceph.conf
CEPH_PIDS=()
S3_BUCKET=chute-test

s3_ceph() { ceph -c "$CEPH_CONF" --connect-timeout 10 "$@"; }

# s3_stop_all: the gateway first (it hangs on SIGTERM once the OSD or the
# monitor is gone), then the OSD, then the monitor; by pid
s3_stop_all() {
    local i pid
    for ((i = ${#CEPH_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${CEPH_PIDS[$i]}
        t_our_child "$pid" || continue
        kill -TERM "$pid" 2>/dev/null
        wait_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    done
    CEPH_PIDS=()
}
s3_cleanup() { s3_stop_all; t_cleanup; }
trap s3_cleanup EXIT

# s3_rgw_start: start the gateway (again) on $RGW_PORT; sets RGW_PID
s3_rgw_start() {
    radosgw -c "$CEPH_CONF" -n client.rgw -f >>"$CEPH_DIR/log/rgw.out" 2>&1 &
    RGW_PID=$!
    CEPH_PIDS+=("$RGW_PID")
    local i
    for i in $(seq 1 150); do
        curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" && return 0
        kill -0 "$RGW_PID" 2>/dev/null || break
        sleep 0.1
    done
    diag "radosgw did not come up"; tail -20 "$CEPH_DIR/log/client.rgw.log" 2>/dev/null | sed 's/^/#   /'
    return 1
}
# s3_rgw_stop [SIGNAL]: stop the gateway alone
s3_rgw_stop() {
    local keep=() p
    t_our_child "$RGW_PID" && kill "-${1:-TERM}" "$RGW_PID" 2>/dev/null
    wait_gone "$RGW_PID" 10 || { kill -KILL "$RGW_PID" 2>/dev/null; wait "$RGW_PID" 2>/dev/null; }
    for p in "${CEPH_PIDS[@]}"; do [ "$p" = "$RGW_PID" ] || keep+=("$p"); done
    CEPH_PIDS=("${keep[@]}")
}

# s3_start: the cluster, a user and a bucket. Sets S3_ENDPOINT,
# S3_ACCESS_FILE, S3_SECRET_FILE, S3CMD (an s3cmd with that user's config).
s3_start() {
    local fsid mon_port osd_uuid i
    mkdir -p "$CEPH_DIR"/{mon,osd,rgw,run,log}
    fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    osd_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    mon_port=$(free_port)
    RGW_PORT=$(free_port)
    cat > "$CEPH_CONF" <<EOC
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms bind msgr1 = false
ms bind msgr2 = true
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/log/\$name.log
pid file = $CEPH_DIR/run/\$name.pid
keyring = $CEPH_DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 4
osd pool default pgp num = 4
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon max pg per osd = 1000
paxos propose interval = 0.1
mon data avail warn = 2
mon data avail crit = 1
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-2147483648}
osd fast shutdown notify mon = false
osd bind to 127.0.0.1 = true
[mon.a]
mon data = $CEPH_DIR/mon
[osd.0]
osd data = $CEPH_DIR/osd
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $CEPH_DIR/rgw
rgw dns name = localhost
EOC
    ceph-authtool --create-keyring "$CEPH_DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null || return 1
    monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$CEPH_DIR/monmap" >/dev/null || return 1
    ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/keyring" \
        >>"$CEPH_DIR/log/mkfs.out" 2>&1 || return 1
    ceph-mon -c "$CEPH_CONF" -i a -f >>"$CEPH_DIR/log/mon.out" 2>&1 &
    CEPH_PIDS+=("$!")
    s3_ceph osd new "$osd_uuid" >/dev/null || { diag "ceph osd new failed"; return 1; }
    ceph-osd -c "$CEPH_CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$CEPH_DIR/log/mkfs.out" 2>&1 || return 1
    ceph-osd -c "$CEPH_CONF" -i 0 -f >>"$CEPH_DIR/log/osd.out" 2>&1 &
    CEPH_PIDS+=("$!")
    # the gateway's pools, all at once (it would make them one by one)
    local pool pids=()
    for pool in .rgw.root default.rgw.log default.rgw.control default.rgw.meta \
        default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
        s3_ceph osd pool create "$pool" 4 4 >/dev/null 2>&1 &
        pids+=("$!")
    done
    for i in "${pids[@]}"; do wait "$i" || { diag "pool creation failed"; return 1; }; done
    for i in $(seq 1 100); do
        [ "$(s3_ceph osd stat -f json 2>/dev/null | jq -r .num_up_osds)" = 1 ] && break
        sleep 0.1
    done
    s3_rgw_start || return 1
    radosgw-admin -c "$CEPH_CONF" -n client.rgw user create --uid chute --display-name chute \
        > "$CEPH_DIR/user.json" 2>>"$CEPH_DIR/log/admin.out" || { diag "user create failed"; return 1; }
    mkdir -p "$T_TMP/keys"
    (umask 077
     jq -r '.keys[0].access_key' "$CEPH_DIR/user.json" > "$T_TMP/keys/access"
     jq -r '.keys[0].secret_key' "$CEPH_DIR/user.json" > "$T_TMP/keys/secret")
    S3_ACCESS_FILE=$T_TMP/keys/access
    S3_SECRET_FILE=$T_TMP/keys/secret
    S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
    cat > "$CEPH_DIR/s3cfg" <<EOC
[default]
access_key = $(cat "$S3_ACCESS_FILE")
secret_key = $(cat "$S3_SECRET_FILE")
host_base = 127.0.0.1:$RGW_PORT
host_bucket = 127.0.0.1:$RGW_PORT
use_https = False
signature_v2 = False
bucket_location = default
EOC
    S3CMD=(s3cmd -c "$CEPH_DIR/s3cfg" --no-progress)
    "${S3CMD[@]}" mb "s3://$S3_BUCKET" >/dev/null || { diag "bucket creation failed"; return 1; }
}

# s3_objects [PREFIX]: the bucket's object names under PREFIX, sorted, as s3cmd lists them
s3_objects() {
    "${S3CMD[@]}" ls -r "s3://$S3_BUCKET/${1:-}" | awk '{ print $4 }' | sed "s|^s3://$S3_BUCKET/||" | sort
}

# s3_curl METHOD PATH [curl args...]: a SigV4-signed request to the gateway as
# the test user (PATH with a sorted, encoded query); prints the body, and the
# HTTP status on the last line
s3_curl() {
    local method=$1 path=$2; shift 2
    curl -s -X "$method" --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$(cat "$S3_ACCESS_FILE"):$(cat "$S3_SECRET_FILE")" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        -w '\n%{http_code}\n' "$@" "$S3_ENDPOINT$path"
}
