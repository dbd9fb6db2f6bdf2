#!/bin/bash
# SPDX-License-Identifier: MIT
# The dashboard (GET /, docs/http-api.md) on a real chuted: its headers (a
# strict CSP, nosniff, no token needed, Host still checked), then in headless
# Chromium (Debian's chromium driven by playwright-core, tests/browser/): the
# token asked once, the root list, "Snapshot now" makes a snapshot appear, a
# browsed file downloads with its exact bytes. The screenshot is kept as
# tests/integration/artefacts/dashboard.png. Chromium, node and npm are in
# quickstart's DEPS: missing, the test fails (it never skips).
. "$(dirname "$0")/lib.sh"
need chromium node npm curl

BROWSER=$CHUTE_SRCDIR/tests/browser
ARTEFACTS=$CHUTE_BUILDDIR/tests/integration/artefacts
# playwright-core, pinned by package-lock.json: ./quickstart test installs it,
# and so does the first run here (npm's cache serves the later ones)
if [ ! -f "$BROWSER/node_modules/playwright-core/package.json" ]; then
    # one npm ci at a time in this directory (suites may run side by side)
    flock "$BROWSER" sh -c 'cd "$1" && [ -f node_modules/playwright-core/package.json ] ||
        npm ci --prefer-offline --no-audit --no-fund --loglevel=error >&2' sh "$BROWSER" ||
        bail_out "npm ci in tests/browser failed"
fi

node_init A
node_manual A
node_api_listen A
start_chuted A || bail_out "chuted did not start"
SRC=$T_TMP/src
mkdir -p "$SRC/docs"
echo "top" > "$SRC/top.txt"
head -c 1500000 /dev/urandom > "$SRC/docs/report.bin"
mkdir -p "$SRC/raw$(printf '\xff')dir"
head -c 70000 /dev/urandom > "$SRC/raw$(printf '\xff')dir/f$(printf '\xfe').bin"
ctl add "$SRC" >/dev/null
ctl snapshot "$SRC" >/dev/null
U=http://127.0.0.1:$API_PORT
TOKEN=$(ctl api-token)

# ---- the page's headers -------------------------------------------------------------
curl -sS -D "$T_TMP/h" -o "$T_TMP/page" -w '%{http_code}' "$U/" > "$T_TMP/code"
is "GET / without a token: 200" "$(cat "$T_TMP/code")" 200
check "... an HTML page" grep -qi '^content-type: text/html' "$T_TMP/h"
check "... with a strict Content-Security-Policy" grep -qiE \
    "^content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'" "$T_TMP/h"
check "... and nosniff" grep -qi '^x-content-type-options: nosniff' "$T_TMP/h"
check "... loading only its own script and style (no CDN)" \
    sh -c "! grep -Eo '(src|href)=\"[^\"]*\"' '$T_TMP/page' | grep -vE '\"(/app.js|/style.css|data:,)\"'"
curl -sS -D "$T_TMP/h" -o /dev/null "$U/app.js"
check "/app.js is JavaScript, nosniff" sh -c "grep -qi '^content-type: text/javascript' '$T_TMP/h' && grep -qi nosniff '$T_TMP/h'"
is "a foreign Host gets no page: 403" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: rebound.example:$API_PORT" "$U/")" 403
is "POST / still needs the token: 401" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/")" 401

# ---- in Chromium ------------------------------------------------------------------------
mkdir -p "$ARTEFACTS" "$T_TMP/out"
n_before=$(ctl --json snapshots | jq length)
timeout 180 node "$BROWSER/dashboard.mjs" "$U/" "$TOKEN" "$SRC" docs report.bin "$T_TMP/out" \
    > "$T_TMP/browser.out" 2>&1
rc=$?
while IFS= read -r line; do
    case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
        *) diag "$line" ;;
    esac
done < "$T_TMP/browser.out"
is "the browser script ran to its end" "$rc" 0
is "the daemon has one snapshot more" "$(ctl --json snapshots | jq length)" $((n_before + 1))
check "the downloaded file equals the original, byte for byte" cmp "$SRC/docs/report.bin" "$T_TMP/out/downloaded"
check "the file named with bytes that are not UTF-8 too" \
    cmp "$SRC/raw$(printf '\xff')dir/f$(printf '\xfe').bin" "$T_TMP/out/downloaded-raw"
if check "a screenshot was taken" sh -c "head -c 8 '$T_TMP/out/dashboard.png' | grep -q PNG"; then
    cp "$T_TMP/out/dashboard.png" "$ARTEFACTS/dashboard.png"
    diag "screenshot: $ARTEFACTS/dashboard.png"
fi
chuted_alive "chuted still runs"
done_testing
