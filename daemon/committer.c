/* SPDX-License-Identifier: MIT */
/* The pack committer (see committer.h). Sealed packs queue up; once
 * COMMITTER_BATCH wait, the background thread makes them durable and commits
 * them in one transaction, so the index never references bytes that are not
 * on disk: each pack goes to the local store with store_put (durable when it
 * returns) before the transaction. A flush commits the rest on the caller's
 * thread. On open, packs stored but never committed (a crash in between) are
 * re-indexed. */

#include "committer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "index.h"
#include "keys.h"
#include "log.h"
#include "pack.h"
#include "store.h"

/* The thread commits once this many packs wait; writers wait while four
 * times as many do (the disk is behind). */
#define COMMITTER_BATCH 8
/* A snapshot commit ends with a checkpoint when the write-ahead log holds at
 * least this many frames (2 MiB of 4 KiB pages): the log stays small between
 * snapshots, while a big snapshot's pack commits still share checkpoints. */
#define COMMITTER_IDLE_CHECKPOINT_FRAMES 512
/* Chunk fingerprints wait for the next pack commit, or until this many do. */
#define COMMITTER_FINGERPRINT_BATCH 4096

struct committer_fingerprint {
        uint8_t fp[INDEX_FINGERPRINT_SIZE];
        struct oid id;
        uint8_t tag[INDEX_FINGERPRINT_SIZE];
};

struct committer {
        struct index *wr;
        struct store *local;
        const struct keys *keys;
        committer_lost_fn lost;
        committer_lost_fn stored; /* after the COMMIT */
        committer_hook_fn before_write;
        void *userdata;
        committer_committed_fn committed; /* under lock */
        void *committed_userdata;

        pthread_mutex_t write_lock; /* the writer connection */

        pthread_mutex_t lock; /* pending, stop */
        pthread_cond_t wanted; /* a batch is ready, or stop */
        pthread_cond_t taken;  /* pending was emptied */
        struct sealed_pack *pending;
        size_t n_pending, cap_pending;
        struct committer_fingerprint *fps; /* to record with the next commit */
        size_t n_fps, cap_fps;
        pthread_t thread;
        bool started, stop;
};

static void sealed_pack_done(struct sealed_pack *sp)
{
        if (sp->fd >= 0)
                close(sp->fd);
        sp->fd = -1;
        free(sp->ids);
        sp->ids = NULL;
}

int committer_new(struct index *wr, struct store *local, const struct keys *keys, committer_lost_fn lost,
                  committer_lost_fn stored, committer_hook_fn before_write, void *userdata,
                  struct committer **ret)
{
        struct committer *c = calloc(1, sizeof(*c));
        if (!c) {
                index_close(wr);
                return -ENOMEM;
        }
        c->wr = wr;
        c->local = local;
        c->keys = keys;
        c->lost = lost;
        c->stored = stored;
        c->before_write = before_write;
        c->userdata = userdata;
        pthread_mutex_init(&c->write_lock, NULL);
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->wanted, NULL);
        pthread_cond_init(&c->taken, NULL);
        *ret = c;
        return 0;
}

/* Record a pack's objects (its header entries) in the open transaction. */
static int commit_pack_entries(struct committer *c, const struct oid *pack_id, uint64_t size,
                               const struct pack_entry *entries, size_t n)
{
        struct index_pack_entry *ie = calloc(n ? n : 1, sizeof(*ie));
        if (!ie)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                ie[i].id = entries[i].id;
                ie[i].type = entries[i].type;
                ie[i].offset = entries[i].offset;
                ie[i].length = entries[i].length;
        }
        int k = index_pack_commit(c->wr, pack_id, size, ie, n);
        free(ie);
        if (k >= 0) {
                char hex[OID_HEX_SIZE];
                oid_to_hex(pack_id, hex);
                log_debug("Pack %s: %zu objects, %llu bytes", hex, n, (unsigned long long)size);
        }
        return k;
}

/* Record a pack's objects (read back from its header in fd). */
static int commit_pack(struct committer *c, int fd, const struct oid *pack_id, uint64_t size)
{
        struct pack_entry *entries = NULL;
        size_t n = 0;
        int k = pack_read_header_fd(fd, size, c->keys->pack_key, &entries, &n);
        if (k < 0)
                return k;
        k = commit_pack_entries(c, pack_id, size, entries, n);
        free(entries);
        return k;
}

struct recover_ctx {
        struct committer *c;
        unsigned n;
};

struct store_range {
        struct store *store;
        const struct oid *id;
};

static int store_range_read(void *userdata, uint64_t offset, void *buf, size_t len)
{
        struct store_range *sr = userdata;
        return store_get(sr->store, sr->id, offset, len, buf);
}

