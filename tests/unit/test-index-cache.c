/* SPDX-License-Identifier: MIT */
/* Tests for the cache's queries of common/index-cache.c on real SQLite files:
 * which local packs may be evicted (held by enough stores, no tree or
 * snapshot inside, verified ones first, oldest first), the held check the
 * evictor repeats before it unlinks, pinned bytes, the usage for status,
 * and the paged pack listing of the reconciling pass. */

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "index.h"

static char tmpdir[64];
static char dbpath[128];
static struct index *idx;
static int64_t friend1, friend2;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static struct oid pack_id(uint8_t n)
{
        struct oid id;

        memset(&id, 0, sizeof(id));
        id.bytes[0] = n;
        return id;
}

/* Pack n of size n * 1000, created at n seconds, holding one object of type. */
static void add_pack(uint8_t n, int type)
{
        struct oid id = pack_id(n);
        struct index_pack_entry e = { .type = type, .offset = 0, .length = 100 };

        memset(&e.id, 0xa0 + n, sizeof(e.id));
        cr_assert_eq(index_pack_add(idx, &id, n * 1000ull, n * INT64_C(1000000000), 1, &e, 1), 0);
}

static void set_state(uint8_t n, int64_t store, int state)
{
        struct oid id = pack_id(n);

        cr_assert_eq(index_replica_set(idx, &id, store, state), 0);
}

static void setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-cache-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmpdir);
        cr_assert_eq(index_open(dbpath, 0, &idx), 0);
        cr_assert_eq(index_store_add(idx, "b", "peer", "", &friend1), 0);
        cr_assert_eq(index_store_add(idx, "c", "peer", "", &friend2), 0);
}

