/* SPDX-License-Identifier: MIT */
/* Tests for prune's queries (common/index-prune.c) on real SQLite files: a
 * new copy of an object takes over its row only from a condemned pack, the
 * stored-check (dedupe) leaves condemned packs out, retiring queues a delete for the
 * local file and every store and drops the pack with its rows, the
 * replicator's pending list skips condemned packs, the counts, and a store
 * removed takes its queued deletes with it. */

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "index.h"

static char tmpdir[64];
static char dbpath[128];
static struct index *idx;
static int64_t store1, store2;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static struct oid id_of(uint8_t tag, uint8_t n)
{
        struct oid id;

        memset(&id, tag, sizeof(id));
        id.bytes[31] = n;
        return id;
}

/* Pack p (size p * 1000) holding objects a..b (ids id_of(0xa0, k)). */
static void add_pack(uint8_t p, uint8_t a, uint8_t b)
{
        struct oid pack = id_of(0x10, p);
        struct index_pack_entry e[16];
        size_t n = 0;

        for (uint8_t k = a; k <= b; k++, n++)
                e[n] = (struct index_pack_entry){ .id = id_of(0xa0, k), .type = 1, .offset = n * 100, .length = 100 };
        cr_assert_eq(index_pack_add(idx, &pack, p * 1000ull, 0, 1, e, n), 0);
}

static uint8_t pack_of(uint8_t k)
{
        struct oid id = id_of(0xa0, k);
        struct index_object o;

        cr_assert_eq(index_object_lookup(idx, &id, &o), 0);
        return o.pack.bytes[31];
}

static void setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-prune-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmpdir);
        cr_assert_eq(index_open(dbpath, 0, &idx), 0);
        cr_assert_eq(index_store_add(idx, "b", "peer", "", &store1), 0);
        cr_assert_eq(index_store_add(idx, "c", "s3", "", &store2), 0);
}

