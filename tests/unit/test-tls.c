/* SPDX-License-Identifier: MIT */
/* daemon/tls.c over real TCP on 127.0.0.1 and a real event loop: mutual
 * handshake with two identities, peer ids and suite, 16 MiB and odd-sized
 * payloads byte-exact both ways with bounded ciphertext buffering, writes
 * before the handshake, garbage and silent plain-TCP clients, clean and
 * unclean closes, and a client without a certificate. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "cleanup.h"
#include "identity.h"
#include "tls-harness.h"
#include "tls.h"

Test(tls, handshake_both_ways_with_pinnable_ids, .timeout = 30)
{
        struct ctx c;
        uint8_t id[32];

        ctx_init(&c);
        cr_assert(memcmp(c.node_a, c.node_b, 32) != 0);
        connect_client(&c);
        cr_assert_eq(tls_peer_id(c.client.bev, id), -ENOTCONN, "no peer id before the handshake");
        cr_assert_null(tls_ciphersuite(c.client.bev));
        c.done = both_connected;
        cr_assert(run(&c, 10), "handshake did not complete");

        cr_assert(memcmp(c.client.peer_id, c.node_b, 32) == 0, "the client sees the server's node id");
        cr_assert(memcmp(c.server.peer_id, c.node_a, 32) == 0, "the server sees the client's node id");
        cr_assert_str_eq(c.client.suite, SUITE);
        cr_assert_str_eq(c.server.suite, SUITE);
        cr_assert_str_eq(tls_records(c.client.bev), "libcrypto", "libcrypto seals the records of this suite");
        cr_assert_str_eq(tls_records(c.server.bev), "libcrypto");
        cr_assert_eq(c.client.connected_count, 1, "CONNECTED once, not also for the TCP connect");
        cr_assert_eq(c.server.connected_count, 1);
        cr_assert_eq(c.client.end_events, 0);
        cr_assert_eq(c.server.end_events, 0);
        cr_assert_str_eq(tls_last_error(c.client.bev), "no error");
        ctx_done(&c);
}

Test(tls, not_a_tls_bufferevent, .timeout = 30)
{
        struct event_base *base = event_base_new();
        struct bufferevent *plain = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        uint8_t id[32];

        cr_assert_eq(tls_peer_id(plain, id), -EINVAL);
        cr_assert_null(tls_ciphersuite(plain));
        cr_assert_str_eq(tls_last_error(plain), "not a TLS connection");
        cr_assert_eq(tls_peer_id(NULL, id), -EINVAL);
        bufferevent_free(plain);
        /* tls_wrap takes the socket bufferevent also when it fails */
        plain = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        cr_assert_eq(tls_wrap(NULL, plain, TLS_CLIENT, NULL), -EINVAL);
        event_base_loop(base, EVLOOP_NONBLOCK);
        event_base_free(base);
}


Test(tls, echo_16_mib_and_odd_sizes, .timeout = 60)
{
        struct ctx c;
        size_t len;
        uint8_t *payload = make_payload(3, &len);

        ctx_init(&c);
        c.server.echo = true;
        connect_client(&c);
        c.client.expect = payload;
        c.client.expect_len = len;
        write_pieces(c.client.bev, payload);
        c.done = client_got_all;
        cr_assert(run(&c, 40), "echo incomplete: %zu of %zu bytes", c.client.got, len);
        cr_assert_eq(c.client.got, len);
        cr_assert(!c.client.mismatch, "echoed bytes differ");
        cr_assert_eq(c.client.end_events, 0, "client: %s", c.client.error);
        cr_assert_eq(c.server.end_events, 0, "server: %s", c.server.error);
        /* 16 MiB went through, but the ciphertext queued on a socket stayed small */
        cr_assert_gt(c.client.max_ciphertext_queued, 0);
        cr_assert_leq(c.client.max_ciphertext_queued, 1 * MIB);
        cr_assert_leq(c.server.max_ciphertext_queued, 1 * MIB);
        ctx_done(&c);
        free(payload);
}


