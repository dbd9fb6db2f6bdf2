/* SPDX-License-Identifier: MIT */
/* The repository façade (see repo.h): opening and closing, the set of
 * object ids stored or being stored (dedupe), and the fence that makes a
 * duplicate put wait for the put in flight it depends on. The work is done by the
 * packer (seal records, fill packs), the committer (make packs durable,
 * commit them to the index) and the read side (repo-read.c). */

#include "repo-private.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "committer.h"
#include "daemon.h"
#include "idset.h"
#include "index.h"
#include "log.h"
#include "packer.h"
#include "repo-read.h"
#include "store-local.h"
#include "store.h"


/* Before each write transaction: end idle pinned read transactions, so that
 * the checkpoint after it can complete and the write-ahead log restart. */
static void repo_before_write(void *userdata)
{
        struct repo *r = userdata;
        repo_read_release_idle(r->read);
}

static int known_add_cb(const struct index_object *o, void *userdata)
{
        return idset_add(userdata, &o->id) < 0 ? -ENOMEM : 0;
}

/* Objects whose pack failed: forget them (a later put stores them again)
 * and count the failure for snapshots in progress. */
static void repo_lost(void *userdata, const struct oid *ids, size_t n)
{
        struct repo *r = userdata;
        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; i < n; i++)
                idset_remove(&r->known, &ids[i]);
        r->failures++;
        pthread_mutex_unlock(&r->lock);
}

int repo_open(struct daemon *d, struct repo **ret)
{
        struct repo *r = calloc(1, sizeof(*r));
        struct index *wr = NULL;
        unsigned recovered = 0;
        int k;

        if (!r)
                return log_oom();
        r->daemon = d;
        r->keys = d->keyring;
        r->cipher = d->config.cipher ? (enum crypto_cipher)d->config.cipher : crypto_cipher_default();
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->put_done, NULL);
        idset_init(&r->known);
        idset_init(&r->in_flight);
        pthread_cond_init(&r->gate_cond, NULL);
        if (asprintf(&r->pack_dir, "%s/packs", d->config.state_dir) < 0 ||
            asprintf(&r->staging_dir, "%s/packs/tmp", d->config.state_dir) < 0 ||
            asprintf(&r->index_path, "%s/index.db", d->config.state_dir) < 0) {
                repo_close(r);
                return log_oom();
        }
        k = store_local_new(r->pack_dir, &r->local);
        if (k < 0) {
                log_error_errno(k, "Cannot open the pack directory %s", r->pack_dir);
                goto fail;
        }
        store_local_gc_partials(r->local, 24 * 3600);
        k = index_open(r->index_path, 0, &r->index);
        if (k < 0) {
                log_error_errno(k, "Cannot open the index %s", r->index_path);
                goto fail;
        }
        k = repo_read_new(r->index_path, r->local, r->keys, &r->read);
        if (k < 0) {
                log_oom();
                goto fail;
        }
        k = index_open(r->index_path, 0, &wr);
        if (k < 0) {
                log_error_errno(k, "Cannot open the index %s", r->index_path);
                goto fail;
        }
        k = committer_new(wr, r->local, r->keys, repo_lost, repo_before_write, r, &r->committer);
        if (k < 0) {
                log_oom();
                goto fail;
        }
        k = committer_recover(r->committer, &recovered);
        if (k < 0) {
                log_error_errno(k, "Cannot list the pack directory %s", r->pack_dir);
                goto fail;
        }
        if (recovered > 0)
                log_notice("Re-indexed %u pack(s) written before an interruption", recovered);
        /* a prune that did not finish: its marks go (nothing was deleted
         * under them), the next prune decides afresh */
        k = index_prune_release_all(wr);
        if (k > 0)
                log_notice("Released %d pack(s) an interrupted prune had marked", k);
        k = index_prune_foreach_known(r->index, known_add_cb, &r->known);
        if (k < 0) {
                log_error_errno(k, "Cannot load object ids from %s", r->index_path);
                goto fail;
        }
        /* one open pack per worker plus one for the loop-side callers */
        k = packer_new((size_t)(d->config.workers ? d->config.workers : 64) + 1, r->cipher, r->keys,
                       d->config.compression_level, r->staging_dir, r->committer, repo_lost, r, &r->packer);
        if (k < 0) {
                log_error_errno(k, "Cannot open the pack staging directory %s", r->staging_dir);
                goto fail;
        }
        k = committer_start(r->committer);
        if (k < 0) {
                log_error_errno(k, "Cannot start the pack committer thread");
                goto fail;
        }
        log_debug("Repository open: %zu objects, cipher %s", r->known.n, crypto_cipher_name(r->cipher));
        *ret = r;
        return 0;
fail:
        repo_close(r);
        return k;
}

