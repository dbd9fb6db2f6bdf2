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
#include <time.h>

#include <cbor.h>

#include "cbor-check.h"
#include "cleanup.h"
#include "frame.h"
#include "peer-payload.h"

#define NS_PER_SEC INT64_C(1000000000)
/* Room for the heads the rewrite of an encoded frame may grow by: a request
 * id (up to 9 bytes for 1) and DATA's byte-string head (up to 9 for 1). */
#define HEAD_GROWTH 16

/* One request of ours (client side), waiting for the window or for its reply. */
struct conn_request {
        struct conn_request *prev, *next;
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

struct conn_list {
        struct conn_request *head, *tail;
        size_t n;
};

/* What an output reference needs to give the caller's bytes back. */
struct conn_data_ref {
        peer_conn_data_free_fn data_free;
        void *data_arg;
};

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
        struct conn_list bulk; /* client: waiting for the window, in order */
        struct conn_list sent; /* client: written, waiting for the reply */
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

static int64_t conn_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static struct timeval conn_tv(uint64_t ns)
{
        return (struct timeval){ .tv_sec = (time_t)(ns / NS_PER_SEC),
                                 .tv_usec = (suseconds_t)(ns % NS_PER_SEC / 1000) };
}

static bool conn_is_host(const struct peer_conn *c)
{
        return c->h.request != NULL;
}

/* ---- lists ---- */

static void list_push(struct conn_list *l, struct conn_request *rq)
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

static void list_push_front(struct conn_list *l, struct conn_request *rq)
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

static void list_remove(struct conn_list *l, struct conn_request *rq)
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

static struct conn_request *list_find(const struct conn_list *l, uint64_t reqid)
{
        /* replies mostly come in order: the oldest first */
        for (struct conn_request *rq = l->head; rq; rq = rq->next)
                if (rq->reqid == reqid)
                        return rq;
        return NULL;
}

static void request_free(struct conn_request *rq)
{
        free(rq->frame);
        free(rq);
}

/* ---- lifetime ---- */

static void conn_hold(struct peer_conn *c)
{
        c->refs++;
}

static void conn_release(struct peer_conn *c)
{
        if (--c->refs > 0)
                return;
        free(c->host_reqids);
        free(c);
}

/* Every request of ours completes with err; waiting ones give their bytes back. */
static void conn_fail_all(struct peer_conn *c, int err)
{
        struct conn_list *lists[] = { &c->sent, &c->bulk };

        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                struct conn_request *rq;

                while ((rq = lists[i]->head)) {
                        list_remove(lists[i], rq);
                        /* a sent request's bytes are the output's: given back when it goes */
                        if (lists[i] == &c->bulk && rq->has_data && rq->data_free)
                                rq->data_free(rq->data, rq->data_len, rq->data_arg);
                        if (rq->done)
                                rq->done(NULL, NULL, err, rq->userdata);
                        request_free(rq);
                }
        }
        c->window_used = 0;
        c->n_host = 0;
        c->ping_outstanding = false;
}

/* The connection is over: stop I/O and timers, fail our requests, tell the owner once. */
__attribute__((format(printf, 3, 4))) static void conn_close(struct peer_conn *c, int err, const char *fmt,
                                                              ...)
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
        conn_hold(c);
        conn_fail_all(c, err == -ETIMEDOUT ? -ETIMEDOUT : -ECONNRESET);
        if (!c->freed && c->h.closed)
                c->h.closed(c, err, c->why, c->userdata);
        conn_release(c);
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

