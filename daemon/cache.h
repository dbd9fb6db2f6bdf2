/* SPDX-License-Identifier: MIT */
/* The local pack cache (local_copy = cache, DESIGN §5): packs held by
 * enough stores are evicted from the local pack directory, least recently
 * read first, until the local packs take at most cache_size bytes; packs
 * holding trees or snapshots stay. Passes run on a worker thread in bounded
 * steps, after replication progress and on a timer; reads of evicted packs
 * fault to the stores (replicate.c). It also keeps packs.local true to the
 * files after a crash, and reports what the cache holds for status. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "oid.h"

struct daemon;
struct cache;
struct index_stats;

/* Start the cache of d (after the replicator): in cache mode the first pass
 * runs soon; in full mode it only reports. */
int cache_start(struct daemon *d, struct cache **ret);
/* Stop and free (a pass in flight frees it when its done callback runs,
 * at the latest when the workers stop); NULL is fine. */
void cache_stop(struct cache *c);
/* A pass is on a worker, or (cache mode) the first pass has not yet
 * compared the rows with the files: pack files may be gone whose rows do not
 * say so yet (loop thread; NULL is fine: false). */
bool cache_evicting(const struct cache *c);
/* Packs reached stores: run a pass soon (loop thread; NULL is fine). */
void cache_kick(struct cache *c);

/* Mark pack as in use now: not evicted for a while (any thread; NULL is fine). */
void cache_mark_busy(struct cache *c, const struct oid *pack);
/* Mark pack as in use until cache_mark_busy (or another hold) says
 * otherwise: for work that may take longer than "a while", such as a
 * PROVE over a slow store (any thread; NULL is fine). */
void cache_hold(struct cache *c, const struct oid *pack);
/* Around "is the local copy still here? then delete the damaged copy on a
 * store" (any thread): the evictor holds it from its last look at a pack to
 * the deletion of the file, so the two copies never both go. */
void cache_delete_lock(void);
void cache_delete_unlock(void);

/* What status shows of the local copy. */
struct cache_status {
        bool cache_mode;        /* local_copy = cache */
        uint64_t cache_size;    /* the bound (cache mode) */
        uint64_t local_packs, local_bytes;     /* packs present here */
        uint64_t evicted_packs, evicted_bytes; /* packs only on stores */
        uint64_t pinned_bytes;  /* local bytes in packs holding trees or snapshots (last pass) */
        uint64_t evictions;     /* packs evicted since start */
        char error[256];        /* the last problem, "" when none */
};
/* Fill ret from st, the index's counts, and c (loop thread; NULL: none). */
void cache_get_status(struct daemon *d, struct cache *c, const struct index_stats *st, struct cache_status *ret);
