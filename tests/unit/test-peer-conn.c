/* SPDX-License-Identifier: MIT */
/* Tests for daemon/peer-conn.c on a real event loop over a socketpair (the
 * harness is peer-conn-harness.c): round trips, pipelining with replies out
 * of order, a 16 MiB PUT whose bytes move without being linearized, the
 * window letting a PING overtake bulk, and the host pausing at its request
 * limit. How connections end is in test-peer-conn-end.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"
#include "peer-conn-harness.h"

/* ---- round trips ---- */

static bool held_1(struct t *t)
{
        return t->n_held >= 1;
}

static bool held_2(struct t *t)
{
        return t->n_held >= 2;
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
