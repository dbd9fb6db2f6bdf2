#!/bin/bash
# SPDX-License-Identifier: MIT
# make check-package: the Debian package end to end. Builds chute_*.deb with
# dpkg-buildpackage from a clean copy of the tree, runs lintian (no error, no
# warning), makes a Debian 12 root with debootstrap (cached as a tarball in
# $CHUTE_PKG_CACHE, default ./.check-package-cache), installs the package
# there with `apt-get install ./chute_*.deb` (from the mirror), checks
# binaries, group, conffile, enabled units, systemd-analyze and a system-mode
# chuted that chutectl reaches with no options, then `dpkg --purge chute`.
# Needs root, debootstrap and the package mirror. Ends with "N passed, N failed".
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
: "${CHUTE_PKG_CACHE:=$SRC/.check-package-cache}"
: "${CHUTE_DEBIAN_MIRROR:=http://deb.debian.org/debian}"
PASS=0 FAIL=0 NUM=0 START=$SECONDS
ok() { NUM=$((NUM + 1)); PASS=$((PASS + 1)); echo "ok $NUM - $*"; }
not_ok() { NUM=$((NUM + 1)); FAIL=$((FAIL + 1)); echo "not ok $NUM - $*"; }
check() { local d=$1 out; shift; if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d"; printf '%s\n' "$out" | tail -20 | sed 's/^/#   /'; fi; }
finish() { echo "# check-package took $(( (SECONDS - START) / 60 )) min $(( (SECONDS - START) % 60 )) s"; echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit; }
bail() { not_ok "$*"; finish; }

[ "$(id -u)" -eq 0 ] || bail "check-package needs root (debootstrap, chroot)"
for c in dpkg-buildpackage dh lintian debootstrap unshare; do
    command -v "$c" >/dev/null || bail "$c is not installed (CI_DEPS in ./quickstart)"
done
W=$(mktemp -d "${TMPDIR:-/tmp}/chute-pkg.XXXXXX")
R=$W/root
cleanup() { rm -rf "$W"; }
trap cleanup EXIT

# ---- build from a clean copy (the tree may have an in-tree build)
mkdir -p "$W/src/chute"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$W/src/chute")
else
    (cd "$SRC" && tar --exclude=.check-package-cache -cf - .) | tar -C "$W/src/chute" -xf -
    (cd "$W/src/chute" && { make distclean >/dev/null 2>&1 || true; })
fi
t=$SECONDS
check "dpkg-buildpackage -us -uc -b builds the package" \
    sh -c "cd '$W/src/chute' && DEB_BUILD_OPTIONS='nocheck ${DEB_BUILD_OPTIONS:-}' dpkg-buildpackage -us -uc -b >'$W/build.log' 2>&1 || { tail -30 '$W/build.log'; exit 1; }"
echo "# build: $((SECONDS - t)) s"
DEB=$(ls "$W"/src/chute_*_*.deb 2>/dev/null | grep -v dbgsym | head -1)
[ -n "$DEB" ] || bail "no chute_*.deb was built"
ok "built $(basename "$DEB")"
lint=$(lintian --fail-on none "$W"/src/chute_*.changes 2>&1 | grep -E '^[EW]: ')
if [ -z "$lint" ]; then ok "lintian: no errors and no warnings"; else
    not_ok "lintian: no errors and no warnings"; printf '%s\n' "$lint" | sed 's/^/#   /'; fi
contents=$(dpkg-deb -c "$DEB" | awk '{print $6}')
for f in ./usr/sbin/chuted ./usr/bin/chutectl ./lib/systemd/system/chuted.service ./lib/systemd/system/chuted.socket \
    ./usr/lib/systemd/user/chuted.service ./usr/lib/sysusers.d/chute.conf ./usr/lib/tmpfiles.d/chute.conf \
    ./usr/share/man/man1/chutectl.1.gz ./usr/share/man/man8/chuted.8.gz ./usr/share/man/man5/chuted.conf.5.gz \
    ./usr/share/bash-completion/completions/chutectl ./usr/share/zsh/vendor-completions/_chutectl \
    ./etc/chute/chuted.conf; do
    if grep -qxF "$f" <<<"$contents"; then ok "the package has ${f#.}"; else not_ok "the package has ${f#.}"; fi
done
is_conffile=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles 2>/dev/null)
if grep -qx /etc/chute/chuted.conf <<<"$is_conffile"; then ok "/etc/chute/chuted.conf is a conffile"; else
    not_ok "/etc/chute/chuted.conf is a conffile"; fi