static bool conn_usable(const struct peer_conn *c)
{
        return !c->closed && !c->pending_err;
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
static int conn_encode(struct msg *m, bool has_data, uint8_t **ret, size_t *ret_len)
{
        struct peer_payload_span span;
        struct msg_map body;
        uint8_t *enc;
        size_t len;
        int r;

        if (has_data) {
                body = msg_body(m);
                r = msg_map_set_bytes(&body, PEER_KEY_DATA, "", 0);
                if (r < 0)
                        return r;
        }
        r = msg_encode(m, &enc, &len);
        if (r < 0)
                return r;
        if (has_data && (peer_payload_find(enc + FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE,
                                           len - FRAME_HEADER_SIZE, &span) != 1 ||
                         span.data_len != 0)) {
                free(enc);
                return -EINVAL; /* DATA was set before, in another place */
        }
        *ret = enc;
        *ret_len = len;
        return 0;
}

/* The frame head to send for an encoded message: its request id replaced by
 * reqid (set_reqid), and with has_data the empty DATA (0x40, the last byte)
 * replaced by the head of a byte string of data_len bytes, the frame length
 * counting them. The data bytes themselves never pass through here. */
static int conn_frame_head(const uint8_t *enc, size_t enc_len, bool set_reqid, uint64_t reqid,
                           bool has_data, size_t data_len, uint8_t **ret, size_t *ret_len)
{
        const uint8_t *body = enc + FRAME_HEADER_SIZE;
        size_t body_len = enc_len - FRAME_HEADER_SIZE, from = 0, tail_end = body_len, len;
        struct cbor_check_reader rd;
        uint64_t n;
        uint8_t *out;

        if (has_data) {
                if (body_len == 0 || body[body_len - 1] != 0x40)
                        return -EINVAL;
                tail_end = body_len - 1;
        }
        out = malloc(enc_len + HEAD_GROWTH);
        if (!out)
                return -ENOMEM;
        len = FRAME_HEADER_SIZE;
        if (set_reqid) {
                cbor_check_reader_init(&rd, body, body_len);
                if (cbor_check_read_array(&rd, &n) < 0 || n != 4 || cbor_check_read_uint(&rd, &n) < 0 ||
                    cbor_check_read_uint(&rd, &n) < 0) {
                        free(out);
                        return -EINVAL;
                }
                memcpy(out + len, body, rd.pos);
                len += rd.pos;
                if (cbor_check_read_uint(&rd, &n) < 0) {
                        free(out);
                        return -EINVAL;
                }
                len += cbor_encode_uint(reqid, out + len, 9);
                from = rd.pos;
        }
        memcpy(out + len, body + from, tail_end - from);
        len += tail_end - from;
        if (has_data)
                len += cbor_encode_bytestring_start(data_len, out + len, 9);
        if (data_len > PEER_DATA_MAX || len - FRAME_HEADER_SIZE > PEER_MAX_BODY - data_len) {
                free(out);
                return -EMSGSIZE;
        }
        frame_encode_header((uint32_t)(len - FRAME_HEADER_SIZE + data_len), out);
        *ret = out;
        *ret_len = len;
        return 0;
}

/* Put rq on the wire with the next request id; it then waits for its reply. */
static int conn_send_request(struct peer_conn *c, struct conn_request *rq)
{
        _cleanup_free_ uint8_t *head = NULL;
        size_t head_len;
        int r;

        r = conn_frame_head(rq->frame, rq->frame_len, true, c->next_reqid, rq->has_data, rq->data_len,
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
        list_push(&c->sent, rq);
        c->stats.requests_sent++;
        if (rq->has_data)
                c->window_used += rq->data_len;
        return 0;
}

/* Send waiting requests, in order, while the window has room (one always goes). */
static void conn_pump(struct peer_conn *c)
{
        struct conn_request *rq;
        int r;

        while (conn_usable(c) && (rq = c->bulk.head)) {
                if (c->window_used > 0 &&
                    (c->window_used >= c->window || rq->data_len > c->window - c->window_used))
                        break;
                list_remove(&c->bulk, rq);
                r = conn_send_request(c, rq);
                if (r < 0) {
                        list_push_front(&c->bulk, rq);
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
        struct conn_request *rq;
        bool has_data = data != NULL;
        uint8_t *enc;
        size_t enc_len;
        int r;

        if (!has_data)
                data_len = 0;
        if (data_len > PEER_DATA_MAX)
                return -EMSGSIZE;
        r = conn_encode(req, has_data, &enc, &enc_len);
        if (r < 0)
                return r;
        if (enc_len - FRAME_HEADER_SIZE + HEAD_GROWTH > PEER_MAX_BODY - data_len) {
                free(enc);
                return -EMSGSIZE;
        }
        rq = calloc(1, sizeof(*rq));
        if (!rq) {
                free(enc);
                return -ENOMEM;
        }
        *rq = (struct conn_request){ .frame = enc, .frame_len = enc_len, .has_data = has_data,
                                     .data = data, .data_len = data_len, .data_free = data_free,
                                     .data_arg = data_arg, .done = done, .userdata = userdata };
        if (!has_data) {
                r = conn_send_request(c, rq);
                if (r < 0)
                        request_free(rq);
                return r;
        }
        list_push(&c->bulk, rq);
        conn_pump(c);
        return 0;
}

/* Encode and write a reply (no request id rewrite). */
static int conn_send_reply(struct peer_conn *c, struct msg *reply, const void *data, size_t data_len,
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
        r = conn_encode(reply, has_data, &enc, &enc_len);
        if (r < 0)
                return r;
        r = conn_frame_head(enc, enc_len, false, 0, has_data, data_len, &head, &head_len);
        if (r < 0)
                return r;
        r = conn_write(c, head, head_len, has_data, data, data_len, data_free, data_arg);
        if (r < 0)
                return r;
        c->stats.replies_sent++;
        return 0;
}

/* ---- the host's flow control ---- */

static bool conn_should_pause(const struct peer_conn *c)
{
        return conn_is_host(c) && (c->n_host >= c->max_host ||
                                   evbuffer_get_length(bufferevent_get_output(c->bev)) > c->window);
}

static void conn_pause(struct peer_conn *c)
{
        c->read_paused = true;
        c->frame_timing = false;
        event_del(c->frame_timer);
        bufferevent_disable(c->bev, EV_READ);
}

/* Read again when the work in flight and the output allow it; the bytes
 * already in the input are taken on the next loop turn (resume_cb). */
static void conn_maybe_resume(struct peer_conn *c)
{
        if (!c->read_paused || !conn_usable(c) || conn_should_pause(c))
                return;
        c->read_paused = false;
        c->last_rx_ns = conn_now(); /* the idle clock ran while we did not read */
        bufferevent_enable(c->bev, EV_READ);
        event_active(c->resume, EV_TIMEOUT, 0);
}

static int host_find(const struct peer_conn *c, uint64_t reqid)
{
        for (size_t i = 0; i < c->n_host; i++)
                if (c->host_reqids[i] == reqid)
                        return (int)i;
        return -1;
}

/* ---- input ---- */

/* Re-arm the frame timer: a partial frame must be complete by its start plus
 * the frame timeout plus its declared size at PEER_CONN_MIN_RATE. */
static void conn_frame_timer_update(struct peer_conn *c)
{
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t avail = evbuffer_get_length(in), have = avail;
        uint8_t hdr[FRAME_HEADER_SIZE];
        int64_t now, deadline;
        uint64_t declared = 0;

        if (avail == 0 || c->read_paused || c->frame_timeout_ns == 0) {
                c->frame_timing = false;
                event_del(c->frame_timer);
                return;
        }
        now = conn_now();
        if (!c->frame_timing) {
                c->frame_timing = true;
                c->frame_start_ns = now;
        }
        deadline = c->frame_start_ns + (int64_t)c->frame_timeout_ns;
        if (avail >= FRAME_HEADER_SIZE) {
                evbuffer_copyout(in, hdr, sizeof(hdr));
                declared = frame_decode_header(hdr); /* <= PEER_MAX_BODY, or we closed */
                deadline += (int64_t)(declared * (uint64_t)NS_PER_SEC / PEER_CONN_MIN_RATE);
                have = avail - FRAME_HEADER_SIZE;
        }
        if (deadline <= now) {
                conn_close(c, -ETIMEDOUT,
                           "a frame stayed incomplete for %" PRIu64 " s (%zu of %" PRIu64 " bytes of its body "
                           "arrived)",
                           (uint64_t)((now - c->frame_start_ns) / NS_PER_SEC), avail >= FRAME_HEADER_SIZE ? have : 0,
                           declared);
                return;
        }
        struct timeval tv = conn_tv((uint64_t)(deadline - now));
        event_add(c->frame_timer, &tv);
}

/* A decoded request on the host side. */
static void conn_on_request(struct peer_conn *c, struct msg *m, struct peer_payload *payload)
{
        if (!conn_is_host(c)) {
                conn_close(c, -EPROTO, "the peer sent a request (%s, id %" PRIu64 ") to the side that only asks",
                           peer_type_name(msg_type(m)), msg_reqid(m));
                msg_free(m);
                return;
        }
        if (host_find(c, msg_reqid(m)) >= 0) {
                conn_close(c, -EPROTO, "the peer reused request id %" PRIu64 " while it was in flight",
                           msg_reqid(m));
                msg_free(m);
                return;
        }
        if (!GROW(c->host_reqids, c->n_host, c->cap_host, 16)) {
                conn_close(c, -ENOMEM, "out of memory for a request in flight");
                msg_free(m);
                return;
        }
        c->host_reqids[c->n_host++] = msg_reqid(m);
        c->stats.requests_received++;
        c->h.request(c, m, payload, c->userdata);
}

/* A decoded reply on the client side. */
static void conn_on_reply(struct peer_conn *c, struct msg *m, struct peer_payload *payload)
{
        struct conn_request *rq = list_find(&c->sent, msg_reqid(m));
        struct msg_map body = msg_body(m);
        uint64_t status = PEER_STATUS_INTERNAL;
        const char *text = NULL;
        size_t text_len = 0;
        int err = 0;

        if (msg_type(m) == PEER_TYPE_ERROR) {
                (void)msg_map_get_uint(&body, PEER_KEY_STATUS, &status); /* required: the decoder checked */
                (void)msg_map_get_text(&body, PEER_KEY_MESSAGE, &text, &text_len);
                err = status == PEER_STATUS_OK ? -EPROTO : peer_status_to_errno((uint32_t)status);
        }
        if (!rq) {
                if (text)
                        conn_close(c, -EPROTO, "the peer answered unknown request id %" PRIu64 " with an error: %.*s",
                                   msg_reqid(m), (int)MIN(text_len, 120), text);
                else
                        conn_close(c, -EPROTO, "the peer answered unknown request id %" PRIu64, msg_reqid(m));
                msg_free(m);
                return;
        }
        list_remove(&c->sent, rq);
        if (rq->has_data)
                c->window_used -= MIN(rq->data_len, c->window_used);
        c->stats.requests_answered++;
        if (rq->done) {
                rq->done(m, payload, err, rq->userdata);
        } else {
                c->ping_outstanding = false;
                msg_free(m);
        }
        request_free(rq);
        conn_pump(c);
}

/* A frame body that did not decode: a host answers it and goes on (the
 * framing is intact), a client has lost track of its peer. */
static void conn_on_bad_frame(struct peer_conn *c, const struct msg_error *e)
{
        struct msg *m;
        int r = -ENOMEM;

        if (!conn_is_host(c)) {
                conn_close(c, -EPROTO, "the peer sent a message this side cannot decode: %s", e->text);
                return;
        }
        m = msg_new_decode_error(&peer_schema, e);
        if (m)
                r = conn_send_reply(c, m, NULL, 0, NULL, NULL);
        msg_free(m);
        if (r < 0)
                conn_close(c, r, "cannot answer a message that did not decode: out of memory");
}

/* Decode the whole frame at the head of the input (4 + body_len bytes are
 * there) and hand it on. DATA, wherever the body has it last, is moved out of
 * the input into its own evbuffer; only the part before it is made contiguous
 * and decoded, with DATA's head replaced by an empty byte string. */
static void conn_take_frame(struct peer_conn *c, size_t body_len)
{
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t head_len = MIN(body_len, PEER_CONN_HEAD_MAX);
        struct peer_payload payload = { 0 };
        struct peer_payload_span span;
        _cleanup_free_ uint8_t *copy = NULL;
        struct msg *m = NULL;
        struct msg_error e = { 0 };
        const uint8_t *p;
        int found, r;

        p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_SIZE + head_len));
        if (!p)
                goto nomem;
        c->stats.bytes_linearized += FRAME_HEADER_SIZE + head_len;
        found = peer_payload_find(p + FRAME_HEADER_SIZE, head_len, body_len, &span);
        if (found != 1 && head_len < body_len) {
                /* DATA is not last, or lies after a long head: decode it all */
                p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_SIZE + body_len));
                if (!p)
                        goto nomem;
                c->stats.bytes_linearized += body_len - head_len;
                head_len = body_len;
                found = peer_payload_find(p + FRAME_HEADER_SIZE, head_len, body_len, &span);
        }
        if (found == 1) {
                copy = malloc(span.header_offset + 1);
                if (!copy)
                        goto nomem;
                memcpy(copy, p + FRAME_HEADER_SIZE, span.header_offset);
                copy[span.header_offset] = 0x40; /* the same message with an empty DATA */
                r = msg_decode(&peer_schema, copy, span.header_offset + 1, &m, &e);
                if (r >= 0 && span.data_len > PEER_DATA_MAX) {
                        e = (struct msg_error){ .status = PEER_STATUS_TOO_LARGE, .have_reqid = true,
                                                .reqid = msg_reqid(m) };
                        snprintf(e.text, sizeof(e.text), "DATA of %zu bytes is over the limit of %u bytes",
                                 span.data_len, PEER_DATA_MAX);
                        msg_free(m);
                        m = NULL;
                        r = -EMSGSIZE;
                }
                evbuffer_drain(in, FRAME_HEADER_SIZE + span.data_offset);
                if (r >= 0) {
                        payload.buf = evbuffer_new();
                        if (!payload.buf ||
                            evbuffer_remove_buffer(in, payload.buf, span.data_len) != (int)span.data_len) {
                                msg_free(m);
                                if (payload.buf)
                                        evbuffer_free(payload.buf);
                                conn_close(c, -ENOMEM, "out of memory for the pack bytes of a message");
                                return;
                        }
                        payload.len = span.data_len;
                        c->stats.payload_bytes_received += span.data_len;
                } else {
                        evbuffer_drain(in, span.data_len);
                }
        } else {
                r = msg_decode(&peer_schema, p + FRAME_HEADER_SIZE, body_len, &m, &e);
                if (r >= 0) {
                        struct msg_map body = msg_body(m);

                        if (msg_map_get_item(&body, PEER_KEY_DATA)) {
                                e = (struct msg_error){ .status = PEER_STATUS_BAD_REQUEST, .have_reqid = true,
                                                        .reqid = msg_reqid(m) };
                                snprintf(e.text, sizeof(e.text), "DATA must be the last key of the body");
                                msg_free(m);
                                m = NULL;
                                r = -EBADMSG;
                        }
                }
                evbuffer_drain(in, FRAME_HEADER_SIZE + body_len);
        }
        if (r < 0) {
                conn_on_bad_frame(c, &e);
                return;
        }
        if (msg_kind(m) == MSG_KIND_REQUEST)
                conn_on_request(c, m, payload.buf ? &payload : NULL);
        else
                conn_on_reply(c, m, payload.buf ? &payload : NULL);
        if (payload.buf)
                evbuffer_free(payload.buf);
        return;
nomem:
        conn_close(c, -ENOMEM, "out of memory for a frame of %zu bytes", body_len);
}

