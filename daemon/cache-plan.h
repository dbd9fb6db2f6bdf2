/* SPDX-License-Identifier: MIT */
/* Which local packs the cache evicts (local_copy = cache), as pure logic
 * the unit tests drive: a bounded table of when each pack was last read,
 * and the choice among evictable packs (verified ones first, then least
 * recently used, never one in use) down to the size bound. daemon/cache.c
 * asks the index for the candidates and deletes the files. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oid.h"

/* Packs whose last read is remembered (older ones fall back to their age). */
#define CACHE_PLAN_RECENT 4096
/* Slots looked at per pack in the table. */
#define CACHE_PLAN_PROBE 8

struct cache_plan_recency {
        pthread_mutex_t lock;
        struct {
                struct oid id;
                int64_t used_ns; /* 0: free slot */
        } slots[CACHE_PLAN_RECENT];
};

/* One evictable pack, as cache_plan_choose takes them. */
struct cache_plan_item {
        struct oid id;
        uint64_t size;
        int64_t used_ns; /* last read, or when it was written if never read since start */
        bool verified;   /* held VERIFIED (not just UPLOADED) by enough stores */
        bool busy;       /* an upload or a read uses it now: never chosen */
};

/* Empty table. */
void cache_plan_recency_init(struct cache_plan_recency *r);
void cache_plan_recency_done(struct cache_plan_recency *r);
/* pack was read at now_ns (any thread). A full neighbourhood forgets its oldest entry. */
void cache_plan_touch(struct cache_plan_recency *r, const struct oid *pack, int64_t now_ns);
/* When pack was last read per the table, 0 when it does not remember (any thread). */
int64_t cache_plan_last_used(struct cache_plan_recency *r, const struct oid *pack);

/* Order items (verified first, then least recently used) and move to the
 * front the ones to evict, at most max and none busy, until local_bytes
 * minus their sizes is at most cache_size. Returns how many. */
size_t cache_plan_choose(struct cache_plan_item *items, size_t n, uint64_t local_bytes, uint64_t cache_size,
                         size_t max);
