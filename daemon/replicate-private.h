/* SPDX-License-Identifier: MIT */
/* What replicate.c (stores, uploads, errors), replicate-prove.c (PROVE
 * rounds and verify --store) and replicate-read.c (chunk faults, copies of
 * evicted packs) share: the replicator and its per-store state.
 * Loop thread only, unless a field says otherwise. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "oid.h"
#include "replicate.h"
#include "store-peer.h"

struct store;
struct store_runner;
struct replicate_round;

/* Uploads in flight per store (and its threads). */
#define REPLICATE_PUTS 4
/* Pending packs read from the index at a time. */
#define REPLICATE_PAGE 64
/* New packs queued without a rescan. */
#define REPLICATE_FRESH_MAX 256
/* Packs skipped after a failure that is theirs, not the store's. */
#define REPLICATE_SKIP_MAX 32
#define REPLICATE_SKIP_NS (3600 * UINT64_C(1000000000))
/* How often the stores table is read again. */
#define REPLICATE_RELOAD_NS (5 * UINT64_C(1000000000))
/* Backoff after a store error. */
#define REPLICATE_BACKOFF_MIN_NS (1 * UINT64_C(1000000000))
#define REPLICATE_BACKOFF_MAX_NS (300 * UINT64_C(1000000000))
/* A pack evicted here whose fetch from another store failed is tried again after this long. */
#define REPLICATE_FETCH_RETRY_NS (60 * UINT64_C(1000000000))
/* A store over its quota is tried again after this long at the latest. */
#define REPLICATE_QUOTA_PAUSE_NS (3600 * UINT64_C(1000000000))

struct replicate_item {
        struct oid id;
        uint64_t size;
};

struct replicate_store {
        struct replicate *rep;
        struct replicate_store *next;
        unsigned refs; /* the list's, one per job on the runner */
        bool stopped;
        int64_t id;
        char *name;
        char *kind;
        char *config;
        char *address; /* peer */
        struct store *store;
        struct store_runner *runner;

        /* the queue: a page of pending packs, and new packs since */
        struct replicate_item page[REPLICATE_PAGE];
        size_t page_pos, page_len;
        struct oid cursor;
        bool have_cursor;
        bool scan_done;  /* the last page was short: every pending pack was seen */
        bool rescan;     /* scan from the first pending pack again once this scan is done */
        struct replicate_item fresh[REPLICATE_FRESH_MAX];
        size_t fresh_head, fresh_len;
        struct oid running[REPLICATE_PUTS];
        unsigned n_running;
        struct {
                struct oid id;
                int64_t until_ns;
        } skip[REPLICATE_SKIP_MAX];
        unsigned n_skip;

        /* errors */
        struct event *retry_timer;
        uint64_t backoff_ns;
        bool refused; /* the store refuses this node (as the index's stores row says) */
        bool quota_paused;
        uint64_t quota_need; /* the size of the pack that did not fit */
        char error[256];

        /* counters since start */
        uint64_t uploads;
        uint64_t upload_bytes;
        uint64_t drained_uploads; /* uploads when the queue last ran empty */
        uint64_t drained_bytes;

        /* deletes of pruned packs (replicate-delete.c) */
        struct event *delete_timer; /* retry after a failure */
        bool deleting;
        uint64_t deletes, delete_bytes;
        int64_t delete_after_ns; /* monotonic: not before (a failure's backoff, or an idle pause) */
        unsigned delete_backoff_s; /* 0, then 30 s doubling to an hour */

        /* chunk faults: reading threads inside this store's get (under the fault lock) */
        unsigned readers;
        bool fault_closed;

        /* PROVE (replicate-prove.c) */
        struct event *prove_timer;
        struct replicate_round *round;
};

struct replicate {
        struct daemon *d;
        struct replicate_store *stores;
        struct event *reload_timer;
        int64_t failed[16]; /* stores rows that would not start: said once */
        unsigned n_failed;
        struct oid lost[32]; /* packs neither here nor on any store: said once */
        unsigned n_lost;
};