/* Take every whole frame in the input, unless paused or closed. */
static void conn_process(struct peer_conn *c)
{
        conn_hold(c);
        while (conn_usable(c) && !c->read_paused) {
                struct evbuffer *in = bufferevent_get_input(c->bev);
                size_t avail = evbuffer_get_length(in), body_len = 0;
                uint8_t hdr[FRAME_HEADER_SIZE];
                int r;

                if (conn_should_pause(c)) {
                        conn_pause(c);
                        break;
                }
                if (avail < FRAME_HEADER_SIZE)
                        break;
                evbuffer_copyout(in, hdr, sizeof(hdr));
                r = frame_peek(hdr, avail, PEER_MAX_BODY, &body_len);
                if (r == -EMSGSIZE) {
                        conn_close(c, -EMSGSIZE, "the peer announced a frame of %" PRIu32
                                   " bytes, over the limit of %u", frame_decode_header(hdr), PEER_MAX_BODY);
                        break;
                }
                if (r == 0)
                        break;
                c->frame_timing = false; /* the next frame's clock starts now */
                conn_take_frame(c, body_len);
        }
        if (conn_usable(c))
                conn_frame_timer_update(c);
        conn_release(c);
}

/* ---- libevent callbacks ---- */

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
        struct peer_conn *c = arg;
        (void)bev;

        c->last_rx_ns = c->last_activity_ns = conn_now();
        conn_process(c);
}

