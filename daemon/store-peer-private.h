/* SPDX-License-Identifier: MIT */
/* What store-peer.c and store-peer-read.c (the blocking store_ops, on
 * store threads) and store-peer-link.c (the connection, on the loop) share:
 * the store struct, its lock, and the calls that carry one request from a
 * store thread to the loop and its answer back. Included by store-peer*.c
 * only. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "peer.h"
#include "store-peer.h"

struct ev_token_bucket_cfg;
struct evbuffer;
struct peer_conn;
struct peer_payload;
struct store_peer_transport;
struct workers;

enum store_peer_link_state {
        STORE_PEER_DOWN,      /* no connection; retry_timer may be pending */
        STORE_PEER_DIALING,   /* TCP connect (and name lookup) */
        STORE_PEER_HANDSHAKE, /* TLS handshake */
        STORE_PEER_HELLO,     /* HELLO sent, waiting for its answer */
        STORE_PEER_UP,        /* requests flow */
};

/* Several requests a blocking call waits for (one, or the ranges of a PUT). */
struct store_peer_batch {
        unsigned refs;            /* the waiting thread's + one per call not finished */
        unsigned outstanding;     /* calls not finished */
        bool progressed;          /* a call finished since the waiter last looked */
        int error;                /* the first failure */
        char message[200];        /* its ERROR message, if the host sent one */
        struct msg *reply;        /* the last RESULT, when the calls keep it */
        struct evbuffer *payload; /* its DATA (GET) */
        uint64_t durable;         /* PUT: the highest DURABLE answered */
        bool committed;           /* PUT: a COMMITTED answer came */
};

/* One request on its way from a store thread to the loop and back. */
struct store_peer_call {
        struct store_peer *p;
        struct store_peer_batch *batch;
        struct msg *req;          /* until it is sent */
        uint32_t type;
        void *data;               /* PUT payload (malloc'd), owned until sent or dropped */
        size_t data_len;
        bool has_data;
        bool keep_reply;
        struct store_peer_call *next; /* waiting for the connection */
};

struct store_peer {
        struct store base; /* first */
        struct daemon *d;
        struct event_base *ev_base;
        struct workers *workers;
        struct store_peer_transport *transport;
        char *name;
        char *address;
        char *id_text; /* the pinned node id, grouped base32 */
        uint8_t node_id[32];
        size_t window_config; /* [peer] window */
        pthread_t loop_thread; /* blocking calls from it would wait for themselves */

        /* shared with the store threads, under lock */
        pthread_mutex_t lock;
        pthread_cond_t cond; /* any call finished, budget freed, or closing */
        unsigned refs;       /* the owner's + one per call + one per thread inside an op */
        bool closing;
        size_t budget_used;  /* PUT bytes read and not yet handed to the connection */
        size_t window;       /* the window in use (smaller under a low upload limit) */
        uint64_t resumed_bytes;

        /* loop thread only */
        enum store_peer_link_state state;
        struct bufferevent *dial_bev; /* DIALING: the socket; HANDSHAKE: the TLS filter */
        struct peer_conn *conn;       /* HELLO, UP */
        struct event *retry_timer;
        struct event *usage_timer;
        uint64_t backoff_ns;
        bool failing;                 /* the last dial failed: log the next ones at debug */
        bool usage_pending;           /* a USAGE request is in flight */
        struct store_peer_call *waiting, **waiting_tail;
        uint64_t upload_limit, download_limit; /* the store's own, bytes/s, 0 = none */
        struct ev_token_bucket_cfg *limit_cfg; /* their token buckets; NULL = none */
        const struct store_peer_events *events;
        void *events_userdata;
        /* status */
        bool have_usage;
        uint64_t used, quota, delete_delay_s;
        char error[256]; /* written on the loop under lock; store threads read it under lock */
        uint64_t uploaded_bytes;
};

static inline struct store_peer *to_peer(struct store *s)
{
        return (struct store_peer *)s;
}

/* ---- store-peer.c ---- */
/* Every op holds a reference while it runs (a store_free racing with a late
 * op never frees the store under it): 0, -ECANCELED once stopping, -EDEADLK
 * on the loop thread. store_peer_unref() when done. */
int store_peer_op_enter(struct store_peer *p);
/* A request of type (for pack, unless NULL) with an id set by the connection. */
struct msg *store_peer_request_new(enum peer_type type, const struct oid *pack);
/* Send req (taken) and wait for its answer: *ret_reply (if not NULL) the
 * RESULT, *ret_payload (if not NULL) its DATA; -errno of the ERROR or of the
 * transport otherwise. */
int store_peer_request(struct store_peer *p, struct msg *req, struct msg **ret_reply,
                       struct evbuffer **ret_payload);
/* Drop a reference (any thread); the last one frees the store. */
void store_peer_unref(struct store_peer *p);
/* Finish a call on the loop with its reply (taken; may be NULL), payload and
 * error: record them in its batch, wake the waiter, free the call. */
void store_peer_call_finish(struct store_peer_call *call, struct msg *reply, struct peer_payload *payload,
                            int err);
/* Give back the PUT budget of len bytes (any thread). */
void store_peer_budget_release(struct store_peer *p, size_t len);

/* ---- store-peer-read.c ---- */
int store_peer_read_get(struct store *s, const struct oid *pack, uint64_t offset, size_t len, void *buf);
int store_peer_read_stat(struct store *s, const struct oid *pack, uint64_t *ret_size);
int store_peer_read_list(struct store *s, const struct oid *after, size_t max, store_list_fn fn, void *userdata,
                         int *ret_more);
int store_peer_read_prove(struct store *s, const struct oid *pack, const void *nonce, size_t nonce_len,
                          uint8_t ret_digest[CRYPTO_SHA256_SIZE]);
/* One LIST page: fn for the entries (only those marked deleted when marked,
 * else only the others), *ret_more, *ret_last the last id seen (for the next
 * page), *ret_n entries seen and *ret_passed those handed to fn. */
int store_peer_read_list_page(struct store_peer *p, const struct oid *after, size_t max, bool marked,
                              store_list_fn fn, void *userdata, int *ret_more, struct oid *ret_last,
                              size_t *ret_n, size_t *ret_passed);

/* ---- store-peer-link.c ---- */
/* Set up the loop side (timers, the shared transport) and dial. */
int store_peer_link_start(struct store_peer *p);
/* Close the connection, fail the waiting calls, stop the timers. */
void store_peer_link_stop(struct store_peer *p);
/* On the loop: a call arrived from a store thread; send it, queue it until
 * the connection is up, or fail it. */
void store_peer_link_submit(void *userdata);
/* Free the transport reference and the limits (after stop). */
void store_peer_link_done(struct store_peer *p);
