/* SPDX-License-Identifier: MIT */
/* A peer connection: frames in and out of a bufferevent, request ids, the
 * window of outstanding pack bytes, pausing a host that has enough work,
 * frame, keepalive and idle timers, and DATA bytes that travel as evbuffer
 * chains (a reference on the way out, moved chains on the way in) so a 16 MiB
 * PUT never passes through libcbor. Never logs: closed() gets the reason and
 * the owner logs it. Not HELLO, not the handlers, not TLS. */
#include "peer-conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "frame.h"
#include "peer-conn-private.h"
#include "peer-payload.h"

/* What an output reference needs to give the caller's bytes back. */
struct conn_data_ref {
        peer_conn_data_free_fn data_free;
        void *data_arg;
};

/* ---- lifetime ---- */

void peer_conn_ref(struct peer_conn *c)
{
        c->refs++;
}

void peer_conn_unref(struct peer_conn *c)
{
        if (--c->refs > 0)
                return;
        free(c->host_reqids);
        free(c);
}

/* Every request of ours completes with err; waiting ones give their bytes back. */
static void conn_fail_all(struct peer_conn *c, int err)
{
        struct peer_conn_calls *lists[] = { &c->sent, &c->bulk };

        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                struct peer_conn_call *rq;

                while ((rq = lists[i]->head)) {
                        peer_conn_calls_remove(lists[i], rq);
                        /* a sent request's bytes are the output's: given back when it goes */
                        if (lists[i] == &c->bulk && rq->has_data && rq->data_free)
                                rq->data_free(rq->data, rq->data_len, rq->data_arg);
                        if (rq->done)
                                rq->done(NULL, NULL, err, rq->userdata);
                        peer_conn_call_free(rq);
                }
        }
        c->window_used = 0;
        c->n_host = 0;
        c->ping_outstanding = false;
}

void peer_conn_end(struct peer_conn *c, int err, const char *fmt, ...)
{
        va_list ap;

        if (c->closed)
                return;
        c->closed = true;
        va_start(ap, fmt);
        vsnprintf(c->why, sizeof(c->why), fmt, ap);
        va_end(ap);
        event_del(c->frame_timer);
        event_del(c->keepalive_timer);
        event_del(c->resume);
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        peer_conn_ref(c);
        conn_fail_all(c, err == -ETIMEDOUT ? -ETIMEDOUT : -ECONNRESET);
        if (!c->freed && c->h.closed)
                c->h.closed(c, err, c->why, c->userdata);
        peer_conn_unref(c);
}

/* A close decided inside one of the owner's calls: no callback may run from
 * there, so resume_cb does it on the next loop turn. */
static void conn_close_later(struct peer_conn *c, int err, const char *why)
{
        if (c->closed || c->pending_err)
                return;
        c->pending_err = err < 0 ? err : -EIO;
        snprintf(c->why, sizeof(c->why), "%s", why);
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        event_active(c->resume, EV_TIMEOUT, 0);
}

/* ---- output ---- */

static void conn_data_cleanup(const void *data, size_t len, void *extra)
{
        struct conn_data_ref *ref = extra;

        ref->data_free(data, len, ref->data_arg);
        free(ref);
}

/* Write one whole frame (head, then len bytes of data by reference) or nothing:
 * a frame half in the output would break the stream. */
