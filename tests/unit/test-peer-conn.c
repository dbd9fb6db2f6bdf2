/* SPDX-License-Identifier: MIT */
/* Tests for daemon/peer-conn.c on a real event loop over a socketpair: round
 * trips, pipelining with replies out of order, a 16 MiB PUT whose bytes move
 * without being linearized, the window letting a PING overtake bulk, the host
 * pausing at its request limit, and every way a connection ends (garbage, a
 * 2 GiB frame header, a bad body that does not end it, slow loris, keepalive,
 * the peer going away with requests in flight). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "frame.h"
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

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
        (void)fd;
        (void)what;
        (void)arg;
}

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until cond holds or ms pass; whether it held. */
static bool run_until(struct t *t, bool (*cond)(struct t *), int ms)
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

static void run_for(struct t *t, int ms)
{
        run_until(t, never, ms);
}

/* ---- handlers ---- */

static void host_answer(struct t *t, struct msg *req, size_t payload_len)
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

static void call_done(struct msg *reply, struct peer_payload *payload, int err, void *userdata)
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

static void call_data_free(const void *data, size_t len, void *arg)
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
static void t_setup_pair(struct t *t)
{
        int sv[2];

        t_init(t);
        pair(sv);
        cr_assert_eq(peer_conn_new(t->base, bev_on(t, sv[0]), &client_handlers, t, &t->client), 0);
        cr_assert_eq(peer_conn_new(t->base, bev_on(t, sv[1]), &host_handlers, t, &t->host), 0);
}

/* One connection (host or client) against raw bytes. */
static void t_setup_raw(struct t *t, bool host)
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

static void t_done(struct t *t)
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

static void call_clear(struct call *call)
{
        msg_free(call->reply);
        if (call->payload)
                evbuffer_free(call->payload);
}

static struct msg *stat_msg(uint8_t fill)
{
        uint8_t pack[32];
        struct msg *m = peer_msg_new(PEER_TYPE_STAT, 0);
        struct msg_map body = msg_body(m);

        memset(pack, fill, sizeof(pack));
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        return m;
}

static struct msg *put_msg(uint64_t offset, uint64_t size)
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

static void send_stat(struct t *t, uint8_t fill, struct call *call)
{
        struct msg *m = stat_msg(fill);

        call->t = t;
        cr_assert_eq(peer_conn_request(t->client, m, NULL, 0, NULL, NULL, call_done, call), 0);
        msg_free(m);
}

static void send_put(struct t *t, uint64_t offset, uint64_t size, const void *data, size_t len, struct call *call)
{
        struct msg *m = put_msg(offset, size);

        call->t = t;
        cr_assert_eq(peer_conn_request(t->client, m, data, len, call_data_free, call, call_done, call), 0);
        msg_free(m);
}

/* Raw side: write a frame of this body. */
static void raw_frame(struct t *t, const void *body, size_t len)
{
        uint8_t hdr[FRAME_HEADER_SIZE];

        frame_encode_header((uint32_t)len, hdr);
        cr_assert_eq(bufferevent_write(t->raw, hdr, sizeof(hdr)), 0);
        cr_assert_eq(bufferevent_write(t->raw, body, len), 0);
}

/* Raw side: write the frame msg_encode makes of m (freed). */
static void raw_msg(struct t *t, struct msg *m)
{
        uint8_t *frame;
        size_t len;

        cr_assert_eq(msg_encode(m, &frame, &len), 0);
        cr_assert_eq(bufferevent_write(t->raw, frame, len), 0);
        free(frame);
        msg_free(m);
}

static bool raw_has_frame(struct t *t)
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
static struct msg *raw_read(struct t *t)
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

static uint64_t error_status(struct msg *m)
{
        struct msg_map body = msg_body(m);
        uint64_t status = 0;

        cr_assert_eq(msg_type(m), PEER_TYPE_ERROR);
        cr_assert_eq(msg_map_get_uint(&body, PEER_KEY_STATUS, &status), 0);
        return status;
}

/* ---- round trips ---- */

static bool held_1(struct t *t)
{
        return t->n_held >= 1;
}