Test(tls, both_directions_at_once_written_before_the_handshake, .timeout = 60)
{
        struct ctx c;
        size_t len_a, len_b;
        uint8_t *a = make_payload(4, &len_a), *b = make_payload(5, &len_b);

        ctx_init(&c);
        /* the server writes as soon as it wraps the accepted socket */
        c.server_send = b;
        c.server_send_len = len_b;
        c.server.expect = a;
        c.server.expect_len = len_a;
        connect_client(&c);
        c.client.expect = b;
        c.client.expect_len = len_b;
        /* the client writes before TCP is even connected */
        write_pieces(c.client.bev, a);
        c.done = both_got_all;
        cr_assert(run(&c, 40), "incomplete: client %zu of %zu, server %zu of %zu", c.client.got, len_b,
                  c.server.got, len_a);
        cr_assert(!c.client.mismatch && !c.server.mismatch, "bytes differ");
        cr_assert_eq(c.client.got, len_b);
        cr_assert_eq(c.server.got, len_a);
        cr_assert(c.client.connected && c.server.connected);
        cr_assert_leq(c.client.max_ciphertext_queued, 1 * MIB);
        cr_assert_leq(c.server.max_ciphertext_queued, 1 * MIB);
        ctx_done(&c);
        free(a);
        free(b);
}

static bool server_got_all_and_connected(struct ctx *c)
{
        return (c->server.got >= c->server.expect_len && c->client.connected) || c->client.end_events ||
               c->server.end_events;
}

Test(tls, small_write_before_the_handshake, .timeout = 30)
{
        static const char hello[] = "hello, before any handshake";
        struct ctx c;
        uint8_t id[32];

        ctx_init(&c);
        connect_client(&c);
        cr_assert_eq(evbuffer_add(bufferevent_get_output(c.client.bev), hello, sizeof(hello)), 0);
        cr_assert_eq(tls_peer_id(c.client.bev, id), -ENOTCONN, "the write came first");
        c.server.expect = (const uint8_t *) hello;
        c.server.expect_len = sizeof(hello);
        c.done = server_got_all_and_connected;
        cr_assert(run(&c, 10));
        cr_assert_eq(c.server.got, sizeof(hello));
        cr_assert(!c.server.mismatch);
        ctx_done(&c);
}

static bool server_ended(struct ctx *c)
{
        return c->server.end_events != 0;
}

Test(tls, plain_tcp_garbage_is_an_error, .timeout = 30)
{
        static const char http[] = "GET / HTTP/1.1\r\nHost: chute\r\n\r\n";
        /* a handshake record header claiming 65535 bytes */
        static const uint8_t huge[] = {0x16, 0x03, 0x03, 0xff, 0xff, 0x01, 0x00};
        uint8_t noise[4096];
        struct {
                const void *data;
                size_t len;
        } cases[] = {{http, sizeof(http) - 1}, {huge, sizeof(huge)}, {noise, sizeof(noise)}, {NULL, 0}};
        struct ctx c;

        fill_random(noise, sizeof(noise), 6);
        ctx_init(&c);
        c.done = server_ended;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int fd = connect_plain(&c);
                if (cases[i].len)
                        cr_assert_eq(write(fd, cases[i].data, cases[i].len), (ssize_t) cases[i].len);
                else
                        shutdown(fd, SHUT_WR); /* connect, then close without a byte */
                c.server.end_events = 0;
                cr_assert(run(&c, 10), "case %zu: no event on the server", i);
                cr_assert(c.server.end_events & BEV_EVENT_ERROR, "case %zu: events 0x%x", i, c.server.end_events);
                cr_assert(!c.server.connected, "case %zu", i);
                cr_assert_str_neq(c.server.error, "no error");
                cr_log_info("case %zu: %s", i, c.server.error);
                close(fd);
        }
        cr_assert_eq(c.accepted, 4);
        /* and the server still serves a real client */
        connect_client(&c);
        c.server.end_events = 0;
        c.done = both_connected;
        cr_assert(run(&c, 10));
        ctx_done(&c);
}

