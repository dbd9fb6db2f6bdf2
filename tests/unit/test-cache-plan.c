/* SPDX-License-Identifier: MIT */
/* Tests for daemon/cache-plan.c: the eviction choice (verified first, then
 * least recently used, never a busy pack, just enough to fit, at most max)
 * and the bounded recency table (remembers, updates, forgets the oldest of
 * a full neighbourhood, never more than its slots). */

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cache-plan.h"

static struct oid id_of(uint32_t n)
{
        struct oid id;

        memset(&id, 0, sizeof(id));
        memcpy(id.bytes, &n, sizeof(n)); /* the table's home slot is n % CACHE_PLAN_RECENT */
        id.bytes[31] = 1;
        return id;
}

static struct cache_plan_item item(uint32_t n, uint64_t size, int64_t used, bool verified, bool busy)
{
        return (struct cache_plan_item){ .id = id_of(n), .size = size, .used_ns = used,
                                         .verified = verified, .busy = busy };
}

static uint32_t n_of(const struct cache_plan_item *it)
{
        uint32_t n;

        memcpy(&n, it->id.bytes, sizeof(n));
        return n;
}

Test(cache_plan, nothing_when_it_fits)
{
        struct cache_plan_item items[] = { item(1, 100, 1, true, false) };

        cr_assert_eq(cache_plan_choose(items, 1, 100, 100, 8), 0);
        cr_assert_eq(cache_plan_choose(items, 0, 500, 100, 8), 0);
}

Test(cache_plan, verified_first_then_least_recently_used_just_enough)
{
        struct cache_plan_item items[] = {
                item(1, 100, 50, false, false), /* oldest, but only uploaded */
                item(2, 100, 300, true, false),
                item(3, 100, 200, true, false),
                item(4, 100, 100, true, true), /* oldest verified: in use */
                item(5, 100, 400, true, false),
        };
        size_t n = cache_plan_choose(items, 5, 800, 600, 8);

        cr_assert_eq(n, 2, "two packs bring 800 to 600");
        cr_assert_eq(n_of(&items[0]), 3);
        cr_assert_eq(n_of(&items[1]), 2);
        for (size_t i = n; i < 5; i++)
                cr_assert_neq(n_of(&items[i]), 3);
}

Test(cache_plan, busy_never_chosen_and_max_holds)
{
        struct cache_plan_item items[] = {
                item(1, 100, 1, true, true),
                item(2, 100, 2, true, false),
                item(3, 100, 3, false, false),
                item(4, 100, 4, false, true),
        };
        size_t n = cache_plan_choose(items, 4, 10000, 0, 8);

        cr_assert_eq(n, 2, "all but the busy ones");
        cr_assert_eq(n_of(&items[0]), 2);
        cr_assert_eq(n_of(&items[1]), 3, "then the ones only uploaded");
        cr_assert_eq(n_of(&items[2]), 1, "the rest keeps its order");
        cr_assert_eq(n_of(&items[3]), 4);

        struct cache_plan_item more[] = { item(1, 10, 1, true, false), item(2, 10, 2, true, false),
                                          item(3, 10, 3, true, false) };
        cr_assert_eq(cache_plan_choose(more, 3, 1000, 0, 2), 2, "at most max per step");
}

Test(cache_plan, recency_remembers_and_updates)
{
        struct cache_plan_recency *r = malloc(sizeof(*r));
        struct oid a = id_of(7), b = id_of(8);

        cache_plan_recency_init(r);
        cr_assert_eq(cache_plan_last_used(r, &a), 0);
        cache_plan_touch(r, &a, 100);
        cache_plan_touch(r, &b, 150);
        cr_assert_eq(cache_plan_last_used(r, &a), 100);
        cache_plan_touch(r, &a, 200);
        cr_assert_eq(cache_plan_last_used(r, &a), 200);
        cr_assert_eq(cache_plan_last_used(r, &b), 150);
        cache_plan_recency_done(r);
        free(r);
}

Test(cache_plan, recency_forgets_the_oldest_of_a_full_neighbourhood)
{
        struct cache_plan_recency *r = malloc(sizeof(*r));
        struct oid ids[CACHE_PLAN_PROBE + 1];

        cache_plan_recency_init(r);
        /* all with the same home slot: n, n + RECENT, n + 2 * RECENT, ... */
        for (uint32_t i = 0; i <= CACHE_PLAN_PROBE; i++) {
                ids[i] = id_of(5 + i * CACHE_PLAN_RECENT);
                cache_plan_touch(r, &ids[i], 1000 + i);
        }
        cr_assert_eq(cache_plan_last_used(r, &ids[0]), 0, "the oldest made room");
        for (uint32_t i = 1; i <= CACHE_PLAN_PROBE; i++)
                cr_assert_eq(cache_plan_last_used(r, &ids[i]), 1000 + i);
        cache_plan_recency_done(r);
        free(r);
}