static bool held_2(struct t *t)
{
        return t->n_held >= 2;
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

static void wait_calls(struct t *t, struct call *calls, size_t n, int ms)
{
        g_calls = calls;
        g_n_calls = n;
        cr_assert(run_until(t, all_done, ms), "requests did not complete");
}

Test(peer_conn, request_reply_round_trip, .timeout = 30)
{
        struct t t;
        struct call calls[2] = { 0 };
        struct peer_conn_stats cs, hs;
        struct msg_map body;
        const uint8_t *p;
        size_t n;

        t_setup_pair(&t);
        send_stat(&t, 0x42, &calls[0]);
        send_stat(&t, 0x43, &calls[1]);
        wait_calls(&t, calls, 2, 5000);
        for (int i = 0; i < 2; i++) {
                cr_assert_eq(calls[i].n_done, 1);
                cr_assert_eq(calls[i].err, 0);
                cr_assert_not_null(calls[i].reply);
                cr_assert_eq(msg_type(calls[i].reply), PEER_TYPE_RESULT);
                body = msg_body(calls[i].reply);
                cr_assert_eq(msg_map_get_bytes(&body, PEER_KEY_PACK, &p, &n), 0);
                cr_assert_eq(n, 32);
                cr_assert_eq(p[0], 0x42 + i);
                cr_assert_null(calls[i].payload);
        }
        /* request ids are the connection's own, from 1 up, whatever the message said */
        cr_assert_eq(msg_reqid(calls[0].reply), 1);
        cr_assert_eq(msg_reqid(calls[1].reply), 2);
        peer_conn_get_stats(t.client, &cs);
        peer_conn_get_stats(t.host, &hs);
        cr_assert_eq(cs.requests_sent, 2);
        cr_assert_eq(cs.requests_answered, 2);
        cr_assert_eq(cs.in_flight, 0);
        cr_assert_eq(hs.requests_received, 2);
        cr_assert_eq(hs.replies_sent, 2);
        cr_assert_eq(hs.in_flight, 0);
        cr_assert(peer_conn_is_open(t.client));
        cr_assert_eq(t.client_closed + t.host_closed, 0);
        /* a reply to a request that is not in flight, a request sent as a reply */
        struct msg *stray = peer_msg_new(PEER_TYPE_RESULT, 99);
        cr_assert_eq(peer_conn_reply(t.host, stray, NULL, 0, NULL, NULL), -ENOENT);
        cr_assert_eq(peer_conn_request(t.client, stray, NULL, 0, NULL, NULL, call_done, &calls[0]), -EINVAL);
        msg_free(stray);
        for (int i = 0; i < 2; i++)
                call_clear(&calls[i]);
        t_done(&t);
}

Test(peer_conn, error_reply_carries_the_errno, .timeout = 30)
{
        struct t t;
        struct call call = { 0 };
        struct msg_map body;
        const char *text;
        size_t n;

        t_setup_pair(&t);
        t.mode = HOST_HOLD;
        send_stat(&t, 1, &call);
        cr_assert(run_until(&t, held_1, 5000));
        cr_assert_eq(peer_conn_reply_error(t.host, msg_reqid(t.held[0].req), PEER_STATUS_QUOTA, "no room for you"),
                     0);
        /* answered once: a second answer has no request to go to */
        cr_assert_eq(peer_conn_reply_error(t.host, msg_reqid(t.held[0].req), PEER_STATUS_QUOTA, NULL), -ENOENT);
        wait_calls(&t, &call, 1, 5000);
        cr_assert_eq(call.err, -EDQUOT);
        cr_assert_eq(msg_type(call.reply), PEER_TYPE_ERROR);
        body = msg_body(call.reply);
        cr_assert_eq(msg_map_get_text(&body, PEER_KEY_MESSAGE, &text, &n), 0);
        cr_assert_eq(n, strlen("no room for you"));
        call_clear(&call);
        t_done(&t);
}

static bool held_50(struct t *t)
{
        return t->n_held >= 50;
}

Test(peer_conn, pipelined_replies_out_of_order, .timeout = 60)
{
        static struct call calls[200];
        struct t t;
        struct msg_map body;
        const uint8_t *p;
        size_t n;

        memset(calls, 0, sizeof(calls));
        t_setup_pair(&t);
        t.mode = HOST_HOLD;
        for (size_t i = 0; i < 200; i++) {
                calls[i].index = i;
                send_stat(&t, (uint8_t)i, &calls[i]);
        }
        /* in batches of 50, each answered back to front, odd ones before even ones */
        for (int batch = 0; batch < 4; batch++) {
                cr_assert(run_until(&t, held_50, 5000), "batch %d: %zu held", batch, t.n_held);
                for (int pass = 1; pass >= 0; pass--)
                        for (int i = 49; i >= 0; i--)
                                if (i % 2 == pass)
                                        host_answer(&t, t.held[i].req, 0);
                for (int i = 0; i < 50; i++)
                        msg_free(t.held[i].req);
                t.n_held -= 50;
                memmove(t.held, t.held + 50, t.n_held * sizeof(t.held[0]));
        }
        wait_calls(&t, calls, 200, 10000);
        for (size_t i = 0; i < 200; i++) {
                cr_assert_eq(calls[i].n_done, 1);
                cr_assert_eq(calls[i].err, 0);
                body = msg_body(calls[i].reply);
                cr_assert_eq(msg_map_get_bytes(&body, PEER_KEY_PACK, &p, &n), 0);
                cr_assert_eq(p[0], (uint8_t)i, "request %zu got the reply of %u", i, p[0]);
                call_clear(&calls[i]);
        }
        /* the first batch's replies came back to front */
        cr_assert_gt(calls[0].done_order, calls[49].done_order);
        cr_assert_eq(t.n_requests, 200);
        t_done(&t);
}

/* ---- payloads ---- */

static uint8_t pattern(size_t i)
{
        return (uint8_t)(i % 251 ^ i >> 16);
}

/* The evbuffer holds exactly the pattern from offset `from`; its chain count. */
static int check_pattern(struct evbuffer *buf, size_t from, size_t len)
{
        int n = evbuffer_peek(buf, -1, NULL, NULL, 0);
        struct evbuffer_iovec *v = calloc((size_t)n, sizeof(*v));
        size_t pos = from;

        cr_assert_eq(evbuffer_get_length(buf), len);
        cr_assert_eq(evbuffer_peek(buf, -1, NULL, v, n), n);
        for (int i = 0; i < n; i++) {
                const uint8_t *p = v[i].iov_base;

                for (size_t j = 0; j < v[i].iov_len; j++, pos++)
                        if (p[j] != pattern(pos))
                                cr_assert_fail("byte %zu differs", pos);
        }
        cr_assert_eq(pos, from + len);
        free(v);
        return n;
}

Test(peer_conn, put_of_16_mib_arrives_byte_exact_without_copies, .timeout = 60)
{
        struct t t;
        struct call put = { 0 }, get = { 0 };
        struct peer_conn_stats cs, hs;
        size_t len = PEER_DATA_MAX;
        uint8_t *data = malloc(len);
        const uint8_t *p;
        struct msg_map body;
        struct msg *m;
        size_t n;
        int chains;

        cr_assert_not_null(data);
        for (size_t i = 0; i < len; i++)
                data[i] = pattern(i);
        t_setup_pair(&t);
        t.mode = HOST_HOLD;
        send_put(&t, 0, len, data, len, &put);
        cr_assert(run_until(&t, held_1, 20000));
        cr_assert_eq(t.payload_len[0], len);
        /* the handler's message has DATA as an empty byte string: the bytes are in the payload */
        body = msg_body(t.held[0].req);
        cr_assert_eq(msg_map_get_bytes(&body, PEER_KEY_DATA, &p, &n), 0);
        cr_assert_eq(n, 0);
        chains = check_pattern(t.held[0].payload, 0, len);
        /* moved as the chains the socket filled, never made one contiguous copy */
        cr_assert_gt(chains, 1, "the payload was linearized (%d chain)", chains);
        peer_conn_get_stats(t.host, &hs);
        cr_assert_eq(hs.payload_bytes_received, len);
        cr_assert_leq(hs.bytes_linearized, FRAME_HEADER_SIZE + PEER_CONN_HEAD_MAX,
                      "%llu bytes were made contiguous", (unsigned long long)hs.bytes_linearized);
        /* at most one frame was ever read ahead */
        cr_assert_leq(evbuffer_get_length(bufferevent_get_input(peer_conn_bufferevent(t.host))),
                      FRAME_HEADER_SIZE + PEER_MAX_BODY);
        host_answer(&t, t.held[0].req, len);
        wait_calls(&t, &put, 1, 10000);
        cr_assert_eq(put.err, 0);
        cr_assert_eq(put.data_freed, 1, "the bytes are given back once sent");
        peer_conn_get_stats(t.client, &cs);
        cr_assert_eq(cs.payload_bytes_sent, len);
        cr_assert_eq(cs.window_used, 0);

        /* and the other way: a GET result with 3 MiB from offset 1 MiB */
        m = peer_msg_new(PEER_TYPE_GET, 0);
        body = msg_body(m);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, data, 32), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_OFFSET, MIB), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_LENGTH, 3 * MIB), 0);
        get.t = &t;
        cr_assert_eq(peer_conn_request(t.client, m, NULL, 0, NULL, NULL, call_done, &get), 0);
        msg_free(m);
        cr_assert(run_until(&t, held_2, 5000));
        m = peer_msg_new(PEER_TYPE_RESULT, msg_reqid(t.held[1].req));
        cr_assert_eq(peer_conn_reply(t.host, m, data + MIB, 3 * MIB, NULL, NULL), 0);
        msg_free(m);
        wait_calls(&t, &get, 1, 10000);
        cr_assert_eq(get.err, 0);
        cr_assert_eq(get.payload_len, 3 * MIB);
        check_pattern(get.payload, MIB, 3 * MIB);
        peer_conn_get_stats(t.client, &cs);
        cr_assert_eq(cs.payload_bytes_received, 3 * MIB);
        call_clear(&put);
        call_clear(&get);
        t_done(&t);
        free(data);
}