/* Index a pack found in the store but not in the index (a crash between
 * put and commit): its bytes must hash to its id (prove with no nonce is
 * the plain SHA-256), its header must open with our key. */
static int recover_pack_cb(void *userdata, const struct oid *pack_id, uint64_t size)
{
        struct recover_ctx *rc = userdata;
        struct committer *c = rc->c;
        struct store_range sr = {.store = c->local, .id = pack_id};
        struct pack_entry *entries = NULL;
        uint8_t digest[CRYPTO_SHA256_SIZE];
        struct index_pack p;
        char hex[OID_HEX_SIZE];
        size_t n = 0;

        if (index_pack_lookup(c->wr, pack_id, &p) >= 0)
                return 0;
        oid_to_hex(pack_id, hex);
        if (index_pack_delete_queued(c->wr, pack_id, 0) > 0) {
                /* retired by prune before the interruption: finish the delete */
                int d = store_del(c->local, pack_id);
                if (d >= 0 || d == -ENOENT)
                        index_pack_delete_done(c->wr, pack_id, 0);
                return 0;
        }
        int k = store_prove(c->local, pack_id, NULL, 0, digest);
        if (k < 0) {
                log_warning_errno(k, "Cannot read unindexed pack %s of the local store, ignoring", hex);
                return 0;
        }
        if (memcmp(digest, pack_id->bytes, sizeof(digest)) != 0)
                k = -EBADMSG;
        if (k >= 0)
                k = pack_read_header(store_range_read, &sr, size, c->keys->pack_key, &entries, &n);
        if (k >= 0) {
                k = commit_pack_entries(c, pack_id, size, entries, n);
                free(entries);
                if (k == -ENOMEM)
                        return k;
        }
        if (k < 0) {
                log_warning_errno(k, "Unindexed pack %s of the local store is damaged or not ours, ignoring", hex);
                return 0;
        }
        rc->n++;
        return 0;
}

int committer_recover(struct committer *c, unsigned *ret_n)
{
        struct recover_ctx rc = {.c = c};
        pthread_mutex_lock(&c->write_lock);
        int k = store_list_all(c->local, recover_pack_cb, &rc);
        pthread_mutex_unlock(&c->write_lock);
        if (k < 0)
                return k;
        *ret_n = rc.n;
        return 0;
}

/* Record chunk fingerprints in a transaction of their own: they are true
 * whatever becomes of the packs (docs/fingerprints.md), and a cache, so a
 * failure loses nothing but speed. Writer connection held. */
static void commit_fingerprints(struct committer *c, const struct committer_fingerprint *v, size_t n)
{
        if (n == 0)
                return;
        if (c->before_write)
                c->before_write(c->userdata);
        int k = index_begin(c->wr);
        for (size_t i = 0; i < n && k >= 0; i++)
                k = index_fingerprint_put(c->wr, v[i].fp, &v[i].id, v[i].tag);
        if (k >= 0)
                k = index_commit(c->wr);
        else
                index_rollback(c->wr);
        if (k < 0)
                log_debug_errno(k, "Cannot record %zu chunk fingerprints, ignoring", n);
}

/* Make every queued pack durable, link it and commit it to the index. */
static int commit_pending(struct committer *c)
{
        pthread_mutex_lock(&c->write_lock);
        pthread_mutex_lock(&c->lock);
        struct sealed_pack *v = c->pending;
        size_t n = c->n_pending;
        struct committer_fingerprint *fps = c->fps;
        size_t n_fps = c->n_fps;
        c->pending = NULL;
        c->n_pending = c->cap_pending = 0;
        c->fps = NULL;
        c->n_fps = c->cap_fps = 0;
        pthread_cond_broadcast(&c->taken);
        pthread_mutex_unlock(&c->lock);

        /* Pack bytes durable and visible in the store before the index
         * commit that references them (store_put returns only then). */
        int k = 0;
        for (size_t i = 0; i < n && k >= 0; i++)
                k = store_put(c->local, &v[i].id, v[i].fd, v[i].size, STORE_PUT_TRUSTED);
        if (n > 0 && k >= 0) {
                if (c->before_write)
                        c->before_write(c->userdata);
                k = index_begin(c->wr);
                for (size_t i = 0; i < n && k >= 0; i++)
                        k = commit_pack(c, v[i].fd, &v[i].id, v[i].size);
                if (k >= 0)
                        k = index_commit(c->wr);
                else
                        index_rollback(c->wr);
        }
        commit_fingerprints(c, fps, n_fps);
        free(fps);
        /* The outcome is told before the writer goes: a flush that takes it
         * next and finds nothing queued must see these packs' failure
         * (repo_failures) or success, not a batch still in between. */
        if (n > 0 && k >= 0)
                for (size_t i = 0; c->stored && i < n; i++)
                        c->stored(c->userdata, v[i].ids, v[i].n_ids);
        if (k < 0) {
                /* linked packs are re-indexed at the next start */
                log_error_errno(k, "Cannot commit %zu pack(s) to the index", n);
                for (size_t i = 0; i < n; i++)
                        c->lost(c->userdata, v[i].ids, v[i].n_ids);
        }
        pthread_mutex_unlock(&c->write_lock);
        if (n > 0 && k >= 0) {
                pthread_mutex_lock(&c->lock);
                committer_committed_fn committed = c->committed;
                void *committed_userdata = c->committed_userdata;
                pthread_mutex_unlock(&c->lock);
                for (size_t i = 0; committed && i < n; i++)
                        committed(committed_userdata, &v[i].id, v[i].size);
        }
        for (size_t i = 0; i < n; i++)
                sealed_pack_done(&v[i]);
        free(v);
        return k;
}

