/* SPDX-License-Identifier: MIT */
/* Tests for how a daemon/peer-conn.c connection ends, on a real event loop
 * (the harness is peer-conn-harness.c): garbage, a 2 GiB frame header, a bad
 * body that does not end it, slow loris, keepalive, a host whose replies are
 * never taken, protocol violations, the
 * peer going away with requests in flight. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"
#include "peer-conn-harness.h"

/* ---- how connections end ---- */

static bool host_is_closed(struct t *t)
{
        return t->host_closed > 0;
}

static bool held_host_1(struct t *t)
{
        return t->n_held >= 1;
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

static bool host_held_2(struct t *t)
{
        return t->n_held >= 2;
}

/* Raw side: a STAT request with this id */
static void raw_stat(struct t *t, uint64_t reqid)
{
        struct msg *m = peer_msg_new(PEER_TYPE_STAT, reqid);
        struct msg_map body = msg_body(m);
        uint8_t pack[32];

        memset(pack, (int)reqid, sizeof(pack));
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        raw_msg(t, m);
}

/* A host whose replies the peer never reads stops reading (its output is
 * over the window) and then closes after the idle time: a peer that asks
 * for packs and never takes them does not hold the host's GET budget. */
Test(peer_conn, host_closes_when_its_replies_are_never_taken, .timeout = 30)
{
        static uint8_t data[4 * MIB];
        struct msg *reply;
        struct t t;

        t_setup_raw(&t, true);
        t.mode = HOST_HOLD;
        peer_conn_set_window(t.host, 64 * 1024);
        peer_conn_set_timeouts(t.host, 0, 50 * UINT64_C(1000000));
        bufferevent_disable(t.raw, EV_READ); /* the peer reads nothing */
        raw_stat(&t, 1);
        raw_stat(&t, 2);
        cr_assert(run_until(&t, host_held_2, 5000));
        reply = peer_msg_new(PEER_TYPE_RESULT, msg_reqid(t.held[0].req));
        cr_assert_eq(peer_conn_reply(t.host, reply, data, sizeof(data), NULL, NULL), 0);
        msg_free(reply);
        /* one more request: the host sees its output over the window and pauses */
        raw_stat(&t, 3);
        cr_assert(run_until(&t, host_is_closed, 5000), "the host never closed");
        cr_assert_eq(t.host_err, -ETIMEDOUT);
        cr_assert_not_null(strstr(t.host_why, "took none"), "%s", t.host_why);
        t_done(&t);

        /* a peer that reads slowly but steadily keeps its connection */
        t_setup_raw(&t, true);
        t.mode = HOST_HOLD;
        peer_conn_set_window(t.host, 64 * 1024);
        peer_conn_set_timeouts(t.host, 0, 50 * UINT64_C(1000000));
        raw_stat(&t, 1);
        cr_assert(run_until(&t, held_host_1, 5000));
        reply = peer_msg_new(PEER_TYPE_RESULT, msg_reqid(t.held[0].req));
        cr_assert_eq(peer_conn_reply(t.host, reply, data, sizeof(data), NULL, NULL), 0);
        msg_free(reply);
        struct evbuffer *in = bufferevent_get_input(t.raw);
        size_t got = 0;
        for (int i = 0; i < 400 && got < sizeof(data); i++) {
                run_for(&t, 5);
                got += evbuffer_get_length(in);
                evbuffer_drain(in, evbuffer_get_length(in));
        }
        cr_assert_geq(got, sizeof(data), "%zu bytes arrived", got);
        cr_assert_eq(t.host_closed, 0, "%s", t.host_why);
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
