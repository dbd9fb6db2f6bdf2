/* SPDX-License-Identifier: MIT */
/* tls-throughput: MiB/s of one connection over loopback through daemon/tls.c
 * (two identities, mutual auth, the negotiated suite), next to plain TCP
 * through the same bufferevent code. Sender and receiver each run their own
 * event loop on their own thread, as two chuted processes would. Built and
 * run by `make bench-tls [TLS_MIB=256]`, never by `make check`. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "identity.h"
#include "tls.h"

#define MIB ((size_t) 1024 * 1024)
#define CHUNK MIB              /* the sender adds this much at a time ... */
#define SENDER_QUEUE (4 * MIB) /* ... keeping up to this much plaintext queued */

static uint8_t chunk[CHUNK];

struct side {
        struct event_base *base;
        struct bufferevent *bev;
        struct tls_config *tls; /* NULL: plain TCP */
        size_t total;
        size_t done;           /* bytes queued (sender) or received (receiver) */
        double t_start, t_end; /* sender: handshake done; receiver: last byte */
        double cpu;            /* this thread's CPU seconds */
        const char *suite;
        const char *error;
        bool ok;
};

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double thread_cpu(void)
{
        struct rusage ru;
        getrusage(RUSAGE_THREAD, &ru);
        return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
               (double) ru.ru_stime.tv_usec / 1e6;
}

static void sender_fill(struct bufferevent *bev, void *arg)
{
        struct side *s = arg;
        struct evbuffer *out = bufferevent_get_output(bev);

        while (s->done < s->total && evbuffer_get_length(out) < SENDER_QUEUE) {
                size_t n = s->total - s->done < CHUNK ? s->total - s->done : CHUNK;
                if (evbuffer_add_reference(out, chunk, n, NULL, NULL) < 0) {
                        s->error = "out of memory";
                        event_base_loopbreak(s->base);
                        return;
                }
                s->done += n;
        }
}

static void sender_event(struct bufferevent *bev, short what, void *arg)
{
        struct side *s = arg;

        if (what & BEV_EVENT_CONNECTED) {
                s->t_start = now();
                s->suite = s->tls ? tls_ciphersuite(bev) : "plain TCP";
                sender_fill(bev, s);
                return;
        }
        s->error = s->tls ? tls_last_error(bev) : "connection closed";
        event_base_loopbreak(s->base);
}

static void receiver_read(struct bufferevent *bev, void *arg)
{
        struct side *s = arg;
        struct evbuffer *in = bufferevent_get_input(bev);

        s->done += evbuffer_get_length(in);
        evbuffer_drain(in, evbuffer_get_length(in));
        if (s->done >= s->total) {
                s->t_end = now();
                s->ok = true;
                event_base_loopbreak(s->base);
        }
}

static void receiver_event(struct bufferevent *bev, short what, void *arg)
{
        struct side *s = arg;

        if (what & BEV_EVENT_CONNECTED)
                return;
        s->error = s->tls ? tls_last_error(bev) : "connection closed";
        event_base_loopbreak(s->base);
}

static void receiver_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
        struct side *s = arg;
        struct bufferevent *under = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);

        if (!under)
                return;
        if (s->tls) {
                if (tls_wrap(s->tls, under, TLS_SERVER, &s->bev) < 0)
                        return;
        } else
                s->bev = under;
        bufferevent_setcb(s->bev, receiver_read, NULL, receiver_event, s);
        bufferevent_enable(s->bev, EV_READ | EV_WRITE);
        evconnlistener_disable(l);
}

static void *run_loop(void *arg)
{
        struct side *s = arg;
        double cpu0 = thread_cpu();
        event_base_dispatch(s->base);
        s->cpu = thread_cpu() - cpu0;
        return NULL;
}

