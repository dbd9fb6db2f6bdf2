/* SPDX-License-Identifier: MIT */
/* Test harness for daemon/peer-conn.c, shared by test-peer-conn.c and
 * test-peer-conn-end.c: a real event loop, a client and a host connection on
 * a socketpair (or one of them against raw bytes), handlers that record what
 * arrives, and helpers to send, read and wait. */
#include "peer-conn-harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "frame.h"

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
        (void)fd;
        (void)what;
        (void)arg;
}

int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until cond holds or ms pass; whether it held. */
bool run_until(struct t *t, bool (*cond)(struct t *), int ms)
{
        int64_t end = mono_ms() + ms;

        while (!cond(t)) {
                if (mono_ms() >= end)
                        return false;
                event_base_loop(t->base, EVLOOP_ONCE);
        }
        return true;
}

static bool never(struct t *t)
{
        (void)t;
        return false;
}

void run_for(struct t *t, int ms)
{
        run_until(t, never, ms);
}

/* ---- handlers ---- */

void host_answer(struct t *t, struct msg *req, size_t payload_len)
{
        struct msg *reply = peer_msg_new(PEER_TYPE_RESULT, msg_reqid(req));
        struct msg_map in = msg_body(req), out = msg_body(reply);
        const uint8_t *pack;
        uint64_t offset = 0;
        size_t len;

        if (msg_map_get_bytes(&in, PEER_KEY_PACK, &pack, &len) == 0)
                cr_assert_eq(msg_map_set_bytes(&out, PEER_KEY_PACK, pack, len), 0);
        (void)msg_map_get_uint(&in, PEER_KEY_OFFSET, &offset);
        if (msg_type(req) == PEER_TYPE_PUT)
                cr_assert_eq(msg_map_set_uint(&out, PEER_KEY_DURABLE, offset + payload_len), 0);
        cr_assert_eq(peer_conn_reply(t->host, reply, NULL, 0, NULL, NULL), 0);
        msg_free(reply);
}

static void host_request(struct peer_conn *c, struct msg *req, struct peer_payload *payload, void *userdata)
{
        struct t *t = userdata;
        uint64_t offset = 0;
        struct msg_map body = msg_body(req);

        cr_assert_eq(c, t->host);
        cr_assert_lt(t->n_requests, 512);
        (void)msg_map_get_uint(&body, PEER_KEY_OFFSET, &offset);
        t->types[t->n_requests] = msg_type(req);
        t->offsets[t->n_requests] = offset;
        t->payload_len[t->n_requests] = payload ? payload->len : 0;
        t->n_requests++;
        if (payload)
                cr_assert_eq(evbuffer_get_length(payload->buf), payload->len);
        if (t->mode == HOST_ECHO) {
                host_answer(t, req, payload ? payload->len : 0);
                msg_free(req);
                return;
        }
        t->held[t->n_held].req = req;
        if (payload) {
                t->held[t->n_held].payload = payload->buf;
                payload->buf = NULL;
        }
        t->n_held++;
}

static void host_closed(struct peer_conn *c, int err, const char *why, void *userdata)
{
        struct t *t = userdata;

        cr_assert_eq(c, t->host);
        t->host_closed++;
        t->host_err = err;
        snprintf(t->host_why, sizeof(t->host_why), "%s", why);
        if (t->free_in_closed) {
                peer_conn_free(c);
                t->host = NULL;
        }
}

static void client_closed(struct peer_conn *c, int err, const char *why, void *userdata)
{
        struct t *t = userdata;

        cr_assert_eq(c, t->client);
        t->client_closed++;
        t->client_err = err;
        t->done_when_closed = t->n_done;
        snprintf(t->client_why, sizeof(t->client_why), "%s", why);
        if (t->free_in_closed) {
                peer_conn_free(c);
                t->client = NULL;
        }
}

void call_done(struct msg *reply, struct peer_payload *payload, int err, void *userdata)
{
        struct call *call = userdata;

        call->n_done++;
        call->err = err;
        call->reply = reply;
        call->done_order = call->t->n_done++;
        if (call->t->client)
                peer_conn_get_stats(call->t->client, &call->stats_at_done);
        if (payload) {
                call->payload_len = payload->len;
                call->payload = payload->buf;
                payload->buf = NULL;
        }
}

void call_data_free(const void *data, size_t len, void *arg)
{
        struct call *call = arg;

        (void)data;
        (void)len;
        call->data_freed++;
}

/* ---- setup ---- */

static const struct peer_conn_handlers host_handlers = { .request = host_request, .closed = host_closed };
static const struct peer_conn_handlers client_handlers = { .closed = client_closed };

static void pair(int sv[2])
{
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void t_init(struct t *t)
{
        struct timeval tv = { 0, 10000 };

        memset(t, 0, sizeof(*t));
        t->base = event_base_new();
        cr_assert_not_null(t->base);
        /* wakes EVLOOP_ONCE up so run_until sees the clock */
        t->tick = event_new(t->base, -1, EV_PERSIST, tick_cb, NULL);
        event_add(t->tick, &tv);
}

static struct bufferevent *bev_on(struct t *t, int fd)
{
        struct bufferevent *bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);

        cr_assert_not_null(bev);
        return bev;
}

/* A client and a host connection on the two ends of a socketpair. */
void t_setup_pair(struct t *t)
{
        int sv[2];

        t_init(t);
        pair(sv);
        cr_assert_eq(peer_conn_new(t->base, bev_on(t, sv[0]), &client_handlers, t, &t->client), 0);
        cr_assert_eq(peer_conn_new(t->base, bev_on(t, sv[1]), &host_handlers, t, &t->host), 0);
}

