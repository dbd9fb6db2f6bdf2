/* SPDX-License-Identifier: MIT */
/* The control socket: a UNIX stream listener speaking framed CBOR (proto/),
 * peer-credential checks, one connection object per client, and dispatch
 * of decoded requests to the command table. Not the commands themselves. */
#pragma once

#include <sys/types.h>

struct daemon;
struct ctl_server;

/* Listen on path (mode 0660), admitting root, uid and members of group gid
 * (gid (gid_t)-1: no group). */
int ctl_server_new(struct daemon *d, const char *path, uid_t uid, gid_t gid,
                   struct ctl_server **ret);
/* Adopt an already listening socket (systemd socket activation). */
int ctl_server_new_fd(struct daemon *d, int fd, uid_t uid, gid_t gid, struct ctl_server **ret);
/* Number of connected clients. */
unsigned ctl_server_clients(const struct ctl_server *s);
/* Close the listener and every connection (requests in flight are cancelled). */
void ctl_server_free(struct ctl_server *s);
