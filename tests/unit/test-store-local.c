/* SPDX-License-Identifier: MIT */
/* The local directory store: whole-pack puts (an anonymous file linked in
 * place, other files copied, hash checks, idempotence), resumable ranged
 * puts across a reopen, commit hash check, ranged gets, stat, paginated
 * list in id order, delete, prove, partial clean-up; store.h's wrappers. */

#include <criterion/criterion.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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
                cr_assert_eq(store_put_range(s, id, off, b + off, MIN((size_t) 65536, BLOB_SIZE - off)), 0);
        cr_assert_eq(store_commit(s, id, BLOB_SIZE), 0);
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
        cr_assert_eq(store_put_range(s, &id, 0, b, 40000), 0);
        cr_assert_eq(store_put_range(s, &id, 40000, b + 40000, 60000), 0);
        cr_assert_eq(store_commit(s, &id, BLOB_SIZE), -ENODATA);
        cr_assert_eq(store_stat(s, &id, &size), -ENOENT); /* not visible yet */
        store_free(s);

        /* Reopen, resume where it stopped; a write past the end is refused. */
        cr_assert_eq(store_local_new(dir, &s), 0);
        cr_assert_eq(store_partial_size(s, &id, &size), 0);
        cr_assert_eq(size, 100000);
        cr_assert_eq(store_put_range(s, &id, size + 1, b + size + 1, 10), -EINVAL);
        /* Overlapping a range already written is fine (same bytes). */
        cr_assert_eq(store_put_range(s, &id, 90000, b + 90000, BLOB_SIZE - 90000), 0);
        cr_assert_eq(store_commit(s, &id, BLOB_SIZE), 0);
        cr_assert_eq(store_commit(s, &id, BLOB_SIZE), 0); /* a retried commit */
        cr_assert_eq(store_partial_size(s, &id, &size), 0);
        cr_assert_eq(size, 0);
        cr_assert_eq(store_put_range(s, &id, 0, b, 10), -EEXIST);

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

