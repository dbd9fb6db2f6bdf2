#!/bin/bash
# SPDX-License-Identifier: MIT
# chutectl against a scripted fake daemon (fake-chuted.py): exit statuses,
# malformed and hostile replies (oversized frames, huge declared lengths,
# wrong request ids, garbage), streamed cat with offset checks and EPIPE,
# listings split over DATA frames, and --json paths that are not UTF-8.
. "$(dirname "$0")/lib.sh"
need python3

SOCK=$T_TMP/fake.sock
SCEN=$T_TMP/scenario
echo eof > "$SCEN"
python3 "$CHUTE_SRCDIR/tests/integration/fake-chuted.py" "$SOCK" "$SCEN" &
T_PIDS+=($!)
for _ in $(seq 1 300); do [ -S "$SOCK" ] && break; sleep 0.05; done
export CHUTE_SOCKET=$SOCK

# run SCENARIO WANT-RC DESC chutectl-args...: output in $T_TMP/out, $T_TMP/err
run() {
    local scen=$1 want=$2 desc=$3 rc=0; shift 3
    echo "$scen" > "$SCEN"
    timeout 10 "$CHUTECTL" "$@" >"$T_TMP/out" 2>"$T_TMP/err" || rc=$?
    if [ "$rc" = "$want" ]; then ok "$desc (exit $want)"; else
        not_ok "$desc: exit $rc, want $want"; sed 's/^/#   /' "$T_TMP/err" | head -5; fi
}
err_has() { if grep -qF -- "$2" "$T_TMP/err"; then ok "$1"; else not_ok "$1"; sed 's/^/#   /' "$T_TMP/err" | head -5; fi; }
out_is() { is "$1" "$(od -An -c "$T_TMP/out" | tr -s ' ')" "$(printf "$2" | od -An -c | tr -s ' ')"; }

run huge 1 "a frame over 1 MiB" status
err_has "... said to be malformed" "malformed reply"
run declared 1 "a 2 GiB byte string declared in a small frame" status
err_has "... said to be malformed" "malformed reply"
run garbage 1 "garbage body" status
run trailing 1 "trailing bytes after the reply" status
run reqid 1 "a reply to another request id" status
err_has "... names the request ids" "request id"
run notreply 1 "a request-type message instead of a reply" status
run wrongtype 1 "a key of the wrong CBOR type" status
run eof 1 "the daemon closes without answering" status
err_has "... says the connection closed" "closed the connection"
run half 1 "the daemon closes in the middle of a frame" status
run error 1 "an ERROR reply" status
err_has "... prints chutectl: <message>" "chutectl: no such thing"
if grep -q $'\x1b' "$T_TMP/err"; then not_ok "... without the escape character it carried"; else ok "... without the escape character it carried"; fi

run progress 0 "PROGRESS before the RESULT" status
if [ -s "$T_TMP/err" ]; then not_ok "no progress on stderr when it is not a tty"; else ok "no progress on stderr when it is not a tty"; fi
run progress 0 "status --json with fields missing" --json status
check "... is valid JSON" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["version"]=="9.9" and d["roots"]==[] and d.get("objects") is None' "$T_TMP/out"

run catok 0 "cat streams DATA" cat latest:/r/f
out_is "... byte for byte" 'abc\0\377\n'
run catgap 1 "cat with a gap between offsets" cat latest:/r/f
err_has "... names the offsets" "offset 5, expected 3"
run catshort 1 "cat with fewer bytes than the RESULT announces" cat latest:/r/f
echo catbig > "$SCEN"
rc=0; (set -o pipefail; timeout 10 "$CHUTECTL" cat latest:/r/f 2>"$T_TMP/err" | head -c 10 >/dev/null) || rc=$?
is "cat into a reader that leaves early: exit 0" "$rc" 0
if [ -s "$T_TMP/err" ]; then not_ok "... and nothing on stderr"; sed 's/^/#   /' "$T_TMP/err"; else ok "... and nothing on stderr"; fi

run snapshots 0 "snapshots --json" --json snapshots
check "... escapes a non-UTF-8 root as \\udcff" grep -qF '"root": "/r\udcff"' "$T_TMP/out"
check "... full hex ids" grep -qF "\"id\": \"$(printf 'ab%.0s' $(seq 32))\"" "$T_TMP/out"
check "... RFC 3339 times" grep -qF '"time": "2026-11-21T22:30:01.123456789Z"' "$T_TMP/out"
run snapshots 0 "snapshots (text)" snapshots
check "... short ids" grep -q '^abababababab  ' "$T_TMP/out"
check "... the raw root bytes" grep -qF "/r$(printf '\377')" "$T_TMP/out"

run ls 0 "ls gathers entries from several DATA frames" --json ls latest:/r
check "... all three, in order" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [e["name"] for e in d]==["a","b\udcfe","c"], d' "$T_TMP/out"
run lsdata 1 "ls answered with file content" ls latest:/r

run snapshots 2 "usage errors come before any connection" cat nothex:/x
run snapshots 2 "restore needs a TARGET" restore latest
done_testing
