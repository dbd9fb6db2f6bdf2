/* SPDX-License-Identifier: MIT */
/* The connection struct and the helpers shared by daemon/peer-conn.c
 * (lifetime, output, the window, timers, the API) and daemon/peer-conn-input.c
 * (frames in, dispatch, the host's flow control); users see only peer-conn.h.
 * Everything here runs on the loop thread. */
#pragma once

#include <stdlib.h>
#include <time.h>

#include "peer-conn.h"

#define PEER_CONN_NS_PER_SEC INT64_C(1000000000)

/* One request of ours (client side), waiting for the window or for its reply. */
struct peer_conn_call {
        struct peer_conn_call *prev, *next;
        uint64_t reqid;  /* set when sent */
        uint8_t *frame;  /* msg_encode output (DATA empty), until sent */
        size_t frame_len;
        bool has_data;
        const void *data;
        size_t data_len;
        peer_conn_data_free_fn data_free;
        void *data_arg;
        peer_conn_done_fn done; /* NULL: our keepalive PING */
        void *userdata;
};

/* Our requests in order, oldest first. */
struct peer_conn_calls {
        struct peer_conn_call *head, *tail;
        size_t n;
};

/* The connection (peer-conn.h). */
struct peer_conn {
        struct event_base *base;
        struct bufferevent *bev; /* NULL once freed */
        struct evbuffer_cb_entry *output_cb;
        struct peer_conn_handlers h;
        void *userdata;
        struct event *frame_timer, *keepalive_timer, *resume;
        unsigned refs;      /* the owner's, plus one per callback on the stack */
        bool closed;        /* no more traffic: closing, closed() ran, or freed */
        bool freed;         /* peer_conn_free was called */
        bool read_paused;   /* host: enough requests in flight or output waiting */
        int pending_err;    /* a close decided inside a caller's call: done from resume */
        char why[200];
        size_t window;
        size_t window_used;
        uint64_t next_reqid;
        struct peer_conn_calls bulk; /* client: waiting for the window, in order */
        struct peer_conn_calls sent; /* client: written, waiting for the reply */
        uint64_t *host_reqids; /* host: requests handed to the handler, not replied */
        size_t n_host, cap_host, max_host;
        uint64_t frame_timeout_ns, keepalive_ns;
        bool frame_timing;
        int64_t frame_start_ns;
        int64_t last_rx_ns;       /* a byte received */
        int64_t last_activity_ns; /* a byte received or taken from the output */
        bool ping_outstanding;
        int64_t ping_sent_ns;
        struct peer_conn_stats stats;
};

static inline int64_t peer_conn_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * PEER_CONN_NS_PER_SEC + ts.tv_nsec;
}

static inline struct timeval peer_conn_tv(uint64_t ns)
{
        return (struct timeval){ .tv_sec = (time_t)(ns / PEER_CONN_NS_PER_SEC),
                                 .tv_usec = (suseconds_t)(ns % PEER_CONN_NS_PER_SEC / 1000) };
}

static inline bool peer_conn_is_host(const struct peer_conn *c)
{
        return c->h.request != NULL;
}

static inline bool peer_conn_usable(const struct peer_conn *c)
{
        return !c->closed && !c->pending_err;
}

/* ---- our requests ---- */

static inline void peer_conn_calls_push(struct peer_conn_calls *l, struct peer_conn_call *rq)
{
        rq->next = NULL;
        rq->prev = l->tail;
        if (l->tail)
                l->tail->next = rq;
        else
                l->head = rq;
        l->tail = rq;
        l->n++;
}

static inline void peer_conn_calls_push_front(struct peer_conn_calls *l, struct peer_conn_call *rq)
{
        rq->prev = NULL;
        rq->next = l->head;
        if (l->head)
                l->head->prev = rq;
        else
                l->tail = rq;
        l->head = rq;
        l->n++;
}

static inline void peer_conn_calls_remove(struct peer_conn_calls *l, struct peer_conn_call *rq)
{
        if (rq->prev)
                rq->prev->next = rq->next;
        else
                l->head = rq->next;
        if (rq->next)
                rq->next->prev = rq->prev;
        else
                l->tail = rq->prev;
        rq->prev = rq->next = NULL;
        l->n--;
}

static inline struct peer_conn_call *peer_conn_calls_find(const struct peer_conn_calls *l, uint64_t reqid)
{
        /* replies mostly come in order: the oldest first */
        for (struct peer_conn_call *rq = l->head; rq; rq = rq->next)
                if (rq->reqid == reqid)
                        return rq;
        return NULL;
}

static inline void peer_conn_call_free(struct peer_conn_call *rq)
{
        free(rq->frame);
        free(rq);
}

/* Index of request reqid among the host's in flight, or -1. */
static inline int peer_conn_host_find(const struct peer_conn *c, uint64_t reqid)
{
        for (size_t i = 0; i < c->n_host; i++)
                if (c->host_reqids[i] == reqid)
                        return (int)i;
        return -1;
}

/* ---- peer-conn.c ---- */

/* Keep c alive across a callback; peer_conn_unref frees it after the last. */
void peer_conn_ref(struct peer_conn *c);
void peer_conn_unref(struct peer_conn *c);
/* The connection is over: stop I/O and timers, fail our requests, tell the owner once. */
__attribute__((format(printf, 3, 4))) void peer_conn_end(struct peer_conn *c, int err, const char *fmt, ...);
/* Send waiting requests, in order, while the window has room (one always goes). */
void peer_conn_pump(struct peer_conn *c);
/* Encode and write a reply as it is (its request id untouched). */
int peer_conn_write_reply(struct peer_conn *c, struct msg *reply, const void *data, size_t data_len,
                          peer_conn_data_free_fn data_free, void *data_arg);

/* ---- peer-conn-input.c ---- */

/* Take every whole frame in the input, unless paused or closed. */
void peer_conn_input_process(struct peer_conn *c);
/* Re-arm the frame timer (closes the connection when a frame is late). */
void peer_conn_input_clock(struct peer_conn *c);
/* A paused host reads again when its requests in flight and its output allow it. */
void peer_conn_input_maybe_resume(struct peer_conn *c);