/* One connection (host or client) against raw bytes. */
void t_setup_raw(struct t *t, bool host)
{
        int sv[2];

        t_init(t);
        pair(sv);
        if (host)
                cr_assert_eq(peer_conn_new(t->base, bev_on(t, sv[0]), &host_handlers, t, &t->host), 0);
        else
                cr_assert_eq(peer_conn_new(t->base, bev_on(t, sv[0]), &client_handlers, t, &t->client), 0);
        t->raw = bev_on(t, sv[1]);
        bufferevent_enable(t->raw, EV_READ | EV_WRITE);
}

void t_done(struct t *t)
{
        for (size_t i = 0; i < t->n_held; i++) {
                msg_free(t->held[i].req);
                if (t->held[i].payload)
                        evbuffer_free(t->held[i].payload);
        }
        peer_conn_free(t->client);
        peer_conn_free(t->host);
        if (t->raw)
                bufferevent_free(t->raw);
        event_free(t->tick);
        event_base_free(t->base);
}

void call_clear(struct call *call)
{
        msg_free(call->reply);
        if (call->payload)
                evbuffer_free(call->payload);
}

struct msg *stat_msg(uint8_t fill)
{
        uint8_t pack[32];
        struct msg *m = peer_msg_new(PEER_TYPE_STAT, 0);
        struct msg_map body = msg_body(m);

        memset(pack, fill, sizeof(pack));
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        return m;
}

struct msg *put_msg(uint64_t offset, uint64_t size)
{
        uint8_t pack[32];
        struct msg *m = peer_msg_new(PEER_TYPE_PUT, 0);
        struct msg_map body = msg_body(m);

        memset(pack, 0x5a, sizeof(pack));
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_OFFSET, offset), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_SIZE, size), 0);
        return m;
}

void send_stat(struct t *t, uint8_t fill, struct call *call)
{
        struct msg *m = stat_msg(fill);

        call->t = t;
        cr_assert_eq(peer_conn_request(t->client, m, NULL, 0, NULL, NULL, call_done, call), 0);
        msg_free(m);
}

void send_put(struct t *t, uint64_t offset, uint64_t size, const void *data, size_t len, struct call *call)
{
        struct msg *m = put_msg(offset, size);

        call->t = t;
        cr_assert_eq(peer_conn_request(t->client, m, data, len, call_data_free, call, call_done, call), 0);
        msg_free(m);
}

/* Raw side: write a frame of this body. */
void raw_frame(struct t *t, const void *body, size_t len)
{
        uint8_t hdr[FRAME_HEADER_SIZE];

        frame_encode_header((uint32_t)len, hdr);
        cr_assert_eq(bufferevent_write(t->raw, hdr, sizeof(hdr)), 0);
        cr_assert_eq(bufferevent_write(t->raw, body, len), 0);
}

/* Raw side: write the frame msg_encode makes of m (freed). */
void raw_msg(struct t *t, struct msg *m)
{
        uint8_t *frame;
        size_t len;

        cr_assert_eq(msg_encode(m, &frame, &len), 0);
        cr_assert_eq(bufferevent_write(t->raw, frame, len), 0);
        free(frame);
        msg_free(m);
}

bool raw_has_frame(struct t *t)
{
        struct evbuffer *in = bufferevent_get_input(t->raw);
        uint8_t hdr[FRAME_HEADER_SIZE];
        size_t body;

        if (evbuffer_get_length(in) < FRAME_HEADER_SIZE)
                return false;
        evbuffer_copyout(in, hdr, sizeof(hdr));
        return frame_peek(hdr, evbuffer_get_length(in), PEER_MAX_BODY, &body) == 1;
}

/* Raw side: the next frame the connection wrote, decoded. */
struct msg *raw_read(struct t *t)
{
        struct evbuffer *in = bufferevent_get_input(t->raw);
        uint8_t hdr[FRAME_HEADER_SIZE];
        struct msg *m = NULL;
        struct msg_error e;
        size_t body;
        uint8_t *p;

        cr_assert(run_until(t, raw_has_frame, 5000), "no frame from the connection");
        evbuffer_copyout(in, hdr, sizeof(hdr));
        body = frame_decode_header(hdr);
        p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_SIZE + body));
        cr_assert_eq(msg_decode(&peer_schema, p + FRAME_HEADER_SIZE, body, &m, &e), 0, "%s", e.text);
        evbuffer_drain(in, FRAME_HEADER_SIZE + body);
        return m;
}

uint64_t error_status(struct msg *m)
{
        struct msg_map body = msg_body(m);
        uint64_t status = 0;

        cr_assert_eq(msg_type(m), PEER_TYPE_ERROR);
        cr_assert_eq(msg_map_get_uint(&body, PEER_KEY_STATUS, &status), 0);
        return status;
}

static struct call *g_calls;
static size_t g_n_calls;

static bool all_done(struct t *t)
{
        (void)t;
        for (size_t i = 0; i < g_n_calls; i++)
                if (g_calls[i].n_done == 0)
                        return false;
        return true;
}

void wait_calls(struct t *t, struct call *calls, size_t n, int ms)
{
        g_calls = calls;
        g_n_calls = n;
        cr_assert(run_until(t, all_done, ms), "requests did not complete");
}
