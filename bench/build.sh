# SPDX-License-Identifier: MIT
# Shared by the bench scripts (compare.sh, continuous.sh, replication.sh):
# an optimized build of this tree, unless CHUTED and CHUTECTL name binaries.
# Source it after defining TOP (the checkout), WORK (the bench directory),
# die and log.

# build_chute: set CHUTED and CHUTECTL, building $WORK/build with -O2 if needed
build_chute() {
        if [ -n "${CHUTED:-}" ] || [ -n "${CHUTECTL:-}" ]; then
                [ -x "${CHUTED:-}" ] && [ -x "${CHUTECTL:-}" ] || die "set both CHUTED and CHUTECTL"
                return 0
        fi
        local b=$WORK/build
        log "building chute -O2 in $b (from $TOP)"
        mkdir -p "$b"
        # tracked and untracked-but-not-ignored files; tar keeps mtimes so make stays incremental
        (cd "$TOP" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$b" -xf -
        if [ ! -f "$b/Makefile" ]; then
                (cd "$b" && autoreconf -fi >/dev/null 2>&1 && ./configure CFLAGS="-O2 -g" >/dev/null) ||
                        die "configure failed in $b"
        fi
        make -C "$b" -j"$(nproc)" daemon/chuted ctl/chutectl >"$b/make.log" 2>&1 ||
                die "build failed, see $b/make.log"
        CHUTED=$b/daemon/chuted
        CHUTECTL=$b/ctl/chutectl
}
