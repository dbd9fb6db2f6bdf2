#!/bin/bash
# SPDX-License-Identifier: MIT
# Every committed fuzz corpus file (tests/fuzz/corpus/<target>/) through its
# target, built without libFuzzer (replay.c): the seeds and the regression
# inputs of fixed crashes stay decodable without a crash, a leak (under ASan)
# or a broken round-trip invariant in every `make check`.
. "$(dirname "$0")/lib.sh"
CORPUS=$CHUTE_SRCDIR/tests/fuzz/corpus

[ -d "$CORPUS" ] || { not_ok "corpus directory $CORPUS exists"; done_testing; exit; }
for dir in "$CORPUS"/*/; do
    name=$(basename "$dir")
    target=$CHUTE_BUILDDIR/tests/fuzz/fuzz-$name
    files=("$dir"*)
    if [ ! -x "$target" ]; then
        not_ok "fuzz-$name is built (make check builds it)"
        continue
    fi
    if [ ! -e "${files[0]}" ]; then
        not_ok "corpus $name has inputs"
        continue
    fi
    check "fuzz-$name replays its ${#files[@]} corpus inputs" "$target" "${files[@]}"
done
done_testing