void repo_close(struct repo *r)
{
        if (!r)
                return;
        committer_free(r->committer); /* stops its thread first */
        packer_free(r->packer);
        repo_read_free(r->read);
        index_close(r->index);
        store_free(r->local);
        idset_done(&r->known);
        idset_done(&r->in_flight);
        free(r->gate);
        pthread_cond_destroy(&r->gate_cond);
        free(r->pack_dir);
        free(r->staging_dir);
        free(r->index_path);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->put_done);
        free(r);
}

struct index *repo_index(struct repo *r) { return r->index; }
struct store *repo_store(struct repo *r) { return r->local; }

void repo_set_compression(struct repo *r, int level) { packer_set_compression(r->packer, level); }

int repo_put(struct repo *r, enum object_type type, const void *payload, size_t len,
             struct oid *ret_id, uint64_t *ret_added)
{
        struct oid id;
        size_t rlen = 0;
        int k = oid_compute(r->keys->id_key, type, payload, len, &id);
        if (k < 0)
                return k;

        pthread_mutex_lock(&r->lock);
        /* Another put of the same object in flight: wait until it is in a
         * pack (or failed, and then claim it here). */
        while (idset_has(&r->in_flight, &id))
                pthread_cond_wait(&r->put_done, &r->lock);
        k = idset_add(&r->known, &id);
        if (k > 0 && idset_add(&r->in_flight, &id) < 0) {
                idset_remove(&r->known, &id);
                k = -ENOMEM;
        }
        pthread_mutex_unlock(&r->lock);
        if (k < 0)
                return k;
        if (k == 0) { /* stored, or in a pack that the next flush commits */
                *ret_id = id;
                if (ret_added)
                        *ret_added = 0;
                return 0;
        }

        k = packer_add(r->packer, &id, type, payload, len, &rlen);

        pthread_mutex_lock(&r->lock);
        idset_remove(&r->in_flight, &id);
        if (k < 0) {
                idset_remove(&r->known, &id);
        } else {
                r->stats.objects_added++;
                r->stats.bytes_added += rlen;
        }
        pthread_cond_broadcast(&r->put_done);
        pthread_mutex_unlock(&r->lock);
        if (k < 0)
                return k;
        *ret_id = id;
        if (ret_added)
                *ret_added = rlen;
        return 0;
}

int repo_flush(struct repo *r)
{
        int k = packer_seal_all(r->packer);
        int c = committer_flush(r->committer);
        return k < 0 ? k : c;
}

uint64_t repo_failures(struct repo *r)
{
        pthread_mutex_lock(&r->lock);
        uint64_t f = r->failures;
        pthread_mutex_unlock(&r->lock);
        return f;
}

int repo_has(struct repo *r, const struct oid *id)
{
        pthread_mutex_lock(&r->lock);
        bool has = idset_has(&r->known, id);
        pthread_mutex_unlock(&r->lock);
        return has;
}

void repo_set_fault(struct repo *r, int (*fn)(void *userdata, const struct oid *pack_id, uint64_t offset,
                                              size_t len, void *buf),
                    void *userdata)
{
        repo_read_set_fault(r->read, fn, userdata);
}

void repo_set_touch(struct repo *r, void (*fn)(void *userdata, const struct oid *pack_id), void *userdata)
{
        repo_read_set_touch(r->read, fn, userdata);
}

const char *repo_tmp_dir(struct repo *r) { return r->staging_dir; }

int repo_reload_known(struct repo *r)
{
        struct index *rd = repo_read_borrow(r->read);
        int k;

        if (!rd)
                return -EIO;
        /* only ever adds: an id known already stays known */
        pthread_mutex_lock(&r->lock);
        k = index_prune_foreach_known(rd, known_add_cb, &r->known);
        pthread_mutex_unlock(&r->lock);
        repo_read_return(r->read, rd);
        return k;
}

int repo_get(struct repo *r, const struct oid *id, enum object_type type, size_t size_hint,
             uint8_t **ret, size_t *ret_len)
{
        return repo_read_object(r->read, id, type, size_hint, ret, ret_len);
}

struct index *repo_reader_get(struct repo *r) { return repo_read_borrow(r->read); }

void repo_reader_put(struct repo *r, struct index *idx) { repo_read_return(r->read, idx); }

int repo_with_writer(struct repo *r, int (*fn)(struct index *wr, void *userdata), void *userdata)
{
        return committer_with_writer(r->committer, fn, userdata);
}

void repo_get_stats(struct repo *r, struct repo_stats *ret)
{
        pthread_mutex_lock(&r->lock);
        *ret = r->stats;
        pthread_mutex_unlock(&r->lock);
        ret->packs_sealed = packer_sealed(r->packer);
}

void repo_set_committed(struct repo *r, void (*fn)(void *userdata, const struct oid *pack_id, uint64_t size),
                        void *userdata)
{
        committer_set_committed(r->committer, fn, userdata);
}