Test(peer_conn, small_payloads_and_empty_ones, .timeout = 30)
{
        struct t t;
        struct call calls[3] = { 0 };
        uint8_t data[100];

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = pattern(i);
        t_setup_pair(&t);
        send_put(&t, 0, 200, data, sizeof(data), &calls[0]);
        send_put(&t, 100, 200, data, 0, &calls[1]);
        send_put(&t, 100, 200, data, 1, &calls[2]);
        wait_calls(&t, calls, 3, 5000);
        cr_assert_eq(t.n_requests, 3);
        cr_assert_eq(t.payload_len[0], 100);
        cr_assert_eq(t.payload_len[1], 0);
        cr_assert_eq(t.payload_len[2], 1);
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(calls[i].err, 0);
                cr_assert_eq(calls[i].data_freed, 1);
                call_clear(&calls[i]);
        }
        t_done(&t);
}

Test(peer_conn, payload_over_the_limit_is_refused_before_sending, .timeout = 30)
{
        struct t t;
        struct call call = { 0 };
        static uint8_t byte;
        struct msg *m;

        t_setup_pair(&t);
        call.t = &t;
        m = put_msg(0, 1);
        cr_assert_eq(peer_conn_request(t.client, m, &byte, PEER_DATA_MAX + 1, call_data_free, &call, call_done,
                                       &call),
                     -EMSGSIZE);
        msg_free(m);
        /* DATA may only be set by the connection (it must be last) */
        m = put_msg(0, 1);
        struct msg_map body = msg_body(m);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_DATA, "x", 1), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_OFFSET, 0), 0);
        cr_assert_eq(peer_conn_request(t.client, m, &byte, 1, call_data_free, &call, call_done, &call), 0);
        msg_free(m);
        /* the stat message is not a PUT: DATA is not one of its keys */
        m = stat_msg(1);
        cr_assert_eq(peer_conn_request(t.client, m, &byte, 1, call_data_free, &call, call_done, &call), -EINVAL);
        msg_free(m);
        wait_calls(&t, &call, 1, 5000);
        cr_assert_eq(call.err, 0);
        cr_assert_eq(t.payload_len[0], 1);
        call_clear(&call);
        t_done(&t);
        cr_assert_eq(call.data_freed, 1);
}

