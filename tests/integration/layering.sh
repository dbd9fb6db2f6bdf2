#!/bin/bash
# SPDX-License-Identifier: MIT
# Layering: common/ and proto/ never include a header of daemon/ or ctl/
# (the build leaves those folders off their include path; this also catches
# relative includes such as "../daemon/x.h"), and no source includes
# "config.h", which only autoconf's force-included header may be called.
. "$(dirname "$0")/lib.sh"
SRC=${CHUTE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}

upper=$(cd "$SRC" && ls daemon/*.h ctl/*.h 2>/dev/null | xargs -n1 basename | sort -u)
[ -n "$upper" ] || { not_ok "daemon/ and ctl/ headers found under $SRC"; done_testing; exit; }
for layer in common proto; do
    bad=""
    for f in "$SRC/$layer"/*.[ch]; do
        while IFS= read -r inc; do
            base=$(basename "$inc")
            case $inc in
                */daemon/*|*/ctl/*|daemon/*|ctl/*) bad="$bad $(basename "$f"):$inc" ;;
                *) if printf '%s\n' "$upper" | grep -qxF "$base" && [ ! -e "$SRC/$layer/$base" ] &&
                        [ ! -e "$SRC/common/$base" ] && [ ! -e "$SRC/proto/$base" ]; then
                        bad="$bad $(basename "$f"):$inc"; fi ;;
            esac
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
    is "$layer/ includes no daemon/ or ctl/ header" "${bad# }" ""
done
hits=$(cd "$SRC" && grep -l '#[[:space:]]*include[[:space:]]*"config\.h"' common/*.[ch] proto/*.[ch] daemon/*.[ch] ctl/*.[ch] tests/unit/*.[ch] 2>/dev/null | tr '\n' ' ')
is "no source includes \"config.h\" (autoconf's header is force-included)" "${hits% }" ""
done_testing
