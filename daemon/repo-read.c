/* SPDX-License-Identifier: MIT */
/* The read side (see repo-read.h). A lookup per object pays SQLite's lock
 * round trips, so each thread that reads objects keeps a connection of its
 * own with a read transaction open for up to PIN_NS, refreshed at once when
 * a lookup misses (the object may have been committed since). The pinned
 * connections are listed here so that a writer can end idle transactions:
 * a thread that read once and went idle must not pin the log forever. */

#include "repo-read.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "index.h"
#include "keys.h"
#include "log.h"
#include "record.h"
#include "store.h"

/* Idle connections kept at least (the caller may ask for more). */
#define REPO_READ_POOL 8
/* Largest object payload repo_read_object will decompress into. */
#define REPO_READ_MAX (256u << 20)
/* Stores tried in turn for a record whose copy does not authenticate. */
#define REPO_READ_FAULT_TRIES 8
/* Longest a pinned read transaction is reused. */
#define PIN_NS (500 * 1000 * 1000)

/* One thread's connection; lock is held by the thread while it uses idx,
 * and by repo_read_release_idle while it ends the transaction. */
struct pinned {
        pthread_mutex_t lock;
        struct index *idx;
        bool in_txn;
        int64_t since_ns;
        struct pinned *next;
};

struct repo_read {
        char *index_path;
        struct store *local;
        const struct keys *keys;
        repo_read_fault_fn fault; /* atomic: read by every reading thread */
        void *fault_userdata;
        repo_read_touch_fn touch; /* atomic, as fault */
        void *touch_userdata;
        uint64_t serial; /* tells this instance from an earlier one at the same address */

        pthread_mutex_t pool_lock;
        struct index **pool;
        size_t n_pool, cap_pool;

        pthread_mutex_t pinned_lock; /* the list */
        struct pinned *pinned;
};

/* The calling thread's pinned connection, for the instance with this serial. */
static _Thread_local struct pinned *tls_pinned;
static _Thread_local uint64_t tls_serial;
static atomic_uint_fast64_t serials;

int repo_read_new(const char *index_path, struct store *local, const struct keys *keys, size_t pool,
                  struct repo_read **ret)
{
        struct repo_read *rr = calloc(1, sizeof(*rr));
        if (!rr)
                return -ENOMEM;
        rr->cap_pool = MAX(pool, (size_t)REPO_READ_POOL);
        rr->index_path = strdup(index_path);
        rr->pool = calloc(rr->cap_pool, sizeof(*rr->pool));
        if (!rr->index_path || !rr->pool) {
                free(rr->index_path);
                free(rr->pool);
                free(rr);
                return -ENOMEM;
        }
        rr->local = local;
        rr->keys = keys;
        rr->serial = atomic_fetch_add(&serials, 1) + 1;
        pthread_mutex_init(&rr->pool_lock, NULL);
        pthread_mutex_init(&rr->pinned_lock, NULL);
        *ret = rr;
        return 0;
}

void repo_read_free(struct repo_read *rr)
{
        if (!rr)
                return;
        for (size_t i = 0; i < rr->n_pool; i++)
                index_close(rr->pool[i]);
        free(rr->pool);
        while (rr->pinned) {
                struct pinned *p = rr->pinned;
                rr->pinned = p->next;
                index_close(p->idx); /* rolls back an open read transaction */
                pthread_mutex_destroy(&p->lock);
                free(p);
        }
        pthread_mutex_destroy(&rr->pool_lock);
        pthread_mutex_destroy(&rr->pinned_lock);
        free(rr->index_path);
        free(rr);
}

struct index *repo_read_borrow(struct repo_read *rr)
{
        struct index *idx = NULL;
        pthread_mutex_lock(&rr->pool_lock);
        if (rr->n_pool > 0)
                idx = rr->pool[--rr->n_pool];
        pthread_mutex_unlock(&rr->pool_lock);
        if (idx)
                return idx;
        int k = index_open(rr->index_path, INDEX_READONLY, &idx);
        if (k < 0) {
                log_error_errno(k, "Cannot open a read connection to %s", rr->index_path);
                return NULL;
        }
        return idx;
}

void repo_read_return(struct repo_read *rr, struct index *idx)
{
        if (!idx)
                return;
        pthread_mutex_lock(&rr->pool_lock);
        if (rr->n_pool < rr->cap_pool) {
                rr->pool[rr->n_pool++] = idx;
                idx = NULL;
        }
        pthread_mutex_unlock(&rr->pool_lock);
        index_close(idx);
}

/* End p's read transaction (p->lock held). */
static void pinned_end(struct pinned *p)
{
        if (p->in_txn)
                index_commit(p->idx);
        p->in_txn = false;
}

void repo_read_release_idle(struct repo_read *rr)
{
        pthread_mutex_lock(&rr->pinned_lock);
        for (struct pinned *p = rr->pinned; p; p = p->next)
                if (pthread_mutex_trylock(&p->lock) == 0) {
                        pinned_end(p);
                        pthread_mutex_unlock(&p->lock);
                }
        pthread_mutex_unlock(&rr->pinned_lock);
}

/* The calling thread's pinned connection, locked, in a read transaction
 * begun less than PIN_NS ago (a fresh one when refresh); NULL on failure. */