/* ---- the window ---- */

Test(peer_conn, ping_overtakes_queued_puts, .timeout = 30)
{
        struct t t;
        struct call puts[8] = { 0 }, ping = { 0 };
        struct peer_conn_stats cs;
        size_t part = 512 * 1024;
        uint8_t *data = malloc(8 * part);
        struct msg *m;

        cr_assert_not_null(data);
        for (size_t i = 0; i < 8 * part; i++)
                data[i] = pattern(i);
        t_setup_pair(&t);
        peer_conn_set_window(t.client, MIB);
        for (size_t i = 0; i < 8; i++)
                send_put(&t, i * part, 8 * part, data + i * part, part, &puts[i]);
        peer_conn_get_stats(t.client, &cs);
        cr_assert_eq(cs.queued, 6, "two PUTs fill a 1 MiB window");
        cr_assert_eq(cs.queued_bytes, 6 * part);
        cr_assert_eq(cs.window_used, MIB);
        m = peer_msg_new(PEER_TYPE_PING, 0);
        ping.t = &t;
        cr_assert_eq(peer_conn_request(t.client, m, NULL, 0, NULL, NULL, call_done, &ping), 0);
        msg_free(m);
        wait_calls(&t, &ping, 1, 5000);
        cr_assert_eq(ping.err, 0);
        /* answered while the last PUT still waited for the window */
        cr_assert_eq(puts[7].n_done, 0);
        cr_assert_eq(puts[7].data_freed, 0);
        cr_assert_geq(ping.stats_at_done.queued, 1, "the last PUT was sent before the PING was answered");
        wait_calls(&t, puts, 8, 10000);
        /* the host saw PUT, PUT, PING, then the other PUTs in order */
        cr_assert_eq(t.n_requests, 9);
        cr_assert_eq(t.types[2], PEER_TYPE_PING);
        for (size_t i = 0, k = 0; i < 9; i++) {
                if (t.types[i] == PEER_TYPE_PING)
                        continue;
                cr_assert_eq(t.offsets[i], k * part, "PUT %zu arrived out of order", k);
                cr_assert_eq(puts[k].done_order, k + (k >= 2), "PUT %zu answered out of order", k);
                k++;
        }
        for (int i = 0; i < 8; i++) {
                cr_assert_eq(puts[i].err, 0);
                call_clear(&puts[i]);
        }
        call_clear(&ping);
        t_done(&t);
        for (int i = 0; i < 8; i++)
                cr_assert_eq(puts[i].data_freed, 1);
        free(data);
}

