/* SPDX-License-Identifier: MIT */
/* The local directory store: resumable ranged puts across a reopen, commit
 * hash check, ranged gets, stat, list, delete, prove, partial clean-up and
 * linking a pack written by the pack writer. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "pack.h"
#include "record.h"
#include "store-local.h"

static char dir[] = "/tmp/chute-test-store-XXXXXX";

static void setup(void)
{
        cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(store_local, .init = setup, .fini = teardown);

#define BLOB_SIZE (300 * 1000 + 17)

/* Some bytes and their SHA-256 as pack id (a store needs no real pack). */
static uint8_t *blob_make(struct oid *ret_id)
{
        uint8_t *b = malloc(BLOB_SIZE);

        cr_assert_not_null(b);
        cr_assert_eq(crypto_random(b, BLOB_SIZE), 0);
        cr_assert_eq(crypto_sha256(b, BLOB_SIZE, ret_id->bytes), 0);
        return b;
}

static void put_all(struct store *s, const struct oid *id, const uint8_t *b)
{
        for (size_t off = 0; off < BLOB_SIZE; off += 65536)
                cr_assert_eq(store_put(s, id, off, b + off, MIN((size_t) 65536, BLOB_SIZE - off)), 0);
        cr_assert_eq(store_put_commit(s, id, BLOB_SIZE), 0);
}

Test(store_local, put_resume_commit_get)
{
        struct store *s;
        struct oid id;
        _cleanup_free_ uint8_t *b = blob_make(&id), *got = malloc(BLOB_SIZE);
        uint64_t size = 1;

        cr_assert_eq(store_local_new(dir, &s), 0);
        cr_assert_eq(store_stat(s, &id, &size), -ENOENT);
        cr_assert_eq(store_partial_size(s, &id, &size), 0);
        cr_assert_eq(size, 0);

        /* First 100 000 bytes in ranges, then the "connection" drops. */
        cr_assert_eq(store_put(s, &id, 0, b, 40000), 0);
        cr_assert_eq(store_put(s, &id, 40000, b + 40000, 60000), 0);
        cr_assert_eq(store_put_commit(s, &id, BLOB_SIZE), -ENODATA);
        cr_assert_eq(store_stat(s, &id, &size), -ENOENT); /* not visible yet */
        store_free(s);

        /* Reopen, resume where it stopped; a write past the end is refused. */
        cr_assert_eq(store_local_new(dir, &s), 0);
        cr_assert_eq(store_partial_size(s, &id, &size), 0);
        cr_assert_eq(size, 100000);
        cr_assert_eq(store_put(s, &id, size + 1, b + size + 1, 10), -EINVAL);
        /* Overlapping a range already written is fine (same bytes). */
        cr_assert_eq(store_put(s, &id, 90000, b + 90000, BLOB_SIZE - 90000), 0);
        cr_assert_eq(store_put_commit(s, &id, BLOB_SIZE), 0);
        cr_assert_eq(store_put_commit(s, &id, BLOB_SIZE), 0); /* a retried commit */
        cr_assert_eq(store_partial_size(s, &id, &size), 0);
        cr_assert_eq(size, 0);
        cr_assert_eq(store_put(s, &id, 0, b, 10), -EEXIST);

        cr_assert_eq(store_stat(s, &id, &size), 0);
        cr_assert_eq(size, BLOB_SIZE);
        cr_assert_eq(store_get(s, &id, 0, BLOB_SIZE, got), 0);
        cr_assert(memcmp(got, b, BLOB_SIZE) == 0);
        cr_assert_eq(store_get(s, &id, 12345, 999, got), 0);
        cr_assert(memcmp(got, b + 12345, 999) == 0);
        cr_assert_eq(store_get(s, &id, BLOB_SIZE - 10, 10, got), 0);
        cr_assert(memcmp(got, b + BLOB_SIZE - 10, 10) == 0);
        cr_assert_eq(store_get(s, &id, BLOB_SIZE - 10, 11, got), -ERANGE);
        cr_assert_eq(store_get(s, &id, BLOB_SIZE + 1, 0, got), -ERANGE);

        /* Laid out as documented: DIR/xx/<hex>. */
        {
                char hex[OID_HEX_SIZE], path[512];
                struct stat st;

                oid_to_hex(&id, hex);
                snprintf(path, sizeof(path), "%s/%.2s/%s", dir, hex, hex);
                cr_assert_eq(stat(path, &st), 0);
                cr_assert_eq(st.st_size, BLOB_SIZE);
        }
        store_free(s);
}

