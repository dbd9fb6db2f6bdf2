/* SPDX-License-Identifier: MIT */
/* Tests for the host side of the peer protocol (daemon/peer-host*.c) on a
 * real event loop, real store threads and a real index and state directory:
 * a client peer_conn talks to a hosting session over a socketpair (TLS is
 * peer-server.c's). HELLO first and version negotiation, PUT by ranges with
 * resume and commit, GET, STAT, HAVE, LIST, PROVE, quota refusals before any
 * byte is written, hash mismatches, deferred deletes with undelete and the
 * purge, a marked pack uploaded again, and one peer never reaching another's
 * packs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "crypto.h"
#include "index.h"
#include "parse.h"
#include "peer-host-fixture.h"
#include "workers.h"

TestSuite(peer_host, .init = setup, .fini = teardown, .timeout = 60);

/* ---- tests ---- */

Test(peer_host, hello_first_and_versions)
{
        struct client *c = client_new(&owner);
        struct call k = simple(c, PEER_TYPE_PING, NULL);

        cr_assert_eq(k.err, -EPROTO, "a PING before HELLO: %s", strerror(-k.err));
        call_done_free(&k);

        struct msg *m = req_new(PEER_TYPE_HELLO);
        struct msg_map b = msg_body(m);
        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MIN, 5);
        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MAX, 9);
        msg_map_set_uint(&b, PEER_KEY_MAX_FRAME, PEER_MAX_BODY);
        k = call(c, m, NULL, 0);
        cr_assert_eq(k.err, -EPROTONOSUPPORT);
        cr_assert_eq(reply_uint(&k, PEER_KEY_PROTOCOL_MAX), PEER_PROTOCOL_VERSION);
        call_done_free(&k);

        m = req_new(PEER_TYPE_HELLO);
        b = msg_body(m);
        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MIN, 1);
        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MAX, 7);
        msg_map_set_uint(&b, PEER_KEY_MAX_FRAME, PEER_MAX_BODY);
        k = call(c, m, NULL, 0);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(reply_uint(&k, PEER_KEY_PROTOCOL_MAX), 1, "the highest common version");
        cr_assert_eq(reply_uint(&k, PEER_KEY_QUOTA), 64 * MIB);
        cr_assert_eq(reply_uint(&k, PEER_KEY_USED), 0);
        cr_assert_eq(reply_uint(&k, PEER_KEY_DELETE_DELAY), 30 * 86400);
        call_done_free(&k);

        m = req_new(PEER_TYPE_HELLO);
        b = msg_body(m);
        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MIN, 1);
        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MAX, 1);
        msg_map_set_uint(&b, PEER_KEY_MAX_FRAME, PEER_MAX_BODY);
        k = call(c, m, NULL, 0);
        cr_assert_eq(k.err, -EINVAL, "a second HELLO");
        call_done_free(&k);

        k = simple(c, PEER_TYPE_PING, NULL);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        client_free(c);
}

