/* SPDX-License-Identifier: MIT */
/* daemon/repo.c and its parts (packer, committer, repo-read): the fence
 * between two puts of the same object (a flush after the second put
 * commits the object the first put is still sealing, made deterministic by
 * the packer's test hook), and pinned read
 * transactions that do not hold the write-ahead log once their thread is
 * idle, packs stored but never indexed found again at the next open, and
 * the hook told of every committed pack, the tombstones of forgotten.c
 * written and read back, and dedupe (after a restart, on a filter hit
 * without a row, against condemned packs and a repack's pending copies).
 * Real repositories in a temporary directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bloom.h"
#include "crypto.h"
#include "daemon.h"
#include "forgotten.h"
#include "idset.h"
#include "index.h"
#include "keys.h"
#include "packer.h"
#include "repo-private.h"
#include "repo.h"
#include "store-local.h"

static char tmpdir[64];
static struct daemon d;
static struct keys keys;
static struct repo *repo;

static void setup(void)
{
        uint8_t master[KEYS_MASTER_SIZE];
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-repo-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        memset(&d, 0, sizeof(d));
        d.config.state_dir = tmpdir;
        d.config.workers = 2;
        d.config.compression_level = 3;
        cr_assert_eq(crypto_random(master, sizeof(master)), 0);
        cr_assert_eq(keys_derive(master, &keys), 0);
        d.keyring = &keys;
        cr_assert_eq(repo_open(&d, &repo), 0);
}

static void teardown(void)
{
        char cmd[128];
        packer_set_test_hook(NULL);
        repo_close(repo);
        repo = NULL;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        cr_assert_eq(system(cmd), 0);
}

/* The object's row as a fresh reader of the index sees it: 0 committed. */
static int committed(const struct oid *id)
{
        char path[128];
        struct index *idx;
        struct index_object o;
        snprintf(path, sizeof(path), "%s/index.db", tmpdir);
        cr_assert_eq(index_open(path, INDEX_READONLY, &idx), 0);
        int k = index_object_lookup(idx, id, &o);
        index_close(idx);
        return k;
}

/* Holds the put of one id in packer_add, after its id is claimed and
 * before its record is in an open pack, until the test releases it. */
static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct oid id;
        bool reached, released;
} hold = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, false, false};

static void hold_before_pack(const struct oid *id, void *userdata)
{
        (void)userdata;
        if (oid_cmp(id, &hold.id))
                return;
        pthread_mutex_lock(&hold.lock);
        hold.reached = true;
        pthread_cond_broadcast(&hold.cond);
        while (!hold.released)
                pthread_cond_wait(&hold.cond, &hold.lock);
        pthread_mutex_unlock(&hold.lock);
}

static const struct packer_test_hook hold_hook = {.before_pack = hold_before_pack};

static void hold_release(void)
{
        pthread_mutex_lock(&hold.lock);
        hold.released = true;
        pthread_cond_broadcast(&hold.cond);
        pthread_mutex_unlock(&hold.lock);
}

struct put_arg {
        const uint8_t *p;
        size_t len;
        bool flush; /* then repo_flush */
        struct oid id;
        uint64_t added;
        int r, flush_r;
        atomic_int put_done, flush_done;
};

static void *put_thread(void *arg)
{
        struct put_arg *a = arg;
        a->added = 1;
        a->r = repo_put(repo, OBJECT_DATA, a->p, a->len, &a->id, &a->added);
        atomic_store(&a->put_done, 1);
        if (a->flush) {
                a->flush_r = repo_flush(repo);
                atomic_store(&a->flush_done, 1);
        }
        return NULL;
}

/* Root A's put claims an object and is held (by the packer's test hook)
 * before its record is in a pack; root B's put of the same object must wait
 * for it, and once A goes on, B's flush must commit the object (B's
 * snapshot references it next). Without the fence B's put returns at once
 * as a duplicate and its flush commits nothing. */
