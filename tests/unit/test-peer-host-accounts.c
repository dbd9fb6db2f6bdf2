/* SPDX-License-Identifier: MIT */
/* Tests for what the peer host keeps per peer across requests and sessions
 * (daemon/peer-host*.c): a pack found on disk is recorded once and never
 * unmarked by a late lookup, upload records that nobody finishes stop
 * holding quota, and the packs a purge is deleting are kept from peers whose
 * account is made while it runs. Same fixture as test-peer-host.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "index.h"
#include "parse.h"
#include "peer-host-fixture.h"
#include "peer-host-private.h"

TestSuite(peer_host_accounts, .init = setup, .fini = teardown, .timeout = 60);

static struct host_account *account(const struct oid *id)
{
        struct host_account *a = NULL;

        cr_assert_eq(host_account_get(host, id, &a), 0);
        return a;
}

/* A HAVE or STAT looks at the disk on a store thread and finds a pack with
 * no index row (its commit still running); by the time its answer reaches
 * the loop, the commit recorded the pack and a DELETE marked it. */
Test(peer_host_accounts, a_late_lookup_neither_counts_twice_nor_unmarks)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 5000;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);

        hello(c);
        cr_assert_eq(put_all(c, &pack, p, len, len), 0);
        struct call k = simple(c, PEER_TYPE_DELETE, &pack);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);

        host_reconcile(account(&owner), &pack, len);

        struct index_hosted row;
        cr_assert_eq(index_hosted_get(d.index, &owner, &pack, &row), 0);
        cr_assert_gt(row.deleted_ns, 0, "the DELETE's mark stays");
        k = simple(c, PEER_TYPE_USAGE, NULL);
        cr_assert_eq(reply_uint(&k, PEER_KEY_USED), len, "counted once");
        cr_assert_eq(reply_uint(&k, PEER_KEY_MARKED), len);
        call_done_free(&k);
        client_free(c);
}

/* A pack on disk with no row at all (a commit cut before its row) is
 * recorded, and counted, once. */
Test(peer_host_accounts, a_pack_on_disk_without_a_row_is_recorded_once)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 7000;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);

        hello(c);
        cr_assert_eq(put_all(c, &pack, p, len, len), 0);
        struct host_account *a = account(&owner);
        cr_assert_eq(index_hosted_remove(d.index, &owner, &pack), 0);
        a->used -= len;

        host_reconcile(a, &pack, len);
        host_reconcile(a, &pack, len);

        struct call k = simple(c, PEER_TYPE_USAGE, NULL);
        cr_assert_eq(reply_uint(&k, PEER_KEY_USED), len);
        call_done_free(&k);
        client_free(c);
}

/* The SIZE of an upload never finished stops counting against the quota
 * once the upload is old; the bytes it left can still be resumed. */
Test(peer_host_accounts, uploads_nobody_finishes_expire)
{
        struct client *c = client_new(&owner);
        struct oid a, b;
        _cleanup_free_ uint8_t *pa = make_pack(3 * MIB, &a), *pb = make_pack(2 * MIB, &b);

        cr_assert_eq(index_peer_set_quota(d.index, &owner, 4 * MIB), 0);
        hello(c);
        struct call k = put(c, &a, 3 * MIB, 0, pa, MIB, false);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        k = put(c, &b, 2 * MIB, 0, pb, MIB, false);
        cr_assert_eq(k.err, -EDQUOT, "the unfinished upload holds its 3 MiB");
        call_done_free(&k);

        host_uploads_expire(host, now_ns() - 3600 * (int64_t)NSEC_PER_SEC);
        k = put(c, &b, 2 * MIB, 0, pb, MIB, false);
        cr_assert_eq(k.err, -EDQUOT, "an upload touched within the hour stays");
        call_done_free(&k);

        host_uploads_expire(host, now_ns() + 1);
        cr_assert_eq(put_all(c, &b, pb, 2 * MIB, MIB), 0, "once it expired, its room is free");
        k = simple(c, PEER_TYPE_STAT, &a);
        cr_assert_eq(k.err, 0, "its partial is still there");
        cr_assert_eq(reply_uint(&k, PEER_KEY_DURABLE), MIB);
        call_done_free(&k);
        client_free(c);
}

/* The purge marks what it deletes for every peer, not only for those
 * connected when it started: a peer that connects while it runs cannot
 * undelete or upload again a pack whose bytes are going. */