static bool host_has_64(struct t *t)
{
        return t->n_requests >= 64;
}

Test(peer_conn, host_stops_reading_at_its_request_limit, .timeout = 30)
{
        static struct call calls[100];
        struct t t;
        struct peer_conn_stats hs;

        memset(calls, 0, sizeof(calls));
        t_setup_pair(&t);
        t.mode = HOST_HOLD;
        for (int i = 0; i < 100; i++)
                send_stat(&t, (uint8_t)i, &calls[i]);
        cr_assert(run_until(&t, host_has_64, 5000));
        run_for(&t, 100);
        cr_assert_eq(t.n_requests, PEER_CONN_MAX_REQUESTS, "the host took %zu requests", t.n_requests);
        peer_conn_get_stats(t.host, &hs);
        cr_assert_eq(hs.in_flight, PEER_CONN_MAX_REQUESTS);
        /* one answer lets one more in */
        host_answer(&t, t.held[0].req, 0);
        run_for(&t, 100);
        cr_assert_eq(t.n_requests, PEER_CONN_MAX_REQUESTS + 1);
        /* answer everything as it comes */
        t.mode = HOST_ECHO;
        for (size_t i = 1; i < t.n_held; i++)
                host_answer(&t, t.held[i].req, 0);
        wait_calls(&t, calls, 100, 10000);
        for (int i = 0; i < 100; i++) {
                cr_assert_eq(calls[i].err, 0);
                call_clear(&calls[i]);
        }
        t_done(&t);
}

/* ---- how connections end ---- */

static bool host_is_closed(struct t *t)
{
        return t->host_closed > 0;
}

static bool client_is_closed(struct t *t)
{
        return t->client_closed > 0;
}