Test(repo, flush_commits_an_object_another_put_is_still_storing, .init = setup, .fini = teardown,
     .timeout = 60)
{
        size_t len = 1u << 20;
        uint8_t *p = malloc(len);
        cr_assert_not_null(p);
        cr_assert_eq(crypto_random(p, len), 0);
        cr_assert_eq(oid_compute(keys.id_key, OBJECT_DATA, p, len, &hold.id), 0);
        packer_set_test_hook(&hold_hook);

        struct put_arg a = {.p = p, .len = len}, b = {.p = p, .len = len, .flush = true};
        pthread_t ta, tb;
        cr_assert_eq(pthread_create(&ta, NULL, put_thread, &a), 0);
        pthread_mutex_lock(&hold.lock);
        while (!hold.reached)
                pthread_cond_wait(&hold.cond, &hold.lock);
        pthread_mutex_unlock(&hold.lock);
        cr_assert(repo_has(repo, &hold.id), "A has claimed the object");
        cr_assert_eq(atomic_load(&a.put_done), 0, "A is held before its record is in a pack");

        cr_assert_eq(pthread_create(&tb, NULL, put_thread, &b), 0);
        /* B must not return while A is held: give it 2 s to show it would */
        for (int i = 0; i < 200 && !atomic_load(&b.put_done); i++)
                nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        int b_returned_early = atomic_load(&b.put_done), b_flushed_early = atomic_load(&b.flush_done);
        hold_release();
        pthread_join(tb, NULL);
        pthread_join(ta, NULL);
        cr_assert_eq(b_returned_early, 0, "B's put waits for A's put in flight (it returned%s while A was held)",
                     b_flushed_early ? ", and its flush too," : "");

        cr_assert_eq(a.r, 0);
        cr_assert_gt(a.added, 0, "A's put stored the object");
        cr_assert_eq(b.r, 0);
        cr_assert_eq(b.added, 0, "B's put is a duplicate");
        cr_assert(!oid_cmp(&a.id, &b.id));
        cr_assert_eq(b.flush_r, 0);
        /* nothing else flushes: only B's flush can have committed it */
        cr_assert_eq(committed(&hold.id), 0, "the object is committed when B's flush returns");
        free(p);
}

/* A thread that read an object keeps a pinned read transaction; once it is
 * idle, the next write transaction ends it, so that a checkpoint after that
 * write completes (the log can restart instead of growing). */
static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int state; /* 0 start, 1 read done, 2 may exit */
        struct oid id;
        int r;
} idle = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}, 0};

static void *reader_thread(void *arg)
{
        uint8_t *buf = NULL;
        size_t len;
        idle.r = repo_get(repo, &idle.id, OBJECT_DATA, 0, &buf, &len);
        free(buf);
        pthread_mutex_lock(&idle.lock);
        idle.state = 1;
        pthread_cond_broadcast(&idle.cond);
        while (idle.state != 2)
                pthread_cond_wait(&idle.cond, &idle.lock);
        pthread_mutex_unlock(&idle.lock);
        return NULL;
}

Test(repo, a_write_ends_idle_pinned_read_transactions, .init = setup, .fini = teardown, .timeout = 60)
{
        char path[128], data[64];
        struct oid other;
        pthread_t t;

        snprintf(data, sizeof(data), "first object");
        cr_assert_eq(repo_put(repo, OBJECT_DATA, data, strlen(data), &idle.id, NULL), 0);
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(pthread_create(&t, NULL, reader_thread, NULL), 0);
        pthread_mutex_lock(&idle.lock);
        while (idle.state != 1)
                pthread_cond_wait(&idle.cond, &idle.lock);
        pthread_mutex_unlock(&idle.lock);
        cr_assert_eq(idle.r, 0, "the reader read the object");

        /* the reader is idle now, its read transaction pinned */
        snprintf(data, sizeof(data), "second object");
        cr_assert_eq(repo_put(repo, OBJECT_DATA, data, strlen(data), &other, NULL), 0);
        cr_assert_eq(repo_flush(repo), 0);

        struct index *idx;
        snprintf(path, sizeof(path), "%s/index.db", tmpdir);
        cr_assert_eq(index_open(path, 0, &idx), 0);
        int k = index_checkpoint(idx, 0);
        index_close(idx);
        cr_assert_eq(k, 1, "a checkpoint after the write completes (got %d)", k);

        pthread_mutex_lock(&idle.lock);
        idle.state = 2;
        pthread_cond_broadcast(&idle.cond);
        pthread_mutex_unlock(&idle.lock);
        pthread_join(t, NULL);
}

