/* SPDX-License-Identifier: MIT */
/* Test harness for daemon/peer-conn.c (see peer-conn-harness.c): the state a
 * test drives, a client's call and its outcome, and the helpers both
 * test-peer-conn.c and test-peer-conn-end.c use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "peer-conn.h"

#define MIB (1024u * 1024)

enum host_mode {
        HOST_ECHO, /* answer every request at once */
        HOST_HOLD, /* keep requests for the test to answer */
};

struct held {
        struct msg *req;
        struct evbuffer *payload;
};

struct t {
        struct event_base *base;
        struct event *tick;
        struct peer_conn *client, *host;
        struct bufferevent *raw; /* the other end as plain bytes, when one side is not a conn */
        enum host_mode mode;
        struct held held[512];
        size_t n_held;
        size_t n_requests;
        uint32_t types[512]; /* host: types in arrival order */
        uint64_t offsets[512];
        size_t payload_len[512];
        int client_closed, host_closed;
        int client_err, host_err;
        char client_why[256], host_why[256];
        bool free_in_closed;
        size_t done_when_closed; /* client: done() calls seen when closed() ran */
        size_t n_done;
};

/* One request of the client, its outcome. */
struct call {
        struct t *t;
        size_t index;
        int n_done;
        int err;
        struct msg *reply;
        size_t payload_len;
        struct evbuffer *payload;
        int data_freed;
        size_t done_order;
        struct peer_conn_stats stats_at_done;
};

/* Milliseconds on the monotonic clock. */
int64_t mono_ms(void);
/* Run the loop until cond holds or ms pass; whether it held. */
bool run_until(struct t *t, bool (*cond)(struct t *), int ms);
/* Run the loop for ms. */
void run_for(struct t *t, int ms);

/* Host: answer req with a RESULT echoing its PACK (and DURABLE for a PUT). */
void host_answer(struct t *t, struct msg *req, size_t payload_len);
/* Client: the done callback that records the outcome in a struct call. */
void call_done(struct msg *reply, struct peer_payload *payload, int err, void *userdata);
/* Client: the data-free callback that counts in a struct call. */
void call_data_free(const void *data, size_t len, void *arg);

/* A client and a host connection on the two ends of a socketpair. */
void t_setup_pair(struct t *t);
/* One connection (host or client) against raw bytes. */
void t_setup_raw(struct t *t, bool host);
/* Free everything t_setup_* made and the requests the host held. */
void t_done(struct t *t);
/* Free what a call's outcome holds. */
void call_clear(struct call *call);

/* A STAT of the pack id filled with fill. */
struct msg *stat_msg(uint8_t fill);
/* A PUT header at offset of a pack of size bytes. */
struct msg *put_msg(uint64_t offset, uint64_t size);
/* Client: send a STAT, its outcome into call. */
void send_stat(struct t *t, uint8_t fill, struct call *call);
/* Client: send a PUT with len bytes of data, its outcome into call. */
void send_put(struct t *t, uint64_t offset, uint64_t size, const void *data, size_t len, struct call *call);

/* Raw side: write a frame of this body. */
void raw_frame(struct t *t, const void *body, size_t len);
/* Raw side: write the frame msg_encode makes of m (freed). */
void raw_msg(struct t *t, struct msg *m);
/* Raw side: whether a whole frame is waiting. */
bool raw_has_frame(struct t *t);
/* Raw side: the next frame the connection wrote, decoded. */
struct msg *raw_read(struct t *t);
/* The status of an ERROR message. */
uint64_t error_status(struct msg *m);

/* Run the loop until every one of n calls completed (fails after ms). */
void wait_calls(struct t *t, struct call *calls, size_t n, int ms);