Test(peer_host, put_get_stat_list_have_prove)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 3 * MIB + 123;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);

        hello(c);
        cr_assert_eq(put_all(c, &pack, p, len, MIB), 0);
        cr_assert(pack_file_exists(&owner, &pack, ""));
        struct index_hosted row;
        cr_assert_eq(index_hosted_get(d.index, &owner, &pack, &row), 0);
        cr_assert_eq(row.size, len);

        /* again: visible, answered at once */
        struct call k = put(c, &pack, len, 0, p, 10, false);
        cr_assert_eq(k.err, 0);
        cr_assert(reply_bool(&k, PEER_KEY_COMMITTED));
        cr_assert_eq(reply_uint(&k, PEER_KEY_DURABLE), len);
        call_done_free(&k);

        k = get(c, &pack, MIB - 7, 2 * MIB);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(k.data_len, 2 * MIB);
        cr_assert_eq(memcmp(k.data, p + MIB - 7, 2 * MIB), 0);
        call_done_free(&k);
        k = get(c, &pack, len - 10, 11);
        cr_assert_eq(k.err, -ERANGE, "past the end");
        call_done_free(&k);
        k = get(c, &pack, 0, PEER_DATA_MAX + 1);
        cr_assert_eq(k.err, -EMSGSIZE);
        call_done_free(&k);

        k = simple(c, PEER_TYPE_STAT, &pack);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(reply_uint(&k, PEER_KEY_SIZE), len);
        call_done_free(&k);
        struct oid absent = { .bytes = { 9 } };
        k = simple(c, PEER_TYPE_STAT, &absent);
        cr_assert_eq(k.err, -ENOENT);
        call_done_free(&k);

        struct msg *m = req_new(PEER_TYPE_HAVE);
        struct msg_map b = msg_body(m);
        msg_map_append_bytes(&b, PEER_KEY_PACKS, pack.bytes, OID_SIZE);
        msg_map_append_bytes(&b, PEER_KEY_PACKS, absent.bytes, OID_SIZE);
        k = call(c, m, NULL, 0);
        cr_assert_eq(k.err, 0);
        b = msg_body(k.reply);
        uint64_t v;
        cr_assert_eq(msg_map_get_uint_at(&b, PEER_KEY_SIZES, 0, &v), 0);
        cr_assert_eq(v, len);
        cr_assert_eq(msg_map_get_uint_at(&b, PEER_KEY_SIZES, 1, &v), 0);
        cr_assert_eq(v, 0);
        call_done_free(&k);

        k = simple(c, PEER_TYPE_LIST, NULL);
        cr_assert_eq(k.err, 0);
        b = msg_body(k.reply);
        size_t n = 0;
        cr_assert_eq(msg_map_get_count(&b, PEER_KEY_ENTRIES, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert(!reply_bool(&k, PEER_KEY_MORE));
        call_done_free(&k);

        uint8_t nonce[16] = { 1, 2, 3 }, want[32];
        uint8_t *both = malloc(sizeof(nonce) + len);
        memcpy(both, nonce, sizeof(nonce));
        memcpy(both + sizeof(nonce), p, len);
        crypto_sha256(both, sizeof(nonce) + len, want);
        free(both);
        m = req_new(PEER_TYPE_PROVE);
        b = msg_body(m);
        msg_map_set_bytes(&b, PEER_KEY_PACK, pack.bytes, OID_SIZE);
        msg_map_set_bytes(&b, PEER_KEY_NONCE, nonce, sizeof(nonce));
        k = call(c, m, NULL, 0);
        cr_assert_eq(k.err, 0);
        const uint8_t *digest;
        size_t dl;
        b = msg_body(k.reply);
        cr_assert_eq(msg_map_get_bytes(&b, PEER_KEY_DIGEST, &digest, &dl), 0);
        cr_assert_eq(dl, 32);
        cr_assert_eq(memcmp(digest, want, 32), 0);
        call_done_free(&k);

        k = simple(c, PEER_TYPE_USAGE, NULL);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(reply_uint(&k, PEER_KEY_USED), len);
        cr_assert_eq(reply_uint(&k, PEER_KEY_COUNT), 1);
        call_done_free(&k);
        client_free(c);
}

Test(peer_host, resume_after_a_cut_and_no_holes)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 2 * MIB;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);

        hello(c);
        struct call k = put(c, &pack, len, 0, p, MIB, false);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(reply_uint(&k, PEER_KEY_DURABLE), MIB);
        call_done_free(&k);
        k = put(c, &pack, len, MIB + 1, p + MIB + 1, 100, false);
        cr_assert_eq(k.err, -ERANGE, "a hole is refused");
        call_done_free(&k);
        client_free(c);

        /* a new connection learns what is durable and goes on from there */
        c = client_new(&owner);
        hello(c);
        struct msg *m = req_new(PEER_TYPE_HAVE);
        struct msg_map b = msg_body(m);
        msg_map_append_bytes(&b, PEER_KEY_PACKS, pack.bytes, OID_SIZE);
        k = call(c, m, NULL, 0);
        cr_assert_eq(k.err, 0);
        b = msg_body(k.reply);
        uint64_t v;
        cr_assert_eq(msg_map_get_uint_at(&b, PEER_KEY_PARTIALS, 0, &v), 0);
        cr_assert_eq(v, MIB);
        cr_assert_eq(msg_map_get_uint_at(&b, PEER_KEY_SIZES, 0, &v), 0);
        cr_assert_eq(v, 0);
        call_done_free(&k);
        k = simple(c, PEER_TYPE_STAT, &pack);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(reply_uint(&k, PEER_KEY_DURABLE), MIB);
        call_done_free(&k);
        k = put(c, &pack, len, MIB, p + MIB, MIB, true);
        cr_assert_eq(k.err, 0);
        cr_assert(reply_bool(&k, PEER_KEY_COMMITTED));
        call_done_free(&k);
        k = get(c, &pack, 0, len);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(memcmp(k.data, p, len), 0);
        call_done_free(&k);
        client_free(c);
}