static char cmd_buf[256];

/* The number a shell command prints. */
static int command_number(const char *cmd)
{
        int n = -1;
        FILE *f = popen(cmd, "r");
        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%d", &n), 1);
        pclose(f);
        return n;
}

/* Bytes of an object through a fresh repo_get. */
static void assert_object(const struct oid *id, const char *want)
{
        uint8_t *buf = NULL;
        size_t len = 0;
        cr_assert_eq(repo_get(repo, id, OBJECT_DATA, 0, &buf, &len), 0);
        cr_assert_eq(len, strlen(want));
        cr_assert(memcmp(buf, want, len) == 0);
        free(buf);
}

/* Packs the committer stored (store_put) but whose index transaction never
 * happened (here: the index is gone) are found by listing the local store
 * and re-indexed at the next open; a pack that is not ours, and one whose
 * bytes do not match its name, are left alone. */
Test(repo, stored_but_unindexed_packs_are_recovered, .init = setup, .fini = teardown, .timeout = 60)
{
        const char *a = "recover me", *b = "and me too";
        char path[256], packs[160];
        struct oid ida, idb, foreign, damaged;
        struct store *s;
        uint8_t junk[4096];
        int fd;

        cr_assert_eq(repo_put(repo, OBJECT_DATA, a, strlen(a), &ida, NULL), 0);
        cr_assert_eq(repo_put(repo, OBJECT_DATA, b, strlen(b), &idb, NULL), 0);
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(committed(&ida), 0);
        snprintf(cmd_buf, sizeof(cmd_buf), "ls -A '%s/packs/tmp' | wc -l", tmpdir);
        cr_assert_eq(command_number(cmd_buf), 0, "the packer's anonymous files leave no name behind");
        repo_close(repo);
        repo = NULL;
        static const char *const index_files[] = {"index.db", "index.db-wal", "index.db-shm"};
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/%s", tmpdir, index_files[i]);
                cr_assert(unlink(path) == 0 || errno == ENOENT, "%s", path);
        }

        /* A well-formed pack file of someone else's (random bytes, right name). */
        snprintf(packs, sizeof(packs), "%s/packs", tmpdir);
        cr_assert_eq(store_local_new(packs, &s), 0);
        cr_assert_eq(crypto_random(junk, sizeof(junk)), 0);
        cr_assert_eq(crypto_sha256(junk, sizeof(junk), foreign.bytes), 0);
        fd = memfd_create("foreign", MFD_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
        cr_assert_eq(store_put(s, &foreign, fd, sizeof(junk), 0), 0);
        close(fd);
        store_free(s);
        /* A file whose bytes do not hash to its name. */
        cr_assert_eq(crypto_random(damaged.bytes, sizeof(damaged.bytes)), 0);
        {
                char hex[OID_HEX_SIZE];
                oid_to_hex(&damaged, hex);
                snprintf(path, sizeof(path), "%s/%.2s", packs, hex);
                mkdir(path, 0700);
                snprintf(path, sizeof(path), "%s/%.2s/%s", packs, hex, hex);
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                cr_assert_geq(fd, 0);
                cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
                close(fd);
        }

        cr_assert_eq(repo_open(&d, &repo), 0);
        cr_assert_eq(committed(&ida), 0, "re-indexed from the pack");
        cr_assert_eq(committed(&idb), 0, "re-indexed from the pack");
        cr_assert(repo_has(repo, &ida));
        assert_object(&ida, a);
        assert_object(&idb, b);
        struct index_pack p;
        cr_assert_lt(index_pack_lookup(repo_index(repo), &foreign, &p), 0, "a pack not ours is not indexed");
        cr_assert_lt(index_pack_lookup(repo_index(repo), &damaged, &p), 0, "a damaged pack is not indexed");
        cr_assert_eq(store_stat(repo_store(repo), &foreign, NULL), 0, "nor deleted");
}