Test(store_local, put_rangev_writes_iovecs_in_order)
{
        struct store *s;
        struct oid id;
        uint8_t *b = blob_make(&id), got[64];
        uint64_t size;
        /* scattered pieces, as evbuffer_peek hands them out, one a zero-length one */
        struct iovec iov[] = {
                { b, 1 }, { b + 1, 0 }, { b + 1, 4095 }, { b + 4096, 60000 },
                { b + 64096, BLOB_SIZE - 64096 - 5 },
        };

        cr_assert_eq(store_local_new(dir, &s), 0);
        cr_assert_eq(store_put_rangev(s, &id, 0, iov, 3), 0);
        cr_assert_eq(store_partial_size(s, &id, &size), 0);
        cr_assert_eq(size, 4096);
        cr_assert_eq(store_put_rangev(s, &id, 4096, iov + 3, 2), 0);
        cr_assert_eq(store_put_rangev(s, &id, BLOB_SIZE - 5, &(struct iovec){ b + BLOB_SIZE - 5, 5 }, 1), 0);
        cr_assert_eq(store_put_rangev(s, &id, 0, NULL, -1), -EINVAL);
        cr_assert_eq(store_commit(s, &id, BLOB_SIZE), 0, "hash of the joined pieces is the id");
        cr_assert_eq(store_get(s, &id, 4090, sizeof(got), got), 0);
        cr_assert_arr_eq(got, b + 4090, sizeof(got));
        store_free(s);
        free(b);
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
        cr_assert_eq(store_put_range(s, &wrong, 0, b, BLOB_SIZE), 0);
        cr_assert_eq(store_commit(s, &wrong, BLOB_SIZE), -EBADMSG);
        cr_assert_eq(store_stat(s, &wrong, &size), -ENOENT);
        cr_assert_eq(store_partial_size(s, &wrong, &size), 0);
        cr_assert_eq(size, 0); /* dropped: resuming it would be pointless */

        /* Too many bytes for the declared size. */
        cr_assert_eq(store_put_range(s, &id, 0, b, BLOB_SIZE), 0);
        cr_assert_eq(store_commit(s, &id, BLOB_SIZE - 1), -EBADMSG);
        cr_assert_eq(store_stat(s, &id, &size), -ENOENT);
        /* A commit of nothing. */
        cr_assert_eq(store_commit(s, &id, BLOB_SIZE), -ENOENT);
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
        cr_assert_eq(store_put_range(s, &partial, 0, bp, 1000), 0);
        /* A stray file in a fan-out dir is not listed. */
        snprintf(stray, sizeof(stray), "%s/00", dir);
        mkdir(stray, 0700);
        snprintf(stray, sizeof(stray), "%s/00/not-a-pack", dir);
        fclose(fopen(stray, "w"));

        cr_assert_eq(store_list_all(s, list_cb, &l), 0);
        cr_assert_eq(l.n, 2);
        for (size_t i = 0; i < l.n; i++) {
                found_a += oid_cmp(&l.ids[i], &a) == 0;
                found_b += oid_cmp(&l.ids[i], &b) == 0;
                cr_assert_eq(l.sizes[i], BLOB_SIZE);
        }
        cr_assert_eq(found_a, 1);
        cr_assert_eq(found_b, 1);
        cr_assert_eq(store_list_all(s, list_stop_cb, NULL), -ECANCELED);

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
        cr_assert_eq(store_list_all(s, list_cb, &l), 0);
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
        cr_assert_eq(store_put_range(s, &old_id, 0, b1, 100), 0);
        cr_assert_eq(store_put_range(s, &new_id, 0, b2, 100), 0);
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

/* An anonymous file in dir/tmp (the packer's staging directory) holding len bytes of b. */
static int tmpfile_with(const uint8_t *b, size_t len)
{
        char tmp[512];
        int fd;

        snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
        fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        cr_assert_geq(fd, 0);
        cr_assert_eq(pwrite(fd, b, len, 0), (ssize_t) len);
        return fd;
}

static void pack_file_stat(const struct oid *id, struct stat *ret)
{
        char hex[OID_HEX_SIZE], path[512];

        oid_to_hex(id, hex);
        snprintf(path, sizeof(path), "%s/%.2s/%s", dir, hex, hex);
        cr_assert_eq(stat(path, ret), 0, "%s", path);
}

/* Files in dir/tmp (leftover partial uploads). */
static int tmp_entries(void)
{
        char cmd[600];
        FILE *f;
        int n = -1;

        snprintf(cmd, sizeof(cmd), "ls -A '%s/tmp' | wc -l", dir);
        f = popen(cmd, "r");
        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%d", &n), 1);
        pclose(f);
        return n;
}

Test(store_local, put_links_anonymous_file)
{
        struct store *s;
        struct oid id, wrong;
        _cleanup_free_ uint8_t *b = blob_make(&id), *got = malloc(BLOB_SIZE);
        _cleanup_close_ int fd = -1;
        struct stat fst, pst;
        uint64_t size;

        cr_assert_eq(store_local_new(dir, &s), 0);
        fd = tmpfile_with(b, BLOB_SIZE);
        wrong = id;
        wrong.bytes[3] ^= 0x40;
        /* Not trusted: hashed, and a wrong id leaves nothing visible. */
        cr_assert_eq(store_put(s, &wrong, fd, BLOB_SIZE, 0), -EBADMSG);
        cr_assert_eq(store_stat(s, &wrong, &size), -ENOENT);
        cr_assert_eq(tmp_entries(), 0);

        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE, STORE_PUT_TRUSTED), 0);
        /* The caller's file itself became the pack: no copy. */
        cr_assert_eq(fstat(fd, &fst), 0);
        pack_file_stat(&id, &pst);
        cr_assert_eq(fst.st_ino, pst.st_ino);
        cr_assert_eq(pst.st_mode & 0777, 0600);
        cr_assert_eq(store_stat(s, &id, &size), 0);
        cr_assert_eq(size, BLOB_SIZE);
        cr_assert_eq(store_get(s, &id, 0, BLOB_SIZE, got), 0);
        cr_assert(memcmp(got, b, BLOB_SIZE) == 0);
        /* Idempotent: again (trusted or not), or from another file, is 0. */
        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE, STORE_PUT_TRUSTED), 0);
        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE, 0), 0);
        {
                _cleanup_close_ int fd2 = tmpfile_with(b, BLOB_SIZE);
                cr_assert_eq(store_put(s, &id, fd2, BLOB_SIZE, 0), 0);
                pack_file_stat(&id, &pst);
                cr_assert_eq(fst.st_ino, pst.st_ino); /* left as it was */
        }
        /* ... but not with another size. */
        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE - 1, 0), -EEXIST);
        /* Bad arguments. */
        cr_assert_eq(store_put(s, &id, -1, BLOB_SIZE, 0), -EINVAL);
        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE, 0x80), -EINVAL);
        cr_assert_eq(store_put(s, &wrong, fd, PACK_MAX_SIZE + 1, 0), -EFBIG);
        store_free(s);
}