Test(store_local, commit_rejects_wrong_hash)
{
        struct store *s;
        struct oid id, wrong;
        _cleanup_free_ uint8_t *b = blob_make(&id);
        uint64_t size;

        cr_assert_eq(store_local_new(dir, &s), 0);
        wrong = id;
        wrong.bytes[0] ^= 1;
        cr_assert_eq(store_put(s, &wrong, 0, b, BLOB_SIZE), 0);
        cr_assert_eq(store_put_commit(s, &wrong, BLOB_SIZE), -EBADMSG);
        cr_assert_eq(store_stat(s, &wrong, &size), -ENOENT);
        cr_assert_eq(store_partial_size(s, &wrong, &size), 0);
        cr_assert_eq(size, 0); /* dropped: resuming it would be pointless */

        /* Too many bytes for the declared size. */
        cr_assert_eq(store_put(s, &id, 0, b, BLOB_SIZE), 0);
        cr_assert_eq(store_put_commit(s, &id, BLOB_SIZE - 1), -EBADMSG);
        cr_assert_eq(store_stat(s, &id, &size), -ENOENT);
        /* A commit of nothing. */
        cr_assert_eq(store_put_commit(s, &id, BLOB_SIZE), -ENOENT);
        store_free(s);
}

struct listing {
        struct oid ids[8];
        uint64_t sizes[8];
        size_t n;
};

static int list_cb(void *userdata, const struct oid *id, uint64_t size)
{
        struct listing *l = userdata;

        if (l->n == ELEMENTSOF(l->ids))
                return -E2BIG;
        l->ids[l->n] = *id;
        l->sizes[l->n++] = size;
        return 0;
}

static int list_stop_cb(void *userdata, const struct oid *id, uint64_t size)
{
        (void) userdata;
        (void) id;
        (void) size;
        return -ECANCELED;
}

Test(store_local, list_delete_prove)
{
        struct store *s;
        struct oid a, b, partial;
        _cleanup_free_ uint8_t *ba = blob_make(&a), *bb = blob_make(&b), *bp = blob_make(&partial);
        struct listing l = {};
        uint8_t digest[32], want[32], nonce[16] = "challenge-nonce";
        char stray[600];
        int found_a = 0, found_b = 0;

        cr_assert_eq(store_local_new(dir, &s), 0);
        put_all(s, &a, ba);
        put_all(s, &b, bb);
        cr_assert_eq(store_put(s, &partial, 0, bp, 1000), 0);
        /* A stray file in a fan-out dir is not listed. */
        snprintf(stray, sizeof(stray), "%s/00", dir);
        mkdir(stray, 0700);
        snprintf(stray, sizeof(stray), "%s/00/not-a-pack", dir);
        fclose(fopen(stray, "w"));

        cr_assert_eq(store_list(s, list_cb, &l), 0);
        cr_assert_eq(l.n, 2);
        for (size_t i = 0; i < l.n; i++) {
                found_a += oid_cmp(&l.ids[i], &a) == 0;
                found_b += oid_cmp(&l.ids[i], &b) == 0;
                cr_assert_eq(l.sizes[i], BLOB_SIZE);
        }
        cr_assert_eq(found_a, 1);
        cr_assert_eq(found_b, 1);
        cr_assert_eq(store_list(s, list_stop_cb, NULL), -ECANCELED);

        /* prove = SHA-256(nonce ‖ pack) */
        {
                _cleanup_free_ uint8_t *cat = malloc(sizeof(nonce) + BLOB_SIZE);

                memcpy(cat, nonce, sizeof(nonce));
                memcpy(cat + sizeof(nonce), ba, BLOB_SIZE);
                cr_assert_eq(crypto_sha256(cat, sizeof(nonce) + BLOB_SIZE, want), 0);
        }
        cr_assert_eq(store_prove(s, &a, nonce, sizeof(nonce), digest), 0);
        cr_assert(memcmp(digest, want, 32) == 0);
        nonce[0] ^= 1;
        cr_assert_eq(store_prove(s, &a, nonce, sizeof(nonce), digest), 0);
        cr_assert(memcmp(digest, want, 32) != 0);
        cr_assert_eq(store_prove(s, &partial, nonce, sizeof(nonce), digest), -ENOENT);

        cr_assert_eq(store_del(s, &a), 0);
        cr_assert_eq(store_del(s, &a), -ENOENT);
        cr_assert_eq(store_stat(s, &a, NULL), -ENOENT);
        cr_assert_eq(store_get(s, &a, 0, 1, digest), -ENOENT);
        cr_assert_eq(store_del(s, &partial), 0); /* drops the partial upload */
        l.n = 0;
        cr_assert_eq(store_list(s, list_cb, &l), 0);
        cr_assert_eq(l.n, 1);
        cr_assert(oid_cmp(&l.ids[0], &b) == 0);
        store_free(s);
}

