/* SPDX-License-Identifier: MIT */
/* The peer listener (DESIGN §7): accepts TCP connections on [peer] listen,
 * runs the TLS server handshake, pins the node id of the certificate the
 * other side presented against the peers table, and hands an approved
 * peer's connection to a hosting session (peer-host.c). An unknown or
 * pending node is recorded as pending and closed. Bounds the connections
 * (in all and per peer). Owns no pack bytes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct peer_server;

/* Most connections at once, and per peer; more are refused at accept. */
#define PEER_SERVER_MAX_CONNECTIONS 64
#define PEER_SERVER_MAX_PER_PEER 4
/* Seconds a new connection has to finish its TLS handshake. */
#define PEER_SERVER_HANDSHAKE_TIMEOUT 10

/* Listen on d->config.peer_listen (NULL: nothing to do, *ret NULL) with
 * d->identity, hosting through d->peer_host. -errno (logged) when the
 * address is bad or cannot be bound. */
int peer_server_new(struct daemon *d, struct peer_server **ret);
/* Close the listener and every connection; accepts NULL. */
void peer_server_free(struct peer_server *s);
/* Close every connection of node id (a removed peer); s may be NULL. */
void peer_server_forget(struct peer_server *s, const uint8_t id[32]);
/* Does node id have a hosting connection now? s may be NULL. */
bool peer_server_connected(const struct peer_server *s, const uint8_t id[32]);
/* Connections open now (handshaking ones included). */
unsigned peer_server_count(const struct peer_server *s);