static void teardown(void)
{
        index_close(idx);
        idx = NULL;
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(index_cache, .init = setup, .fini = teardown);

struct seen {
        uint8_t n[16];
        int verified[16];
        size_t count;
};

static int seen_cb(const struct index_cache_candidate *c, void *userdata)
{
        struct seen *s = userdata;

        cr_assert_lt(s->count, 16);
        cr_assert_eq(c->size, c->id.bytes[0] * 1000ull);
        cr_assert_eq(c->created_ns, c->id.bytes[0] * INT64_C(1000000000));
        s->verified[s->count] = c->verified;
        s->n[s->count++] = c->id.bytes[0];
        return 0;
}

Test(index_cache, candidates_are_held_unpinned_local_packs_verified_first)
{
        struct seen s = { 0 };
        struct oid id;

        add_pack(1, OBJECT_DATA);     /* on both, uploaded */
        add_pack(2, OBJECT_DATA);     /* on one only */
        add_pack(3, OBJECT_TREE);     /* on both, verified: but a tree */
        add_pack(4, OBJECT_DATA);     /* on both, verified */
        add_pack(5, OBJECT_SNAPSHOT); /* on both: a snapshot */
        add_pack(6, OBJECT_LIST);     /* on both, verified, but evicted already */
        add_pack(7, OBJECT_DATA);     /* nowhere */
        for (uint8_t n = 1; n <= 6; n++)
                set_state(n, friend1, n == 1 ? INDEX_REPLICA_UPLOADED : INDEX_REPLICA_VERIFIED);
        for (uint8_t n = 1; n <= 6; n++)
                if (n != 2)
                        set_state(n, friend2, n == 1 ? INDEX_REPLICA_UPLOADED : INDEX_REPLICA_VERIFIED);
        id = pack_id(6);
        cr_assert_eq(index_pack_set_local(idx, &id, 0), 0);

        cr_assert_eq(index_cache_candidates(idx, 2, 16, seen_cb, &s), 0);
        cr_assert_eq(s.count, 2);
        cr_assert_eq(s.n[0], 4, "verified first");
        cr_assert_eq(s.verified[0], 1);
        cr_assert_eq(s.n[1], 1);
        cr_assert_eq(s.verified[1], 0);

        memset(&s, 0, sizeof(s));
        cr_assert_eq(index_cache_candidates(idx, 1, 16, seen_cb, &s), 0);
        cr_assert_eq(s.count, 3, "one store is enough: pack 2 too");
        cr_assert_eq(s.n[0], 2, "verified, oldest first");
        cr_assert_eq(s.n[1], 4);
        cr_assert_eq(s.n[2], 1);

        memset(&s, 0, sizeof(s));
        cr_assert_eq(index_cache_candidates(idx, 1, 1, seen_cb, &s), 0);
        cr_assert_eq(s.count, 1, "limit");
        cr_assert_eq(index_cache_candidates(idx, 3, 16, seen_cb, &s), 0);
        cr_assert_eq(s.count, 1, "no pack is on three stores");
        cr_assert_eq(index_cache_candidates(idx, 0, 16, seen_cb, &s), -EINVAL, "never zero copies");
        cr_assert_eq(index_cache_candidates(idx, 1, 0, seen_cb, &s), -EINVAL);
}

Test(index_cache, held_sees_a_reset_replica)
{
        struct oid id = pack_id(1);

        add_pack(1, OBJECT_DATA);
        set_state(1, friend1, INDEX_REPLICA_VERIFIED);
        cr_assert_eq(index_cache_held(idx, &id, 1), 1);
        cr_assert_eq(index_cache_held(idx, &id, 2), 0);
        cr_assert_eq(index_replica_reset(idx, &id, friend1), 0);
        cr_assert_eq(index_cache_held(idx, &id, 1), 0, "a PROVE found it missing: not held");
        cr_assert_eq(index_cache_held(idx, &id, 0), 0, "zero copies never counts as held");
}

Test(index_cache, a_refusing_store_holds_nothing)
{
        struct oid id = pack_id(1), two = pack_id(2);
        struct index_store row;
        struct seen s = { 0 };
        uint64_t packs = 0, bytes = 0;

        add_pack(1, OBJECT_DATA);
        add_pack(2, OBJECT_DATA);
        set_state(1, friend1, INDEX_REPLICA_VERIFIED);
        set_state(2, friend1, INDEX_REPLICA_UPLOADED);
        set_state(2, friend2, INDEX_REPLICA_UPLOADED);
        cr_assert_eq(index_pack_set_local(idx, &two, 0), 0);
        cr_assert_eq(index_cache_only_on(idx, friend2, &packs, &bytes), 0);
        cr_assert_eq(packs, 0, "b holds pack 2 too");

        cr_assert_eq(index_store_set_refused(idx, friend1, 5), 1);
        cr_assert_eq(index_store_set_refused(idx, friend1, 9), 0, "the first refusal's time stays");
        cr_assert_eq(index_store_find(idx, "b", &row), 0);
        cr_assert_eq(row.refused_ns, 5);
        index_store_done(&row);
        cr_assert_eq(index_cache_held(idx, &id, 1), 0, "b refuses us: its copy counts as none");
        cr_assert_eq(index_replica_held(idx, &id), 0);
        cr_assert_eq(index_replica_count(idx, &id, INDEX_REPLICA_UPLOADED), 1, "the row is still there");
        cr_assert_eq(index_cache_candidates(idx, 1, 16, seen_cb, &s), 0);
        cr_assert_eq(s.count, 0);
        cr_assert_eq(index_cache_only_on(idx, friend2, &packs, &bytes), 0);
        cr_assert_eq(packs, 1, "c has the only copy that counts of pack 2");
        cr_assert_eq(bytes, 2000);

        cr_assert_eq(index_store_set_refused(idx, friend1, 0), 1);
        cr_assert_eq(index_store_set_refused(idx, friend1, 0), 0);
        cr_assert_eq(index_cache_held(idx, &id, 1), 1, "b accepts us again");
        cr_assert_eq(index_cache_candidates(idx, 1, 16, seen_cb, &s), 0);
        cr_assert_eq(s.count, 1);
        cr_assert_eq(index_store_set_refused(idx, 999, 1), -ENOENT);
        cr_assert_eq(index_store_set_refused(idx, friend1, -1), -EINVAL);
}

Test(index_cache, usage_and_pinned_bytes)
{
        struct index_cache_usage u;
        struct oid id = pack_id(2);
        uint64_t pinned;

        cr_assert_eq(index_cache_usage(idx, &u), 0);
        cr_assert_eq(u.local_packs + u.local_bytes + u.evicted_packs + u.evicted_bytes, 0);
        cr_assert_eq(u.stores, 2);
        add_pack(1, OBJECT_DATA);
        add_pack(2, OBJECT_DATA);
        add_pack(3, OBJECT_TREE);
        cr_assert_eq(index_pack_set_local(idx, &id, 0), 0);
        cr_assert_eq(index_cache_usage(idx, &u), 0);
        cr_assert_eq(u.local_packs, 2);
        cr_assert_eq(u.local_bytes, 4000);
        cr_assert_eq(u.evicted_packs, 1);
        cr_assert_eq(u.evicted_bytes, 2000);
        cr_assert_eq(index_cache_pinned_bytes(idx, &pinned), 0);
        cr_assert_eq(pinned, 3000);
}

static int count_cb(const struct index_pack *p, void *userdata)
{
        size_t *n = userdata;

        cr_assert_eq(p->id.bytes[0], *n + 1, "by id");
        ++*n;
        return 0;
}

Test(index_cache, foreach_pack_pages)
{
        struct oid after = pack_id(3);
        size_t n = 0;

        for (uint8_t i = 1; i <= 5; i++)
                add_pack(i, OBJECT_DATA);
        cr_assert_eq(index_cache_foreach_pack(idx, NULL, 3, count_cb, &n), 0);
        cr_assert_eq(n, 3);
        cr_assert_eq(index_cache_foreach_pack(idx, &after, 3, count_cb, &n), 0);
        cr_assert_eq(n, 5);
        cr_assert_eq(index_cache_foreach_pack(idx, NULL, 0, count_cb, &n), -EINVAL);
}
