/* SPDX-License-Identifier: MIT */
/* Tests for the peers table (common/index-peer.c) and the deferred deletes
 * of hosted packs (common/index-hosted.c) on real SQLite files: add, pending
 * nodes and their bound, approve, touch, remove; marks, usage with marked
 * bytes, paged listing, and which marks the purge finds per peer delay. */

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"

#define SECOND_NS INT64_C(1000000000)

static char tmpdir[64];
static char dbpath[128];
static struct index *idx;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

static void setup(void)
{
        int r;

        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-index-peer-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmpdir);
        r = index_open(dbpath, 0, &idx);
        cr_assert_eq(r, 0, "index_open: %s", strerror(-r));
}

static void teardown(void)
{
        index_close(idx);
        idx = NULL;
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(index_peer, .init = setup, .fini = teardown);

static struct oid make_oid(uint32_t n, uint8_t seed)
{
        struct oid id;

        for (size_t i = 0; i < OID_SIZE; i++)
                id.bytes[i] = (uint8_t)(seed + i * 7);
        id.bytes[0] = (uint8_t)(n >> 24);
        id.bytes[1] = (uint8_t)(n >> 16);
        id.bytes[2] = (uint8_t)(n >> 8);
        id.bytes[3] = (uint8_t)n;
        return id;
}

/* ---- peers ---------------------------------------------------------------- */

Test(index_peer, add_get_find_remove)
{
        struct oid a = make_oid(1, 9), b = make_oid(2, 9);
        struct index_peer p;

        cr_assert_eq(index_peer_add(idx, &a, "alice", "alice.example:2001", 1000, 5 * SECOND_NS), 0);
        cr_assert_eq(index_peer_add(idx, &b, "bob", NULL, 0, 7), 0, "host-only peer");
        cr_assert_eq(index_peer_add(idx, &a, "alice2", NULL, 0, 0), -EEXIST, "id approved already");
        struct oid c = make_oid(3, 9);
        cr_assert_eq(index_peer_add(idx, &c, "alice", NULL, 0, 0), -EEXIST, "name taken");
        cr_assert_eq(index_peer_add(idx, &c, "", NULL, 0, 0), -EINVAL);
        cr_assert_eq(index_peer_add(idx, &c, NULL, NULL, 0, 0), -EINVAL);
        cr_assert_eq(index_peer_add(idx, &c, "c", NULL, UINT64_MAX, 0), -EINVAL);

        cr_assert_eq(index_peer_get(idx, &a, &p), 0);
        cr_assert_str_eq(p.name, "alice");
        cr_assert_str_eq(p.address, "alice.example:2001");
        cr_assert_eq(p.approved, 1);
        cr_assert_eq(p.quota, 1000);
        cr_assert_eq(p.delete_delay_ns, 5 * SECOND_NS);
        cr_assert_gt(p.first_seen_ns, 0);
        cr_assert_eq(p.last_seen_ns, 0);
        cr_assert_str_eq(p.last_address, "");
        index_peer_done(&p);
        cr_assert_null(p.name);

        cr_assert_eq(index_peer_find(idx, "bob", &p), 0);
        cr_assert((oid_cmp(&p.id, &b) == 0));
        cr_assert_str_eq(p.address, "", "no address reads as empty");
        index_peer_done(&p);
        cr_assert_eq(index_peer_find(idx, "carol", &p), -ENOENT);
        cr_assert_eq(index_peer_get(idx, &c, &p), -ENOENT);

        cr_assert_eq(index_peer_set_quota(idx, &b, 77), 0);
        cr_assert_eq(index_peer_get(idx, &b, &p), 0);
        cr_assert_eq(p.quota, 77);
        index_peer_done(&p);
        cr_assert_eq(index_peer_set_quota(idx, &c, 77), -ENOENT);

        cr_assert_eq(index_peer_remove(idx, &a), 0);
        cr_assert_eq(index_peer_remove(idx, &a), -ENOENT);
        cr_assert_eq(index_peer_find(idx, "alice", &p), -ENOENT);
        /* the name is free again */
        cr_assert_eq(index_peer_add(idx, &c, "alice", NULL, 0, 0), 0);
}

struct collected {
        int n;
        int approved;
        char names[64][16];
        struct oid ids[64];
};

static int collect_peer(const struct index_peer *p, void *userdata)
{
        struct collected *c = userdata;

        cr_assert_lt(c->n, 64);
        snprintf(c->names[c->n], sizeof(c->names[0]), "%s", p->name);
        c->ids[c->n] = p->id;
        c->approved += p->approved;
        c->n++;
        return 0;
}

Test(index_peer, pending_touch_approve)
{
        struct oid x = make_oid(10, 3), y = make_oid(11, 3), a = make_oid(1, 3);
        struct index_peer p;
        struct collected c = { 0 };

        cr_assert_eq(index_peer_add(idx, &a, "zed", "z:1", 0, 0), 0);
        cr_assert_eq(index_peer_pending(idx, &x, "10.0.0.1:5555", 100), 0);
        cr_assert_eq(index_peer_pending(idx, &y, "10.0.0.2:5555", 200), 0);
        cr_assert_eq(index_peer_pending(idx, &x, "10.0.0.3:5555", 300), 0, "seen again");
        cr_assert_eq(index_peer_get(idx, &x, &p), 0);
        cr_assert_eq(p.approved, 0);
        cr_assert_str_eq(p.name, "");
        cr_assert_eq(p.first_seen_ns, 100);
        cr_assert_eq(p.last_seen_ns, 300);
        cr_assert_str_eq(p.last_address, "10.0.0.3:5555");
        index_peer_done(&p);
        /* an approved peer's pending call only stamps it */
        cr_assert_eq(index_peer_pending(idx, &a, "1.2.3.4:1", 400), 0);
        cr_assert_eq(index_peer_get(idx, &a, &p), 0);
        cr_assert_eq(p.approved, 1);
        cr_assert_str_eq(p.name, "zed");
        cr_assert_eq(p.last_seen_ns, 400);
        index_peer_done(&p);

        /* approved first (by name), then pending, most recently seen first */
        cr_assert_eq(index_peer_foreach(idx, collect_peer, &c), 0);
        cr_assert_eq(c.n, 3);
        cr_assert_eq(c.approved, 1);
        cr_assert_str_eq(c.names[0], "zed");
        cr_assert((oid_cmp(&c.ids[1], &x) == 0));
        cr_assert((oid_cmp(&c.ids[2], &y) == 0));

        cr_assert_eq(index_peer_approve(idx, &x, "zed", 5, 9), -EEXIST, "name taken");
        cr_assert_eq(index_peer_approve(idx, &x, "xavier", 5, 9), 0);
        cr_assert_eq(index_peer_approve(idx, &x, "xavier2", 5, 9), -EALREADY);
        cr_assert_eq(index_peer_approve(idx, &a, "zz", 5, 9), -EALREADY);
        struct oid none = make_oid(99, 3);
        cr_assert_eq(index_peer_approve(idx, &none, "n", 5, 9), -ENOENT);
        cr_assert_eq(index_peer_approve(idx, &y, "", 5, 9), -EINVAL);
        cr_assert_eq(index_peer_get(idx, &x, &p), 0);
        cr_assert_eq(p.approved, 1);
        cr_assert_str_eq(p.name, "xavier");
        cr_assert_eq(p.quota, 5);
        cr_assert_eq(p.delete_delay_ns, 9);
        cr_assert_eq(p.first_seen_ns, 100, "approval keeps its history");
        index_peer_done(&p);

        /* a pending node added by `peer add` becomes that peer */
        cr_assert_eq(index_peer_add(idx, &y, "yves", "y:2001", 3, 4), 0);
        cr_assert_eq(index_peer_get(idx, &y, &p), 0);
        cr_assert_eq(p.approved, 1);
        cr_assert_str_eq(p.address, "y:2001");
        cr_assert_eq(p.last_seen_ns, 200);
        index_peer_done(&p);

        cr_assert_eq(index_peer_touch(idx, &y, 999, "5.6.7.8:9"), 0);
        cr_assert_eq(index_peer_get(idx, &y, &p), 0);
        cr_assert_eq(p.last_seen_ns, 999);
        cr_assert_str_eq(p.last_address, "5.6.7.8:9");
        index_peer_done(&p);
        cr_assert_eq(index_peer_touch(idx, &none, 999, ""), -ENOENT);
}

Test(index_peer, pending_rows_are_bounded)
{
        struct oid approved = make_oid(1000, 1);
        struct collected c = { 0 };
        struct index_peer p;

        cr_assert_eq(index_peer_add(idx, &approved, "kept", NULL, 0, 0), 0);
        /* seen before everything else: an approved peer is never dropped */
        cr_assert_eq(index_peer_touch(idx, &approved, 1, ""), 0);
        for (uint32_t i = 0; i < INDEX_PEER_PENDING_MAX + 10; i++) {
                struct oid id = make_oid(i, 2);

                cr_assert_eq(index_peer_pending(idx, &id, "127.0.0.1:1", 1000 + i), 0);
        }
        cr_assert_eq(index_peer_foreach(idx, collect_peer, &c), 0);
        cr_assert_eq(c.n, INDEX_PEER_PENDING_MAX + 1);
        cr_assert_eq(c.approved, 1);
        /* the ten seen first went */
        for (uint32_t i = 0; i < 10; i++) {
                struct oid id = make_oid(i, 2);

                cr_assert_eq(index_peer_get(idx, &id, &p), -ENOENT, "pending %u kept", i);
        }
        struct oid newest = make_oid(INDEX_PEER_PENDING_MAX + 9, 2);
        cr_assert_eq(index_peer_get(idx, &newest, &p), 0);
        index_peer_done(&p);
        cr_assert_eq(index_peer_get(idx, &approved, &p), 0);
        index_peer_done(&p);
}

Test(index_peer, survives_reopen)
{
        struct oid a = make_oid(5, 5);
        struct index_peer p;

        cr_assert_eq(index_peer_add(idx, &a, "alice", "a:1", 42, 43), 0);
        index_close(idx);
        cr_assert_eq(index_open(dbpath, 0, &idx), 0);
        cr_assert_eq(index_peer_find(idx, "alice", &p), 0);
        cr_assert_eq(p.quota, 42);
        cr_assert_eq(p.delete_delay_ns, 43);
        index_peer_done(&p);
}

/* ---- hosted packs: marks, usage, pages, purge ----------------------------- */

Test(index_peer, marks_and_usage)
{
        struct oid peer = make_oid(1, 50), other = make_oid(2, 50);
        struct oid a = make_oid(1, 60), b = make_oid(2, 60), c = make_oid(3, 60);
        struct index_hosted_usage u;
        struct index_hosted h;
        int64_t deleted;

        cr_assert_eq(index_hosted_add(idx, &peer, &a, 1000), 0);
        cr_assert_eq(index_hosted_add(idx, &peer, &b, 200), 0);
        cr_assert_eq(index_hosted_add(idx, &other, &c, 7), 0);

        cr_assert_eq(index_hosted_mark(idx, &peer, &a, 5000, &deleted), 0);
        cr_assert_eq(deleted, 5000);
        cr_assert_eq(index_hosted_mark(idx, &peer, &a, 9000, &deleted), 0, "marked again");
        cr_assert_eq(deleted, 5000, "the first mark stays");
        cr_assert_eq(index_hosted_mark(idx, &peer, &c, 9000, &deleted), -ENOENT, "another peer's pack");
        cr_assert_eq(index_hosted_mark(idx, &peer, &a, 0, &deleted), -EINVAL);
        cr_assert_eq(index_hosted_get(idx, &peer, &a, &h), 0);
        cr_assert_eq(h.deleted_ns, 5000);

        cr_assert_eq(index_hosted_usage(idx, &peer, &u), 0);
        cr_assert_eq(u.bytes, 1200, "marked packs count in the quota");
        cr_assert_eq(u.packs, 2);
        cr_assert_eq(u.marked_bytes, 1000);
        cr_assert_eq(u.marked_packs, 1);

        cr_assert_eq(index_hosted_unmark(idx, &peer, &a), 0);
        cr_assert_eq(index_hosted_unmark(idx, &peer, &a), 0, "unmark of an unmarked pack");
        cr_assert_eq(index_hosted_unmark(idx, &peer, &c), -ENOENT);
        cr_assert_eq(index_hosted_usage(idx, &peer, &u), 0);
        cr_assert_eq(u.marked_bytes, 0);
        cr_assert_eq(u.marked_packs, 0);

        /* a re-upload replacing a marked copy clears the mark */
        cr_assert_eq(index_hosted_mark(idx, &peer, &b, 6000, NULL), 0);
        cr_assert_eq(index_hosted_add(idx, &peer, &b, 200), 0);
        cr_assert_eq(index_hosted_get(idx, &peer, &b, &h), 0);
        cr_assert_eq(h.deleted_ns, 0);

        cr_assert_eq(index_hosted_mark_all(idx, &peer, 7000), 2);
        cr_assert_eq(index_hosted_usage(idx, &peer, &u), 0);
        cr_assert_eq(u.marked_packs, 2);
        cr_assert_eq(index_hosted_usage(idx, &other, &u), 0);
        cr_assert_eq(u.marked_packs, 0, "another peer's packs are untouched");
        cr_assert_eq(u.bytes, 7);

        struct oid nobody = make_oid(9, 50);
        cr_assert_eq(index_hosted_usage(idx, &nobody, &u), 0);
        cr_assert_eq(u.bytes, 0);
        cr_assert_eq(u.packs, 0);
}

struct page {
        int n;
        struct oid last;
        int64_t deleted[16];
};

static int page_cb(const struct index_hosted *h, void *userdata)
{
        struct page *p = userdata;

        cr_assert_lt(p->n, 16);
        if (p->n)
                cr_assert_lt(memcmp(&p->last, &h->pack, OID_SIZE), 0, "in id order");
        p->deleted[p->n++] = h->deleted_ns;
        p->last = h->pack;
        return 0;
}

Test(index_peer, paged_listing)
{
        struct oid peer = make_oid(1, 1), other = make_oid(2, 1);
        struct oid zero = { 0 };
        struct page p = { 0 };
        int total = 0;

        cr_assert_eq(index_hosted_add(idx, &peer, &zero, 1), 0, "the all-zero id is listed too");
        for (uint32_t i = 1; i <= 10; i++) {
                struct oid pack = make_oid(i, 70);

                cr_assert_eq(index_hosted_add(idx, &peer, &pack, i), 0);
                cr_assert_eq(index_hosted_add(idx, &other, &pack, i), 0);
        }
        struct oid marked = make_oid(4, 70);
        cr_assert_eq(index_hosted_mark(idx, &peer, &marked, 1234, NULL), 0);

        const struct oid *after = NULL;
        struct oid cursor;
        int saw_mark = 0;
        for (;;) {
                p.n = 0;
                cr_assert_eq(index_hosted_page(idx, &peer, after, 3, page_cb, &p), 0);
                for (int i = 0; i < p.n; i++)
                        saw_mark += p.deleted[i] == 1234;
                total += p.n;
                if (p.n < 3)
                        break;
                cursor = p.last;
                after = &cursor;
        }
        cr_assert_eq(total, 11);
        cr_assert_eq(saw_mark, 1);
        p.n = 0;
        cr_assert_eq(index_hosted_page(idx, &peer, &zero, 100, page_cb, &p), 0);
        cr_assert_eq(p.n, 10, "after the zero id: the rest");
        p.n = 0;
        cr_assert_eq(index_hosted_page(idx, &peer, NULL, 0, page_cb, &p), 0);
        cr_assert_eq(p.n, 0);
}

struct expired {
        int n;
        struct oid packs[8];
};

static int expired_cb(const struct index_hosted *h, void *userdata)
{
        struct expired *e = userdata;

        cr_assert_lt(e->n, 8);
        cr_assert_neq(h->deleted_ns, 0);
        e->packs[e->n++] = h->pack;
        return 0;
}

Test(index_peer, expired_marks_per_peer_delay)
{
        struct oid fast = make_oid(1, 4), slow = make_oid(2, 4), gone = make_oid(3, 4);
        struct oid p1 = make_oid(1, 80), p2 = make_oid(2, 80), p3 = make_oid(3, 80), p4 = make_oid(4, 80);
        struct expired e = { 0 };

        cr_assert_eq(index_peer_add(idx, &fast, "fast", NULL, 0, 10 * SECOND_NS), 0);
        cr_assert_eq(index_peer_add(idx, &slow, "slow", NULL, 0, 1000 * SECOND_NS), 0);
        cr_assert_eq(index_hosted_add(idx, &fast, &p1, 1), 0);
        cr_assert_eq(index_hosted_add(idx, &fast, &p2, 1), 0);
        cr_assert_eq(index_hosted_add(idx, &slow, &p3, 1), 0);
        cr_assert_eq(index_hosted_add(idx, &gone, &p4, 1), 0); /* no peers row: the default delay */

        int64_t t0 = 1000 * SECOND_NS;
        cr_assert_eq(index_hosted_mark(idx, &fast, &p1, t0, NULL), 0);
        cr_assert_eq(index_hosted_mark(idx, &slow, &p3, t0, NULL), 0);
        cr_assert_eq(index_hosted_mark(idx, &gone, &p4, t0, NULL), 0);

        cr_assert_eq(index_hosted_foreach_expired(idx, t0 + 9 * SECOND_NS, 100 * SECOND_NS, expired_cb, &e), 0);
        cr_assert_eq(e.n, 0, "nothing before its delay");
        cr_assert_eq(index_hosted_foreach_expired(idx, t0 + 10 * SECOND_NS, 100 * SECOND_NS, expired_cb, &e), 0);
        cr_assert_eq(e.n, 1);
        cr_assert((oid_cmp(&e.packs[0], &p1) == 0), "the unmarked p2 never");
        e.n = 0;
        cr_assert_eq(index_hosted_foreach_expired(idx, t0 + 100 * SECOND_NS, 100 * SECOND_NS, expired_cb, &e), 0);
        cr_assert_eq(e.n, 2, "the removed peer's pack with the default delay");
        e.n = 0;
        cr_assert_eq(index_hosted_foreach_expired(idx, t0 + 1000 * SECOND_NS, 100 * SECOND_NS, expired_cb, &e), 0);
        cr_assert_eq(e.n, 3);
        /* a removed peer that came back as a pending node: still the default delay */
        cr_assert_eq(index_peer_pending(idx, &gone, "x", 1), 0);
        e.n = 0;
        cr_assert_eq(index_hosted_foreach_expired(idx, t0 + 100 * SECOND_NS, 100 * SECOND_NS, expired_cb, &e), 0);
        cr_assert_eq(e.n, 2, "a pending row has no delay of its own");
        /* an undelete takes it out of the purge */
        cr_assert_eq(index_hosted_unmark(idx, &slow, &p3), 0);
        e.n = 0;
        cr_assert_eq(index_hosted_foreach_expired(idx, t0 + 1000 * SECOND_NS, 100 * SECOND_NS, expired_cb, &e), 0);
        cr_assert_eq(e.n, 2);
}
