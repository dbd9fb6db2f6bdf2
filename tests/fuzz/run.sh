#!/bin/bash
# SPDX-License-Identifier: MIT
# Build and run the libFuzzer targets (docs/fuzzing.md). From any checkout:
#   tests/fuzz/run.sh build                 clang build in build-fuzz/ (= make fuzz)
#   tests/fuzz/run.sh run [-t S] [-j N] [TARGET...]
#                                           fuzz each target (default: all) for S
#                                           seconds (30), N at a time (2), from a
#                                           copy of its corpus; one TAP-like line
#                                           per target, then "N passed, N failed"
# Crash inputs land in build-fuzz/artifacts/<target>/; reproduce one with
#   build-fuzz/obj/tests/fuzz/fuzz-<target> build-fuzz/artifacts/<target>/crash-...
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$TOP/tests/build-dir.sh"

fuzz_build() {
    command -v clang >/dev/null ||
        { echo "run.sh: clang not found: apt-get install clang libclang-rt-14-dev (or ./quickstart fuzz)" >&2; return 1; }
    build_dir_prepare fuzz CC=clang --enable-fuzz || return 1
    make -C "$BUILD_DIR" -j"$(nproc)" fuzz >"$TOP/build-fuzz/build.log" 2>&1 ||
        { tail -40 "$TOP/build-fuzz/build.log" >&2; echo "run.sh: build failed (build-fuzz/build.log)" >&2; return 1; }
}

# fuzz_one NAME SECONDS: fuzz one target from a scratch copy of its corpus;
# the result line goes to build-fuzz/results/NAME.
fuzz_one() {
    local name=$1 seconds=$2 base=$TOP/build-fuzz out execs rc
    local work=$base/work/$name art=$base/artifacts/$name
    rm -rf "$work"
    mkdir -p "$work" "$art" "$base/results"
    cp "$TOP/tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null || true
    out=$base/results/$name.log
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$BUILD_DIR/tests/fuzz/fuzz-$name" -max_total_time="$seconds" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art/" "$work" >"$out" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
    if [ $rc -eq 0 ] && [ -n "$execs" ]; then
        echo "ok - fuzz-$name: ${execs} executions in ${seconds} s, no crash" >"$base/results/$name"
    else
        { echo "not ok - fuzz-$name (exit $rc): see $out, inputs in $art/"
          grep -m1 -E 'ERROR: |runtime error|==[0-9]+== ?ABORTING|deadly signal' "$out" | sed 's/^/#   /'
        } >"$base/results/$name"
    fi
}

fuzz_run() {
    local seconds=30 jobs=2 names=() pass=0 fail=0 running=0 n
    while getopts "t:j:" o; do
        case $o in
            t) seconds=$OPTARG ;;
            j) jobs=$OPTARG ;;
            *) echo "usage: run.sh run [-t SECONDS] [-j JOBS] [TARGET...]" >&2; return 2 ;;
        esac
    done
    shift $((OPTIND - 1))
    if [ $# -gt 0 ]; then names=("$@"); else
        for n in "$TOP"/tests/fuzz/corpus/*/; do names+=("$(basename "$n")"); done
    fi
    fuzz_build || { echo; echo "0 passed, 1 failed"; return 1; }
    rm -rf "$TOP/build-fuzz/results"
    for n in "${names[@]}"; do
        if [ ! -x "$BUILD_DIR/tests/fuzz/fuzz-$n" ]; then
            mkdir -p "$TOP/build-fuzz/results"
            echo "not ok - fuzz-$n: no such target" >"$TOP/build-fuzz/results/$n"
            continue
        fi
        fuzz_one "$n" "$seconds" &
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    done
    wait
    for n in "${names[@]}"; do
        cat "$TOP/build-fuzz/results/$n"
        if grep -q '^ok' "$TOP/build-fuzz/results/$n"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
    done
    echo
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

case ${1:-} in
    build) fuzz_build ;;
    run) shift; fuzz_run "$@" ;;
    *) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