static struct pinned *pinned_acquire(struct repo_read *rr, bool refresh)
{
        struct pinned *p = tls_serial == rr->serial ? tls_pinned : NULL;
        if (!p) {
                p = calloc(1, sizeof(*p));
                if (!p)
                        return NULL;
                if (index_open(rr->index_path, INDEX_READONLY, &p->idx) < 0) {
                        free(p);
                        return NULL;
                }
                pthread_mutex_init(&p->lock, NULL);
                pthread_mutex_lock(&rr->pinned_lock);
                p->next = rr->pinned;
                rr->pinned = p;
                pthread_mutex_unlock(&rr->pinned_lock);
                tls_pinned = p;
                tls_serial = rr->serial;
        }
        pthread_mutex_lock(&p->lock);
        int64_t now = monotonic_ns();
        if (p->in_txn && (refresh || now - p->since_ns > PIN_NS))
                pinned_end(p);
        if (!p->in_txn) {
                if (index_begin(p->idx) < 0) {
                        pthread_mutex_unlock(&p->lock);
                        return NULL;
                }
                p->in_txn = true;
                p->since_ns = now;
        }
        return p;
}

/* Look id up on the thread's pinned connection (again on a fresh read
 * transaction when it misses). */
static int pinned_lookup(struct repo_read *rr, const struct oid *id, struct index_object *ret)
{
        struct pinned *p = pinned_acquire(rr, false);
        if (!p)
                return -EIO;
        int k = index_object_lookup(p->idx, id, ret);
        pthread_mutex_unlock(&p->lock);
        if (k != -ENOENT)
                return k;
        p = pinned_acquire(rr, true);
        if (!p)
                return -EIO;
        k = index_object_lookup(p->idx, id, ret);
        pthread_mutex_unlock(&p->lock);
        return k;
}

void repo_read_set_fault(struct repo_read *rr, repo_read_fault_fn fn, void *userdata)
{
        rr->fault_userdata = userdata;
        __atomic_store_n(&rr->fault, fn, __ATOMIC_RELEASE);
}

void repo_read_set_touch(struct repo_read *rr, repo_read_touch_fn fn, void *userdata)
{
        rr->touch_userdata = userdata;
        __atomic_store_n(&rr->touch, fn, __ATOMIC_RELEASE);
}

/* The range from the local store, else from the first store that has it;
 * *ret_faulted when it came from a store (*from: as for the fault handler). */
static int read_raw(struct repo_read *rr, const struct oid *pack, uint64_t offset, size_t len, void *buf,
                    bool *ret_faulted, unsigned *from)
{
        int k = store_get(rr->local, pack, offset, len, buf);
        *ret_faulted = false;
        if (k >= 0) {
                repo_read_touch_fn touch = __atomic_load_n(&rr->touch, __ATOMIC_ACQUIRE);
                if (touch)
                        touch(rr->touch_userdata, pack);
        } else if (k == -ENOENT) {
                repo_read_fault_fn fault = __atomic_load_n(&rr->fault, __ATOMIC_ACQUIRE);
                if (fault) {
                        k = fault(rr->fault_userdata, pack, offset, len, buf, from);
                        *ret_faulted = true;
                }
        }
        return k;
}

int repo_read_raw(struct repo_read *rr, const struct oid *pack, uint64_t offset, size_t len, void *buf)
{
        bool faulted;
        unsigned from = 0;
        return read_raw(rr, pack, offset, len, buf, &faulted, &from);
}

int repo_read_object(struct repo_read *rr, const struct oid *id, enum object_type type, size_t size_hint,
                     bool verify_id, uint8_t **ret, size_t *ret_len)
{
        struct index_object o;
        int k = pinned_lookup(rr, id, &o);
        if (k < 0)
                return k;
        if (type && o.type != (int)type)
                return -EBADMSG;

        _cleanup_free_ uint8_t *rec = malloc(o.length ? o.length : 1);
        if (!rec)
                return -ENOMEM;
        bool faulted;
        unsigned from = 0, tries = 0;
        k = read_raw(rr, &o.pack, o.offset, o.length, rec, &faulted, &from);
        if (k < 0)
                return k;
        /* A record read from a store that does not authenticate: its copy
         * there is damaged, another store's may not be (from: where the
         * next store to ask is) */
        size_t cap = size_hint ? size_hint : MAX(record_plain_size(o.length), (size_t)4096);
        for (;;) {
                uint8_t *out = malloc(cap ? cap : 1);
                enum object_type got;
                size_t len;
                if (!out)
                        return -ENOMEM;
                k = verify_id ? record_open_verify(rr->keys->enc_key, rr->keys->id_key, id, rec, o.length, &got,
                                                   out, cap, &len)
                              : record_open(rr->keys->enc_key, id, rec, o.length, &got, out, cap, &len);
                if (k == -ENOBUFS && cap < REPO_READ_MAX) {
                        free(out);
                        cap = MIN((size_t)REPO_READ_MAX, cap * 4);
                        continue;
                }
                if (k >= 0 && type && got != type)
                        k = -EBADMSG;
                if (k == -EBADMSG && faulted && tries < REPO_READ_FAULT_TRIES) {
                        free(out);
                        tries++;
                        repo_read_fault_fn fault = __atomic_load_n(&rr->fault, __ATOMIC_ACQUIRE);
                        int r = fault ? fault(rr->fault_userdata, &o.pack, o.offset, o.length, rec, &from) : -ENOENT;
                        if (r >= 0)
                                continue;
                        return r == -ENOENT ? k : r; /* no other store has it */
                }
                if (k < 0) {
                        free(out);
                        return k;
                }
                *ret = out;
                *ret_len = len;
                return 0;
        }
}