/* A damaged pack file is replaced by renaming the checked bytes over it;
 * wrong bytes leave it as it was. */
Test(store_local, put_replace_renames_over_a_bad_file)
{
        struct store *s;
        struct oid id;
        _cleanup_free_ uint8_t *b = blob_make(&id), *got = malloc(BLOB_SIZE);
        char hex[OID_HEX_SIZE], path[512];
        struct stat before, after;

        cr_assert_eq(store_local_new(dir, &s), 0);
        _cleanup_close_ int fd = tmpfile_with(b, BLOB_SIZE);
        put_all(s, &id, b);
        oid_to_hex(&id, hex);
        snprintf(path, sizeof(path), "%s/%.2s/%s", dir, hex, hex);
        _cleanup_close_ int rw = open(path, O_RDWR | O_CLOEXEC);
        cr_assert_geq(rw, 0);
        cr_assert_eq(pwrite(rw, "X", 1, 1000), 1);
        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE, 0), 0, "a plain put takes it for there");

        b[5] ^= 1; /* wrong bytes: refused, the file stays */
        _cleanup_close_ int bad = tmpfile_with(b, BLOB_SIZE);
        b[5] ^= 1;
        cr_assert_eq(stat(path, &before), 0);
        cr_assert_eq(store_put(s, &id, bad, BLOB_SIZE, STORE_PUT_REPLACE), -EBADMSG);
        cr_assert_eq(stat(path, &after), 0);
        cr_assert_eq(before.st_ino, after.st_ino);

        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE, STORE_PUT_REPLACE), 0);
        cr_assert_eq(stat(path, &after), 0);
        cr_assert_neq(before.st_ino, after.st_ino, "a new file, renamed over");
        cr_assert_eq(store_get(s, &id, 0, BLOB_SIZE, got), 0);
        cr_assert(memcmp(got, b, BLOB_SIZE) == 0);
        cr_assert_eq(tmp_entries(), 0);
        store_free(s);
}

