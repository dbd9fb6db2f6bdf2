/* SPDX-License-Identifier: MIT */
/* The cache's choices (cache-plan.h): the recency table is open addressing
 * over the pack id's first bytes (pack ids are SHA-256 values, spread
 * evenly) with a short probe and the oldest entry of the probe replaced when
 * it is full, so it never allocates and never grows. */
#include "cache-plan.h"

#include <stdlib.h>
#include <string.h>

void cache_plan_recency_init(struct cache_plan_recency *r)
{
        memset(r->slots, 0, sizeof(r->slots));
        pthread_mutex_init(&r->lock, NULL);
}

void cache_plan_recency_done(struct cache_plan_recency *r)
{
        pthread_mutex_destroy(&r->lock);
}

static size_t home(const struct oid *pack)
{
        uint32_t h;

        memcpy(&h, pack->bytes, sizeof(h));
        return h % CACHE_PLAN_RECENT;
}

void cache_plan_touch(struct cache_plan_recency *r, const struct oid *pack, int64_t now_ns)
{
        size_t at = home(pack), victim = at;

        if (now_ns <= 0)
                now_ns = 1;
        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; i < CACHE_PLAN_PROBE; i++) {
                size_t s = (at + i) % CACHE_PLAN_RECENT;
                if (r->slots[s].used_ns == 0 || oid_cmp(&r->slots[s].id, pack) == 0) {
                        victim = s;
                        break;
                }
                if (r->slots[s].used_ns < r->slots[victim].used_ns)
                        victim = s;
        }
        r->slots[victim].id = *pack;
        r->slots[victim].used_ns = now_ns;
        pthread_mutex_unlock(&r->lock);
}

int64_t cache_plan_last_used(struct cache_plan_recency *r, const struct oid *pack)
{
        size_t at = home(pack);
        int64_t used = 0;

        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; i < CACHE_PLAN_PROBE; i++) {
                size_t s = (at + i) % CACHE_PLAN_RECENT;
                if (r->slots[s].used_ns == 0)
                        break;
                if (oid_cmp(&r->slots[s].id, pack) == 0) {
                        used = r->slots[s].used_ns;
                        break;
                }
        }
        pthread_mutex_unlock(&r->lock);
        return used;
}

static int item_cmp(const void *a, const void *b)
{
        const struct cache_plan_item *x = a, *y = b;

        if (x->verified != y->verified)
                return x->verified ? -1 : 1;
        if (x->used_ns != y->used_ns)
                return x->used_ns < y->used_ns ? -1 : 1;
        return oid_cmp(&x->id, &y->id); /* a total order: the same input, the same choice */
}

size_t cache_plan_choose(struct cache_plan_item *items, size_t n, uint64_t local_bytes, uint64_t cache_size,
                         size_t max)
{
        size_t chosen = 0;

        if (n == 0 || local_bytes <= cache_size)
                return 0;
        qsort(items, n, sizeof(*items), item_cmp);
        for (size_t i = 0; i < n && chosen < max && local_bytes > cache_size; i++) {
                if (items[i].busy)
                        continue;
                struct cache_plan_item it = items[i];
                /* keep the order of the rest: shift the skipped busy ones up by one */
                memmove(&items[chosen + 1], &items[chosen], (i - chosen) * sizeof(*items));
                items[chosen++] = it;
                local_bytes = it.size < local_bytes ? local_bytes - it.size : 0;
        }
        return chosen;
}