Test(peer_host, mismatch_drops_the_partial)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 100000;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);

        hello(c);
        p[500] ^= 1;
        cr_assert_eq(put_all(c, &pack, p, len, 40000), -EBADMSG);
        cr_assert(!pack_file_exists(&owner, &pack, ""));
        struct call k = simple(c, PEER_TYPE_STAT, &pack);
        cr_assert_eq(k.err, -ENOENT, "nothing visible, no partial");
        call_done_free(&k);
        struct index_hosted row;
        cr_assert_eq(index_hosted_get(d.index, &owner, &pack, &row), -ENOENT);
        p[500] ^= 1;
        cr_assert_eq(put_all(c, &pack, p, len, 40000), 0, "the right bytes go in afterwards");
        client_free(c);
}

Test(peer_host, quota_is_checked_before_the_first_byte)
{
        struct client *c = client_new(&owner);
        struct oid a, b;
        _cleanup_free_ uint8_t *pa = make_pack(3 * MIB, &a), *pb = make_pack(2 * MIB, &b);

        cr_assert_eq(index_peer_set_quota(d.index, &owner, 4 * MIB), 0);
        hello(c);
        cr_assert_eq(put_all(c, &a, pa, 3 * MIB, MIB), 0);
        struct call k = put(c, &b, 2 * MIB, 0, pb, MIB, false);
        cr_assert_eq(k.err, -EDQUOT);
        call_done_free(&k);
        k = simple(c, PEER_TYPE_STAT, &b);
        cr_assert_eq(k.err, -ENOENT, "not one byte written");
        call_done_free(&k);
        /* marked packs still count */
        k = simple(c, PEER_TYPE_DELETE, &a);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        k = put(c, &b, 2 * MIB, 0, pb, MIB, false);
        cr_assert_eq(k.err, -EDQUOT, "a marked pack takes its room until purged");
        call_done_free(&k);
        cr_assert_eq(index_peer_set_quota(d.index, &owner, 5 * MIB), 0);
        cr_assert_eq(put_all(c, &b, pb, 2 * MIB, MIB), 0);
        client_free(c);
}

static bool purged(const struct oid *pack)
{
        struct index_hosted row;

        return index_hosted_get(d.index, &owner, pack, &row) == -ENOENT && !pack_file_exists(&owner, pack, "");
}

Test(peer_host, delete_marks_undelete_and_purge)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 5000;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);

        hello(c);
        cr_assert_eq(put_all(c, &pack, p, len, len), 0);
        int64_t before = now_ns();
        struct call k = simple(c, PEER_TYPE_DELETE, &pack);
        cr_assert_eq(k.err, 0);
        struct msg_map b = msg_body(k.reply);
        int64_t deleted, purge;
        cr_assert_eq(msg_map_get_int(&b, PEER_KEY_DELETED_AT, &deleted), 0);
        cr_assert_eq(msg_map_get_int(&b, PEER_KEY_PURGE_AT, &purge), 0);
        cr_assert_geq(deleted, before);
        cr_assert_eq(purge - deleted, (int64_t)(30 * NSEC_PER_DAY));
        call_done_free(&k);
        cr_assert(pack_file_exists(&owner, &pack, ""), "a DELETE only marks");

        k = simple(c, PEER_TYPE_USAGE, NULL);
        cr_assert_eq(reply_uint(&k, PEER_KEY_MARKED), len);
        cr_assert_eq(reply_uint(&k, PEER_KEY_USED), len);
        call_done_free(&k);
        k = simple(c, PEER_TYPE_STAT, &pack);
        cr_assert_eq(k.err, 0);
        b = msg_body(k.reply);
        cr_assert_eq(msg_map_get_int(&b, PEER_KEY_PURGE_AT, &purge), 0);
        call_done_free(&k);
        k = get(c, &pack, 0, 10);
        cr_assert_eq(k.err, 0, "a marked pack can still be read");
        call_done_free(&k);

        /* the purge leaves packs within their delay alone */
        peer_host_purge(host);
        for (int i = 0; i < 200; i++)
                loop_once();
        cr_assert(pack_file_exists(&owner, &pack, ""));

        k = simple(c, PEER_TYPE_UNDELETE, &pack);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        k = simple(c, PEER_TYPE_USAGE, NULL);
        cr_assert_eq(reply_uint(&k, PEER_KEY_MARKED), 0);
        call_done_free(&k);

        /* marked again, with a delay that is over: the purge takes the bytes */
        k = simple(c, PEER_TYPE_DELETE, &pack);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        cr_assert_eq(index_peer_remove(d.index, &owner), 0);
        cr_assert_eq(index_peer_add(d.index, &owner, "owner", NULL, 64 * MIB, 1), 0);
        struct timespec ms = { 0, 5 * 1000000 };
        nanosleep(&ms, NULL);
        peer_host_purge(host);
        int64_t end = monotonic_ns() + 10 * INT64_C(1000000000);
        while (!purged(&pack) && monotonic_ns() < end)
                loop_once();
        cr_assert(purged(&pack), "purged after its delay");
        k = simple(c, PEER_TYPE_UNDELETE, &pack);
        cr_assert_eq(k.err, -ENOENT, "too late to undelete");
        call_done_free(&k);
        k = simple(c, PEER_TYPE_USAGE, NULL);
        cr_assert_eq(reply_uint(&k, PEER_KEY_USED), 0);
        call_done_free(&k);
        client_free(c);
}

