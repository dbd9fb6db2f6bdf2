/* SPDX-License-Identifier: MIT */
/* The control socket: a UNIX stream listener speaking framed CBOR (proto/),
 * peer-credential checks, one connection object per client, and dispatch
 * of decoded requests to the command table. Not the commands themselves. */
#pragma once

#include <sys/types.h>

struct daemon;
struct ctl_server;

/* Listen on path (mode 0660, group socket_group when root), admitting root,
 * chuted's own user and members of d->config.socket_group, at most
 * control_max_clients at a time, closing them after control_idle_timeout
 * without a request in flight. */
int ctl_server_new(struct daemon *d, const char *path, struct ctl_server **ret);
/* Adopt an already listening socket (systemd socket activation). */
int ctl_server_new_fd(struct daemon *d, int fd, struct ctl_server **ret);
/* Take socket_group, control_max_clients and control_idle_timeout from
 * d->config again (after a reload). */
void ctl_server_reload(struct ctl_server *s);
/* Number of connected clients. */
unsigned ctl_server_clients(const struct ctl_server *s);
/* Close the listener and every connection (requests in flight are cancelled). */
void ctl_server_free(struct ctl_server *s);