/* The replicator's hook: every committed pack is told once, after its index
 * commit, with its id and size, and the local store opens it by id. */
static struct {
        pthread_mutex_t lock;
        struct oid ids[8];
        uint64_t sizes[8];
        int n;
        int indexed; /* how many of them the index had when told */
} told = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_committed(void *userdata, const struct oid *pack, uint64_t size)
{
        char path[128];
        struct index *idx;
        struct index_pack p;
        snprintf(path, sizeof(path), "%s/index.db", (const char *)userdata);
        pthread_mutex_lock(&told.lock);
        if (told.n < 8) {
                told.ids[told.n] = *pack;
                told.sizes[told.n++] = size;
        }
        if (index_open(path, INDEX_READONLY, &idx) == 0) {
                told.indexed += index_pack_lookup(idx, pack, &p) == 0 && p.size == size;
                index_close(idx);
        }
        pthread_mutex_unlock(&told.lock);
}

Test(repo, committed_packs_are_told_to_the_hook, .init = setup, .fini = teardown, .timeout = 60)
{
        const char *a = "replicate me";
        struct oid ida;
        struct stat st;
        int fd = -1;

        repo_set_committed(repo, on_committed, tmpdir);
        cr_assert_eq(repo_put(repo, OBJECT_DATA, a, strlen(a), &ida, NULL), 0);
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(repo_flush(repo), 0); /* nothing new: nothing told */
        pthread_mutex_lock(&told.lock);
        cr_assert_eq(told.n, 1);
        cr_assert_eq(told.indexed, 1, "told after the pack is in the index, with its size");
        cr_assert_eq(store_local_open(repo_store(repo), &told.ids[0], &fd), 0);
        cr_assert_eq(fstat(fd, &st), 0);
        cr_assert_eq((uint64_t)st.st_size, told.sizes[0]);
        close(fd);
        struct oid none = {{0}};
        cr_assert_eq(store_local_open(repo_store(repo), &none, &fd), -ENOENT);
        pthread_mutex_unlock(&told.lock);

        repo_set_committed(repo, NULL, NULL);
        cr_assert_eq(repo_put(repo, OBJECT_DATA, "more", 4, &ida, NULL), 0);
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(told.n, 1, "cleared: no longer told");
}

/* A chunk fault: the pack is gone from the local store (evicted), the read
 * goes to the fault handler, which reads the range from another store. */
struct fault_ctx {
        struct store *other;
        struct store *stores[3]; /* tried in this order; NULL: a store that fails (-EIO) */
        unsigned n_stores;
        unsigned calls;
};

static int fault_from_other(void *userdata, const struct oid *pack_id, uint64_t offset, size_t len,
                            void *buf, unsigned *from)
{
        struct fault_ctx *f = userdata;
        f->calls++;
        for (unsigned i = *from; i < f->n_stores; i++) {
                int k = f->stores[i] ? store_get(f->stores[i], pack_id, offset, len, buf) : -EIO;
                if (k >= 0) {
                        *from = i + 1;
                        return 0;
                }
        }
        return -ENOENT;
}