static int conn_write(struct peer_conn *c, const uint8_t *head, size_t head_len, bool has_data,
                      const void *data, size_t len, peer_conn_data_free_fn data_free, void *data_arg)
{
        struct evbuffer *frame = evbuffer_new();
        struct conn_data_ref *ref = NULL;
        int r = -ENOMEM;

        if (!frame)
                return -ENOMEM;
        if (evbuffer_add(frame, head, head_len) < 0)
                goto out;
        if (has_data && len > 0) {
                if (data_free) {
                        ref = malloc(sizeof(*ref));
                        if (!ref)
                                goto out;
                        *ref = (struct conn_data_ref){ data_free, data_arg };
                }
                if (evbuffer_add_reference(frame, data, len, ref ? conn_data_cleanup : NULL, ref) < 0) {
                        free(ref);
                        goto out;
                }
        }
        /* fails only on an output frozen at its end, which a bufferevent's never is */
        if (evbuffer_add_buffer(bufferevent_get_output(c->bev), frame) < 0) {
                r = -EIO;
                goto out;
        }
        r = 0;
        if (has_data && len == 0 && data_free)
                data_free(data, 0, data_arg); /* nothing to wait for */
        if (has_data)
                c->stats.payload_bytes_sent += len;
out:
        evbuffer_free(frame);
        return r;
}

/* msg_encode m; with has_data, DATA set to an empty byte string first, which
 * must then be the last key of the body. */
static int conn_send_request(struct peer_conn *c, struct peer_conn_call *rq)
{
        _cleanup_free_ uint8_t *head = NULL;
        size_t head_len;
        int r;

        r = peer_payload_frame_head(rq->frame, rq->frame_len, true, c->next_reqid, rq->has_data, rq->data_len,
                            &head, &head_len);
        if (r < 0)
                return r;
        r = conn_write(c, head, head_len, rq->has_data, rq->data, rq->data_len, rq->data_free,
                       rq->data_arg);
        if (r < 0)
                return r;
        rq->reqid = c->next_reqid++;
        free(rq->frame);
        rq->frame = NULL;
        peer_conn_calls_push(&c->sent, rq);
        c->stats.requests_sent++;
        if (rq->has_data)
                c->window_used += rq->data_len;
        return 0;
}

void peer_conn_pump(struct peer_conn *c)
{
        struct peer_conn_call *rq;
        int r;

        while (peer_conn_usable(c) && (rq = c->bulk.head)) {
                if (c->window_used > 0 &&
                    (c->window_used >= c->window || rq->data_len > c->window - c->window_used))
                        break;
                peer_conn_calls_remove(&c->bulk, rq);
                r = conn_send_request(c, rq);
                if (r < 0) {
                        peer_conn_calls_push_front(&c->bulk, rq);
                        conn_close_later(c, r, "cannot queue a request for sending: out of memory");
                        break;
                }
        }
}

/* Encode and check a request, then send it or queue it for the window. */
static int conn_submit(struct peer_conn *c, struct msg *req, const void *data, size_t data_len,
                       peer_conn_data_free_fn data_free, void *data_arg, peer_conn_done_fn done,
                       void *userdata)
{
        struct peer_conn_call *rq;
        bool has_data = data != NULL;
        uint8_t *enc;
        size_t enc_len;
        int r;

        if (!has_data)
                data_len = 0;
        if (data_len > PEER_DATA_MAX)
                return -EMSGSIZE;
        r = peer_payload_encode(req, has_data, &enc, &enc_len);
        if (r < 0)
                return r;
        if (enc_len - FRAME_HEADER_SIZE + PEER_PAYLOAD_HEAD_GROWTH > PEER_MAX_BODY - data_len) {
                free(enc);
                return -EMSGSIZE;
        }
        rq = calloc(1, sizeof(*rq));
        if (!rq) {
                free(enc);
                return -ENOMEM;
        }
        *rq = (struct peer_conn_call){ .frame = enc, .frame_len = enc_len, .has_data = has_data,
                                     .data = data, .data_len = data_len, .data_free = data_free,
                                     .data_arg = data_arg, .done = done, .userdata = userdata };
        if (!has_data) {
                r = conn_send_request(c, rq);
                if (r < 0)
                        peer_conn_call_free(rq);
                return r;
        }
        peer_conn_calls_push(&c->bulk, rq);
        peer_conn_pump(c);
        return 0;
}