Test(store_local, gc_partials)
{
        struct store *s;
        struct oid old_id, new_id;
        _cleanup_free_ uint8_t *b1 = blob_make(&old_id), *b2 = blob_make(&new_id);
        char hex[OID_HEX_SIZE], path[512];
        struct timespec times[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
        uint64_t size;

        cr_assert_eq(store_local_new(dir, &s), 0);
        cr_assert_eq(store_put(s, &old_id, 0, b1, 100), 0);
        cr_assert_eq(store_put(s, &new_id, 0, b2, 100), 0);
        oid_to_hex(&old_id, hex);
        snprintf(path, sizeof(path), "%s/tmp/%s.part", dir, hex);
        cr_assert_eq(utimensat(AT_FDCWD, path, times, 0), 0);

        cr_assert_eq(store_local_gc_partials(s, 3600), 1);
        cr_assert_eq(store_partial_size(s, &old_id, &size), 0);
        cr_assert_eq(size, 0);
        cr_assert_eq(store_partial_size(s, &new_id, &size), 0);
        cr_assert_eq(size, 100);
        store_free(s);
}

Test(store_local, link_pack_from_writer)
{
        uint8_t pack_key[32], enc_key[32], rec[256];
        struct store *s;
        struct pack_writer *w;
        struct oid obj = {}, pack_id, wrong;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ struct pack_entry *entries = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        uint64_t size, stored;
        size_t rlen, n;

        cr_assert_eq(crypto_random(pack_key, 32), 0);
        cr_assert_eq(crypto_random(enc_key, 32), 0);
        cr_assert_eq(store_local_new(dir, &s), 0);
        cr_assert_eq(store_local_tmpfile(s, &fd), 0);
        cr_assert_eq(pack_writer_new(CRYPTO_CIPHER_AES256_GCM, pack_key, fd, &w), 0);
        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &obj, OBJECT_TREE, "tree", 4, 0,
                                 rec, sizeof(rec), &rlen),
                     0);
        cr_assert_eq(pack_writer_add(w, &obj, OBJECT_TREE, rec, rlen), 0);
        cr_assert_eq(pack_writer_seal(w, &pack_id, &size, NULL), 0);
        pack_writer_free(w);

        wrong = pack_id;
        wrong.bytes[1] ^= 1;
        cr_assert_eq(store_local_link(s, fd, &wrong), -EBADMSG);
        cr_assert_eq(store_local_link(s, fd, &pack_id), 0);
        cr_assert_eq(store_local_link(s, fd, &pack_id), 0); /* already there */
        cr_assert_eq(store_stat(s, &pack_id, &stored), 0);
        cr_assert_eq(stored, size);

        /* Recovery path: the header through a range read of the store. */
        bytes = malloc(size);
        cr_assert_eq(store_get(s, &pack_id, 0, size, bytes), 0);
        cr_assert_eq(pack_read_header_buffer(bytes, size, pack_key, &entries, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(entries[0].type, OBJECT_TREE);
        store_free(s);
}