Test(peer_host_accounts, a_purge_covers_accounts_made_while_it_runs)
{
        struct oid pack = { .bytes = { 0x5a, 0x17 } };
        int64_t long_ago = now_ns() - 60 * NSEC_PER_DAY;
        int64_t deleted;

        cr_assert_eq(index_hosted_add(d.index, &other, &pack, 1000), 0);
        cr_assert_eq(index_hosted_mark(d.index, &other, &pack, long_ago, &deleted), 0);
        peer_host_purge(host); /* marks now; deletes on a store thread */

        struct host_account *a = account(&other); /* its first session, meanwhile */
        cr_assert(host_account_purging(a, &pack));
        struct oid another = pack;
        another.bytes[31] ^= 1;
        cr_assert_not(host_account_purging(a, &another));
        cr_assert_not(host_account_purging(account(&owner), &pack), "only that peer's pack");

        int64_t end = monotonic_ns() + 10 * INT64_C(1000000000);
        struct index_hosted row;
        while (index_hosted_get(d.index, &other, &pack, &row) != -ENOENT && monotonic_ns() < end)
                loop_once();
        cr_assert_eq(index_hosted_get(d.index, &other, &pack, &row), -ENOENT, "purged");
        cr_assert_not(host_account_purging(a, &pack), "the marks go with the purge");
}

/* Uploading marked packs again puts second copies outside the quota until
 * they commit: a few at a time. */
Test(peer_host_accounts, few_marked_packs_are_uploaded_again_at_once)
{
        struct client *c = client_new(&owner);
        struct oid ids[PEER_HOST_REPLACING + 1];
        uint8_t *p[PEER_HOST_REPLACING + 1];
        size_t len = 4000;

        hello(c);
        for (size_t i = 0; i <= PEER_HOST_REPLACING; i++) {
                p[i] = make_pack(len, &ids[i]);
                cr_assert_eq(put_all(c, &ids[i], p[i], len, len), 0);
                struct call k = simple(c, PEER_TYPE_DELETE, &ids[i]);
                cr_assert_eq(k.err, 0);
                call_done_free(&k);
        }
        for (size_t i = 0; i <= PEER_HOST_REPLACING; i++) {
                struct call k = put(c, &ids[i], len, 0, p[i], len / 2, false);
                if (i < PEER_HOST_REPLACING)
                        cr_assert_eq(k.err, 0, "replacement %zu", i);
                else
                        cr_assert_eq(k.err, -EBUSY, "one more than %d at once", PEER_HOST_REPLACING);
                call_done_free(&k);
        }
        /* one finished makes room */
        struct call k = put(c, &ids[0], len, len / 2, p[0] + len / 2, len - len / 2, true);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        k = put(c, &ids[PEER_HOST_REPLACING], len, 0, p[PEER_HOST_REPLACING], len, true);
        cr_assert_eq(k.err, 0);
        call_done_free(&k);
        for (size_t i = 0; i <= PEER_HOST_REPLACING; i++)
                free(p[i]);
        client_free(c);
}

static void prove_async(struct client *c, const struct oid *pack, struct call *k)
{
        struct msg *m = req_new(PEER_TYPE_PROVE);
        struct msg_map b = msg_body(m);
        uint8_t nonce[16] = { 1, 2, 3 };

        msg_map_set_bytes(&b, PEER_KEY_PACK, pack->bytes, OID_SIZE);
        msg_map_set_bytes(&b, PEER_KEY_NONCE, nonce, sizeof(nonce));
        memset(k, 0, sizeof(*k));
        cr_assert_eq(peer_conn_request(c->conn, m, NULL, 0, NULL, NULL, call_done, k), 0);
        msg_free(m);
}

/* A peer's PROVEs (each hashes a whole pack) take at most two of the
 * host's threads; the rest wait their turn and are all answered. */
Test(peer_host_accounts, a_peers_proves_take_two_threads_at_most)
{
        struct client *c = client_new(&owner);
        struct oid pack;
        size_t len = 8 * MIB;
        _cleanup_free_ uint8_t *p = make_pack(len, &pack);
        struct call k[6];
        unsigned most = 0, waited = 0;

        hello(c);
        cr_assert_eq(put_all(c, &pack, p, len, 4 * MIB), 0);
        struct host_account *a = account(&owner);
        for (size_t i = 0; i < 6; i++)
                prove_async(c, &pack, &k[i]);
        int64_t end = monotonic_ns() + 30 * INT64_C(1000000000);
        for (;;) {
                size_t done = 0;
                for (size_t i = 0; i < 6; i++)
                        done += k[i].done;
                if (done == 6 || monotonic_ns() > end)
                        break;
                loop_once();
                most = MAX(most, a->proves_running);
                if (a->prove_queue)
                        waited = 1;
        }
        cr_assert_leq(most, PEER_HOST_PEER_PROVES);
        cr_assert(waited, "some waited their turn");
        for (size_t i = 0; i < 6; i++) {
                cr_assert(k[i].done, "PROVE %zu answered", i);
                cr_assert_eq(k[i].err, 0);
                call_done_free(&k[i]);
        }
        cr_assert_eq(a->proves_running, 0);
        client_free(c);
}
