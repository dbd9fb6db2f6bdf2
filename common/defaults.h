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
/* The user-mode socket for uid, root included (what `chuted --user` and
 * ./quickstart run use): $XDG_RUNTIME_DIR/chute/chuted.sock, else
 * $XDG_STATE_HOME/chute/chuted.sock or ~/.local/state/chute/chuted.sock. */
char *defaults_user_socket_path(uid_t uid);

/* The system daemon's control socket (chuted.socket's ListenStream=). */
#define DEFAULTS_SYSTEM_SOCKET "/run/chute/chuted.sock"
/* SYSCONFDIR/chute/chuted.conf for root, else $XDG_CONFIG_HOME/chute/chuted.conf
 * (~/.config/chute/chuted.conf). Caller frees; aborts on OOM. */
char *defaults_config_path(uid_t uid);