Test(store_local, put_copies_other_files)
{
        struct store *s;
        struct oid id, wrong, id2, id3;
        _cleanup_free_ uint8_t *b = blob_make(&id), *b2 = blob_make(&id2), *b3 = blob_make(&id3);
        _cleanup_free_ uint8_t *got = malloc(BLOB_SIZE);
        _cleanup_close_ int fd = -1, mfd = -1, longer = -1;
        char path[512];
        struct stat fst, pst;
        uint64_t size;

        cr_assert_eq(store_local_new(dir, &s), 0);
        /* A named file: its owner may change it later, so it is copied. */
        snprintf(path, sizeof(path), "%s/named", dir);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0);
        cr_assert_eq(pwrite(fd, b, BLOB_SIZE, 0), BLOB_SIZE);

        /* Copies are always hashed, trusted or not. */
        wrong = id;
        wrong.bytes[31] ^= 1;
        cr_assert_eq(store_put(s, &wrong, fd, BLOB_SIZE, STORE_PUT_TRUSTED), -EBADMSG);
        cr_assert_eq(store_put(s, &wrong, fd, BLOB_SIZE, 0), -EBADMSG);
        cr_assert_eq(store_stat(s, &wrong, &size), -ENOENT);
        cr_assert_eq(store_partial_size(s, &wrong, &size), 0);
        cr_assert_eq(size, 0);
        cr_assert_eq(tmp_entries(), 0);
        /* Fewer bytes than claimed. */
        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE + 1, 0), -ENODATA);
        cr_assert_eq(store_stat(s, &id, &size), -ENOENT);

        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE, 0), 0);
        cr_assert_eq(fstat(fd, &fst), 0);
        pack_file_stat(&id, &pst);
        cr_assert_neq(fst.st_ino, pst.st_ino);
        cr_assert_eq(pst.st_mode & 0777, 0600);
        cr_assert_eq(pst.st_nlink, 1);
        cr_assert_eq(store_get(s, &id, 0, BLOB_SIZE, got), 0);
        cr_assert(memcmp(got, b, BLOB_SIZE) == 0);
        cr_assert_eq(tmp_entries(), 0);
        cr_assert_eq(store_put(s, &id, fd, BLOB_SIZE, 0), 0); /* idempotent */

        /* An anonymous file on another filesystem (memfd) cannot be linked: copied. */
        mfd = memfd_create("pack", MFD_CLOEXEC);
        cr_assert_geq(mfd, 0);
        cr_assert_eq(pwrite(mfd, b2, BLOB_SIZE, 0), BLOB_SIZE);
        cr_assert_eq(store_put(s, &id2, mfd, BLOB_SIZE, STORE_PUT_TRUSTED), 0);
        cr_assert_eq(store_get(s, &id2, 0, BLOB_SIZE, got), 0);
        cr_assert(memcmp(got, b2, BLOB_SIZE) == 0);

        /* An anonymous file longer than the pack: only its first size bytes. */
        longer = tmpfile_with(b3, BLOB_SIZE);
        cr_assert_eq(pwrite(longer, "trailing", 8, BLOB_SIZE), 8);
        cr_assert_eq(store_put(s, &id3, longer, BLOB_SIZE, STORE_PUT_TRUSTED), 0);
        cr_assert_eq(store_stat(s, &id3, &size), 0);
        cr_assert_eq(size, BLOB_SIZE);
        cr_assert_eq(store_get(s, &id3, 0, BLOB_SIZE, got), 0);
        cr_assert(memcmp(got, b3, BLOB_SIZE) == 0);
        store_free(s);
}

/* Store a small random pack whose id starts with byte prefix (>= 256: any). */
static void put_small(struct store *s, unsigned prefix, struct oid *ret_id)
{
        uint8_t b[200];
        _cleanup_close_ int fd = -1;

        do {
                cr_assert_eq(crypto_random(b, sizeof(b)), 0);
                cr_assert_eq(crypto_sha256(b, sizeof(b), ret_id->bytes), 0);
        } while (prefix < 256 && ret_id->bytes[0] != prefix);
        fd = tmpfile_with(b, sizeof(b));
        cr_assert_eq(store_put(s, ret_id, fd, sizeof(b), STORE_PUT_TRUSTED), 0);
}

static int oid_qsort(const void *a, const void *b)
{
        return oid_cmp(a, b);
}

struct page {
        struct oid ids[16];
        size_t n;
};

static int page_cb(void *userdata, const struct oid *id, uint64_t size)
{
        struct page *p = userdata;

        cr_assert_eq(size, 200);
        cr_assert_lt(p->n, ELEMENTSOF(p->ids));
        p->ids[p->n++] = *id;
        return 0;
}

