/* SPDX-License-Identifier: MIT */
/* The daemon's shared state: configuration, event loop, worker pool, keys,
 * identity, the repository (index, packs, local store) and the watched
 * roots. main.c builds it in order and tears it down in reverse; every
 * other daemon module gets it through a request or a callback. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "settings.h"
#include "keys.h"

struct identity;
struct index;
struct repo;
struct ctl_server;
struct peer_host;
struct peer_server;
struct http_api;
struct workers;
struct root;
struct watch;
struct replicate;
struct cache;

/* Snapshot duration buckets of GET /metrics' histogram (upper bounds, s). */
#define DAEMON_DURATION_BUCKETS { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800 }
#define DAEMON_N_DURATION_BUCKETS 11

/* Counters since start, for status and GET /metrics (loop thread only). */
struct daemon_counters {
        uint64_t snapshots_taken, snapshots_failed;
        uint64_t bytes_scanned, bytes_new; /* of the snapshots taken */
        uint64_t file_errors;              /* files a snapshot left out or took as read */
        uint64_t duration[DAEMON_N_DURATION_BUCKETS + 1]; /* per bucket, the last one +Inf */
        uint64_t duration_ms;              /* sum */
};

struct daemon {
        struct settings config;
        const char *config_file;   /* --config, or NULL for the default path */
        struct event_base *base;
        struct event *reader_release; /* ends idle readers' transactions (repo_release_readers) */
        struct workers *workers;
        struct keys *keyring;      /* never dumped, locked (keys_new); valid when have_key */
        bool have_key;             /* false: --no-key mode, waiting for key import */
        uint64_t key_generation;   /* bumped whenever the keys change (atomic) */
        struct identity *identity;
        uint8_t node_id[32];
        struct repo *repo;
        struct index *index;       /* the loop thread's connection (no-key mode: its own) */
        struct ctl_server *ctl;
        struct peer_host *peer_host;     /* packs kept for peers (daemon/peer-host.c); NULL without a key */
        struct peer_server *peer_server; /* the peer listener; NULL without a key or with listen = none */
        struct watch *watch;       /* inotify (daemon/watch.c) */
        struct root *roots;        /* watched roots (daemon/root.c) */
        struct replicate *replicate; /* packs to stores (daemon/replicate.c) */
        struct cache *cache;       /* the local pack cache (daemon/cache.c) */
        struct http_api *http_api; /* the HTTP API and its token (daemon/http-api.c) */
        struct event *sig_term, *sig_int, *sig_hup;
        int64_t start_ns;
        bool stopping;
        struct daemon_counters counters;
};

/* Nanoseconds since the epoch, CLOCK_REALTIME. */
int64_t now_ns(void);
/* Nanoseconds, CLOCK_MONOTONIC. */
int64_t monotonic_ns(void);
/* Ask the loop to stop after the work in flight is finished or abandoned. */
void daemon_stop(struct daemon *d);
/* With the key loaded: open the repository, check the key against it, set
 * up inotify and start the roots. Undoes what it did when it fails. */
int daemon_bring_up(struct daemon *d);
/* Without a key: open only the index (for status and key import). */
int daemon_open_index_only(struct daemon *d);
/* One-line summary for sd_notify STATUS= and logs. */
void daemon_update_status(struct daemon *d);
