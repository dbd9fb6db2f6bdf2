/* SPDX-License-Identifier: MIT */
/* Tests for the replicator's queries of common/index-replica.c on real SQLite
 * files: the pending queue in pages (with and without a copies limit), the
 * held pages, counts and bytes per state, verification times, reset to
 * pending, and random picks for PROVE (distinct, held, spread over the
 * store). The basic set/get/count calls are covered by test-index.c. */

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
static int64_t peer, s3;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/* Pack n: id byte 0..3 = n big-endian (so ids sort as n), size n * 100. */
static struct oid pack_id(uint32_t n)
{
        struct oid id;

        memset(&id, 0x5a, sizeof(id));
        id.bytes[0] = (uint8_t)(n >> 24);
        id.bytes[1] = (uint8_t)(n >> 16);
        id.bytes[2] = (uint8_t)(n >> 8);
        id.bytes[3] = (uint8_t)n;
        return id;
}

static uint32_t pack_n(const struct oid *id)
{
        return (uint32_t)id->bytes[0] << 24 | (uint32_t)id->bytes[1] << 16 |
               (uint32_t)id->bytes[2] << 8 | id->bytes[3];
}

static void add_packs(uint32_t first, uint32_t last)
{
        cr_assert_eq(index_begin(idx), 0);
        for (uint32_t n = first; n <= last; n++) {
                struct oid id = pack_id(n);
                cr_assert_eq(index_pack_commit(idx, &id, n * 100ull, NULL, 0), 0);
        }
        cr_assert_eq(index_commit(idx), 0);
}

static void set_state(uint32_t n, int64_t store, int state)
{
        struct oid id = pack_id(n);

        cr_assert_eq(index_replica_set(idx, &id, store, state), 0);
}

static void setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-replica-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmpdir);
        cr_assert_eq(index_open(dbpath, 0, &idx), 0);
        cr_assert_eq(index_store_add(idx, "friend", "peer", "", &peer), 0);
        cr_assert_eq(index_store_add(idx, "bucket", "s3", "", &s3), 0);
}