Test(store_local, list_pages_in_id_order)
{
        struct store *s;
        struct oid all[8], last;
        struct page p;
        size_t at = 0;
        int more;

        cr_assert_eq(store_local_new(dir, &s), 0);
        /* Three packs in one fan-out directory (sorted within it), the rest anywhere. */
        put_small(s, 0x7f, &all[0]);
        put_small(s, 0x7f, &all[1]);
        put_small(s, 0x7f, &all[2]);
        for (size_t i = 3; i < 8; i++)
                put_small(s, 256, &all[i]);
        qsort(all, 8, sizeof(all[0]), oid_qsort);

        /* Pages of 3: 3 + 3 + 2, more on all but the last, continuing after the last id. */
        for (int page = 0; page < 3; page++) {
                p.n = 0;
                more = -1;
                cr_assert_eq(store_list(s, page ? &last : NULL, 3, page_cb, &p, &more), 0);
                cr_assert_eq(p.n, page < 2 ? 3u : 2u, "page %d", page);
                cr_assert_eq(more, page < 2, "page %d", page);
                for (size_t i = 0; i < p.n; i++)
                        cr_assert(oid_cmp(&p.ids[i], &all[at++]) == 0, "page %d item %zu", page, i);
                last = p.ids[p.n - 1];
        }
        cr_assert_eq(at, 8);
        /* After the last id: nothing, no more. */
        p.n = 0;
        cr_assert_eq(store_list(s, &all[7], 3, page_cb, &p, &more), 0);
        cr_assert_eq(p.n, 0);
        cr_assert_eq(more, 0);
        /* A page that ends exactly at the end says so. */
        p.n = 0;
        cr_assert_eq(store_list(s, &all[1], 6, page_cb, &p, &more), 0);
        cr_assert_eq(p.n, 6);
        cr_assert_eq(more, 0);
        /* after need not be a listed id: the packs above it. */
        last = all[4];
        last.bytes[31] ^= 1;
        p.n = 0;
        cr_assert_eq(store_list(s, &last, 16, page_cb, &p, &more), 0);
        cr_assert_eq(p.n, oid_cmp(&last, &all[4]) < 0 ? 4u : 3u);
        cr_assert(oid_cmp(&p.ids[p.n - 1], &all[7]) == 0);
        /* Everything, page by page. */
        p.n = 0;
        cr_assert_eq(store_list_all(s, page_cb, &p), 0);
        cr_assert_eq(p.n, 8);
        cr_assert(memcmp(p.ids, all, sizeof(all)) == 0);
        cr_assert_eq(store_list(s, NULL, 0, page_cb, &p, &more), -EINVAL);
        store_free(s);
}

/* A store kind with no ranged uploads and a list that repeats itself. */
static int rogue_list(struct store *s, const struct oid *after, size_t max, store_list_fn fn,
                      void *userdata, int *ret_more)
{
        struct oid id = {};
        int r = fn(userdata, &id, 1);

        (void) s;
        (void) after;
        (void) max;
        if (r < 0)
                return r;
        *ret_more = 1;
        return 0;
}

static int count_cb(void *userdata, const struct oid *id, uint64_t size)
{
        (void) id;
        (void) size;
        (*(int *) userdata)++;
        return 0;
}

Test(store_local, wrappers)
{
        static const struct store_ops rogue_ops = { .kind = "rogue", .list = rogue_list };
        struct store rogue = { .ops = &rogue_ops }, *s;
        struct oid id = {};
        uint64_t size;
        int n = 0;

        cr_assert_eq(store_has_ranges(&rogue), 0);
        cr_assert_eq(store_put_range(&rogue, &id, 0, "x", 1), -EOPNOTSUPP);
        cr_assert_eq(store_commit(&rogue, &id, 1), -EOPNOTSUPP);
        cr_assert_eq(store_partial_size(&rogue, &id, &size), -EOPNOTSUPP);
        /* The same id again on the next page: refused rather than looping. */
        cr_assert_eq(store_list_all(&rogue, count_cb, &n), -EBADMSG);
        cr_assert_eq(n, 1);

        cr_assert_eq(store_local_new(dir, &s), 0);
        cr_assert_eq(store_has_ranges(s), 1);
        cr_assert_str_eq(s->ops->kind, "local");
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
        fd = tmpfile_with(NULL, 0);
        cr_assert_eq(pack_writer_new(CRYPTO_CIPHER_AES256_GCM, pack_key, fd, &w), 0);
        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &obj, OBJECT_TREE, "tree", 4, 0,
                                 rec, sizeof(rec), &rlen),
                     0);
        cr_assert_eq(pack_writer_add(w, &obj, OBJECT_TREE, rec, rlen), 0);
        cr_assert_eq(pack_writer_seal(w, &pack_id, &size, NULL), 0);
        pack_writer_free(w);

        wrong = pack_id;
        wrong.bytes[1] ^= 1;
        cr_assert_eq(store_put(s, &wrong, fd, size, 0), -EBADMSG);
        cr_assert_eq(store_put(s, &pack_id, fd, size, 0), 0);
        cr_assert_eq(store_put(s, &pack_id, fd, size, 0), 0); /* already there */
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