Test(peer_conn, garbage_closes_with_a_reason, .timeout = 30)
{
        static const char http[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
        struct t t;

        t_setup_raw(&t, true);
        bufferevent_write(t.raw, http, sizeof(http) - 1);
        cr_assert(run_until(&t, host_is_closed, 5000));
        cr_assert_eq(t.host_err, -EMSGSIZE);
        cr_assert_not_null(strstr(t.host_why, "over the limit"), "%s", t.host_why);
        cr_assert_not(peer_conn_is_open(t.host));
        t_done(&t);

        /* the same at a client */
        t_setup_raw(&t, false);
        bufferevent_write(t.raw, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11); /* a TLS hello */
        cr_assert(run_until(&t, client_is_closed, 5000));
        cr_assert_eq(t.client_closed, 1);
        cr_assert_eq(t.client_err, -EMSGSIZE, "%s", t.client_why);
        t_done(&t);
}

Test(peer_conn, frame_header_of_2_gib_closes_at_once, .timeout = 30)
{
        static const uint8_t hdr[] = { 0x80, 0x00, 0x00, 0x00 };
        struct peer_conn_stats hs;
        struct t t;
        int64_t start;

        t_setup_raw(&t, true);
        t.free_in_closed = true;
        start = mono_ms();
        bufferevent_write(t.raw, hdr, sizeof(hdr));
        cr_assert(run_until(&t, host_is_closed, 5000));
        cr_assert_lt(mono_ms() - start, 1000, "closed only after %lld ms", (long long)(mono_ms() - start));
        cr_assert_eq(t.host_err, -EMSGSIZE);
        cr_assert_not_null(strstr(t.host_why, "2147483648"), "%s", t.host_why);
        cr_assert_null(t.host, "freed from inside closed()");
        t_done(&t);

        /* not one body byte was taken in */
        t_setup_raw(&t, true);
        bufferevent_write(t.raw, hdr, sizeof(hdr));
        cr_assert(run_until(&t, host_is_closed, 5000));
        peer_conn_get_stats(t.host, &hs);
        cr_assert_eq(hs.bytes_linearized, 0);
        cr_assert_eq(hs.requests_received, 0);
        t_done(&t);
}

static bool raw_frame_ready(struct t *t)
{
        return raw_has_frame(t);
}

Test(peer_conn, bad_body_gets_an_error_and_the_connection_lives, .timeout = 30)
{
        /* [1, PUT, 77, {}]: a PUT without its required keys */
        static const uint8_t put_empty[] = { 0x84, 0x01, 0x03, 0x18, 0x4d, 0xa0 };
        /* [1, 200, 78, {}]: a request type this host does not know */
        static const uint8_t unknown[] = { 0x84, 0x01, 0x18, 0xc8, 0x18, 0x4e, 0xa0 };
        /* not CBOR at all */
        static const uint8_t junk[] = { 0xff, 0xff, 0xff };
        struct t t;
        struct msg *m;
        struct msg_map body;

        t_setup_raw(&t, true);
        raw_frame(&t, put_empty, sizeof(put_empty));
        m = raw_read(&t);
        cr_assert_eq(msg_reqid(m), 77);
        cr_assert_eq(error_status(m), PEER_STATUS_BAD_REQUEST);
        msg_free(m);

        raw_frame(&t, unknown, sizeof(unknown));
        m = raw_read(&t);
        cr_assert_eq(msg_reqid(m), 78);
        cr_assert_eq(error_status(m), PEER_STATUS_UNSUPPORTED);
        msg_free(m);

        raw_frame(&t, junk, sizeof(junk));
        m = raw_read(&t);
        cr_assert_eq(msg_reqid(m), 0);
        cr_assert_eq(error_status(m), PEER_STATUS_BAD_REQUEST);
        msg_free(m);

        /* DATA not the last key: {DATA: h'01', PACK: ..., OFFSET: 0, SIZE: 1} */
        m = peer_msg_new(PEER_TYPE_PUT, 79);
        body = msg_body(m);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_DATA, "\x01", 1), 0);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, put_empty, 6), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_OFFSET, 0), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_SIZE, 1), 0);
        raw_msg(&t, m);
        m = raw_read(&t);
        cr_assert_eq(msg_reqid(m), 79);
        cr_assert_eq(error_status(m), PEER_STATUS_BAD_REQUEST);
        msg_free(m);
        cr_assert_eq(t.n_requests, 0);

        /* the connection still serves */
        raw_msg(&t, peer_msg_new(PEER_TYPE_PING, 80));
        m = raw_read(&t);
        cr_assert_eq(msg_type(m), PEER_TYPE_RESULT);
        cr_assert_eq(msg_reqid(m), 80);
        msg_free(m);
        cr_assert_eq(t.n_requests, 1);
        cr_assert_eq(t.host_closed, 0);
        cr_assert_not(raw_frame_ready(&t));
        t_done(&t);
}