Test(repo, a_pack_not_here_is_read_through_the_fault_handler, .init = setup, .fini = teardown,
     .timeout = 60)
{
        const char *a = "evicted but readable";
        char other_dir[128], cmd[1024], hex[OID_HEX_SIZE];
        struct fault_ctx f = { 0 };
        struct index_object o;
        struct oid id;
        uint8_t *buf = NULL;
        size_t len;

        cr_assert_eq(repo_put(repo, OBJECT_DATA, a, strlen(a), &id, NULL), 0);
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(index_object_lookup(repo_index(repo), &id, &o), 0);
        oid_to_hex(&o.pack, hex);
        /* move the pack to another store, as a replica elsewhere */
        snprintf(other_dir, sizeof(other_dir), "%s/other", tmpdir);
        cr_assert_eq(store_local_new(other_dir, &f.other), 0);
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%.2s' && mv '%s/packs/%.2s/%s' '%s/%.2s/'", other_dir, hex,
                 tmpdir, hex, hex, other_dir, hex);
        cr_assert_eq(system(cmd), 0);
        cr_assert_eq(repo_get(repo, &id, OBJECT_DATA, 0, &buf, &len), -ENOENT, "no handler: not found");
        f.stores[0] = f.other;
        f.n_stores = 1;
        repo_set_fault(repo, fault_from_other, &f);
        cr_assert_eq(repo_get(repo, &id, OBJECT_DATA, 0, &buf, &len), 0);
        cr_assert_eq(len, strlen(a));
        cr_assert(memcmp(buf, a, len) == 0);
        cr_assert_eq(f.calls, 1);
        free(buf);

        /* a damaged copy in the first store: the second store's is read */
        struct store *bad = NULL;
        char bad_dir[160];
        snprintf(bad_dir, sizeof(bad_dir), "%s/bad", tmpdir);
        cr_assert_eq(store_local_new(bad_dir, &bad), 0);
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%.2s' && cp '%s/%.2s/%s' '%s/%.2s/' && "
                 "printf X | dd of='%s/%.2s/%s' bs=1 seek=%llu conv=notrunc status=none",
                 bad_dir, hex, other_dir, hex, hex, bad_dir, hex, bad_dir, hex, hex,
                 (unsigned long long)(o.offset + o.length / 2));
        cr_assert_eq(system(cmd), 0);
        f.stores[0] = bad;
        f.stores[1] = f.other;
        f.n_stores = 2;
        f.calls = 0;
        cr_assert_eq(repo_get(repo, &id, OBJECT_DATA, 0, &buf, &len), 0, "read from the second store");
        cr_assert(len == strlen(a) && memcmp(buf, a, len) == 0);
        cr_assert_eq(f.calls, 2);
        free(buf);
        /* a store that fails, then the damaged copy: the retry starts after
         * the damaged one, never asks a store twice, and reads the good one */
        f.stores[0] = NULL;
        f.stores[1] = bad;
        f.stores[2] = f.other;
        f.n_stores = 3;
        f.calls = 0;
        cr_assert_eq(repo_get(repo, &id, OBJECT_DATA, 0, &buf, &len), 0, "read from the third store");
        cr_assert(len == strlen(a) && memcmp(buf, a, len) == 0);
        cr_assert_eq(f.calls, 2);
        free(buf);
        /* damaged everywhere: the record's error, not "not found" */
        f.stores[0] = bad;
        f.n_stores = 2;
        f.stores[1] = bad;
        cr_assert_eq(repo_get(repo, &id, OBJECT_DATA, 0, &buf, &len), -EBADMSG);
        repo_set_fault(repo, NULL, NULL);
        store_free(bad);
        store_free(f.other);
}

/* daemon/forgotten.c: the tombstones of a forget of 25,000 snapshots are
 * split over three objects, committed when forgotten_write returns, and
 * read back whole; an undecodable tombstone is counted, not fatal. */
Test(repo, forgotten_tombstones_are_written_split_and_read_back, .init = setup, .fini = teardown,
     .timeout = 120)
{
        enum { N = 25000 };
        struct index_snapshot *rows = calloc(N, sizeof(*rows));
        struct idset set;
        uint64_t read = 0, bad = 0;
        struct oid junk;

        cr_assert_not_null(rows);
        for (size_t i = 0; i < N; i++) {
                cr_assert_eq(crypto_random(rows[i].id.bytes, OID_SIZE), 0);
                rows[i].time_ns = (int64_t)i;
                rows[i].root_path = (char *)(i % 2 ? "/home/ann" : ""); /* "": written as "?" */
        }
        cr_assert_eq(forgotten_write(repo, rows, N, 1), 3);
        cr_assert_eq(forgotten_write(repo, rows, 0, 1), 0, "nothing to forget, nothing written");
        /* committed already: a fresh reader of the index sees all three */
        idset_init(&set);
        cr_assert_eq(forgotten_collect(repo, &set, &read, &bad), 0);
        cr_assert_eq(read, 3);
        cr_assert_eq(bad, 0);
        cr_assert_eq(set.n, N);
        for (size_t i = 0; i < N; i++)
                cr_assert(idset_has(&set, &rows[i].id));
        idset_done(&set);

        cr_assert_eq(repo_put(repo, OBJECT_TOMBSTONE, "not cbor", 8, &junk, NULL), 0);
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(committed(&junk), 0);
        idset_init(&set);
        cr_assert_eq(forgotten_collect(repo, &set, &read, &bad), 0);
        cr_assert_eq(read, 3);
        cr_assert_eq(bad, 1, "the undecodable one is counted");
        cr_assert_eq(set.n, N);
        idset_done(&set);
        free(rows);
}

