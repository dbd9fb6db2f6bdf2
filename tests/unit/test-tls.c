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
#include "tls.h"

#define MIB (1024 * 1024)
#define SUITE "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"

struct ctx;

/* One end of a connection and what the test saw on it. */
struct end {
        struct ctx *ctx;
        struct bufferevent *bev;
        bool echo;              /* write back whatever arrives */
        const uint8_t *expect;  /* the bytes that must arrive, in order */
        size_t expect_len;
        size_t got;
        bool mismatch;
        bool connected;
        int connected_count;
        short end_events;       /* EOF / ERROR / TIMEOUT seen */
        char error[256];        /* tls_last_error() at the end event */
        uint8_t peer_id[32];
        char suite[64];
        size_t max_ciphertext_queued; /* the socket bufferevent's output, sampled */
        bool free_on_written;   /* free the bev once the output is drained (clean close) */
        size_t drain_step;      /* a timer takes this much out of the input per tick */
        size_t max_input;       /* the most plaintext seen waiting in the input */
        bool pause_reading;     /* disable EV_READ in the read callback; the next tick reads and enables */
        void (*on_read)(struct end *e);
};

struct ctx {
        struct event_base *base;
        struct identity *id_a, *id_b;
        uint8_t node_a[32], node_b[32];
        struct tls_config *cfg_a, *cfg_b; /* a: the client, b: the server */
        struct evconnlistener *listener;
        uint16_t port;
        struct end server, client;
        struct timeval server_read_timeout;
        const uint8_t *server_send; /* written right after the server's tls_wrap */
        size_t server_send_len;
        bool (*done)(struct ctx *c);
        struct event *sampler;
        int accepted;
};

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
        uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
        for (size_t i = 0; i < len; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[i] = (uint8_t) (x >> 24);
        }
}

static void check_done(struct ctx *c)
{
        if (c->done && c->done(c))
                event_base_loopbreak(c->base);
}

static void sample(struct end *e)
{
        struct bufferevent *under;
        size_t n;

        if (!e->bev)
                return;
        under = bufferevent_get_underlying(e->bev);
        n = evbuffer_get_length(bufferevent_get_output(under));
        if (n > e->max_ciphertext_queued)
                e->max_ciphertext_queued = n;
}

/* Take up to max bytes out of the input and check them against e->expect. */
static void consume(struct end *e, size_t max)
{
        struct evbuffer *in = bufferevent_get_input(e->bev);
        uint8_t buf[65536];
        int n;

        if (evbuffer_get_length(in) > e->max_input)
                e->max_input = evbuffer_get_length(in);
        while (max > 0 && (n = evbuffer_remove(in, buf, MIN(max, sizeof(buf)))) > 0) {
                if (e->got + (size_t) n > e->expect_len || memcmp(e->expect + e->got, buf, (size_t) n) != 0)
                        e->mismatch = true;
                e->got += (size_t) n;
                max -= (size_t) n;
        }
}

static void sampler_cb(evutil_socket_t fd, short what, void *arg)
{
        struct ctx *c = arg;
        if (c->client.pause_reading && c->client.bev && !(bufferevent_get_enabled(c->client.bev) & EV_READ)) {
                consume(&c->client, SIZE_MAX); /* read while paused, then resume */
                bufferevent_enable(c->client.bev, EV_READ);
        }
        if (c->client.drain_step && c->client.bev)
                consume(&c->client, c->client.drain_step);
        sample(&c->server);
        sample(&c->client);
        check_done(c);
}

static void end_read(struct bufferevent *bev, void *arg)
{
        struct end *e = arg;
        struct evbuffer *in = bufferevent_get_input(bev);

        sample(e);
        if (e->echo)
                evbuffer_add_buffer(bufferevent_get_output(bev), in);
        else if (!e->drain_step && !e->pause_reading)
                consume(e, SIZE_MAX);
        else if (evbuffer_get_length(in) > e->max_input)
                e->max_input = evbuffer_get_length(in); /* the timer reads */
        if (e->pause_reading)
                bufferevent_disable(bev, EV_READ);
        if (e->on_read)
                e->on_read(e);
        check_done(e->ctx);
}

