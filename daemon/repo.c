/* SPDX-License-Identifier: MIT */
/* The repository façade (see repo.h): opening and closing, dedupe (a Bloom
 * filter of every id stored or claimed, the ids claimed and not committed
 * yet, and a lookup in the index for the filter's hits), and the fence that
 * makes a duplicate put wait for the put in flight it depends on. The work
 * is done by the packer (seal records, fill packs), the committer (make
 * packs durable, commit them to the index) and the read side (repo-read.c). */

#include "repo-private.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bloom.h"
#include "cleanup.h"
#include "committer.h"
#include "cond.h"
#include "crypto.h"
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

/* Ids read from the index, added to known in batches (the lock is not held
 * across the whole scan: puts go on meanwhile). */
struct known_fill {
        struct repo *r;
        struct oid batch[1024];
        size_t n;
};

static int known_fill_flush(struct known_fill *f)
{
        int k = 0;
        pthread_mutex_lock(&f->r->lock);
        for (size_t i = 0; i < f->n && k >= 0; i++)
                k = bloom_add(&f->r->known, &f->batch[i]);
        pthread_mutex_unlock(&f->r->lock);
        f->n = 0;
        return k < 0 ? k : 0;
}

static int known_fill_cb(const struct index_object *o, void *userdata)
{
        struct known_fill *f = userdata;
        f->batch[f->n++] = o->id;
        return f->n < ELEMENTSOF(f->batch) ? 0 : known_fill_flush(f);
}

/* Add the id of every object row of idx to known (only ever adds). */
static int known_fill(struct repo *r, struct index *idx)
{
        _cleanup_free_ struct known_fill *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->r = r;
        int k = index_object_foreach_id(idx, known_fill_cb, f);
        int m = known_fill_flush(f);
        return k < 0 ? k : m;
}

/* Take ids out of pending (r->lock held); once none is left, its storage
 * goes back (a big backup of small files may have grown it a lot). */
static void pending_remove(struct repo *r, const struct oid *ids, size_t n)
{
        for (size_t i = 0; i < n; i++)
                idset_remove(&r->pending, &ids[i]);
        if (r->pending.n == 0 && r->pending.cap > 4096) {
                idset_done(&r->pending);
                idset_init(&r->pending);
        }
}

/* Objects whose pack failed: no longer pending (a later put looks them up,
 * and stores them again), and a failure for snapshots in progress. */
static void repo_lost(void *userdata, const struct oid *ids, size_t n)
{
        struct repo *r = userdata;
        pthread_mutex_lock(&r->lock);
        pending_remove(r, ids, n);
        r->failures++;
        pthread_mutex_unlock(&r->lock);
}

/* Objects of a pack the committer has committed: the index answers for
 * them from now on. */
static void repo_stored(void *userdata, const struct oid *ids, size_t n)
{
        struct repo *r = userdata;
        pthread_mutex_lock(&r->lock);
        pending_remove(r, ids, n);
        pthread_mutex_unlock(&r->lock);
}