/* One transfer of total bytes; tls NULL for plain TCP. Returns MiB/s, or -1. */
static double transfer(struct tls_config *client_tls, struct tls_config *server_tls, size_t total,
                       struct side *ret_sender, struct side *ret_receiver)
{
        struct side snd = {.tls = client_tls, .total = total}, rcv = {.tls = server_tls, .total = total};
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sin);
        struct evconnlistener *listener;
        struct bufferevent *under;
        pthread_t ts, tr;
        struct timeval limit = {120, 0};

        snd.base = event_base_new();
        rcv.base = event_base_new();
        if (!snd.base || !rcv.base)
                return -1;
        listener = evconnlistener_new_bind(rcv.base, receiver_accept, &rcv, LEV_OPT_CLOSE_ON_FREE, 4,
                                           (struct sockaddr *) &sin, sizeof(sin));
        if (!listener || getsockname(evconnlistener_get_fd(listener), (struct sockaddr *) &sin, &len) < 0)
                return -1;
        under = bufferevent_socket_new(snd.base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!under || bufferevent_socket_connect(under, (struct sockaddr *) &sin, sizeof(sin)) < 0)
                return -1;
        if (client_tls) {
                if (tls_wrap(client_tls, under, TLS_CLIENT, &snd.bev) < 0)
                        return -1;
        } else
                snd.bev = under;
        bufferevent_setwatermark(snd.bev, EV_WRITE, SENDER_QUEUE / 2, 0);
        bufferevent_setcb(snd.bev, NULL, sender_fill, sender_event, &snd);
        bufferevent_enable(snd.bev, EV_READ | EV_WRITE);
        event_base_loopexit(snd.base, &limit);
        event_base_loopexit(rcv.base, &limit);

        pthread_create(&tr, NULL, run_loop, &rcv);
        pthread_create(&ts, NULL, run_loop, &snd);
        pthread_join(tr, NULL);
        /* the receiver has everything: stop the sender */
        event_base_loopbreak(snd.base);
        pthread_join(ts, NULL);

        *ret_sender = snd;
        *ret_receiver = rcv;
        bufferevent_free(snd.bev);
        if (rcv.bev)
                bufferevent_free(rcv.bev);
        evconnlistener_free(listener);
        event_base_loop(snd.base, EVLOOP_NONBLOCK);
        event_base_loop(rcv.base, EVLOOP_NONBLOCK);
        event_base_free(snd.base);
        event_base_free(rcv.base);
        if (!rcv.ok)
                return -1;
        return (double) total / (double) MIB / (rcv.t_end - snd.t_start);
}

int main(int argc, char **argv)
{
        size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
        uint8_t seed_a[IDENTITY_SEED_SIZE], seed_b[IDENTITY_SEED_SIZE];
        struct identity *a = NULL, *b = NULL;
        struct tls_config *ta = NULL, *tb = NULL;
        struct side snd = {0}, rcv = {0};
        double mibs;

        if (mib == 0) {
                fprintf(stderr, "usage: %s [MiB]\n", argv[0]);
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < sizeof(chunk); i++)
                chunk[i] = (uint8_t) (i * 2654435761u >> 13);
        memset(seed_a, 'a', sizeof(seed_a));
        memset(seed_b, 'b', sizeof(seed_b));
        if (identity_new(seed_a, &a) < 0 || identity_new(seed_b, &b) < 0 || tls_config_new(a, &ta) < 0 ||
            tls_config_new(b, &tb) < 0) {
                fprintf(stderr, "cannot set up the identities\n");
                return 1;
        }

        printf("%zu MiB over 127.0.0.1, sender and receiver on two threads\n", mib);
        /* 0: plain TCP; 1: the records sealed by mbedtls; 2: by libcrypto (chuted's default) */
        for (int mode = 0; mode <= 2; mode++) {
                static const char *const names[] = {"plain TCP", "TLS, mbedtls records", "TLS, libcrypto records"};
                enum tls_records records = mode == 1 ? TLS_RECORDS_MBEDTLS : TLS_RECORDS_LIBCRYPTO;
                tls_config_set_records(ta, records);
                tls_config_set_records(tb, records);
                mibs = transfer(mode ? ta : NULL, mode ? tb : NULL, mib * MIB, &snd, &rcv);
                if (mibs < 0) {
                        fprintf(stderr, "%s: transfer failed: %s / %s\n", names[mode],
                                snd.error ? snd.error : "-", rcv.error ? rcv.error : "-");
                        return 1;
                }
                printf("%-24s %-46s %8.1f MiB/s   CPU s: sender %.2f, receiver %.2f\n", names[mode],
                       mode ? (snd.suite ? snd.suite : "?") : "", mibs, snd.cpu, rcv.cpu);
        }
        tls_config_free(ta);
        tls_config_free(tb);
        identity_free(a);
        identity_free(b);
        return 0;
}