/* The output fell to the low watermark: a paused host may read again. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
        struct peer_conn *c = arg;
        (void)bev;

        conn_maybe_resume(c);
}

static void conn_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
        struct peer_conn *c = arg;
        (void)buf;

        if (info->n_deleted > 0)
                c->last_activity_ns = conn_now();
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
        struct peer_conn *c = arg;
        int err;
        (void)bev;

        if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
                return; /* BEV_EVENT_CONNECTED: the TLS handshake, done before us */
        conn_hold(c);
        if (what & BEV_EVENT_EOF) {
                conn_close(c, -ECONNRESET, "the peer closed the connection");
        } else if (what & BEV_EVENT_TIMEOUT) {
                conn_close(c, -ETIMEDOUT, "the connection timed out");
        } else {
                err = EVUTIL_SOCKET_ERROR();
                if (err > 0)
                        conn_close(c, -err, "connection error: %s", strerror(err));
                else
                        conn_close(c, -ECONNRESET, "connection error");
        }
        conn_release(c);
}

static void conn_frame_timer_cb(evutil_socket_t fd, short what, void *arg)
{
        struct peer_conn *c = arg;
        (void)fd;
        (void)what;

        conn_hold(c);
        if (conn_usable(c))
                conn_frame_timer_update(c);
        conn_release(c);
}

