/* SPDX-License-Identifier: MIT */
/* Default locations chosen by uid, shared by chuted and chutectl: system mode
 * (root) uses /var/lib/chute, /run/chute and SYSCONFDIR/chute; user mode the
 * XDG directories. Owns only the path rules; the daemon's settings build on it. */
#pragma once

#include <sys/types.h>

/* /var/lib/chute for root, else $XDG_STATE_HOME/chute (~/.local/state/chute).
 * Caller frees; aborts on out-of-memory. */
char *defaults_state_dir(uid_t uid);
/* /run/chute/chuted.sock for root, else $XDG_RUNTIME_DIR/chute/chuted.sock, or
 * state_dir/chuted.sock without XDG_RUNTIME_DIR. Caller frees; aborts on OOM. */
char *defaults_socket_path(uid_t uid);
/* SYSCONFDIR/chute/chuted.conf for root, else $XDG_CONFIG_HOME/chute/chuted.conf
 * (~/.config/chute/chuted.conf). Caller frees; aborts on OOM. */
char *defaults_config_path(uid_t uid);