Test(tls, silent_client_meets_the_callers_timeout, .timeout = 30)
{
        struct ctx c;
        struct timespec t0, t1;
        double elapsed;
        int fd;

        ctx_init(&c);
        c.server_read_timeout = (struct timeval){0, 300000};
        c.done = server_ended;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fd = connect_plain(&c); /* and never a byte */
        cr_assert(run(&c, 10), "the read timeout never fired");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        elapsed = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        cr_assert_eq(c.server.end_events, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
        cr_assert(!c.server.connected);
        cr_assert_geq(elapsed, 0.25);
        cr_assert_lt(elapsed, 5.0);
        close(fd);
        ctx_done(&c);
}

static void write_partial_record(struct end *e)
{
        /* an application-data record header promising 256 bytes, then 10 of them, then EOF */
        static const uint8_t partial[] = {0x17, 0x03, 0x03, 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        int fd = client_fd(e->ctx);

        cr_assert_eq(write(fd, partial, sizeof(partial)), (ssize_t) sizeof(partial));
        cr_assert_eq(shutdown(fd, SHUT_WR), 0);
}

static bool client_connected(struct ctx *c)
{
        return c->client.connected || c->client.end_events;
}

Test(tls, eof_in_the_middle_of_a_record_is_an_error, .timeout = 30)
{
        struct ctx c;

        ctx_init(&c);
        connect_client(&c);
        c.done = client_connected;
        cr_assert(run(&c, 10));
        cr_assert(c.client.connected);
        write_partial_record(&c.client);
        c.done = server_ended;
        cr_assert(run(&c, 10));
        cr_assert(c.server.end_events & BEV_EVENT_ERROR, "events 0x%x", c.server.end_events);
        cr_assert(strstr(c.server.error, "middle of a TLS record"), "%s", c.server.error);
        ctx_done(&c);
}

static void shutdown_client_socket(struct end *server)
{
        if (server->got == server->expect_len)
                cr_assert_eq(shutdown(client_fd(server->ctx), SHUT_WR), 0);
}

Test(tls, eof_between_records_without_close_notify, .timeout = 30)
{
        static const char abc[] = "abc";
        struct ctx c;

        ctx_init(&c);
        connect_client(&c);
        cr_assert_eq(evbuffer_add(bufferevent_get_output(c.client.bev), abc, 3), 0);
        c.server.expect = (const uint8_t *) abc;
        c.server.expect_len = 3;
        c.server.on_read = shutdown_client_socket;
        c.done = server_ended;
        cr_assert(run(&c, 10));
        cr_assert_eq(c.server.got, 3, "the data came before the EOF");
        cr_assert_eq(c.server.end_events, BEV_EVENT_EOF | BEV_EVENT_READING, "events 0x%x", c.server.end_events);
        cr_assert(strstr(c.server.error, "without close_notify"), "%s", c.server.error);
        ctx_done(&c);
}

/* free sends close_notify: test-tls-records.c, close_notify_between_libcrypto_ends and the
 * pairings with mbedtls' records */

static void finish_when_connected(struct bufferevent *bev, short what, void *arg)
{
        end_event(bev, what, arg);
        if (what & BEV_EVENT_CONNECTED) {
                cr_assert_eq(evbuffer_add(bufferevent_get_output(bev), "x", 1), 0);
                bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
                cr_assert_eq(evbuffer_get_length(bufferevent_get_output(bev)), 0);
                /* nothing goes after close_notify */
                cr_assert_eq(evbuffer_add(bufferevent_get_output(bev), "y", 1), 0);
        }
}

Test(tls, flush_finished_sends_close_notify, .timeout = 30)
{
        struct ctx c;

        ctx_init(&c);
        connect_client(&c);
        bufferevent_setcb(c.client.bev, end_read, end_write, finish_when_connected, &c.client);
        c.server.expect = (const uint8_t *) "x";
        c.server.expect_len = 1;
        c.done = server_ended;
        cr_assert(run(&c, 10));
        cr_assert_eq(c.server.got, 1, "only what came before close_notify");
        cr_assert(!c.server.mismatch);
        cr_assert_eq(c.server.end_events, BEV_EVENT_EOF | BEV_EVENT_READING, "events 0x%x: %s",
                     c.server.end_events, c.server.error);
        cr_assert_str_eq(c.server.error, "no error");
        ctx_done(&c);
}

static void free_server_after_one_mib(struct end *client)
{
        struct ctx *c = client->ctx;
        if (client->got >= MIB && c->server.bev) {
                bufferevent_free(c->server.bev);
                c->server.bev = NULL;
        }
}

static bool client_ended(struct ctx *c)
{
        return c->client.end_events != 0;
}

Test(tls, peer_gone_mid_stream, .timeout = 60)
{
        struct ctx c;
        size_t len;
        uint8_t *payload = make_payload(7, &len);

        ctx_init(&c);
        c.server_send = payload;
        c.server_send_len = len;
        connect_client(&c);
        c.client.expect = payload;
        c.client.expect_len = len;
        c.client.on_read = free_server_after_one_mib;
        c.done = client_ended;
        cr_assert(run(&c, 30), "no EOF or ERROR after the server went (got %zu)", c.client.got);
        cr_assert(c.client.end_events & (BEV_EVENT_EOF | BEV_EVENT_ERROR), "events 0x%x", c.client.end_events);
        cr_assert_lt(c.client.got, len);
        cr_assert(!c.client.mismatch, "what did arrive is intact");
        /* the server's free sent what the socket took, then close_notify: a clean EOF here */
        cr_log_info("peer gone: %s after %zu bytes", c.client.error, c.client.got);
        ctx_done(&c);
        free(payload);
}

static void cut_server_socket_after_one_mib(struct end *client)
{
        struct ctx *c = client->ctx;
        if (client->got >= MIB && c->server.bev && !c->server.end_events) {
                int fd = bufferevent_getfd(bufferevent_get_underlying(c->server.bev));
                shutdown(fd, SHUT_RDWR);
                c->server.end_events = -1; /* cut once */
        }
}

Test(tls, peer_socket_cut_mid_stream, .timeout = 60)
{
        struct ctx c;
        size_t len;
        uint8_t *payload = make_payload(8, &len);

        ctx_init(&c);
        c.server_send = payload;
        c.server_send_len = len;
        connect_client(&c);
        c.client.expect = payload;
        c.client.expect_len = len;
        c.client.on_read = cut_server_socket_after_one_mib;
        c.done = client_ended;
        cr_assert(run(&c, 30), "no EOF or ERROR after the cut (got %zu)", c.client.got);
        cr_assert(c.client.end_events & (BEV_EVENT_EOF | BEV_EVENT_ERROR), "events 0x%x", c.client.end_events);
        cr_assert_lt(c.client.got, len);
        cr_assert(!c.client.mismatch, "what did arrive is intact");
        cr_assert_str_neq(c.client.error, "no error", "no close_notify was sent");
        cr_log_info("socket cut: %s after %zu bytes", c.client.error, c.client.got);
        ctx_done(&c);
        free(payload);
}

Test(tls, read_high_watermark_with_a_slow_reader, .timeout = 60)
{
        struct ctx c;
        size_t len = 4 * MIB;
        uint8_t *payload = malloc(len);
        struct timeval tick = {0, 200};

        cr_assert_not_null(payload);
        fill_random(payload, len, 9);
        ctx_init(&c);
        event_del(c.sampler);
        cr_assert_eq(event_add(c.sampler, &tick), 0);
        c.server_send = payload;
        c.server_send_len = len;
        connect_client(&c);
        /* the reader keeps at most 64 KiB of plaintext and takes 32 KiB now and then, outside its read callback */
        bufferevent_setwatermark(c.client.bev, EV_READ, 0, 64 * 1024);
        c.client.drain_step = 32 * 1024;
        c.client.expect = payload;
        c.client.expect_len = len;
        c.done = client_got_all;
        cr_assert(run(&c, 40), "stalled at %zu of %zu bytes", c.client.got, len);
        cr_assert_eq(c.client.got, len);
        cr_assert(!c.client.mismatch);
        /* the high watermark, passed by at most one socket read (128 KiB) and a record */
        cr_assert_leq(c.client.max_input, 64 * 1024 + 128 * 1024 + 16384, "input held %zu bytes",
                      c.client.max_input);
        ctx_done(&c);
        free(payload);
}

Test(tls, reading_paused_and_resumed_under_a_high_watermark, .timeout = 60)
{
        struct ctx c;
        size_t len = 4 * MIB;
        uint8_t *payload = malloc(len);

        cr_assert_not_null(payload);
        fill_random(payload, len, 11);
        ctx_init(&c);
        c.server_send = payload;
        c.server_send_len = len;
        connect_client(&c);
        /* a reader that stops reading at every read callback, later empties the input while
         * stopped, and starts again */
        bufferevent_setwatermark(c.client.bev, EV_READ, 0, 20000);
        c.client.pause_reading = true;
        c.client.expect = payload;
        c.client.expect_len = len;
        c.done = client_got_all;
        cr_assert(run(&c, 40), "stalled at %zu of %zu bytes", c.client.got, len);
        cr_assert_eq(c.client.got, len);
        cr_assert(!c.client.mismatch);
        ctx_done(&c);
        free(payload);
}

/* A raw mbedtls client with no certificate, on a blocking socket in a thread. */
struct nocert {
        uint16_t port;
        int result;
        atomic_bool finished;
};

static void *nocert_client(void *arg)
{
        struct nocert *n = arg;
        char port[8];
        mbedtls_net_context net;
        mbedtls_entropy_context entropy;
        mbedtls_ctr_drbg_context drbg;
        mbedtls_ssl_config conf;
        mbedtls_ssl_context ssl;
        unsigned char buf[16];
        int r;

        mbedtls_net_init(&net);
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&drbg);
        mbedtls_ssl_config_init(&conf);
        mbedtls_ssl_init(&ssl);
        snprintf(port, sizeof(port), "%u", n->port);
        r = mbedtls_net_connect(&net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP);
        if (r == 0)
                r = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0);
        if (r == 0)
                r = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                                MBEDTLS_SSL_PRESET_DEFAULT);
        if (r == 0) {
                mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
                mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
                r = mbedtls_ssl_setup(&ssl, &conf);
        }
        if (r == 0) {
                mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
                r = mbedtls_ssl_handshake(&ssl);
                /* should mbedtls finish first, the server's verdict comes with the next read */
                if (r == 0 && mbedtls_ssl_read(&ssl, buf, sizeof(buf)) >= 0)
                        r = 1;
        }
        n->result = r;
        mbedtls_ssl_free(&ssl);
        mbedtls_ssl_config_free(&conf);
        mbedtls_ctr_drbg_free(&drbg);
        mbedtls_entropy_free(&entropy);
        mbedtls_net_free(&net);
        atomic_store(&n->finished, true);
        return NULL;
}