int peer_conn_write_reply(struct peer_conn *c, struct msg *reply, const void *data, size_t data_len,
                          peer_conn_data_free_fn data_free, void *data_arg)
{
        _cleanup_free_ uint8_t *enc = NULL, *head = NULL;
        bool has_data = data != NULL;
        size_t enc_len, head_len;
        int r;

        if (!has_data)
                data_len = 0;
        if (data_len > PEER_DATA_MAX)
                return -EMSGSIZE;
        r = peer_payload_encode(reply, has_data, &enc, &enc_len);
        if (r < 0)
                return r;
        r = peer_payload_frame_head(enc, enc_len, false, 0, has_data, data_len, &head, &head_len);
        if (r < 0)
                return r;
        r = conn_write(c, head, head_len, has_data, data, data_len, data_free, data_arg);
        if (r < 0)
                return r;
        c->stats.replies_sent++;
        return 0;
}

/* ---- libevent callbacks ---- */

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
        struct peer_conn *c = arg;
        (void)bev;

        c->last_rx_ns = c->last_activity_ns = peer_conn_now();
        peer_conn_input_process(c);
}

/* The output fell to the low watermark: a paused host may read again. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
        struct peer_conn *c = arg;
        (void)bev;

        peer_conn_input_maybe_resume(c);
}

static void conn_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
        struct peer_conn *c = arg;
        (void)buf;

        if (info->n_deleted > 0)
                c->last_activity_ns = peer_conn_now();
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
        struct peer_conn *c = arg;
        int err;
        (void)bev;

        if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
                return; /* BEV_EVENT_CONNECTED: the TLS handshake, done before us */
        peer_conn_ref(c);
        if (what & BEV_EVENT_EOF) {
                peer_conn_end(c, -ECONNRESET, "the peer closed the connection");
        } else if (what & BEV_EVENT_TIMEOUT) {
                peer_conn_end(c, -ETIMEDOUT, "the connection timed out");
        } else {
                err = EVUTIL_SOCKET_ERROR();
                if (err > 0)
                        peer_conn_end(c, -err, "connection error: %s", strerror(err));
                else
                        peer_conn_end(c, -ECONNRESET, "connection error");
        }
        peer_conn_unref(c);
}

static void conn_frame_timer_cb(evutil_socket_t fd, short what, void *arg)
{
        struct peer_conn *c = arg;
        (void)fd;
        (void)what;

        peer_conn_ref(c);
        if (peer_conn_usable(c))
                peer_conn_input_clock(c);
        peer_conn_unref(c);
}

static void conn_keepalive_arm(struct peer_conn *c, uint64_t ns)
{
        struct timeval tv = peer_conn_tv(ns);

        event_add(c->keepalive_timer, &tv);
}

static void conn_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
        struct peer_conn *c = arg;
        uint64_t ka = c->keepalive_ns;
        int64_t now = peer_conn_now(), since;
        (void)fd;
        (void)what;

        if (!peer_conn_usable(c) || ka == 0)
                return;
        peer_conn_ref(c);
        if (peer_conn_is_host(c)) {
                uint64_t idle = ka * PEER_CONN_IDLE_FACTOR;

                since = now - c->last_rx_ns;
                if (c->read_paused && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 &&
                    now - c->last_activity_ns >= (int64_t)idle)
                        /* paused with replies the peer takes none of: what
                         * they hold (the GET budget) is not kept for it */
                        peer_conn_end(c, -ETIMEDOUT, "the peer took none of our replies for %" PRIu64 " s",
                                      idle / PEER_CONN_NS_PER_SEC);
                else if (c->read_paused)
                        conn_keepalive_arm(c, idle);
                else if (since >= (int64_t)idle)
                        peer_conn_end(c, -ETIMEDOUT, "nothing arrived from the peer for %" PRIu64 " s",
                                   idle / PEER_CONN_NS_PER_SEC);
                else
                        conn_keepalive_arm(c, idle - (uint64_t)since);
        } else if (c->ping_outstanding) {
                since = now - MAX(c->last_activity_ns, c->ping_sent_ns);
                if (since >= (int64_t)ka)
                        peer_conn_end(c, -ETIMEDOUT, "the peer did not answer a keepalive PING for %" PRIu64 " s",
                                   ka / PEER_CONN_NS_PER_SEC);
                else
                        conn_keepalive_arm(c, ka - (uint64_t)since);
        } else if (now - c->last_activity_ns >= (int64_t)ka) {
                _cleanup_(msg_freep) struct msg *ping = peer_msg_new(PEER_TYPE_PING, 0);
                int r = ping ? conn_submit(c, ping, NULL, 0, NULL, NULL, NULL, NULL) : -ENOMEM;

                if (r < 0) {
                        peer_conn_end(c, r, "cannot send a keepalive PING: %s", strerror(-r));
                } else {
                        c->ping_outstanding = true;
                        c->ping_sent_ns = now;
                        conn_keepalive_arm(c, ka);
                }
        } else {
                conn_keepalive_arm(c, ka - (uint64_t)(now - c->last_activity_ns));
        }
        peer_conn_unref(c);
}