/* One open pack per worker thread plus one for the loop-side callers. */
static size_t repo_slots(const struct daemon *d)
{
        long n = d->config.workers;
        if (n <= 0)
                n = sysconf(_SC_NPROCESSORS_ONLN); /* as workers_new resolves 0 */
        return (size_t)(n > 0 ? n : 1) + 1;
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
        bloom_init(&r->known);
        idset_init(&r->pending);
        idset_init(&r->in_flight);
        if (cond_init_monotonic(&r->gate_cond) < 0 ||
            asprintf(&r->pack_dir, "%s/packs", d->config.state_dir) < 0 ||
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
        k = repo_read_new(r->index_path, r->local, r->keys, repo_slots(d) + 2, &r->read);
        if (k < 0) {
                log_oom();
                goto fail;
        }
        k = index_open(r->index_path, 0, &wr);
        if (k < 0) {
                log_error_errno(k, "Cannot open the index %s", r->index_path);
                goto fail;
        }
        k = committer_new(wr, r->local, r->keys, repo_lost, repo_stored, repo_before_write, r, &r->committer);
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
        k = known_fill(r, r->index);
        if (k < 0) {
                log_error_errno(k, "Cannot load object ids from %s", r->index_path);
                goto fail;
        }
        k = packer_new(repo_slots(d), r->cipher, r->keys,
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
        log_debug("Repository open: %zu objects (dedupe filter %zu KiB), cipher %s", r->known.n,
                  bloom_memory(&r->known) / 1024, crypto_cipher_name(r->cipher));
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
        bloom_done(&r->known);
        idset_done(&r->pending);
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

void repo_release_readers(struct repo *r) { repo_read_release_idle(r->read); }

struct index *repo_index(struct repo *r) { return r->index; }
struct store *repo_store(struct repo *r) { return r->local; }

void repo_set_compression(struct repo *r, int level) { packer_set_compression(r->packer, level); }

/* Is id in a pack the index has committed and prune has not condemned?
 * 1 yes, 0 no, -errno. A fresh statement on a pooled connection outside
 * any transaction: it sees the latest commit (a mark included). */
static int repo_lookup(struct repo *r, const struct oid *id)
{
        struct index *rd = repo_read_borrow(r->read);
        if (!rd)
                return -EIO;
        int k = index_object_stored(rd, id);
        repo_read_return(r->read, rd);
        return k;
}

/* Claim id for the caller to store (r->lock held, id not in flight):
 * known, pending and in flight. 1, or -ENOMEM with nothing changed but
 * known. */
static int claim_locked(struct repo *r, const struct oid *id)
{
        int k = bloom_add(&r->known, id);
        if (k < 0)
                return k;
        k = idset_add(&r->pending, id);
        if (k < 0)
                return k;
        bool was_pending = k == 0;
        if (idset_add(&r->in_flight, id) < 0) {
                if (!was_pending)
                        idset_remove(&r->pending, id);
                return -ENOMEM;
        }
        return 1;
}

/* Whether id needs storing: 1 claimed (the caller stores it, then calls
 * put_end), 0 stored or in an open pack already, -errno. The index lookup
 * runs without the lock; a prune's mark meanwhile makes it look again. */
static int put_begin(struct repo *r, const struct oid *id)
{
        bool looked = false, stored = false;
        int k;

        pthread_mutex_lock(&r->lock);
        for (;;) {
                /* another put of the same object in flight: wait until it
                 * is in a pack (or failed: then claim it here) */
                while (idset_has(&r->in_flight, id))
                        pthread_cond_wait(&r->put_done, &r->lock);
                if (stored || idset_has(&r->pending, id)) {
                        k = 0;
                        break;
                }
                if (!looked && bloom_maybe_has(&r->known, id)) {
                        uint64_t epoch = r->epoch;
                        pthread_mutex_unlock(&r->lock);
                        k = repo_lookup(r, id);
                        pthread_mutex_lock(&r->lock);
                        if (k < 0)
                                break;
                        looked = r->epoch == epoch;
                        stored = looked && k > 0;
                        continue;
                }
                k = claim_locked(r, id);
                break;
        }
        pthread_mutex_unlock(&r->lock);
        return k;
}

/* The claimed put of id is over: its record is in an open pack (k >= 0,
 * added bytes counted) or not (k < 0: no longer pending). */
static void put_end(struct repo *r, const struct oid *id, int k, size_t added)
{
        pthread_mutex_lock(&r->lock);
        idset_remove(&r->in_flight, id);
        if (k < 0) {
                pending_remove(r, id, 1);
        } else if (added > 0) {
                r->stats.objects_added++;
                r->stats.bytes_added += added;
        }
        pthread_cond_broadcast(&r->put_done);
        pthread_mutex_unlock(&r->lock);
}

int repo_put_as(struct repo *r, const struct oid *id, enum object_type type, const void *payload, size_t len,
                uint64_t *ret_added)
{
        size_t rlen = 0;
        int k = put_begin(r, id);
        if (k < 0)
                return k;
        if (k > 0) {
                k = packer_add(r->packer, id, type, payload, len, &rlen);
                put_end(r, id, k, rlen);
                if (k < 0)
                        return k;
        }
        if (ret_added)
                *ret_added = rlen; /* 0: stored, or in a pack that the next flush commits */
        return 0;
}

int repo_put(struct repo *r, enum object_type type, const void *payload, size_t len,
             struct oid *ret_id, uint64_t *ret_added)
{
        struct oid id;
        int k = oid_compute(r->keys->id_key, type, payload, len, &id);
        if (k < 0)
                return k;
        k = repo_put_as(r, &id, type, payload, len, ret_added);
        if (k < 0)
                return k;
        *ret_id = id;
        return 0;
}

/* The tag of fingerprint row fp -> id: HMAC-SHA256 with K_fprow, cut to 16
 * bytes. A row the index gives back damaged (or written by anyone without
 * the key) is not taken. */
static int fingerprint_row_tag(struct repo *r, const uint8_t fp[16], const struct oid *id, uint8_t ret[16])
{
        uint8_t mac[CRYPTO_SHA256_SIZE];
        struct crypto_piece pieces[] = {{fp, 16}, {id->bytes, OID_SIZE}};
        int k = crypto_hmac_sha256(r->keys->fingerprint_row_key, sizeof(r->keys->fingerprint_row_key), pieces, 2,
                                   mac);
        memcpy(ret, mac, 16);
        return k;
}

int repo_fingerprint_id(struct repo *r, const uint8_t fp[16], struct oid *ret_id)
{
        uint8_t tag[16], want[16];
        struct oid id;
        struct index *rd = repo_read_borrow(r->read);
        if (!rd)
                return -EIO;
        int k = index_fingerprint_get(rd, fp, &id, tag);
        repo_read_return(r->read, rd);
        if (k <= 0)
                return k;
        k = fingerprint_row_tag(r, fp, &id, want);
        if (k < 0)
                return k;
        if (memcmp(tag, want, sizeof(tag)) != 0) {
                log_warning("A chunk fingerprint row of the index has a wrong tag, ignoring it");
                return 0;
        }
        *ret_id = id;
        return 1;
}

int repo_put_fingerprinted(struct repo *r, const uint8_t fp[16], const void *payload, size_t len,
                           struct oid *ret_id, uint64_t *ret_added, bool *ret_recognized)
{
        struct oid id;
        int k = repo_fingerprint_id(r, fp, &id);
        bool recognized = k > 0; /* a failed lookup: computed, as without one */
        if (!recognized) {
                k = oid_compute(r->keys->id_key, OBJECT_DATA, payload, len, &id);
                if (k < 0)
                        return k;
        }
        k = repo_put_as(r, &id, OBJECT_DATA, payload, len, ret_added);
        if (k < 0)
                return k;
        uint8_t tag[16];
        if (!recognized && fingerprint_row_tag(r, fp, &id, tag) >= 0)
                committer_add_fingerprint(r->committer, fp, &id, tag);
        *ret_id = id;
        if (ret_recognized)
                *ret_recognized = recognized;
        return 0;
}

int repo_put_record(struct repo *r, const struct oid *id, enum object_type type, const void *record, size_t len)
{
        /* always copied (the repack's copy must not depend on another
         * put's pack), and pending meanwhile: puts deduplicate against it */
        pthread_mutex_lock(&r->lock);
        while (idset_has(&r->in_flight, id))
                pthread_cond_wait(&r->put_done, &r->lock);
        int k = claim_locked(r, id);
        pthread_mutex_unlock(&r->lock);
        if (k < 0)
                return k;
        k = packer_add_record(r->packer, id, type, record, len);
        put_end(r, id, k, 0);
        return k;
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
        bool pending = idset_has(&r->pending, id);
        bool maybe = bloom_maybe_has(&r->known, id);
        pthread_mutex_unlock(&r->lock);
        if (pending || !maybe)
                return pending;
        int k = repo_lookup(r, id);
        return k < 0 ? k : k > 0;
}

void repo_set_fault(struct repo *r, int (*fn)(void *userdata, const struct oid *pack_id, uint64_t offset,
                                              size_t len, void *buf, unsigned *from),
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
        if (!rd)
                return -EIO;
        /* only ever adds: an id known already stays known */
        int k = known_fill(r, rd);
        repo_read_return(r->read, rd);
        return k;
}

int repo_get(struct repo *r, const struct oid *id, enum object_type type, size_t size_hint,
             uint8_t **ret, size_t *ret_len)
{
        return repo_read_object(r->read, id, type, size_hint, true, ret, ret_len);
}

int repo_get_authenticated(struct repo *r, const struct oid *id, enum object_type type, size_t size_hint,
                           uint8_t **ret, size_t *ret_len)
{
        return repo_read_object(r->read, id, type, size_hint, false, ret, ret_len);
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
