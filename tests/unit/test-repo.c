/* SPDX-License-Identifier: MIT */
/* daemon/repo.c and its parts (packer, committer, repo-read): the fence
 * between two puts of the same object (a flush after the second put
 * commits the object the first put is still sealing), and pinned read
 * transactions that do not hold the write-ahead log once their thread is
 * idle. Real repositories in a temporary directory. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "daemon.h"
#include "index.h"
#include "keys.h"
#include "repo.h"

/* main.c's clocks, which repo-read.c uses. */
int64_t monotonic_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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

struct put_arg {
        const uint8_t *p;
        size_t len;
        struct oid id;
        int r;
        atomic_int done;
};

static void *put_thread(void *arg)
{
        struct put_arg *a = arg;
        a->r = repo_put(repo, OBJECT_DATA, a->p, a->len, &a->id, NULL);
        atomic_store(&a->done, 1);
        return NULL;
}

/* Root A's put claims a big object and spends a long while sealing it; root
 * B's put of the same object, then B's flush: the object must be committed
 * when B's flush returns (B's snapshot would reference it next). */
Test(repo, flush_commits_an_object_another_put_is_still_storing, .init = setup, .fini = teardown,
     .timeout = 120)
{
        size_t len = 48u << 20; /* ~0.1-0.5 s to compress and encrypt */
        uint8_t *p = malloc(len);
        cr_assert_not_null(p);
        cr_assert_eq(crypto_random(p, len), 0);
        struct oid id, got;
        cr_assert_eq(oid_compute(keys.id_key, OBJECT_DATA, p, len, &id), 0);

        struct put_arg a = {.p = p, .len = len};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, put_thread, &a), 0);
        while (!repo_has(repo, &id)) /* A has claimed it */
                sched_yield();
        cr_assert_eq(atomic_load(&a.done), 0, "A is still storing the object");
        uint64_t added = 1;
        cr_assert_eq(repo_put(repo, OBJECT_DATA, p, len, &got, &added), 0);
        cr_assert_eq(added, 0, "B's put is a duplicate");
        cr_assert_eq(repo_flush(repo), 0);
        cr_assert_eq(committed(&id), 0, "the object is committed when B's flush returns");
        pthread_join(t, NULL);
        cr_assert_eq(a.r, 0);
        cr_assert(!oid_cmp(&a.id, &got));
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