static void end_write(struct bufferevent *bev, void *arg)
{
        struct end *e = arg;

        sample(e);
        if (e->free_on_written && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
                bufferevent_free(e->bev);
                e->bev = NULL;
        }
        check_done(e->ctx);
}

static void end_event(struct bufferevent *bev, short what, void *arg)
{
        struct end *e = arg;

        if (what & BEV_EVENT_CONNECTED) {
                const char *suite = tls_ciphersuite(bev);
                e->connected = true;
                e->connected_count++;
                cr_assert_eq(tls_peer_id(bev, e->peer_id), 0);
                cr_assert_not_null(suite);
                snprintf(e->suite, sizeof(e->suite), "%s", suite);
        }
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
                e->end_events |= what;
                snprintf(e->error, sizeof(e->error), "%s", tls_last_error(bev));
        }
        check_done(e->ctx);
}

static void end_setup(struct end *e, struct ctx *c, struct bufferevent *bev)
{
        e->ctx = c;
        e->bev = bev;
        bufferevent_setcb(bev, end_read, end_write, end_event, e);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
        struct ctx *c = arg;
        struct bufferevent *under, *bev;

        c->accepted++;
        if (c->server.bev) {
                bufferevent_free(c->server.bev);
                c->server.bev = NULL;
        }
        under = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
        cr_assert_not_null(under);
        cr_assert_eq(tls_wrap(c->cfg_b, under, TLS_SERVER, &bev), 0);
        end_setup(&c->server, c, bev);
        if (c->server_read_timeout.tv_sec || c->server_read_timeout.tv_usec)
                bufferevent_set_timeouts(bev, &c->server_read_timeout, NULL);
        if (c->server_send_len)
                cr_assert_eq(evbuffer_add(bufferevent_get_output(bev), c->server_send, c->server_send_len), 0);
        check_done(c);
}

static void ctx_init(struct ctx *c)
{
        uint8_t seed_a[IDENTITY_SEED_SIZE], seed_b[IDENTITY_SEED_SIZE];
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sin);
        struct timeval tick = {0, 2000};

        memset(c, 0, sizeof(*c));
        signal(SIGPIPE, SIG_IGN); /* as chuted: a write to a closed socket is an error, not a kill */
        fill_random(seed_a, sizeof(seed_a), 1);
        fill_random(seed_b, sizeof(seed_b), 2);
        cr_assert_eq(identity_new(seed_a, &c->id_a), 0);
        cr_assert_eq(identity_new(seed_b, &c->id_b), 0);
        cr_assert_eq(identity_node_id(c->id_a, c->node_a), 0);
        cr_assert_eq(identity_node_id(c->id_b, c->node_b), 0);
        cr_assert_eq(tls_config_new(c->id_a, &c->cfg_a), 0);
        cr_assert_eq(tls_config_new(c->id_b, &c->cfg_b), 0);
        c->base = event_base_new();
        cr_assert_not_null(c->base);
        c->listener = evconnlistener_new_bind(c->base, accept_cb, c, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                              16, (struct sockaddr *) &sin, sizeof(sin));
        cr_assert_not_null(c->listener);
        cr_assert_eq(getsockname(evconnlistener_get_fd(c->listener), (struct sockaddr *) &sin, &len), 0);
        c->port = ntohs(sin.sin_port);
        c->sampler = event_new(c->base, -1, EV_PERSIST, sampler_cb, c);
        cr_assert_eq(event_add(c->sampler, &tick), 0);
}

static void ctx_done(struct ctx *c)
{
        if (c->client.bev)
                bufferevent_free(c->client.bev);
        if (c->server.bev)
                bufferevent_free(c->server.bev);
        event_free(c->sampler);
        evconnlistener_free(c->listener);
        /* let the deferred finalizers run before the configurations go */
        event_base_loop(c->base, EVLOOP_NONBLOCK);
        event_base_free(c->base);
        tls_config_free(c->cfg_a);
        tls_config_free(c->cfg_b);
        identity_free(c->id_a);
        identity_free(c->id_b);
}