static void teardown(void)
{
        index_close(idx);
        idx = NULL;
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(index_replica, .init = setup, .fini = teardown);

struct page {
        uint32_t n[64];
        uint64_t size[64];
        size_t count;
        struct oid last;
};

static int page_cb(const struct index_pack *p, void *userdata)
{
        struct page *pg = userdata;

        cr_assert_lt(pg->count, 64);
        pg->n[pg->count] = pack_n(&p->id);
        pg->size[pg->count++] = p->size;
        pg->last = p->id;
        return 0;
}

/* Every page of store's pending queue of `limit`: the pack numbers in order. */
static size_t pending_all(int64_t store, unsigned copies, size_t limit, uint32_t *out, size_t max)
{
        struct oid after;
        bool first = true;
        size_t total = 0;

        for (;;) {
                struct page pg = { 0 };
                cr_assert_eq(index_replica_pending_page(idx, store, copies, first ? NULL : &after, limit,
                                                        page_cb, &pg),
                             0);
                cr_assert_leq(pg.count, limit);
                for (size_t i = 0; i < pg.count; i++) {
                        cr_assert_lt(total, max);
                        cr_assert_eq(pg.size[i], pg.n[i] * 100ull, "the size comes with the id");
                        out[total++] = pg.n[i];
                }
                if (pg.count < limit)
                        return total;
                after = pg.last;
                first = false;
        }
}

Test(index_replica, pending_pages_skip_held_packs)
{
        uint32_t got[64];
        size_t n;

        add_packs(1, 10);
        n = pending_all(peer, 0, 3, got, 64);
        cr_assert_eq(n, 10);
        for (size_t i = 0; i < n; i++)
                cr_assert_eq(got[i], i + 1, "pages in id order, none lost or repeated");

        set_state(2, peer, INDEX_REPLICA_UPLOADED);
        set_state(5, peer, INDEX_REPLICA_VERIFIED);
        set_state(7, peer, INDEX_REPLICA_PENDING); /* an explicit PENDING row is still pending */
        set_state(3, s3, INDEX_REPLICA_UPLOADED);  /* another store's rows do not count */
        n = pending_all(peer, 0, 4, got, 64);
        cr_assert_eq(n, 8);
        uint32_t want[] = { 1, 3, 4, 6, 7, 8, 9, 10 };
        for (size_t i = 0; i < n; i++)
                cr_assert_eq(got[i], want[i]);

        struct page pg = { 0 };
        struct oid after = pack_id(8);
        cr_assert_eq(index_replica_pending_page(idx, peer, 0, &after, 100, page_cb, &pg), 0);
        cr_assert_eq(pg.count, 2);
        cr_assert_eq(pg.n[0], 9);
        cr_assert_eq(index_replica_pending_page(idx, peer, 0, NULL, 0, page_cb, &pg), -EINVAL);
}

Test(index_replica, pending_with_copies)
{
        uint32_t got[64];
        size_t n;

        add_packs(1, 4);
        set_state(1, s3, INDEX_REPLICA_UPLOADED);
        set_state(2, s3, INDEX_REPLICA_PENDING);
        /* copies 1: a pack already on one store is not wanted on another */
        n = pending_all(peer, 1, 10, got, 64);
        cr_assert_eq(n, 3);
        cr_assert_eq(got[0], 2);
        /* copies 2 (or 0, all): it is */
        cr_assert_eq(pending_all(peer, 2, 10, got, 64), 4);
        cr_assert_eq(pending_all(peer, 0, 10, got, 64), 4);

        struct index_replica_counts c;
        cr_assert_eq(index_replica_counts(idx, peer, 1, &c), 0);
        cr_assert_eq(c.pending_packs, 3);
        cr_assert_eq(c.pending_bytes, 200 + 300 + 400);
        cr_assert_eq(index_replica_counts(idx, peer, 0, &c), 0);
        cr_assert_eq(c.pending_packs, 4);
        cr_assert_eq(c.pending_bytes, 1000);
}

Test(index_replica, copies_on_a_refusing_store_do_not_count)
{
        uint32_t got[64];

        add_packs(1, 3);
        set_state(1, s3, INDEX_REPLICA_VERIFIED);
        cr_assert_eq(pending_all(peer, 1, 10, got, 64), 2, "pack 1 has its one copy");
        cr_assert_eq(index_store_set_refused(idx, s3, 42), 1);
        cr_assert_eq(pending_all(peer, 1, 10, got, 64), 3, "s3 refuses us: pack 1 has no copy");
        cr_assert_eq(got[0], 1);
        struct oid one = pack_id(1);
        cr_assert_eq(index_replica_held(idx, &one), 0);
        cr_assert_eq(index_store_set_refused(idx, s3, 0), 1);
        cr_assert_eq(pending_all(peer, 1, 10, got, 64), 2);
        cr_assert_eq(index_replica_held(idx, &one), 1);
}

Test(index_replica, counts_by_state)
{
        struct index_replica_counts c;

        cr_assert_eq(index_replica_counts(idx, peer, 0, &c), 0);
        cr_assert_eq(c.pending_packs + c.uploaded_packs + c.verified_packs, 0, "empty index");
        cr_assert_eq(c.verified_ns, 0);

        add_packs(1, 6);
        set_state(1, peer, INDEX_REPLICA_UPLOADED);
        set_state(2, peer, INDEX_REPLICA_UPLOADED);
        set_state(3, peer, INDEX_REPLICA_VERIFIED);
        set_state(4, peer, INDEX_REPLICA_PENDING);
        set_state(5, s3, INDEX_REPLICA_VERIFIED);
        cr_assert_eq(index_replica_counts(idx, peer, 0, &c), 0);
        cr_assert_eq(c.pending_packs, 3);
        cr_assert_eq(c.pending_bytes, 400 + 500 + 600);
        cr_assert_eq(c.uploaded_packs, 2);
        cr_assert_eq(c.uploaded_bytes, 300);
        cr_assert_eq(c.verified_packs, 1);
        cr_assert_eq(c.verified_bytes, 300);
        cr_assert_eq(c.verified_ns, 0, "VERIFIED by a commit is not a PROVE");

        cr_assert_eq(index_replica_counts(idx, s3, 0, &c), 0);
        cr_assert_eq(c.pending_packs, 5);
        cr_assert_eq(c.verified_packs, 1);
        cr_assert_eq(c.verified_bytes, 500);
}

Test(index_replica, verified_time_and_reset)
{
        struct index_replica_counts c;
        struct oid p1 = pack_id(1), p2 = pack_id(2), p3 = pack_id(3);

        add_packs(1, 3);
        set_state(1, peer, INDEX_REPLICA_UPLOADED);
        set_state(2, peer, INDEX_REPLICA_VERIFIED);
        cr_assert_eq(index_replica_set_verified(idx, &p1, peer, 1000), 0);
        cr_assert_eq(index_replica_get(idx, &p1, peer), INDEX_REPLICA_VERIFIED);
        cr_assert_eq(index_replica_set_verified(idx, &p2, peer, 3000), 0);
        cr_assert_eq(index_replica_set_verified(idx, &p3, peer, 5000), -ENOENT, "not held: no row");
        set_state(3, peer, INDEX_REPLICA_PENDING);
        cr_assert_eq(index_replica_set_verified(idx, &p3, peer, 5000), -ENOENT, "pending: not held");
        cr_assert_eq(index_replica_counts(idx, peer, 0, &c), 0);
        cr_assert_eq(c.verified_packs, 2);
        cr_assert_eq(c.verified_ns, 3000);

        /* a later upload (state set again) keeps the verification time */
        set_state(2, peer, INDEX_REPLICA_VERIFIED);
        cr_assert_eq(index_replica_counts(idx, peer, 0, &c), 0);
        cr_assert_eq(c.verified_ns, 3000);

        /* damaged copy: back to pending, its time forgotten */
        cr_assert_eq(index_replica_reset(idx, &p2, peer), 0);
        cr_assert_eq(index_replica_get(idx, &p2, peer), INDEX_REPLICA_PENDING);
        cr_assert_eq(index_replica_counts(idx, peer, 0, &c), 0);
        cr_assert_eq(c.verified_packs, 1);
        cr_assert_eq(c.verified_ns, 1000);
        cr_assert_eq(c.pending_packs, 2);
        uint32_t got[8];
        cr_assert_eq(pending_all(peer, 0, 10, got, 8), 2);
        cr_assert_eq(got[0], 2);
        cr_assert_eq(got[1], 3);
        cr_assert_eq(index_replica_reset(idx, &p3, s3), 0, "no row: nothing to reset");
}

Test(index_replica, held_pages)
{
        add_packs(1, 9);
        for (uint32_t n = 1; n <= 9; n += 2)
                set_state(n, peer, n == 5 ? INDEX_REPLICA_VERIFIED : INDEX_REPLICA_UPLOADED);
        set_state(2, peer, INDEX_REPLICA_PENDING);
        set_state(4, s3, INDEX_REPLICA_UPLOADED);

        struct page pg = { 0 };
        cr_assert_eq(index_replica_held_page(idx, peer, NULL, 3, page_cb, &pg), 0);
        cr_assert_eq(pg.count, 3);
        cr_assert_eq(pg.n[0], 1);
        cr_assert_eq(pg.n[1], 3);
        cr_assert_eq(pg.n[2], 5);
        cr_assert_eq(pg.size[2], 500);
        struct oid after = pg.last;
        memset(&pg, 0, sizeof(pg));
        cr_assert_eq(index_replica_held_page(idx, peer, &after, 3, page_cb, &pg), 0);
        cr_assert_eq(pg.count, 2);
        cr_assert_eq(pg.n[0], 7);
        cr_assert_eq(pg.n[1], 9);
}

Test(index_replica, random_picks_few)
{
        struct oid got[16];
        size_t n = 99;

        cr_assert_eq(index_replica_random(idx, peer, 4, got, &n), 0);
        cr_assert_eq(n, 0, "an empty store gives nothing");

        add_packs(1, 20);
        set_state(3, peer, INDEX_REPLICA_UPLOADED);
        set_state(8, peer, INDEX_REPLICA_VERIFIED);
        set_state(9, peer, INDEX_REPLICA_PENDING);
        set_state(11, s3, INDEX_REPLICA_UPLOADED);
        cr_assert_eq(index_replica_random(idx, peer, 16, got, &n), 0);
        cr_assert_eq(n, 2, "every held pack when there are fewer than asked");
        cr_assert(pack_n(&got[0]) + pack_n(&got[1]) == 11 && pack_n(&got[0]) != pack_n(&got[1]));
}

Test(index_replica, random_picks_many_are_distinct_held_and_spread)
{
        enum { N = 400, PICK = 16 };
        static unsigned seen[N + 1];
        struct oid got[PICK];
        size_t n;

        /* ids spread over the key space as real SHA-256 pack ids are */
        cr_assert_eq(index_begin(idx), 0);
        for (uint32_t i = 1; i <= N; i++) {
                struct oid id = pack_id(i);
                uint32_t spread = i * 2654435761u; /* Knuth's multiplicative hash */
                id.bytes[0] = (uint8_t)(spread >> 24);
                id.bytes[1] = (uint8_t)(spread >> 16);
                id.bytes[4] = (uint8_t)(i >> 8);
                id.bytes[5] = (uint8_t)i;
                cr_assert_eq(index_pack_commit(idx, &id, 100, NULL, 0), 0);
                if (i % 4 != 0) /* every fourth is not on the store */
                        cr_assert_eq(index_replica_set(idx, &id, peer, INDEX_REPLICA_UPLOADED), 0);
        }
        cr_assert_eq(index_commit(idx), 0);

        for (int round = 0; round < 50; round++) {
                cr_assert_eq(index_replica_random(idx, peer, PICK, got, &n), 0);
                cr_assert_eq(n, PICK);
                for (size_t i = 0; i < n; i++) {
                        unsigned k = (unsigned)got[i].bytes[4] << 8 | got[i].bytes[5];
                        cr_assert(k >= 1 && k <= N);
                        cr_assert_neq(k % 4, 0, "only packs the store holds");
                        cr_assert_eq(index_replica_get(idx, &got[i], peer), INDEX_REPLICA_UPLOADED);
                        for (size_t j = 0; j < i; j++)
                                cr_assert(oid_cmp(&got[i], &got[j]) != 0, "distinct");
                        seen[k]++;
                }
        }
        /* 800 picks over 300 held packs: a fair pick reaches most of them */
        unsigned distinct = 0;
        for (unsigned k = 1; k <= N; k++)
                distinct += seen[k] > 0;
        cr_assert_gt(distinct, 200, "picks are spread (%u distinct)", distinct);
}