/* Next loop turn after a resume or a deferred close. */
static void conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
        struct peer_conn *c = arg;
        (void)fd;
        (void)what;

        if (c->closed)
                return;
        if (c->pending_err) {
                char why[sizeof(c->why)];

                memcpy(why, c->why, sizeof(why));
                peer_conn_end(c, c->pending_err, "%s", why);
                return;
        }
        peer_conn_input_process(c);
}

/* ---- the API ---- */

int peer_conn_new(struct event_base *base, struct bufferevent *bev, const struct peer_conn_handlers *h,
                  void *userdata, struct peer_conn **ret)
{
        struct peer_conn *c = calloc(1, sizeof(*c));

        if (!c) {
                bufferevent_free(bev);
                return -ENOMEM;
        }
        *c = (struct peer_conn){
                .base = base,
                .bev = bev,
                .h = *h,
                .userdata = userdata,
                .refs = 1,
                .window = PEER_CONN_WINDOW_DEFAULT,
                .next_reqid = 1,
                .max_host = PEER_CONN_MAX_REQUESTS,
                .frame_timeout_ns = PEER_CONN_FRAME_TIMEOUT_NS,
                .keepalive_ns = PEER_CONN_KEEPALIVE_NS,
        };
        c->frame_timer = evtimer_new(base, conn_frame_timer_cb, c);
        c->keepalive_timer = evtimer_new(base, conn_keepalive_cb, c);
        c->resume = event_new(base, -1, 0, conn_resume_cb, c);
        if (c->frame_timer && c->keepalive_timer && c->resume)
                c->output_cb = evbuffer_add_cb(bufferevent_get_output(bev), conn_output_cb, c);
        if (!c->output_cb) {
                c->closed = true;
                peer_conn_free(c);
                return -ENOMEM;
        }
        c->last_rx_ns = c->last_activity_ns = peer_conn_now();
        bufferevent_set_timeouts(bev, NULL, NULL);
        bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
        /* one whole frame at most is read ahead */
        bufferevent_setwatermark(bev, EV_READ, 0, FRAME_HEADER_SIZE + PEER_MAX_BODY);
        bufferevent_setwatermark(bev, EV_WRITE, c->window / 2, 0);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        if (c->keepalive_ns)
                conn_keepalive_arm(c, peer_conn_is_host(c) ? c->keepalive_ns * PEER_CONN_IDLE_FACTOR : c->keepalive_ns);
        /* bytes that arrived with the handshake are read on the first loop turn */
        if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
                event_active(c->resume, EV_TIMEOUT, 0);
        *ret = c;
        return 0;
}