/* Run the loop until c->done says so; false when it took longer than seconds. */
static bool run(struct ctx *c, int seconds)
{
        struct timeval limit = {seconds, 0};
        event_base_loopexit(c->base, &limit);
        event_base_dispatch(c->base);
        return c->done(c);
}

static struct sockaddr_in server_address(struct ctx *c)
{
        return (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                    .sin_port = htons(c->port)};
}

/* A TLS client with identity a; returns its bev (connecting). */
static struct bufferevent *connect_client(struct ctx *c)
{
        struct sockaddr_in sin = server_address(c);
        struct bufferevent *under, *bev = NULL;

        under = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
        cr_assert_not_null(under);
        cr_assert_eq(bufferevent_socket_connect(under, (struct sockaddr *) &sin, sizeof(sin)), 0);
        cr_assert_eq(tls_wrap(c->cfg_a, under, TLS_CLIENT, &bev), 0);
        end_setup(&c->client, c, bev);
        return bev;
}

/* A plain blocking TCP socket connected to the server. */
static int connect_plain(struct ctx *c)
{
        struct sockaddr_in sin = server_address(c);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        cr_assert_eq(connect(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
        return fd;
}

static int client_fd(struct ctx *c)
{
        return bufferevent_getfd(bufferevent_get_underlying(c->client.bev));
}

static bool both_connected(struct ctx *c)
{
        return c->client.connected && c->server.connected;
}

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

/* 16 MiB and odd sizes around the record size, as separate writes. */
static const size_t piece_sizes[] = {1, 7, 100, 16383, 16384, 16385, 65537, 16 * MIB, 1000003, 3};

static uint8_t *make_payload(uint64_t seed, size_t *ret_len)
{
        size_t len = 0;
        uint8_t *p;

        for (size_t i = 0; i < sizeof(piece_sizes) / sizeof(piece_sizes[0]); i++)
                len += piece_sizes[i];
        p = malloc(len);
        cr_assert_not_null(p);
        fill_random(p, len, seed);
        *ret_len = len;
        return p;
}

static void write_pieces(struct bufferevent *bev, const uint8_t *p)
{
        for (size_t i = 0; i < sizeof(piece_sizes) / sizeof(piece_sizes[0]); i++) {
                cr_assert_eq(evbuffer_add(bufferevent_get_output(bev), p, piece_sizes[i]), 0);
                p += piece_sizes[i];
        }
}

static bool client_got_all(struct ctx *c)
{
        return c->client.got >= c->client.expect_len || c->client.end_events || c->server.end_events;
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

static bool both_got_all(struct ctx *c)
{
        return (c->client.got >= c->client.expect_len && c->server.got >= c->server.expect_len) ||
               c->client.end_events || c->server.end_events;
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

Test(tls, free_sends_close_notify, .timeout = 30)
{
        static const char bye[] = "last words";
        struct ctx c;

        ctx_init(&c);
        connect_client(&c);
        cr_assert_eq(evbuffer_add(bufferevent_get_output(c.client.bev), bye, sizeof(bye)), 0);
        c.client.free_on_written = true;
        c.server.expect = (const uint8_t *) bye;
        c.server.expect_len = sizeof(bye);
        c.done = server_ended;
        cr_assert(run(&c, 10));
        cr_assert_null(c.client.bev, "the client freed its end");
        cr_assert_eq(c.server.got, sizeof(bye));
        cr_assert(!c.server.mismatch);
        cr_assert_eq(c.server.end_events, BEV_EVENT_EOF | BEV_EVENT_READING, "events 0x%x: %s",
                     c.server.end_events, c.server.error);
        cr_assert_str_eq(c.server.error, "no error", "a close_notify came");
        ctx_done(&c);
}

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