static void conn_keepalive_arm(struct peer_conn *c, uint64_t ns)
{
        struct timeval tv = conn_tv(ns);

        event_add(c->keepalive_timer, &tv);
}

static void conn_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
        struct peer_conn *c = arg;
        uint64_t ka = c->keepalive_ns;
        int64_t now = conn_now(), since;
        (void)fd;
        (void)what;

        if (!conn_usable(c) || ka == 0)
                return;
        conn_hold(c);
        if (conn_is_host(c)) {
                uint64_t idle = ka * PEER_CONN_IDLE_FACTOR;

                since = now - c->last_rx_ns;
                if (c->read_paused)
                        conn_keepalive_arm(c, idle);
                else if (since >= (int64_t)idle)
                        conn_close(c, -ETIMEDOUT, "nothing arrived from the peer for %" PRIu64 " s",
                                   idle / NS_PER_SEC);
                else
                        conn_keepalive_arm(c, idle - (uint64_t)since);
        } else if (c->ping_outstanding) {
                since = now - MAX(c->last_activity_ns, c->ping_sent_ns);
                if (since >= (int64_t)ka)
                        conn_close(c, -ETIMEDOUT, "the peer did not answer a keepalive PING for %" PRIu64 " s",
                                   ka / NS_PER_SEC);
                else
                        conn_keepalive_arm(c, ka - (uint64_t)since);
        } else if (now - c->last_activity_ns >= (int64_t)ka) {
                _cleanup_(msg_freep) struct msg *ping = peer_msg_new(PEER_TYPE_PING, 0);
                int r = ping ? conn_submit(c, ping, NULL, 0, NULL, NULL, NULL, NULL) : -ENOMEM;

                if (r < 0) {
                        conn_close(c, r, "cannot send a keepalive PING: %s", strerror(-r));
                } else {
                        c->ping_outstanding = true;
                        c->ping_sent_ns = now;
                        conn_keepalive_arm(c, ka);
                }
        } else {
                conn_keepalive_arm(c, ka - (uint64_t)(now - c->last_activity_ns));
        }
        conn_release(c);
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
                conn_close(c, c->pending_err, "%s", why);
                return;
        }
        conn_process(c);
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
        c->last_rx_ns = c->last_activity_ns = conn_now();
        bufferevent_set_timeouts(bev, NULL, NULL);
        bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
        /* one whole frame at most is read ahead */
        bufferevent_setwatermark(bev, EV_READ, 0, FRAME_HEADER_SIZE + PEER_MAX_BODY);
        bufferevent_setwatermark(bev, EV_WRITE, c->window / 2, 0);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        if (c->keepalive_ns)
                conn_keepalive_arm(c, conn_is_host(c) ? c->keepalive_ns * PEER_CONN_IDLE_FACTOR : c->keepalive_ns);
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
        conn_release(c);
}

