#!/bin/bash
# SPDX-License-Identifier: MIT
# Jobs of the HTTP API (docs/http-api.md) on a real chuted: POST /v1/restore
# answers 202 with a Location at once and runs the same restore as chutectl;
# GET /v1/jobs/{id} shows it running (held at the restore-contents pause
# point) then done with the restore's result; /v1/jobs/{id}/events streams
# Server-Sent Events, progress until the "done" event, and ends; the files
# restored equal the originals. Errors: bad bodies 400, an unknown snapshot
# 404 at once, a failing restore a "failed" job, unknown jobs 404.
. "$(dirname "$0")/lib.sh"
need curl jq

HOOKS=$T_TMP/hooks
mkdir -p "$HOOKS"
export CHUTE_TEST_HOOK_DIR=$HOOKS
node_init A
node_manual A
node_api_listen A
start_chuted A || bail_out "chuted did not start"
SRC=$T_TMP/src
mkdir -p "$SRC/sub"
echo hello > "$SRC/hello.txt"
head -c 2000000 /dev/urandom > "$SRC/sub/big"
ctl add "$SRC" >/dev/null
ctl snapshot "$SRC" >/dev/null
SNAP=$(ctl --json snapshots | jq -r '.[-1].id')
U=http://127.0.0.1:$API_PORT
TOKEN=$(ctl api-token)
H=(-H "Authorization: Bearer $TOKEN")
# post URL BODY: headers in $T_TMP/h, body in $T_TMP/body, status in $T_TMP/code
post() { curl -sS -D "$T_TMP/h" -o "$T_TMP/body" -w '%{http_code}' "${H[@]}" -X POST -d "$2" "$1" > "$T_TMP/code"; }
get() { curl -sS -o "$T_TMP/body" -w '%{http_code}' "${H[@]}" "$@" > "$T_TMP/code"; }
code() { cat "$T_TMP/code"; }