# ---- a Debian 12 root
t=$SECONDS
mkdir -p "$CHUTE_PKG_CACHE"
TARBALL=$CHUTE_PKG_CACHE/bookworm-minbase.tar
if [ ! -s "$TARBALL" ]; then
    if debootstrap --variant=minbase bookworm "$R" "$CHUTE_DEBIAN_MIRROR" >"$W/debootstrap.log" 2>&1; then
        tar -C "$R" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
    else
        tail -20 "$W/debootstrap.log" | sed 's/^/#   /'; bail "debootstrap bookworm from $CHUTE_DEBIAN_MIRROR"
    fi
else
    mkdir -p "$R" && tar -C "$R" -xf "$TARBALL"
fi
ok "a Debian 12 root (debootstrap --variant=minbase bookworm)"
echo "# root: $((SECONDS - t)) s"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null
# the host's apt date checks (a snapshot mirror may carry old Release files)
apt-config dump | grep -E '^Acquire::Check-(Valid-Until|Date) ' > "$R/etc/apt/apt.conf.d/99check-package"
cp "$DEB" "$R/tmp/"
# in_root CMD: run CMD (sh -c) chrooted in R, with /proc and /dev in a private
# mount namespace (gone when it exits)
in_root() {
    unshare --mount --propagation private sh -c '
        mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" && mount -t tmpfs tmpfs "$1/run" &&
        exec chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive sh -c "$2"' sh "$R" "$1"
}

t=$SECONDS
check "apt-get install ./$(basename "$DEB") in the root" \
    in_root "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends ./tmp/$(basename "$DEB")"
echo "# install: $((SECONDS - t)) s"
check "chutectl version runs there" in_root "chutectl version"
check "chuted --version runs there" in_root "chuted --version | grep -q '^chuted '"
check "group chute exists (sysusers.d)" in_root "getent group chute"
check "chuted.service is enabled (multi-user.target.wants)" \
    test -L "$R/etc/systemd/system/multi-user.target.wants/chuted.service"
check "chuted.socket is enabled (sockets.target.wants)" test -L "$R/etc/systemd/system/sockets.target.wants/chuted.socket"
check "the user unit is not enabled for everyone" test ! -e "$R/etc/systemd/user/default.target.wants/chuted.service"
check "systemd-analyze verify on the installed units" \
    in_root "out=\$(systemd-analyze verify /lib/systemd/system/chuted.service /lib/systemd/system/chuted.socket 2>&1 | grep -v 'man ') ; [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
check "bash completion loads" in_root "bash -c '. /usr/share/bash-completion/completions/chutectl && complete -p chutectl'"
# the system daemon as installed: default config, state and socket, and
# chutectl with no options reaching it
cat > "$R/tmp/run-chuted.sh" <<'EOS'
chuted >/tmp/chuted.log 2>&1 & pid=$!
i=0; while [ $i -lt 100 ] && ! chutectl status >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
chutectl status; rc=$?
kill $pid; wait $pid
[ $rc -eq 0 ] || { cat /tmp/chuted.log; exit 1; }
EOS
# its own network namespace: the default peer listener (0.0.0.0:2001) must
# not take the host's port
check "chuted in system mode with the packaged config: chutectl status with no options" \
    in_root "unshare --net sh /tmp/run-chuted.sh"
check "... it made its state in /var/lib/chute" test -s "$R/var/lib/chute/master.key"

out=$(in_root "dpkg --purge chute" 2>&1); rc=$?
if [ $rc -eq 0 ]; then ok "dpkg --purge chute"; else not_ok "dpkg --purge chute"; printf '%s\n' "$out" | sed 's/^/#   /'; fi
for f in /usr/sbin/chuted /usr/bin/chutectl /lib/systemd/system/chuted.service /etc/chute \
    /etc/systemd/system/multi-user.target.wants/chuted.service /etc/systemd/system/sockets.target.wants/chuted.socket \
    /usr/lib/sysusers.d/chute.conf /usr/share/man/man1/chutectl.1.gz; do
    check "purged: $f" test ! -e "$R$f"
done
check "the backups and master key in /var/lib/chute are kept" test -s "$R/var/lib/chute/master.key"
check "... and purge says so" grep -q "keeping /var/lib/chute" <<<"$out"
finish