static struct nocert *nocert;

static bool server_ended_and_client_finished(struct ctx *c)
{
        return c->server.end_events && atomic_load(&nocert->finished);
}

Test(tls, client_without_certificate_is_refused, .timeout = 30)
{
        struct ctx c;
        struct nocert n = {0};
        pthread_t thread;

        ctx_init(&c);
        n.port = c.port;
        nocert = &n;
        cr_assert_eq(pthread_create(&thread, NULL, nocert_client, &n), 0);
        c.done = server_ended_and_client_finished;
        cr_assert(run(&c, 10), "the server never gave up: events 0x%x connected %d finished %d result -0x%x (%s)", c.server.end_events, c.server.connected, atomic_load(&n.finished), -n.result, c.server.error);
        cr_assert_eq(pthread_join(thread, NULL), 0);
        cr_assert(c.server.end_events & BEV_EVENT_ERROR, "events 0x%x", c.server.end_events);
        cr_assert(!c.server.connected, "no CONNECTED for a client without a certificate");
        cr_assert(strstr(c.server.error, "certific"), "%s", c.server.error);
        cr_assert_neq(n.result, 0, "the client's handshake failed too");
        cr_assert_neq(n.result, 1, "the client was never served data");
        cr_log_info("client without a certificate: server \"%s\", client -0x%04x", c.server.error, -n.result);
        ctx_done(&c);
}