int peer_conn_request(struct peer_conn *c, struct msg *req, const void *data, size_t data_len,
                      peer_conn_data_free_fn data_free, void *data_arg, peer_conn_done_fn done,
                      void *userdata)
{
        if (!conn_usable(c))
                return -ENOTCONN;
        if (!done || msg_schema(req) != &peer_schema || msg_kind(req) != MSG_KIND_REQUEST)
                return -EINVAL;
        return conn_submit(c, req, data, data_len, data_free, data_arg, done, userdata);
}

int peer_conn_reply(struct peer_conn *c, struct msg *reply, const void *data, size_t data_len,
                    peer_conn_data_free_fn data_free, void *data_arg)
{
        int i, r;

        if (!conn_usable(c))
                return -ENOTCONN;
        if (msg_schema(reply) != &peer_schema || msg_kind(reply) == MSG_KIND_REQUEST)
                return -EINVAL;
        i = host_find(c, msg_reqid(reply));
        if (i < 0)
                return -ENOENT;
        r = conn_send_reply(c, reply, data, data_len, data_free, data_arg);
        if (r < 0)
                return r;
        c->host_reqids[i] = c->host_reqids[--c->n_host];
        conn_maybe_resume(c);
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
        conn_pump(c);
        conn_maybe_resume(c);
}