/* --- dedupe: the Bloom filter, the pending ids and the index lookup --- */

static int condemn_ns;
static struct oid condemn_pack;

static int condemn_cb(struct index *wr, void *userdata)
{
        (void)userdata;
        return index_prune_condemn(wr, &condemn_pack, condemn_ns);
}

/* The pack object id lives in, as the index says now. */
static struct oid pack_of(const struct oid *id)
{
        char path[128];
        struct index *idx;
        struct index_object o;
        snprintf(path, sizeof(path), "%s/index.db", tmpdir);
        cr_assert_eq(index_open(path, INDEX_READONLY, &idx), 0);
        cr_assert_eq(index_object_lookup(idx, id, &o), 0);
        index_close(idx);
        return o.pack;
}

static uint64_t put_added(const void *p, size_t len, struct oid *ret_id)
{
        uint64_t added = UINT64_MAX;
        cr_assert_eq(repo_put(repo, OBJECT_DATA, p, len, ret_id, &added), 0);
        return added;
}

static size_t pending_count(void)
{
        pthread_mutex_lock(&repo->lock);
        size_t n = repo->pending.n;
        pthread_mutex_unlock(&repo->lock);
        return n;
}

/* An object stored before a restart is found again after it (the filter is
 * filled from the index at open, the lookup confirms): a second put adds
 * nothing; one never stored is stored. */
Test(repo, a_stored_object_is_deduplicated_after_a_restart, .init = setup, .fini = teardown, .timeout = 60)
{
        const char *a = "stored before the restart", *b = "new after the restart";
        struct oid ida, again, idb;

        cr_assert_gt(put_added(a, strlen(a), &ida), 0);
        cr_assert_eq(put_added(a, strlen(a), &again), 0, "a duplicate of an object pending commit");
        cr_assert_gt(pending_count(), 0, "claimed, not committed yet");
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(pending_count(), 0, "the commit took it out of pending");
        cr_assert_eq(put_added(a, strlen(a), &again), 0, "a duplicate of a committed object");
        cr_assert_eq(pending_count(), 0);
        repo_close(repo);
        repo = NULL;

        cr_assert_eq(repo_open(&d, &repo), 0);
        cr_assert_geq(repo->known.n, 1, "the filter is filled at open");
        cr_assert_eq(repo_has(repo, &ida), 1);
        cr_assert_eq(put_added(a, strlen(a), &again), 0, "deduplicated after the restart");
        cr_assert(!oid_cmp(&ida, &again));
        cr_assert_eq(pending_count(), 0, "nothing claimed");
        cr_assert_gt(put_added(b, strlen(b), &idb), 0);
        cr_assert_eq(repo_has(repo, &idb), 1, "pending");
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(committed(&idb), 0);
        struct repo_stats st;
        repo_get_stats(repo, &st);
        cr_assert_eq(st.objects_added, 1, "only b was added since the open");
}

/* The filter says "maybe" for an id that was never stored (a false
 * positive, or a claim whose pack was lost): the lookup finds no row and
 * the put stores it. */
Test(repo, a_filter_hit_without_a_row_is_stored, .init = setup, .fini = teardown, .timeout = 60)
{
        const char *a = "in the filter only";
        struct oid id, got;

        cr_assert_eq(oid_compute(keys.id_key, OBJECT_DATA, a, strlen(a), &id), 0);
        pthread_mutex_lock(&repo->lock);
        cr_assert_eq(bloom_add(&repo->known, &id), 1);
        pthread_mutex_unlock(&repo->lock);
        cr_assert_eq(repo_has(repo, &id), 0, "the index has no row: not stored");
        cr_assert_gt(put_added(a, strlen(a), &got), 0, "stored, not taken for a duplicate");
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(committed(&id), 0);
        assert_object(&id, a);
}