/* ---- replicate-delete.c ---- */
/* Carry out a batch of rs's queued deletes (packs prune retired) that may
 * go now, then the next; called from every store_fill. */
void replicate_store_deletes(struct replicate_store *rs);
/* Look at rs's queued deletes now, not after the idle pause (prune retired
 * packs). */
void replicate_store_deletes_now(struct replicate_store *rs);
/* The store stops: its delete timer goes. */
void replicate_store_deletes_stop(struct replicate_store *rs);

/* ---- replicate.c ---- */
/* Feed rs its pending uploads (and then its deletes). */
void replicate_store_fill(struct replicate_store *rs);
/* r, a store's answer, says it refuses this node: a host that does not have
 * it as a peer (DENIED), a bucket closed to our key or gone. */
static inline bool replicate_refusal(int r)
{
        return r == -EACCES || r == -ENXIO;
}
/* rs refuses this node (why: in the store's words), or accepts it again: the
 * index's stores row says so, so that rs's copies count as none meanwhile,
 * and the other stores scan again for what now lacks a copy. Logged once per
 * change; a failed index write is tried again at the next sign. */
void replicate_store_refused(struct replicate_store *rs, bool refused, const char *why);
/* Is pack being uploaded to rs now? */
bool replicate_store_uploading(const struct replicate_store *rs, const struct oid *pack);
/* The running store of that stores row, or NULL. */
struct replicate_store *replicate_store_find(struct replicate *rep, int64_t id);
/* rs's retry timer: try again (a quota pause ends). */
void replicate_on_retry(evutil_socket_t fd, short what, void *userdata);
/* What a peer store tells rs (connected, its usage). */
extern const struct store_peer_events replicate_peer_events;
/* The committer's hook: a pack committed, to every store (userdata: the daemon). */
void replicate_on_committed(void *userdata, const struct oid *pack, uint64_t size);
/* Drop a reference to rs; the last one frees it. */
void replicate_store_unref(struct replicate_store *rs);
/* A pack turned out missing or damaged on rs and was deleted there: queue
 * it again (its replica row is back to pending). */
void replicate_store_requeue(struct replicate_store *rs, const struct oid *pack, uint64_t size);
/* The local copy of pack: an fd to read it from (the caller closes it). Any thread. */
int replicate_open_local(struct replicate *rep, const struct oid *pack, int *ret_fd);

/* ---- replicate-read.c ---- */
/* Put rs on rep's store list, where reading threads find it. Loop thread. */
void replicate_read_link(struct replicate *rep, struct replicate_store *rs);
/* Take rs off the list once no reading thread is inside it (waits). Loop thread. */
void replicate_read_unlink(struct replicate *rep, struct replicate_store *rs);
/* Chunk faults go to rep's stores from now on (repo_set_fault). */
void replicate_read_attach(struct replicate *rep);
/* ...and no longer (the handler stays and finds no store). */
void replicate_read_detach(struct replicate *rep);
/* Call fn on each running store but skip (rep NULL: the replicator's) until
 * one returns >= 0: 0 then; -ENOENT when every store said -ENOENT, else the
 * first other error. A reading thread's walk: stores stay up meanwhile. */
int replicate_stores_try(struct replicate *rep, const struct replicate_store *skip,
                         int (*fn)(struct store *s, void *userdata), void *userdata);
/* Copy pack (size bytes) from a store other than skip into an anonymous
 * file in the local store's tmp dir and check its SHA-256 is its id: *ret_fd
 * reads it (the caller closes it). -ENOENT when no store holds it, -EBADMSG
 * when the copies found are damaged. A store thread. */
int replicate_fetch(struct replicate *rep, const struct replicate_store *skip, const struct oid *pack,
                    uint64_t size, int *ret_fd);
/* replicate_fetch_check: replicate.h */

/* ---- replicate-prove.c ---- */
/* Schedule rs's PROVE rounds (prove_interval after the last one). */
int replicate_prove_start(struct replicate_store *rs);
/* Cancel rs's round (its requester hears -ECANCELED) and timer. */
void replicate_prove_stop(struct replicate_store *rs);
