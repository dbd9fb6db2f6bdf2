/* SPDX-License-Identifier: MIT */
/* Tests for common/reindex.c with real packs in local directory stores:
 * the objects table is reproduced exactly, a pack written but never committed
 * (child killed mid-transaction) is found, bad and truncated packs are
 * skipped and counted, several sources merge, a failed listing changes
 * nothing. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "index.h"
#include "pack.h"
#include "record.h"
#include "reindex.h"
#include "store-local.h"

static char tmpdir[64], dbpath[128], dir_a[128], dir_b[128];
static uint8_t enc_key[32], id_key[32], pack_key[32];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static void setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-reindex-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmpdir);
        snprintf(dir_a, sizeof(dir_a), "%s/packs", tmpdir);
        snprintf(dir_b, sizeof(dir_b), "%s/remote", tmpdir);
        cr_assert_eq(crypto_random(enc_key, sizeof(enc_key)), 0);
        cr_assert_eq(crypto_random(id_key, sizeof(id_key)), 0);
        cr_assert_eq(crypto_random(pack_key, sizeof(pack_key)), 0);
}

static void teardown(void)
{
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(reindex, .init = setup, .fini = teardown);

/* Seal objects [first, first + n) into a pack and store_put it in s (as
 * the packer and committer do); its header entries into ret_entries. */
static void make_pack(struct store *s, unsigned first, size_t n, struct oid *ret_id,
                      uint64_t *ret_size, struct pack_entry **ret_entries)
{
        struct pack_writer *w;
        uint8_t payload[600], rec[600 + RECORD_OVERHEAD + 64];
        int fd;
        size_t count;

        fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        cr_assert_geq(fd, 0);
        cr_assert_eq(pack_writer_new(CRYPTO_CIPHER_AES256_GCM, pack_key, fd, &w), 0);
        for (size_t i = 0; i < n; i++) {
                size_t len = 100 + (first + i) % 500, rlen;
                struct oid id;
                enum object_type type = (first + i) % 3 ? OBJECT_DATA : OBJECT_TREE;

                for (size_t k = 0; k < len; k++)
                        payload[k] = (uint8_t)((first + i) * 31 + k);
                cr_assert_eq(oid_compute(id_key, type, payload, len, &id), 0);
                cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, type, payload, len,
                                         0, rec, sizeof(rec), &rlen),
                             0);
                cr_assert_eq(pack_writer_add(w, &id, (uint8_t)type, rec, rlen), 0);
        }
        cr_assert_eq(pack_writer_seal(w, ret_id, ret_size, NULL), 0);
        pack_writer_free(w);
        cr_assert_eq(store_put(s, ret_id, fd, *ret_size, 0), 0);
        if (ret_entries) {
                cr_assert_eq(pack_read_header_fd(fd, *ret_size, pack_key, ret_entries, &count), 0);
                cr_assert_eq(count, n);
        }
        close(fd);
}

/* What the pack writer does after the pack is durable. */
static void commit_pack(struct index *idx, const struct oid *id, uint64_t size,
                        const struct pack_entry *e, size_t n)
{
        struct index_pack_entry *ie = calloc(n ? n : 1, sizeof(*ie));

        cr_assert_not_null(ie);
        for (size_t i = 0; i < n; i++)
                ie[i] = (struct index_pack_entry){ .id = e[i].id, .type = e[i].type,
                                                   .offset = e[i].offset, .length = e[i].length };
        cr_assert_eq(index_pack_commit(idx, id, size, ie, n), 0);
        free(ie);
}

struct dump {
        char *buf;
        size_t len, cap;
};

static int dump_object(const struct index_object *o, void *userdata)
{
        struct dump *d = userdata;
        char id[OID_HEX_SIZE], pack[OID_HEX_SIZE];

        if (d->cap - d->len < 200) {
                d->cap = d->cap ? 2 * d->cap : 1 << 16;
                d->buf = realloc(d->buf, d->cap);
                cr_assert_not_null(d->buf);
        }
        oid_to_hex(&o->id, id);
        oid_to_hex(&o->pack, pack);
        d->len += (size_t)snprintf(d->buf + d->len, d->cap - d->len, "%s %d %s %llu %u\n", id,
                                   o->type, pack, (unsigned long long)o->offset, o->length);
        return 0;
}

static struct index *open_rw(void)
{
        struct index *idx = NULL;

        cr_assert_eq(index_open(dbpath, 0, &idx), 0);
        return idx;
}