/* Prune's contract: once its mark has committed and repo_prune_mark started
 * the epoch, a put no longer deduplicates against a condemned pack: it
 * stores a new copy, which takes the object's row; un-condemned, a pack is
 * deduplicated against again. */
Test(repo, a_put_after_the_mark_stores_an_object_of_a_condemned_pack_again, .init = setup, .fini = teardown,
     .timeout = 60)
{
        const char *a = "only in a condemned pack", *b = "in a pack condemned, then kept";
        struct oid ida, idb, again;

        cr_assert_gt(put_added(a, strlen(a), &ida), 0);
        cr_assert_eq(repo_flush(repo), 0);
        struct oid old = pack_of(&ida);

        condemn_pack = old;
        condemn_ns = 1;
        cr_assert_eq(repo_with_writer(repo, condemn_cb, NULL), 0);
        uint64_t e1 = repo_prune_mark(repo);
        cr_assert_eq(repo_has(repo, &ida), 0, "condemned: not stored");
        cr_assert_gt(put_added(a, strlen(a), &again), 0, "stored again after the mark");
        cr_assert_eq(repo_has(repo, &ida), 1, "pending");
        cr_assert_eq(put_added(a, strlen(a), &again), 0, "the new copy is pending: a duplicate");
        cr_assert_eq(repo_flush(repo), 0);
        struct oid now = pack_of(&ida);
        cr_assert(oid_cmp(&now, &old), "the new copy took the row");
        cr_assert_eq(put_added(a, strlen(a), &again), 0, "deduplicated against the new copy");
        assert_object(&ida, a);

        cr_assert_gt(put_added(b, strlen(b), &idb), 0);
        cr_assert_eq(repo_flush(repo), 0);
        condemn_pack = pack_of(&idb);
        cr_assert_eq(repo_with_writer(repo, condemn_cb, NULL), 0);
        cr_assert_gt(repo_prune_mark(repo), e1);
        cr_assert_eq(repo_has(repo, &idb), 0);
        condemn_ns = 0; /* prune keeps the pack: released */
        cr_assert_eq(repo_with_writer(repo, condemn_cb, NULL), 0);
        cr_assert_eq(repo_has(repo, &idb), 1);
        cr_assert_eq(put_added(b, strlen(b), &again), 0, "a kept pack is deduplicated against again");
}

/* A repack's copy of a record is pending until committed: a put of the
 * same object meanwhile is a duplicate of it, and the commit moves the row
 * off the condemned pack. */
Test(repo, a_repacked_record_is_pending_until_committed, .init = setup, .fini = teardown, .timeout = 60)
{
        const char *a = "copied by a repack";
        struct oid ida, again;
        struct index_object o;

        cr_assert_gt(put_added(a, strlen(a), &ida), 0);
        cr_assert_eq(repo_flush(repo), 0);
        struct oid old = pack_of(&ida);
        condemn_pack = old;
        condemn_ns = 1;
        cr_assert_eq(repo_with_writer(repo, condemn_cb, NULL), 0);
        repo_prune_mark(repo);

        struct index *rd = repo_reader_get(repo);
        cr_assert_not_null(rd);
        cr_assert_eq(index_object_lookup(rd, &ida, &o), 0);
        repo_reader_put(repo, rd);
        uint8_t *rec = malloc(o.length);
        cr_assert_not_null(rec);
        cr_assert_eq(repo_read_record(repo, &old, o.offset, o.length, rec), 0);
        cr_assert_eq(repo_check_record(repo, &ida, rec, o.length), 0);
        cr_assert_eq(repo_put_record(repo, &ida, OBJECT_DATA, rec, o.length), 0);
        free(rec);
        cr_assert_eq(put_added(a, strlen(a), &again), 0, "a duplicate of the pending copy");
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(pending_count(), 0);
        struct oid now = pack_of(&ida);
        cr_assert(oid_cmp(&now, &old), "the copy took the row");
        assert_object(&ida, a);
}
