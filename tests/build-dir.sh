# SPDX-License-Identifier: MIT
# Out-of-tree builds of this checkout in other configurations (ASan, fuzz):
# a copy of the sources (git's tracked and untracked-but-not-ignored files) in
# build-NAME/src, built in build-NAME/obj. The copy is needed because automake
# refuses a VPATH build of a tree configured in place, as ./quickstart leaves
# it. Sourced by tests/fuzz/run.sh and .ci/run.

# build_dir_prepare NAME ARGS...: sets BUILD_DIR (the obj dir, configured).
build_dir_prepare() {
    local name=$1 top base src
    shift
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    base=$top/build-$name
    src=$base/src
    BUILD_DIR=$base/obj
    mkdir -p "$src" "$BUILD_DIR"
    if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$top" && git ls-files -z --cached --others --exclude-standard) |
            rsync -a --from0 --ignore-missing-args --files-from=- "$top"/ "$src"/
    else
        rsync -a --exclude='/build-*' --exclude='*.o' --exclude='*.a' --exclude=Makefile \
            --exclude=config.status --exclude=config.h --exclude=config.log "$top"/ "$src"/
    fi
    if [ ! -x "$src/configure" ] || [ "$src/configure.ac" -nt "$src/configure" ] ||
        [ "$src/Makefile.am" -nt "$src/Makefile.in" ]; then
        (cd "$src" && autoreconf -fi >/dev/null 2>&1) || { echo "autoreconf failed in $src" >&2; return 1; }
    fi
    if [ ! -f "$BUILD_DIR/Makefile" ] || [ "$(cat "$BUILD_DIR/.configure-args" 2>/dev/null)" != "$*" ] ||
        [ "$src/configure" -nt "$BUILD_DIR/Makefile" ]; then
        (cd "$BUILD_DIR" && ../src/configure -q "$@") || { echo "configure $* failed in $BUILD_DIR" >&2; return 1; }
        printf '%s' "$*" > "$BUILD_DIR/.configure-args"
    fi
}

# build_dir_summarize DIR: count the results automake's TAP driver wrote to
# DIR/tests/**/*.trs into SUM_PASS, SUM_FAIL and SUM_SKIP (XFAIL passes).
build_dir_summarize() {
    local f line
    SUM_PASS=0 SUM_FAIL=0 SUM_SKIP=0
    while IFS= read -r f; do
        while IFS= read -r line; do
            case $line in
                ":test-result: PASS"*|":test-result: XFAIL"*) SUM_PASS=$((SUM_PASS + 1)) ;;
                ":test-result: SKIP"*) SUM_SKIP=$((SUM_SKIP + 1)) ;;
                ":test-result: "*) SUM_FAIL=$((SUM_FAIL + 1)) ;;
            esac
        done < "$f"
    done < <(find "$1/tests" -name '*.trs' 2>/dev/null | sort)
}