Test(reindex, reproduces_objects_table)
{
        struct index *idx = open_rw();
        struct store *s;
        struct dump before = { 0 }, after = { 0 };
        struct reindex_stats st;

        cr_assert_eq(store_local_new(dir_a, &s), 0);
        for (unsigned p = 0; p < 6; p++) {
                _cleanup_free_ struct pack_entry *e = NULL;
                struct oid id;
                uint64_t size;

                make_pack(s, p * 100, 40 + p, &id, &size, &e);
                commit_pack(idx, &id, size, e, 40 + p);
        }
        cr_assert_eq(index_object_foreach(idx, dump_object, &before), 0);
        cr_assert_gt(before.len, 0);

        struct reindex_source src = { .store = s, .local = 1 };
        cr_assert_eq(reindex_run(idx, &src, 1, pack_key, &st), 0);
        cr_assert_eq(st.packs, 6);
        cr_assert_eq(st.objects, 40 * 6 + 15);
        cr_assert_eq(st.bad_packs, 0);
        cr_assert_eq(index_object_foreach(idx, dump_object, &after), 0);
        cr_assert_eq(after.len, before.len);
        cr_assert(memcmp(before.buf, after.buf, before.len) == 0, "objects differ after reindex");

        /* from an empty index too (disaster recovery) */
        index_close(idx);
        unlink(dbpath);
        idx = open_rw();
        cr_assert_eq(reindex_run(idx, &src, 1, pack_key, &st), 0);
        free(after.buf);
        after = (struct dump){ 0 };
        cr_assert_eq(index_object_foreach(idx, dump_object, &after), 0);
        cr_assert_eq(after.len, before.len);
        cr_assert(memcmp(before.buf, after.buf, before.len) == 0);
        free(before.buf);
        free(after.buf);
        store_free(s);
        index_close(idx);
}

Test(reindex, finds_pack_written_but_never_committed)
{
        struct index *idx = open_rw();
        struct store *s;
        struct oid committed, orphan;
        uint64_t size;
        struct index_pack p;

        cr_assert_eq(store_local_new(dir_a, &s), 0);
        {
                _cleanup_free_ struct pack_entry *e = NULL;

                make_pack(s, 0, 10, &committed, &size, &e);
                commit_pack(idx, &committed, size, e, 10);
        }
        index_close(idx);

        /* child: pack durable, transaction opened, killed before COMMIT */
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct pack_entry *e = NULL;
                struct index *child = NULL;
                struct oid id;
                uint64_t sz;

                make_pack(s, 1000, 25, &id, &sz, &e);
                if (write(fds[1], &id, sizeof(id)) != sizeof(id) || index_open(dbpath, 0, &child) < 0 ||
                    index_begin(child) < 0)
                        _exit(2);
                commit_pack(child, &id, sz, e, 25);
                _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        cr_assert_eq(read(fds[0], &orphan, sizeof(orphan)), sizeof(orphan));
        close(fds[0]);
        close(fds[1]);

        idx = open_rw();
        cr_assert_eq(index_pack_lookup(idx, &committed, &p), 0);
        cr_assert_eq(index_pack_lookup(idx, &orphan, &p), -ENOENT);

        struct reindex_source src = { .store = s, .local = 1 };
        struct reindex_stats st;
        cr_assert_eq(reindex_run(idx, &src, 1, pack_key, &st), 0);
        cr_assert_eq(st.packs, 2);
        cr_assert_eq(index_pack_lookup(idx, &orphan, &p), 0);
        cr_assert_eq(p.n_objects, 25);
        cr_assert_eq(p.local, 1);
        struct index_stats is;
        cr_assert_eq(index_stats(idx, &is), 0);
        cr_assert_eq(is.n_objects, 35);
        store_free(s);
        index_close(idx);
}

static void pack_path(const char *dir, const struct oid *id, char *buf, size_t len)
{
        char hex[OID_HEX_SIZE];

        oid_to_hex(id, hex);
        snprintf(buf, len, "%s/%.2s/%s", dir, hex, hex);
}