static void teardown(void)
{
        index_close(idx);
        idx = NULL;
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(index_prune, .init = setup, .fini = teardown);

static int count_cb(const struct index_object *o, void *userdata)
{
        (void)o;
        (*(int *)userdata)++;
        return 0;
}

Test(index_prune, new_copy_takes_the_row_only_from_a_condemned_pack)
{
        struct oid p1 = id_of(0x10, 1);

        add_pack(1, 1, 3);
        add_pack(2, 2, 2); /* a duplicate of object 2: the first row stays */
        cr_assert_eq(pack_of(2), 1);
        cr_assert_eq(index_prune_condemn(idx, &p1, 5), 0);
        add_pack(3, 2, 3); /* copies of 2 and 3 while pack 1 is condemned */
        cr_assert_eq(pack_of(1), 1);
        cr_assert_eq(pack_of(2), 3);
        cr_assert_eq(pack_of(3), 3);
        struct oid o1 = id_of(0xa0, 1), o2 = id_of(0xa0, 2), o3 = id_of(0xa0, 3), o9 = id_of(0xa0, 9);
        cr_assert_eq(index_object_stored(idx, &o1), 0, "object 1 (only in the condemned pack) is not stored");
        cr_assert_eq(index_object_stored(idx, &o2), 1);
        cr_assert_eq(index_object_stored(idx, &o3), 1);
        cr_assert_eq(index_object_stored(idx, &o9), 0);
        int all = 0;
        cr_assert_eq(index_object_foreach_id(idx, count_cb, &all), 0);
        cr_assert_eq(all, 3, "every row, condemned or not");
        cr_assert_eq(index_prune_condemn(idx, &p1, 0), 0);
        cr_assert_eq(index_object_stored(idx, &o1), 1);
        struct oid none = id_of(0x10, 9);
        cr_assert_eq(index_prune_condemn(idx, &none, 1), -ENOENT);
}

struct dels {
        int64_t stores[8];
        uint64_t size;
        size_t n;
};

static int del_cb(const struct index_pack_delete *d, void *userdata)
{
        struct dels *ds = userdata;
        cr_assert_lt(ds->n, 8);
        ds->stores[ds->n++] = d->store_id;
        ds->size = d->size;
        return 0;
}

Test(index_prune, retire_queues_every_delete_and_drops_the_rows)
{
        struct oid p1 = id_of(0x10, 1), obj = id_of(0xa0, 1);
        struct index_object o;
        struct index_pack p;
        struct dels local = { 0 }, s1 = { 0 }, s2 = { 0 };

        add_pack(1, 1, 2);
        cr_assert_eq(index_replica_set(idx, &p1, store1, INDEX_REPLICA_VERIFIED), 0);
        cr_assert_eq(index_prune_retire(idx, &p1, 0), -ENOENT, "only a condemned pack is retired");
        cr_assert_eq(index_prune_condemn(idx, &p1, 7), 0);
        struct index_prune_counts c;
        cr_assert_eq(index_prune_counts(idx, -1, &c), 0);
        cr_assert_eq(c.condemned_packs, 1);
        cr_assert_eq(c.condemned_bytes, 1000);
        cr_assert_eq(index_prune_retire(idx, &p1, 0), 0);
        cr_assert_eq(index_pack_lookup(idx, &p1, &p), -ENOENT);
        cr_assert_eq(index_object_lookup(idx, &obj, &o), -ENOENT);
        cr_assert_eq(index_replica_get(idx, &p1, store1), INDEX_REPLICA_PENDING);
        cr_assert_eq(index_pack_deletes_page(idx, 0, 0, false, 10, del_cb, &local), 0);
        cr_assert_eq(index_pack_deletes_page(idx, store1, 0, false, 10, del_cb, &s1), 0);
        cr_assert_eq(index_pack_deletes_page(idx, store2, 0, false, 10, del_cb, &s2), 0);
        cr_assert_eq(local.n, 1);
        cr_assert_eq(local.size, 1000);
        cr_assert_eq(s1.n, 1);
        cr_assert_eq(s2.n, 1, "a store with no replica row gets the delete too (an upload in flight)");
        cr_assert_eq(index_pack_delete_queued(idx, &p1, 0), 1);
        cr_assert_eq(index_prune_counts(idx, -1, &c), 0);
        cr_assert_eq(c.condemned_packs, 0);
        cr_assert_eq(c.delete_packs, 3);
        cr_assert_eq(index_pack_delete_done(idx, &p1, 0), 0);
        cr_assert_eq(index_pack_delete_queued(idx, &p1, 0), 0);
        cr_assert_eq(index_store_remove(idx, store2), 0);
        cr_assert_eq(index_prune_counts(idx, -1, &c), 0);
        cr_assert_eq(c.delete_packs, 1, "a removed store's deletes go with it");
        cr_assert_eq(index_prune_counts(idx, store1, &c), 0);
        cr_assert_eq(c.delete_bytes, 1000);
}

static int pending_cb(const struct index_pack *p, void *userdata)
{
        (void)p;
        (*(int *)userdata)++;
        return 0;
}

Test(index_prune, pending_skips_condemned_packs)
{
        struct oid p1 = id_of(0x10, 1);
        struct index_replica_counts rc;
        int n = 0;

        add_pack(1, 1, 1);
        add_pack(2, 2, 2);
        cr_assert_eq(index_prune_condemn(idx, &p1, 3), 0);
        cr_assert_eq(index_replica_pending_page(idx, store1, 0, NULL, 10, pending_cb, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(index_replica_counts(idx, store1, 0, &rc), 0);
        cr_assert_eq(rc.pending_packs, 1);
}

struct packs_seen {
        int all, condemned;
};

static int packs_cb(const struct index_prune_pack *p, void *userdata)
{
        struct packs_seen *s = userdata;
        s->all++;
        s->condemned += p->condemned_ns != 0;
        return 0;
}

Test(index_prune, objects_come_grouped_by_pack)
{
        int n = 0;

        add_pack(3, 1, 2);
        add_pack(1, 3, 4);
        add_pack(2, 5, 6);
        struct packs_seen s = { 0 };
        cr_assert_eq(index_prune_foreach_pack(idx, 0, packs_cb, &s), 0);
        cr_assert_eq(s.all, 3);
        cr_assert_eq(s.condemned, 0);
        struct oid p2 = id_of(0x10, 2);
        cr_assert_eq(index_prune_condemn(idx, &p2, 1), 0);
        s = (struct packs_seen){ 0 };
        cr_assert_eq(index_prune_foreach_pack(idx, 1, packs_cb, &s), 0);
        cr_assert_eq(s.all, 1);
        cr_assert_eq(s.condemned, 1);
        cr_assert_eq(index_prune_foreach_object_by_pack(idx, count_cb, &n), 0);
        cr_assert_eq(n, 6);
}

Test(index_prune, release_all_and_pack_state)
{
        struct oid p1 = id_of(0x10, 1), p2 = id_of(0x10, 2), none = id_of(0x10, 9);
        struct index_prune_counts c;

        add_pack(1, 1, 1);
        add_pack(2, 2, 2);
        cr_assert_eq(index_prune_pack_state(idx, &p1), 0);
        cr_assert_eq(index_prune_pack_state(idx, &none), -ENOENT);
        cr_assert_eq(index_prune_condemn(idx, &p1, 1), 0);
        cr_assert_eq(index_prune_condemn(idx, &p2, 1), 0);
        cr_assert_eq(index_prune_pack_state(idx, &p1), 1);
        cr_assert_eq(index_prune_release_all(idx), 2);
        cr_assert_eq(index_prune_counts(idx, -1, &c), 0);
        cr_assert_eq(c.condemned_packs, 0);
        cr_assert_eq(index_prune_pack_state(idx, &p2), 0);
}

Test(index_prune, a_store_deletes_once_older_packs_are_there)
{
        struct oid p1 = id_of(0x10, 1), q = id_of(0x10, 2);
        struct dels d = { 0 };

        add_pack(1, 1, 2);
        add_pack(2, 2, 2); /* the repack's copy: older than the delete, pending on both stores */
        cr_assert_eq(index_prune_condemn(idx, &p1, 1), 0);
        cr_assert_eq(index_prune_retire(idx, &p1, 0), 0);
        cr_assert_eq(index_pack_deletes_page(idx, store1, 0, false, 10, del_cb, &d), 0);
        cr_assert_eq(d.n, 0, "the copy is not on the store yet");
        cr_assert_eq(index_pack_deletes_page(idx, 0, 0, false, 10, del_cb, &d), 0);
        cr_assert_eq(d.n, 1, "the local file goes at once");
        cr_assert_eq(index_replica_set(idx, &q, store1, INDEX_REPLICA_UPLOADED), 0);
        d = (struct dels){ 0 };
        cr_assert_eq(index_pack_deletes_page(idx, store1, 0, false, 10, del_cb, &d), 0);
        cr_assert_eq(d.n, 1, "the copy is there now");
        d = (struct dels){ 0 };
        cr_assert_eq(index_pack_deletes_page(idx, store2, 1, false, 10, del_cb, &d), 0);
        cr_assert_eq(d.n, 1, "copies = 1: the copy is on enough stores already");
        /* found again by a reindex: its deletes are off */
        add_pack(1, 1, 1);
        struct index_prune_counts c;
        cr_assert_eq(index_prune_counts(idx, -1, &c), 0);
        cr_assert_eq(c.delete_packs, 0);
}

/* A store too full to take any pack (a peer at its quota) deletes all the
 * same: the deletes are what make room for the packs before them. */
Test(index_prune, a_full_store_deletes_in_any_order)
{
        struct oid p1 = id_of(0x10, 1);
        struct dels d = { 0 };

        add_pack(1, 1, 2);
        add_pack(2, 2, 2); /* pending on the store, which takes nothing now */
        cr_assert_eq(index_prune_condemn(idx, &p1, 1), 0);
        cr_assert_eq(index_prune_retire(idx, &p1, 0), 0);
        cr_assert_eq(index_pack_deletes_page(idx, store1, 0, false, 10, del_cb, &d), 0);
        cr_assert_eq(d.n, 0, "in order: after the pack before it");
        cr_assert_eq(index_pack_deletes_page(idx, store1, 0, true, 10, del_cb, &d), 0);
        cr_assert_eq(d.n, 1, "any order: now");
}

/* The clock was set back after the repack wrote its copy (its created_ns is
 * ahead of the retire's clock): the old pack's delete, ordered after the
 * time the repack ended, still waits for the copy to be on the store. */
Test(index_prune, a_clock_set_back_does_not_delete_before_the_copy)
{
        struct oid p1 = id_of(0x10, 1), q = id_of(0x10, 2);
        struct index_pack_entry e = { .id = id_of(0xa0, 2), .type = 1, .offset = 0, .length = 100 };
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ahead = (int64_t)(ts.tv_sec + 3600) * 1000000000;
        struct dels d = { 0 };

        add_pack(1, 1, 2);
        cr_assert_eq(index_pack_add(idx, &q, 2000, ahead, 1, &e, 1), 0);
        cr_assert_eq(index_prune_condemn(idx, &p1, 1), 0);
        cr_assert_eq(index_prune_retire(idx, &p1, ahead), 0);
        cr_assert_eq(index_pack_deletes_page(idx, store1, 0, false, 10, del_cb, &d), 0);
        cr_assert_eq(d.n, 0, "the copy is not on the store yet");
        cr_assert_eq(index_replica_set(idx, &q, store1, INDEX_REPLICA_UPLOADED), 0);
        cr_assert_eq(index_pack_deletes_page(idx, store1, 0, false, 10, del_cb, &d), 0);
        cr_assert_eq(d.n, 1, "the copy is there now");
}