void peer_conn_set_timeouts(struct peer_conn *c, uint64_t frame_ns, uint64_t keepalive_ns)
{
        c->frame_timeout_ns = frame_ns;
        c->keepalive_ns = keepalive_ns;
        if (!conn_usable(c))
                return;
        event_del(c->keepalive_timer);
        if (keepalive_ns)
                conn_keepalive_arm(c, keepalive_ns);
        c->frame_timing = false;
        event_del(c->frame_timer);
        conn_frame_timer_update(c);
}

void peer_conn_set_max_requests(struct peer_conn *c, size_t n)
{
        c->max_host = n > 0 ? n : 1;
        conn_maybe_resume(c);
}

void peer_conn_get_stats(const struct peer_conn *c, struct peer_conn_stats *ret)
{
        *ret = c->stats;
        ret->in_flight = c->sent.n + c->n_host;
        ret->window_used = c->window_used;
        ret->queued = c->bulk.n;
        ret->queued_bytes = 0;
        for (const struct conn_request *rq = c->bulk.head; rq; rq = rq->next)
                ret->queued_bytes += rq->data_len;
}

bool peer_conn_is_open(const struct peer_conn *c)
{
        return conn_usable(c);
}

struct bufferevent *peer_conn_bufferevent(struct peer_conn *c)
{
        return c->bev;
}