void peer_conn_free(struct peer_conn *c)
{
        if (!c || c->freed)
                return;
        c->freed = true; /* a callback calling us again returns at once: the owner's ref holds c */
        if (!c->closed) {
                c->closed = true;
                conn_fail_all(c, -ECONNRESET);
        }
        if (c->frame_timer)
                event_free(c->frame_timer);
        if (c->keepalive_timer)
                event_free(c->keepalive_timer);
        if (c->resume)
                event_free(c->resume);
        c->frame_timer = c->keepalive_timer = c->resume = NULL;
        if (c->output_cb)
                evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->output_cb);
        /* pending output goes with it; its references give their bytes back */
        bufferevent_free(c->bev);
        c->bev = NULL;
        peer_conn_unref(c);
}

int peer_conn_request(struct peer_conn *c, struct msg *req, const void *data, size_t data_len,
                      peer_conn_data_free_fn data_free, void *data_arg, peer_conn_done_fn done,
                      void *userdata)
{
        if (!peer_conn_usable(c))
                return -ENOTCONN;
        if (!done || msg_schema(req) != &peer_schema || msg_kind(req) != MSG_KIND_REQUEST)
                return -EINVAL;
        return conn_submit(c, req, data, data_len, data_free, data_arg, done, userdata);
}

int peer_conn_reply(struct peer_conn *c, struct msg *reply, const void *data, size_t data_len,
                    peer_conn_data_free_fn data_free, void *data_arg)
{
        int i, r;

        if (!peer_conn_usable(c))
                return -ENOTCONN;
        if (msg_schema(reply) != &peer_schema || msg_kind(reply) == MSG_KIND_REQUEST)
                return -EINVAL;
        i = peer_conn_host_find(c, msg_reqid(reply));
        if (i < 0)
                return -ENOENT;
        r = peer_conn_write_reply(c, reply, data, data_len, data_free, data_arg);
        if (r < 0)
                return r;
        c->host_reqids[i] = c->host_reqids[--c->n_host];
        peer_conn_input_maybe_resume(c);
        return 0;
}

int peer_conn_reply_error(struct peer_conn *c, uint64_t reqid, uint32_t status, const char *message)
{
        _cleanup_(msg_freep) struct msg *m = peer_msg_error(reqid, status, message);

        if (!m)
                return -ENOMEM;
        return peer_conn_reply(c, m, NULL, 0, NULL, NULL);
}

void peer_conn_set_window(struct peer_conn *c, size_t bytes)
{
        c->window = bytes > 0 ? bytes : 1;
        if (!c->closed)
                bufferevent_setwatermark(c->bev, EV_WRITE, c->window / 2, 0);
        peer_conn_pump(c);
        peer_conn_input_maybe_resume(c);
}

void peer_conn_set_timeouts(struct peer_conn *c, uint64_t frame_ns, uint64_t keepalive_ns)
{
        c->frame_timeout_ns = frame_ns;
        c->keepalive_ns = keepalive_ns;
        if (!peer_conn_usable(c))
                return;
        event_del(c->keepalive_timer);
        if (keepalive_ns)
                conn_keepalive_arm(c, keepalive_ns);
        c->frame_timing = false;
        event_del(c->frame_timer);
        peer_conn_input_clock(c);
}

void peer_conn_set_max_requests(struct peer_conn *c, size_t n)
{
        c->max_host = n > 0 ? n : 1;
        peer_conn_input_maybe_resume(c);
}

void peer_conn_get_stats(const struct peer_conn *c, struct peer_conn_stats *ret)
{
        *ret = c->stats;
        ret->in_flight = c->sent.n + c->n_host;
        ret->window_used = c->window_used;
        ret->queued = c->bulk.n;
        ret->queued_bytes = 0;
        for (const struct peer_conn_call *rq = c->bulk.head; rq; rq = rq->next)
                ret->queued_bytes += rq->data_len;
}

bool peer_conn_is_open(const struct peer_conn *c)
{
        return peer_conn_usable(c);
}

struct bufferevent *peer_conn_bufferevent(struct peer_conn *c)
{
        return c->bev;
}