Test(peer_host, marked_pack_uploaded_again_replaces_it)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 3 * MIB;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);

        hello(c);
        cr_assert_eq(put_all(c, &pack, p, len, MIB), 0);
        struct call k = simple(c, PEER_TYPE_DELETE, &pack);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        /* a bad upload never replaces the marked copy */
        p[7] ^= 0xff;
        cr_assert_eq(put_all(c, &pack, p, len, MIB), -EBADMSG);
        p[7] ^= 0xff;
        struct index_hosted row;
        cr_assert_eq(index_hosted_get(d.index, &owner, &pack, &row), 0);
        cr_assert_neq(row.deleted_ns, 0, "still marked");
        cr_assert(pack_file_exists(&owner, &pack, ""), "the marked copy is kept");
        /* a good one does, and clears the mark */
        cr_assert_eq(put_all(c, &pack, p, len, MIB), 0);
        cr_assert_eq(index_hosted_get(d.index, &owner, &pack, &row), 0);
        cr_assert_eq(row.deleted_ns, 0);
        cr_assert(pack_file_exists(&owner, &pack, ""));
        cr_assert(!pack_file_exists(&owner, &pack, "replace/"));
        k = get(c, &pack, 0, len);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(memcmp(k.data, p, len), 0);
        call_done_free(&k);
        k = simple(c, PEER_TYPE_USAGE, NULL);
        cr_assert_eq(reply_uint(&k, PEER_KEY_USED), len, "counted once");
        call_done_free(&k);
        client_free(c);
}

Test(peer_host, replacements_are_never_lost)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 2 * MIB;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);
        char main_path[512], repl_path[512], cmd[2200];

        hello(c);
        cr_assert_eq(put_all(c, &pack, p, len, MIB), 0);
        struct call k = simple(c, PEER_TYPE_DELETE, &pack);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);

        /* the id fixes the size: a replacement of another size is refused */
        k = put(c, &pack, len + 1, 0, p, MIB, false);
        cr_assert_neq(k.err, 0, "a replacement of another SIZE");
        call_done_free(&k);
        cr_assert(!pack_file_exists(&owner, &pack, "replace/"));

        /* a swap cut short after the old copy went: only replace/ holds it.
         * UNDELETE puts it in place before it says the pack is held. */
        pack_path(&owner, &pack, "", main_path, sizeof(main_path));
        pack_path(&owner, &pack, "replace/", repl_path, sizeof(repl_path));
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\" && mv '%s' '%s'", repl_path, main_path, repl_path);
        cr_assert_eq(system(cmd), 0);
        cr_assert(!pack_file_exists(&owner, &pack, ""));
        k = simple(c, PEER_TYPE_UNDELETE, &pack);
        cr_assert_eq(k.err, 0, "undelete: %s", strerror(-k.err));
        call_done_free(&k);
        cr_assert(pack_file_exists(&owner, &pack, ""), "the swap was finished");
        cr_assert(!pack_file_exists(&owner, &pack, "replace/"));
        k = get(c, &pack, 0, len);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(memcmp(k.data, p, len), 0);
        call_done_free(&k);

        /* marked, its delay over, and being uploaded again: the purge leaves
         * it to that upload, whose commit keeps it */
        k = simple(c, PEER_TYPE_DELETE, &pack);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        cr_assert_eq(index_peer_remove(d.index, &owner), 0);
        cr_assert_eq(index_peer_add(d.index, &owner, "owner", NULL, 64 * MIB, 1), 0);
        k = put(c, &pack, len, 0, p, MIB, false);
        cr_assert_eq(k.err, 0, "the first half of a replacement: %s", strerror(-k.err));
        call_done_free(&k);
        struct timespec ms = { 0, 5 * 1000000 };
        nanosleep(&ms, NULL);
        peer_host_purge(host);
        for (int i = 0; i < 300; i++)
                loop_once();
        cr_assert(pack_file_exists(&owner, &pack, ""), "not purged under its upload");
        struct index_hosted row;
        cr_assert_eq(index_hosted_get(d.index, &owner, &pack, &row), 0);
        k = simple(c, PEER_TYPE_UNDELETE, &pack);
        cr_assert_neq(k.err, 0, "no undelete while an upload of it runs");
        call_done_free(&k);
        k = put(c, &pack, len, MIB, p + MIB, len - MIB, true);
        cr_assert_eq(k.err, 0, "the commit: %s", strerror(-k.err));
        cr_assert(reply_bool(&k, PEER_KEY_COMMITTED));
        call_done_free(&k);
        cr_assert_eq(index_hosted_get(d.index, &owner, &pack, &row), 0);
        cr_assert_eq(row.deleted_ns, 0);
        k = get(c, &pack, 0, len);
        cr_assert_eq(k.err, 0);
        cr_assert_eq(memcmp(k.data, p, len), 0);
        call_done_free(&k);
        client_free(c);
}