Test(reindex, skips_bad_and_truncated_packs)
{
        struct index *idx = open_rw();
        struct store *s;
        struct oid good, torn, junk_id = { .bytes = { 0xab, 0xcd } };
        uint64_t size;
        char path[256];

        cr_assert_eq(store_local_new(dir_a, &s), 0);
        make_pack(s, 0, 10, &good, &size, NULL);
        make_pack(s, 50, 10, &torn, &size, NULL);
        pack_path(dir_a, &torn, path, sizeof(path));
        cr_assert_eq(truncate(path, (off_t)size - 100), 0);

        /* a stray file with a pack's name and random bytes */
        pack_path(dir_a, &junk_id, path, sizeof(path));
        char sub[200];
        snprintf(sub, sizeof(sub), "%s/ab", dir_a);
        mkdir(sub, 0700);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        cr_assert_geq(fd, 0);
        uint8_t junk[4096];
        cr_assert_eq(crypto_random(junk, sizeof(junk)), 0);
        cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
        close(fd);

        struct reindex_source src = { .store = s, .local = 1 };
        struct reindex_stats st;
        cr_assert_eq(reindex_run(idx, &src, 1, pack_key, &st), 0);
        cr_assert_eq(st.packs, 1);
        cr_assert_eq(st.bad_packs, 2);
        struct index_pack p;
        cr_assert_eq(index_pack_lookup(idx, &good, &p), 0);
        cr_assert_eq(index_pack_lookup(idx, &torn, &p), -ENOENT);

        /* the wrong key makes every pack bad: refused, the index is kept */
        uint8_t other[32] = { 1 };
        cr_assert_eq(reindex_run(idx, &src, 1, other, &st), -EBADMSG);
        cr_assert_eq(index_pack_lookup(idx, &good, &p), 0);
        struct index_stats is;
        cr_assert_eq(index_stats(idx, &is), 0);
        cr_assert_eq(is.n_objects, 10);
        store_free(s);
        index_close(idx);
}

Test(reindex, merges_sources_local_first)
{
        struct index *idx = open_rw();
        struct store *a, *b;
        struct oid p1, p2, p3;
        uint64_t size;
        char from[256], to[256];

        cr_assert_eq(store_local_new(dir_a, &a), 0);
        cr_assert_eq(store_local_new(dir_b, &b), 0);
        make_pack(a, 0, 5, &p1, &size, NULL);
        make_pack(a, 10, 5, &p2, &size, NULL);
        make_pack(b, 20, 5, &p3, &size, NULL);
        /* p2 also on the remote: copy the file */
        pack_path(dir_a, &p2, from, sizeof(from));
        pack_path(dir_b, &p2, to, sizeof(to));
        char sub[200], cmd[700];
        snprintf(sub, sizeof(sub), "%.*s", (int)(strrchr(to, '/') - to), to);
        mkdir(sub, 0700);
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
        cr_assert_eq(system(cmd), 0);

        struct reindex_source src[] = { { .store = b, .local = 0 }, { .store = a, .local = 1 } };
        struct reindex_stats st;
        cr_assert_eq(reindex_run(idx, src, 2, pack_key, &st), 0);
        cr_assert_eq(st.packs, 3);
        cr_assert_eq(st.objects, 15);
        struct index_pack p;
        cr_assert_eq(index_pack_lookup(idx, &p1, &p), 0);
        cr_assert_eq(p.local, 1);
        cr_assert_eq(index_pack_lookup(idx, &p2, &p), 0);
        cr_assert_eq(p.local, 1, "the local copy wins");
        cr_assert_eq(index_pack_lookup(idx, &p3, &p), 0);
        cr_assert_eq(p.local, 0);
        store_free(a);
        store_free(b);
        index_close(idx);
}

static int failing_list(struct store *s, const struct oid *after, size_t max, store_list_fn fn,
                        void *userdata, int *ret_more)
{
        return -EIO;
}

static void noop_free(struct store *s)
{
}

Test(reindex, failed_listing_changes_nothing)
{
        struct index *idx = open_rw();
        struct store *a;
        struct oid p1;
        uint64_t size;
        _cleanup_free_ struct pack_entry *e = NULL;
        static const struct store_ops broken_ops = { .kind = "broken", .list = failing_list,
                                                     .free = noop_free };
        struct store broken = { .ops = &broken_ops };

        cr_assert_eq(store_local_new(dir_a, &a), 0);
        make_pack(a, 0, 5, &p1, &size, &e);
        commit_pack(idx, &p1, size, e, 5);

        struct reindex_source src[] = { { .store = a, .local = 1 }, { .store = &broken } };
        cr_assert_eq(reindex_run(idx, src, 2, pack_key, NULL), -EIO);
        struct index_pack p;
        cr_assert_eq(index_pack_lookup(idx, &p1, &p), 0);
        cr_assert_eq(index_object_exists(idx, &e[4].id), 1);
        store_free(a);
        index_close(idx);
}
