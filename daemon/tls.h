/* SPDX-License-Identifier: MIT */
/* TLS for the peer protocol (DESIGN.md §7): an mbedtls 2.28 filter over a
 * socket bufferevent, since Debian 12's libevent has no mbedtls bufferevent.
 * Mutual authentication with the node identity; any self-signed certificate
 * passes the handshake and the caller pins the peer by tls_peer_id(). Not the
 * pinning itself, nor the peer protocol above it (peer-server.c, store-peer.c). */
#pragma once

#include <stdint.h>

#include <event2/bufferevent.h>

#include "identity.h"

#define TLS_PEER_ID_SIZE IDENTITY_ID_SIZE

struct tls_config; /* one per daemon: own identity, ciphersuites, RNG */

enum tls_role { TLS_CLIENT, TLS_SERVER };

/* Who seals and opens the records after the handshake: libcrypto (the
 * default, for the ChaCha20-Poly1305 suite; tls-record.c) or mbedtls. The
 * bytes on the wire are the same; libcrypto is several times faster. */
enum tls_records { TLS_RECORDS_LIBCRYPTO, TLS_RECORDS_MBEDTLS };

/* Build the client and server configuration for identity id (which must outlive it). */
int tls_config_new(struct identity *id, struct tls_config **ret);
/* Choose who seals the records of connections wrapped from now on (the
 * environment's CHUTE_TLS_RECORDS=mbedtls chooses mbedtls at start). */
void tls_config_set_records(struct tls_config *c, enum tls_records records);
/* Let go of a configuration (NULL is fine); connections made with it keep
 * it until libevent has freed them. */
void tls_config_free(struct tls_config *c);

/* Wrap the socket bufferevent `under` (connected or still connecting) in a TLS
 * filter bufferevent, read and write enabled. Ownership of `under` passes, also
 * on failure: freeing the returned bufferevent frees it (close_notify first when
 * possible). Callbacks are deferred. The returned bev reports BEV_EVENT_CONNECTED
 * once the handshake is done, BEV_EVENT_ERROR on handshake or record failure,
 * BEV_EVENT_EOF on close_notify or on a close at a record boundary. Data written
 * before the handshake completes waits for it; the handshake timeout is the
 * caller's (bufferevent_set_timeouts on the returned bev; EV_READ must stay
 * enabled until BEV_EVENT_CONNECTED). */
int tls_wrap(struct tls_config *c, struct bufferevent *under, enum tls_role role, struct bufferevent **ret);
/* SHA-256 of the peer's DER certificate (its node id); -ENOTCONN before the handshake is done. */
int tls_peer_id(struct bufferevent *bev, uint8_t ret_id[TLS_PEER_ID_SIZE]);
/* The negotiated suite ("TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"), NULL before the handshake. */
const char *tls_ciphersuite(struct bufferevent *bev);
/* "libcrypto" or "mbedtls": who seals this connection's records; NULL before the handshake. */
const char *tls_records(struct bufferevent *bev);
/* Why the connection failed or ended, in one line ("no error" when it did not). */
const char *tls_last_error(struct bufferevent *bev);