Test(peer_host, a_peer_reaches_only_its_own_packs)
{
        struct client *a = client_new(&owner), *b = client_new(&other);
        struct oid pack;
        size_t len = 1000;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);

        hello(a);
        hello(b);
        cr_assert_eq(put_all(a, &pack, p, len, len), 0);
        struct call k = get(b, &pack, 0, 10);
        cr_assert_eq(k.err, -ENOENT);
        call_done_free(&k);
        k = simple(b, PEER_TYPE_DELETE, &pack);
        cr_assert_eq(k.err, -ENOENT);
        call_done_free(&k);
        k = simple(b, PEER_TYPE_LIST, NULL);
        cr_assert_eq(k.err, 0);
        struct msg_map m = msg_body(k.reply);
        size_t n = 0;
        msg_map_get_count(&m, PEER_KEY_ENTRIES, &n);
        cr_assert_eq(n, 0);
        call_done_free(&k);
        client_free(a);
        client_free(b);
}

/* GET replies held in memory count against the peer, over all its
 * sessions: a peer that opens a second connection gets no second share of
 * the host's budget, and another peer still gets its own. */
Test(peer_host, get_budget_is_per_peer, .timeout = 60)
{
        struct client *a = client_new(&owner), *b = client_new(&other);
        struct oid pa, pb;
        size_t len = PEER_DATA_MAX;
        _cleanup_free_ uint8_t *p = make_pack(len, &pa), *q = make_pack(1000, &pb);

        hello(a);
        hello(b);
        cr_assert_eq(put_all(a, &pa, p, len, 4 * MIB), 0);
        cr_assert_eq(put_all(b, &pb, q, 1000, 1000), 0);

        /* a's first connection asks for 32 MiB and takes none of it */
        struct call held[2];
        bufferevent_disable(a->bev, EV_READ);
        get_async(a, &pa, len, &held[0]);
        get_async(a, &pa, len, &held[1]);

        /* its second connection is refused once those are read: the bytes
         * wait in the host for the first connection's reader */
        struct client *a2 = client_new(&owner);
        hello(a2);
        int err = 0;
        int64_t end = monotonic_ns() + 10 * INT64_C(1000000000);
        while (err != -EBUSY && monotonic_ns() < end) {
                struct call k = get(a2, &pa, 0, 1);
                err = k.err;
                call_done_free(&k);
        }
        cr_assert_eq(err, -EBUSY, "a second connection of the same peer got a second GET budget");
        /* another peer is not starved */
        struct call k = get(b, &pb, 0, 1000);
        cr_assert_eq(k.err, 0, "%s", strerror(-k.err));
        cr_assert_eq(k.data_len, 1000);
        call_done_free(&k);

        /* once taken, the budget is back */
        bufferevent_enable(a->bev, EV_READ);
        end = monotonic_ns() + 20 * INT64_C(1000000000);
        while (!(held[0].done && held[1].done) && monotonic_ns() < end)
                loop_once();
        for (int i = 0; i < 2; i++) {
                cr_assert(held[i].done);
                cr_assert_eq(held[i].err, 0);
                cr_assert_eq(held[i].data_len, len);
                call_done_free(&held[i]);
        }
        k = get(a2, &pa, 0, 1);
        cr_assert_eq(k.err, 0, "%s", strerror(-k.err));
        call_done_free(&k);
        client_free(a2);
        client_free(a);
        client_free(b);
}

Test(peer_host, removed_peer_is_denied)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        _cleanup_free_ uint8_t *p = make_pack(1000, &pack);

        hello(c);
        cr_assert_eq(index_peer_remove(d.index, &owner), 0);
        struct call k = put(c, &pack, 1000, 0, p, 1000, true);
        cr_assert_eq(k.err, -EACCES);
        call_done_free(&k);
        client_free(c);
}