# ---- a restore held at its pause point: running, then done ------------------------
touch "$HOOKS/restore-contents.wait"
post "$U/v1/restore" "{\"snapshot\": \"${SNAP:0:12}\", \"target\": \"$T_TMP/out\"}"
is "POST /v1/restore: 202" "$(code)" 202
LOC=$(tr -d '\r' < "$T_TMP/h" | sed -n 's/^[Ll]ocation: //p')
check "... with Location /v1/jobs/ID" sh -c "echo '$LOC' | grep -qxE '/v1/jobs/[0-9]+'"
JOB=${LOC##*/}
jq_is "... and the job, running" "$T_TMP/body" ".id == \"$JOB\" and .kind == \"restore\" and .state == \"running\""
check "the restore reached its pause point" wait_file 20 "$HOOKS/restore-contents.reached"
curl -sS -N "${H[@]}" -D "$T_TMP/ev-h" "$U$LOC/events" > "$T_TMP/events" 2>"$T_TMP/events.err" &
EV_PID=$!
T_PIDS+=("$EV_PID")
sleep 1
get "$U$LOC"
is "GET /v1/jobs/ID: 200" "$(code)" 200
jq_is "... running, with its progress" "$T_TMP/body" \
    '.state == "running" and .progress.phase == "restoring" and (.progress.done | type == "number")'
get "$U/v1/jobs"
jq_is "GET /v1/jobs lists it" "$T_TMP/body" "[.jobs[].id] == [\"$JOB\"]"
curl -sS -N --max-time $((T_SLOW > 1 ? 3 : 1)) "${H[@]}" "$U$LOC/events" > "$T_TMP/events-cut" 2>/dev/null
check "a stream the client cuts short got the job's progress" grep -qx 'event: progress' "$T_TMP/events-cut"
rm "$HOOKS/restore-contents.wait"
if wait_gone "$EV_PID" 20; then ok "the event stream ends when the job is done"; else not_ok "the event stream ends when the job is done"; fi
check "... as text/event-stream" grep -qi '^content-type: text/event-stream' "$T_TMP/ev-h"
check "... with progress events" grep -qx 'event: progress' "$T_TMP/events"
is "... and one done event, last" "$(grep '^event:' "$T_TMP/events" | tail -1)" "event: done"
grep '^data: ' "$T_TMP/events" | tail -1 | sed 's/^data: //' > "$T_TMP/last"
jq_is "... carrying the result" "$T_TMP/last" '.state == "done" and .result.files == 2 and .result.bytes == 2000006'
jq_is "every data line is one JSON document" <(grep '^data: ' "$T_TMP/events" | sed 's/^data: //' | jq -s length) '. >= 2'
get "$U$LOC"
jq_is "GET /v1/jobs/ID: done, with the result of chutectl restore" "$T_TMP/body" \
    '.state == "done" and .result.files == 2 and .result.errors == 0'
check "the restored files equal the originals" diff -r "$SRC" "$T_TMP/out"
curl -sS -N --max-time 10 "${H[@]}" "$U$LOC/events" > "$T_TMP/events2"
is "the events of a finished job: done at once, then the end" "$(grep -c '^event: done' "$T_TMP/events2")" 1

# ---- one path, and a restore that fails ---------------------------------------------
post "$U/v1/restore" "{\"snapshot\": \"$SNAP\", \"path\": \"$SRC/sub\", \"target\": \"$T_TMP/one\"}"
is "a restore of one path: 202" "$(code)" 202
J2=$(jq -r .id "$T_TMP/body")
for _ in $(seq 1 300); do get "$U/v1/jobs/$J2"; jq -e '.state != "running"' "$T_TMP/body" >/dev/null && break; sleep 0.1; done
jq_is "... done" "$T_TMP/body" '.state == "done" and .result.files == 1'
check "... the file is there" cmp "$SRC/sub/big" "$T_TMP/one/big"
post "$U/v1/restore" "{\"snapshot\": \"$SNAP\", \"path\": \"$SRC/sub\", \"target\": \"$T_TMP/one\"}"
J3=$(jq -r .id "$T_TMP/body")
for _ in $(seq 1 300); do get "$U/v1/jobs/$J3"; jq -e '.state != "running"' "$T_TMP/body" >/dev/null && break; sleep 0.1; done
jq_is "a restore onto existing files: the job failed, saying why" "$T_TMP/body" \
    '.state == "failed" and .error.error == "exists" and (.error.message | length > 0)'

# ---- refused at once -------------------------------------------------------------------
post "$U/v1/restore" '{"snapshot": "ffffffffffff", "target": "/tmp/x"}'
is "an unknown snapshot: 404 at once, no job" "$(code)" 404
post "$U/v1/restore" "{\"snapshot\": \"$SNAP\"}"
is "no target: 400" "$(code)" 400
jq_is "... naming it" "$T_TMP/body" '.message | test("target")'
post "$U/v1/restore" "{\"snapshot\": \"$SNAP\", \"target\": \"$T_TMP/x\", \"bogus\": 1}"
is "an unknown key: 400" "$(code)" 400
post "$U/v1/restore" '{"snapshot": '
is "malformed JSON: 400" "$(code)" 400
get "$U/v1/restore"
is "GET /v1/restore: 405" "$(code)" 405
get "$U/v1/jobs/999"
is "an unknown job: 404" "$(code)" 404
get "$U/v1/jobs/abc/events"
is "a job id that is no number: 404" "$(code)" 404
get "$U/v1/jobs/$JOB/nothing"
is "an unknown job resource: 404" "$(code)" 404
is "jobs need the token: 401" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nope" "$U/v1/jobs/$JOB")" 401
get "$U/v1/jobs"
jq_is "GET /v1/jobs: the three jobs, newest first; the refused requests made none" "$T_TMP/body" \
    "[.jobs[].id] == [\"$J3\", \"$J2\", \"$JOB\"]"
chuted_alive "chuted still runs"
done_testing