Test(peer_conn, slow_loris_is_closed_after_the_frame_timeout, .timeout = 30)
{
        struct t t;
        int64_t start;

        t_setup_raw(&t, true);
        peer_conn_set_timeouts(t.host, 300 * UINT64_C(1000000), 0);
        /* a whole frame in time is fine */
        raw_msg(&t, peer_msg_new(PEER_TYPE_PING, 5));
        msg_free(raw_read(&t));
        start = mono_ms();
        bufferevent_write(t.raw, "\x00", 1);
        cr_assert(run_until(&t, host_is_closed, 5000));
        cr_assert_geq(mono_ms() - start, 250);
        cr_assert_lt(mono_ms() - start, 2000);
        cr_assert_eq(t.host_err, -ETIMEDOUT);
        cr_assert_not_null(strstr(t.host_why, "incomplete"), "%s", t.host_why);
        t_done(&t);

        /* trickling bytes of one frame does not reset the clock */
        t_setup_raw(&t, true);
        peer_conn_set_timeouts(t.host, 300 * UINT64_C(1000000), 0);
        start = mono_ms();
        bufferevent_write(t.raw, "\x00\x00\x00\x10", 4);
        for (int i = 0; i < 10 && !t.host_closed; i++) {
                run_for(&t, 100);
                bufferevent_write(t.raw, "\x84", 1);
        }
        cr_assert(run_until(&t, host_is_closed, 5000));
        cr_assert_lt(mono_ms() - start, 900);
        cr_assert_eq(t.host_err, -ETIMEDOUT);
        t_done(&t);
}

static bool raw_has_bytes(struct t *t)
{
        return evbuffer_get_length(bufferevent_get_input(t->raw)) > 0;
}

Test(peer_conn, keepalive_pings_and_closes_a_silent_peer, .timeout = 30)
{
        struct t t;
        struct msg *m;
        int64_t start;

        /* a real host answers: the connection stays */
        t_setup_pair(&t);
        peer_conn_set_timeouts(t.client, 0, 100 * UINT64_C(1000000));
        run_for(&t, 600);
        cr_assert_eq(t.client_closed, 0, "%s", t.client_why);
        cr_assert_geq(t.n_requests, 2, "%zu keepalive PINGs", t.n_requests);
        cr_assert_eq(t.types[0], PEER_TYPE_PING);
        t_done(&t);

        /* raw bytes that never answer */
        t_setup_raw(&t, false);
        peer_conn_set_timeouts(t.client, 0, 100 * UINT64_C(1000000));
        start = mono_ms();
        m = raw_read(&t);
        cr_assert_eq(msg_type(m), PEER_TYPE_PING);
        msg_free(m);
        cr_assert(run_until(&t, client_is_closed, 5000));
        cr_assert_geq(mono_ms() - start, 180);
        cr_assert_eq(t.client_err, -ETIMEDOUT);
        cr_assert_not_null(strstr(t.client_why, "PING"), "%s", t.client_why);
        t_done(&t);

        /* a host closes a connection on which nothing arrives */
        t_setup_raw(&t, true);
        peer_conn_set_timeouts(t.host, 0, 50 * UINT64_C(1000000));
        cr_assert(run_until(&t, host_is_closed, 5000));
        cr_assert_eq(t.host_err, -ETIMEDOUT);
        cr_assert_not(raw_has_bytes(&t));
        t_done(&t);
}

