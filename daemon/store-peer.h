/* SPDX-License-Identifier: MIT */
/* The peer store (kind "peer"): another chute node that keeps this node's
 * packs, reached over TLS with the peer protocol (proto/peer.def). Its
 * store_ops block a store thread while the request runs on the loop; the
 * connection itself (dialing, pinning, HELLO, backoff, usage) lives on the
 * loop in store-peer-link.c. Not the choice of what to upload (replicate.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct daemon;

/* Bytes of one PUT range. */
#define STORE_PEER_RANGE (1024u * 1024)
/* A blocking call gives up after this long without an answer (-ETIMEDOUT). */
#define STORE_PEER_CALL_TIMEOUT_NS (300 * UINT64_C(1000000000))
/* Reconnect backoff: first wait, longest wait. */
#define STORE_PEER_BACKOFF_MIN_NS (1 * UINT64_C(1000000000))
#define STORE_PEER_BACKOFF_MAX_NS (60 * UINT64_C(1000000000))
/* How often a connected store asks the host for its usage. */
#define STORE_PEER_USAGE_INTERVAL_NS (60 * UINT64_C(1000000000))

/* The smallest per-store rate limit, bytes/s: a host allows a frame about
 * this rate (PEER_CONN_MIN_RATE) before it takes the peer for a slow loris. */
#define STORE_PEER_LIMIT_MIN (64u * 1024)
/* Under an upload limit the window holds about this many seconds of it
 * (at least one range), so control requests never wait long behind bulk. */
#define STORE_PEER_LIMIT_WINDOW_S 4

/* The peer store named name (for logs and status), the node pinned by
 * node_id, dialled at address ("host:port", "[v6]:port"). Loop thread. It
 * dials at once and keeps the connection up, redialling with backoff. Its
 * own rate limits come from its stores row (d->index), if there is one. */
int store_peer_new(struct daemon *d, const char *name, const uint8_t node_id[32], const char *address,
                   struct store **ret);
/* True when s is a peer store. */
bool store_is_peer(const struct store *s);

/* What the owner of a peer store learns from it (loop thread). */
struct store_peer_events {
        /* HELLO went through: the store can take requests now */
        void (*connected)(void *userdata);
        /* the host reported usage (HELLO or USAGE) */
        void (*usage)(void *userdata, uint64_t used, uint64_t quota);
        /* the host answered HELLO with DENIED: it does not (or no longer)
         * have this node as a peer; why: the connection's error, in words */
        void (*refused)(void *userdata, const char *why);
};
/* Set (or clear, with NULL) the events; loop thread. */
void store_peer_set_events(struct store *s, const struct store_peer_events *events, void *userdata);

/* The state of a peer store, for status (loop thread). */
struct store_peer_status {
        bool connected;
        bool have_usage;         /* the host told used and quota */
        uint64_t used, quota;    /* bytes it holds for us (marked included), bytes it allows */
        uint64_t delete_delay_s; /* how long it keeps a deleted pack */
        char error[256];         /* the connection's last problem, "" when none */
        uint64_t uploaded_bytes; /* pack bytes the host acknowledged since start */
        uint64_t resumed_bytes;  /* bytes of partial uploads it had, not sent again */
};
void store_peer_get_status(struct store *s, struct store_peer_status *ret);
/* Set the store's own upload and download limits (bytes/s, 0 = none; else at
 * least STORE_PEER_LIMIT_MIN); the global ones ([replication] upload_limit,
 * download_limit) still bound it too. The connection in place takes them at
 * once. -EINVAL for a limit out of range. Loop thread. */
int store_peer_set_limits(struct store *s, uint64_t upload, uint64_t download);
/* Ask the host for its usage now (loop thread; the usage event follows). */
void store_peer_refresh_usage(struct store *s);
/* Stop (loop thread): the connection closes, blocking calls in flight and
 * new ones fail with -ECANCELED. store_free() afterwards (after the store's
 * threads are joined); store_free alone does this too. */
void store_peer_shutdown(struct store *s);

/* Undelete every pack the host keeps marked deleted for us (recover);
 * *ret_count how many. Blocking, a store thread. */
int store_peer_undelete_all(struct store *s, uint64_t *ret_count);