static void *committer_main(void *arg)
{
        struct committer *c = arg;
        pthread_mutex_lock(&c->lock);
        while (!c->stop) {
                if (c->n_pending < COMMITTER_BATCH && c->n_fps < COMMITTER_FINGERPRINT_BATCH) {
                        pthread_cond_wait(&c->wanted, &c->lock);
                        continue;
                }
                pthread_mutex_unlock(&c->lock);
                commit_pending(c);
                pthread_mutex_lock(&c->lock);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

int committer_start(struct committer *c)
{
        int k = pthread_create(&c->thread, NULL, committer_main, c);
        if (k != 0)
                return -k;
        c->started = true;
        return 0;
}

void committer_free(struct committer *c)
{
        if (!c)
                return;
        if (c->started) {
                pthread_mutex_lock(&c->lock);
                c->stop = true;
                pthread_cond_broadcast(&c->wanted);
                pthread_cond_broadcast(&c->taken);
                pthread_mutex_unlock(&c->lock);
                pthread_join(c->thread, NULL);
        }
        for (size_t i = 0; i < c->n_pending; i++)
                sealed_pack_done(&c->pending[i]);
        free(c->pending);
        free(c->fps);
        index_close(c->wr);
        pthread_mutex_destroy(&c->write_lock);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->wanted);
        pthread_cond_destroy(&c->taken);
        free(c);
}

int committer_queue(struct committer *c, struct sealed_pack *sp)
{
        pthread_mutex_lock(&c->lock);
        if (!GROW(c->pending, c->n_pending, c->cap_pending, 16)) {
                pthread_mutex_unlock(&c->lock);
                c->lost(c->userdata, sp->ids, sp->n_ids);
                sealed_pack_done(sp);
                return -ENOMEM;
        }
        c->pending[c->n_pending++] = *sp;
        sp->fd = -1;
        sp->ids = NULL;
        if (c->n_pending >= COMMITTER_BATCH)
                pthread_cond_signal(&c->wanted);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

void committer_add_fingerprint(struct committer *c, const uint8_t fp[INDEX_FINGERPRINT_SIZE],
                               const struct oid *id, const uint8_t tag[INDEX_FINGERPRINT_SIZE])
{
        pthread_mutex_lock(&c->lock);
        if (GROW(c->fps, c->n_fps, c->cap_fps, 256)) {
                struct committer_fingerprint *f = &c->fps[c->n_fps++];
                memcpy(f->fp, fp, sizeof(f->fp));
                f->id = *id;
                memcpy(f->tag, tag, sizeof(f->tag));
                if (c->n_fps >= COMMITTER_FINGERPRINT_BATCH)
                        pthread_cond_signal(&c->wanted);
        } /* else dropped: a cache */
        pthread_mutex_unlock(&c->lock);
}

void committer_throttle(struct committer *c)
{
        pthread_mutex_lock(&c->lock);
        while (c->n_pending >= 4 * COMMITTER_BATCH && c->started && !c->stop)
                pthread_cond_wait(&c->taken, &c->lock);
        pthread_mutex_unlock(&c->lock);
}

int committer_flush(struct committer *c)
{
        return commit_pending(c);
}

int committer_with_writer(struct committer *c, int (*fn)(struct index *wr, void *userdata), void *userdata)
{
        pthread_mutex_lock(&c->write_lock);
        if (c->before_write)
                c->before_write(c->userdata);
        int k = fn(c->wr, userdata);
        int m = index_checkpoint(c->wr, COMMITTER_IDLE_CHECKPOINT_FRAMES);
        if (m < 0)
                log_debug_errno(m, "Checkpoint of the index failed, ignoring");
        pthread_mutex_unlock(&c->write_lock);
        return k;
}

void committer_set_committed(struct committer *c, committer_committed_fn fn, void *userdata)
{
        pthread_mutex_lock(&c->lock);
        c->committed = fn;
        c->committed_userdata = userdata;
        pthread_mutex_unlock(&c->lock);
}
