/* SPDX-License-Identifier: MIT */
/* The two ends of a TLS connection over real TCP on 127.0.0.1 and a real
 * event loop, for test-tls.c and test-tls-records.c: what each end saw,
 * echo, paced reading, and the payloads of odd sizes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>

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

/* 16 MiB and odd sizes around the record size, as separate writes. */
extern const size_t piece_sizes[];
extern const size_t n_piece_sizes;

/* Deterministic pseudo-random bytes. */
void fill_random(uint8_t *buf, size_t len, uint64_t seed);
/* Take up to max bytes out of the input and check them against e->expect. */
void consume(struct end *e, size_t max);
/* The harness's callbacks of an end (arg: the struct end). */
void end_read(struct bufferevent *bev, void *arg);
void end_write(struct bufferevent *bev, void *arg);
void end_event(struct bufferevent *bev, short what, void *arg);
/* Make bev one end of c, its callbacks the harness's. */
void end_setup(struct end *e, struct ctx *c, struct bufferevent *bev);
/* Two identities (a: the client, b: the server), their TLS configurations,
 * a listener on 127.0.0.1 and the sampling timer. */
void ctx_init(struct ctx *c);
/* Free everything ctx_init made and what the test connected. */
void ctx_done(struct ctx *c);
/* Run the loop until c->done says so; false when it took longer than seconds. */
bool run(struct ctx *c, int seconds);
struct sockaddr_in server_address(struct ctx *c);
/* A TLS client with identity a; returns its bev (connecting). */
struct bufferevent *connect_client(struct ctx *c);
/* A plain blocking TCP socket connected to the server. */
int connect_plain(struct ctx *c);
int client_fd(struct ctx *c);
bool both_connected(struct ctx *c);
/* Random bytes the length of all piece_sizes together; write_pieces writes
 * them as separate evbuffer_adds. */
uint8_t *make_payload(uint64_t seed, size_t *ret_len);
void write_pieces(struct bufferevent *bev, const uint8_t *p);
/* Done conditions for run(). */
bool client_got_all(struct ctx *c);
bool both_got_all(struct ctx *c);