Test(peer_conn, protocol_violations_close_the_client, .timeout = 30)
{
        struct t t;
        struct call call = { 0 };

        /* a request sent to the side that asks */
        t_setup_raw(&t, false);
        raw_msg(&t, peer_msg_new(PEER_TYPE_PING, 1));
        cr_assert(run_until(&t, client_is_closed, 5000));
        cr_assert_eq(t.client_err, -EPROTO);
        t_done(&t);

        /* a reply to a request never made, with requests in flight */
        t_setup_raw(&t, false);
        send_stat(&t, 1, &call);
        msg_free(raw_read(&t));
        raw_msg(&t, peer_msg_error(7, PEER_STATUS_BUSY, "who are you"));
        cr_assert(run_until(&t, client_is_closed, 5000));
        cr_assert_eq(t.client_err, -EPROTO);
        cr_assert_not_null(strstr(t.client_why, "who are you"), "%s", t.client_why);
        cr_assert_eq(call.n_done, 1);
        cr_assert_eq(call.err, -ECONNRESET);
        cr_assert_null(call.reply);
        cr_assert_eq(t.done_when_closed, 1, "done() before closed()");
        /* closed: nothing more is sent */
        struct msg *m = stat_msg(2);
        cr_assert_eq(peer_conn_request(t.client, m, NULL, 0, NULL, NULL, call_done, &call), -ENOTCONN);
        msg_free(m);
        t_done(&t);

        /* a reply that does not decode */
        t_setup_raw(&t, false);
        raw_frame(&t, "\x84\x01\x40", 3);
        cr_assert(run_until(&t, client_is_closed, 5000));
        cr_assert_eq(t.client_err, -EPROTO);
        t_done(&t);
}

static bool host_has_5(struct t *t)
{
        return t->n_requests >= 5;
}

Test(peer_conn, peer_closing_completes_pending_requests_once, .timeout = 30)
{
        struct t t;
        struct call calls[6] = { 0 };
        size_t part = 512 * 1024;
        uint8_t *data = calloc(3, part);

        cr_assert_not_null(data);
        t_setup_pair(&t);
        t.mode = HOST_HOLD;
        peer_conn_set_window(t.client, MIB);
        for (int i = 0; i < 3; i++)
                send_stat(&t, (uint8_t)i, &calls[i]);
        for (size_t i = 0; i < 3; i++)
                send_put(&t, i * part, 3 * part, data + i * part, part, &calls[3 + i]);
        cr_assert(run_until(&t, host_has_5, 5000));
        /* the host goes away with 5 requests unanswered, a sixth still queued at the client */
        peer_conn_free(t.host);
        t.host = NULL;
        cr_assert(run_until(&t, client_is_closed, 5000));
        run_for(&t, 50);
        cr_assert_eq(t.client_closed, 1);
        cr_assert_eq(t.client_err, -ECONNRESET);
        cr_assert_eq(t.done_when_closed, 6, "every done() before closed()");
        for (int i = 0; i < 6; i++) {
                cr_assert_eq(calls[i].n_done, 1, "request %d completed %d times", i, calls[i].n_done);
                cr_assert_eq(calls[i].err, -ECONNRESET);
                cr_assert_null(calls[i].reply);
        }
        /* the queued PUT's bytes came back at once, the sent ones' with the connection */
        cr_assert_eq(calls[5].data_freed, 1);
        peer_conn_free(t.client);
        t.client = NULL;
        for (int i = 3; i < 6; i++)
                cr_assert_eq(calls[i].data_freed, 1);
        t_done(&t);
        for (int i = 0; i < 6; i++)
                cr_assert_eq(calls[i].n_done, 1);
        free(data);
}

Test(peer_conn, free_with_requests_in_flight, .timeout = 30)
{
        struct t t;
        struct call calls[2] = { 0 };
        static uint8_t data[10];

        t_setup_pair(&t);
        t.mode = HOST_HOLD;
        send_stat(&t, 1, &calls[0]);
        send_put(&t, 0, 10, data, sizeof(data), &calls[1]);
        peer_conn_free(t.client);
        t.client = NULL;
        for (int i = 0; i < 2; i++) {
                cr_assert_eq(calls[i].n_done, 1);
                cr_assert_eq(calls[i].err, -ECONNRESET);
        }
        cr_assert_eq(t.client_closed, 0, "closed() is not called after peer_conn_free");
        /* the host sees the end */
        cr_assert(run_until(&t, host_is_closed, 5000));
        /* the PUT's bytes were still in the output: back when libevent finalized it */
        cr_assert_eq(calls[1].data_freed, 1);
        cr_assert_eq(t.host_err, -ECONNRESET);
        cr_assert_eq(peer_conn_reply_error(t.host, 1, PEER_STATUS_BUSY, NULL), -ENOTCONN);
        t_done(&t);
}
