#!/bin/bash
# SPDX-License-Identifier: MIT
# The systemd units, sysusers.d and tmpfiles.d entries (systemd/): every unit
# passes `systemd-analyze verify` (ExecStart= pointed at this build, the man
# pages of Documentation= from man/), chuted.service's
# `systemd-analyze security --offline=true` exposure is at most 2.5, and the
# sysusers/tmpfiles entries make group chute and the directories in a root.
. "$(dirname "$0")/lib.sh"
need systemd-analyze systemd-sysusers systemd-tmpfiles

U=$T_TMP/units
mkdir -p "$U/system" "$U/user" "$U/man/man1" "$U/man/man5" "$U/man/man8" "$T_TMP/xdg"
cp "$CHUTE_SRCDIR"/man/*.1 "$U/man/man1/"; cp "$CHUTE_SRCDIR"/man/*.5 "$U/man/man5/"
cp "$CHUTE_SRCDIR"/man/*.8 "$U/man/man8/"
subst() { sed -e "s|@sbindir@|$CHUTE_BUILDDIR/daemon|g" -e "s|@docdir@|$CHUTE_SRCDIR|g" "$1" > "$2"; }
subst "$CHUTE_SRCDIR/systemd/chuted.service.in" "$U/system/chuted.service"
cp "$CHUTE_SRCDIR/systemd/chuted.socket" "$U/system/chuted.socket"
subst "$CHUTE_SRCDIR/systemd/user/chuted.service.in" "$U/user/chuted.service"

verify() { MANPATH=$U/man XDG_RUNTIME_DIR=$T_TMP/xdg SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$@" 2>&1; }
out=$(cd "$U/system" && verify ./chuted.service ./chuted.socket)
is "systemd-analyze verify chuted.service chuted.socket: no complaint" "$out" ""
out=$(cd "$U/user" && verify --user ./chuted.service)
is "systemd-analyze verify --user chuted.service (user unit): no complaint" "$out" ""
# a broken unit is reported: the check above can fail
sed 's/^Type=notify/Type=notifyy/' "$U/system/chuted.service" > "$U/broken.service"
out=$(cd "$U" && verify ./broken.service)
case $out in *notifyy*) ok "verify reports a broken unit (the check can fail)" ;;
    *) not_ok "verify reports a broken unit"; diag "$out" ;; esac

sec=$(cd "$U/system" && systemd-analyze security --offline=true ./chuted.service 2>&1 | tail -1)
score=$(printf '%s\n' "$sec" | sed -n 's/.*exposure level for chuted.service: \([0-9.]*\).*/\1/p')
diag "$sec"
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; then
    ok "systemd-analyze security: chuted.service exposure $score <= 2.5"
else not_ok "systemd-analyze security: chuted.service exposure '$score', want <= 2.5"; fi

# each directive the daemon depends on is there
for d in Type=notify WatchdogSec= StateDirectory=chute RuntimeDirectory=chute ConfigurationDirectory=chute \
    ProtectSystem=strict ProtectHome=read-only PrivateTmp=yes NoNewPrivileges=yes \
    SystemCallFilter=@system-service RestrictAddressFamilies= CapabilityBoundingSet=CAP_DAC_READ_SEARCH; do
    check "chuted.service sets $d" grep -q "^$d" "$U/system/chuted.service"
done
check "chuted.socket listens at /run/chute/chuted.sock, group chute, mode 0660" \
    grep -Pzq 'ListenStream=/run/chute/chuted.sock\n(.*\n)*SocketMode=0660\n(.*\n)*SocketGroup=chute' \
    "$U/system/chuted.socket"

# sysusers.d and tmpfiles.d applied to an empty root
R=$T_TMP/root
mkdir -p "$R/etc"
check "systemd-sysusers --root applies chute.conf" \
    systemd-sysusers --root="$R" "$CHUTE_SRCDIR/systemd/sysusers.d/chute.conf"
check "... and makes group chute" grep -q '^chute:' "$R/etc/group"
check "systemd-tmpfiles --root --create applies chute.conf" \
    systemd-tmpfiles --root="$R" --create "$CHUTE_SRCDIR/systemd/tmpfiles.d/chute.conf"
is "... /var/lib/chute is 0700" "$(stat -c %a "$R/var/lib/chute" 2>&1)" 700
is "... /run/chute is 0755" "$(stat -c %a "$R/run/chute" 2>&1)" 755
done_testing
