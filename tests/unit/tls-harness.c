/* SPDX-License-Identifier: MIT */
/* The TLS test harness (tls-harness.h): a listener that wraps what it
 * accepts as the server, a client, and callbacks that record what arrives. */
#include "tls-harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "cleanup.h"

void fill_random(uint8_t *buf, size_t len, uint64_t seed)
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
void consume(struct end *e, size_t max)
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

void end_read(struct bufferevent *bev, void *arg)
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

void end_write(struct bufferevent *bev, void *arg)
{
        struct end *e = arg;

        sample(e);
        if (e->free_on_written && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
                bufferevent_free(e->bev);
                e->bev = NULL;
        }
        check_done(e->ctx);
}

void end_event(struct bufferevent *bev, short what, void *arg)
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

void end_setup(struct end *e, struct ctx *c, struct bufferevent *bev)
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

void ctx_init(struct ctx *c)
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

void ctx_done(struct ctx *c)
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
bool run(struct ctx *c, int seconds)
{
        struct timeval limit = {seconds, 0};
        event_base_loopexit(c->base, &limit);
        event_base_dispatch(c->base);
        return c->done(c);
}

struct sockaddr_in server_address(struct ctx *c)
{
        return (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                    .sin_port = htons(c->port)};
}

/* A TLS client with identity a; returns its bev (connecting). */
struct bufferevent *connect_client(struct ctx *c)
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
int connect_plain(struct ctx *c)
{
        struct sockaddr_in sin = server_address(c);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        cr_assert_eq(connect(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
        return fd;
}

int client_fd(struct ctx *c)
{
        return bufferevent_getfd(bufferevent_get_underlying(c->client.bev));
}

bool both_connected(struct ctx *c)
{
        return c->client.connected && c->server.connected;
}

const size_t piece_sizes[] = {1, 7, 100, 16383, 16384, 16385, 65537, 16 * MIB, 1000003, 3};
const size_t n_piece_sizes = sizeof(piece_sizes) / sizeof(piece_sizes[0]);

uint8_t *make_payload(uint64_t seed, size_t *ret_len)
{
        size_t len = 0;
        uint8_t *p;

        for (size_t i = 0; i < n_piece_sizes; i++)
                len += piece_sizes[i];
        p = malloc(len);
        cr_assert_not_null(p);
        fill_random(p, len, seed);
        *ret_len = len;
        return p;
}

void write_pieces(struct bufferevent *bev, const uint8_t *p)
{
        for (size_t i = 0; i < n_piece_sizes; i++) {
                cr_assert_eq(evbuffer_add(bufferevent_get_output(bev), p, piece_sizes[i]), 0);
                p += piece_sizes[i];
        }
}

bool client_got_all(struct ctx *c)
{
        return c->client.got >= c->client.expect_len || c->client.end_events || c->server.end_events;
}

bool both_got_all(struct ctx *c)
{
        return (c->client.got >= c->client.expect_len && c->server.got >= c->server.expect_len) ||
               c->client.end_events || c->server.end_events;
}
