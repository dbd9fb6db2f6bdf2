/* SPDX-License-Identifier: MIT */
/* The repository (see repo.h). Objects are sealed as records in parallel
 * and appended to one of several open packs (one per worker, so appending,
 * hashing and writing never serialise the workers). A full pack is sealed
 * into its anonymous file and its writeback started; sealed packs are made
 * durable in batches (fdatasync, link into the pack directory, fsync the
 * directory) and only then committed to the index in one transaction, so
 * the index never references bytes that are not durable. On open, packs
 * present on disk but missing from the index (a crash between link and
 * commit) are re-indexed from their headers. */

#include "repo.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "idset.h"
#include "index.h"
#include "log.h"
#include "pack.h"
#include "record.h"
#include "store-local.h"
#include "store.h"

#define REPO_READERS 8
/* Largest object payload repo_get will decompress into. */
#define REPO_GET_MAX (256u << 20)

/* A pack being filled; owned by one thread at a time (busy). */
struct open_pack {
        struct pack_writer *pw;
        int fd;
        struct oid *ids; /* objects in it, to forget if it fails */
        size_t n_ids, cap_ids;
        bool busy;
};

/* A sealed pack waiting to be made durable and committed. */
struct sealed_pack {
        int fd;
        struct oid id;
        uint64_t size;
        struct oid *ids;
        size_t n_ids;
};

/* Open packs: one per worker plus one for the loop-side callers. */
#define REPO_MAX_SLOTS 64
/* The committer thread makes sealed packs durable once this many wait, and
 * writers wait while four times as many do (the disk is behind). */
#define REPO_PENDING_BATCH 8

struct repo {
        struct daemon *daemon;
        const struct keys *keys;
        enum crypto_cipher cipher;
        int compression;
        char *pack_dir;
        char *index_path;
        struct index *index; /* loop thread */
        struct store *local;

        pthread_mutex_t lock; /* known, slots' busy flags, pending, stats */
        pthread_cond_t slot_free;
        struct idset known;
        struct open_pack slots[REPO_MAX_SLOTS];
        size_t n_slots;
        struct sealed_pack *pending;
        size_t n_pending, cap_pending;
        struct repo_stats stats;
        uint64_t failures;

        pthread_mutex_t commit_lock; /* the writer connection */
        struct index *wr;

        pthread_t committer;         /* commits batches in the background */
        bool committer_started, committer_stop;
        pthread_cond_t commit_wanted; /* with lock */
        pthread_cond_t commit_done;   /* with lock */

        pthread_mutex_t readers_lock;
        struct index *readers[REPO_READERS];
        size_t n_readers;
};

/* Per-thread buffer for sealing records. */
static void *committer_main(void *arg);

static pthread_key_t seal_key;
static pthread_once_t seal_once = PTHREAD_ONCE_INIT;
struct seal_buf {
        uint8_t *p;
        size_t cap;
};
static void seal_buf_free(void *p)
{
        struct seal_buf *b = p;
        if (b)
                free(b->p);
        free(b);
}
static void seal_key_init(void) { pthread_key_create(&seal_key, seal_buf_free); }

static uint8_t *seal_buffer(size_t need)
{
        pthread_once(&seal_once, seal_key_init);
        struct seal_buf *b = pthread_getspecific(seal_key);
        if (!b) {
                b = calloc(1, sizeof(*b));
                if (!b)
                        return NULL;
                pthread_setspecific(seal_key, b);
        }
        if (b->cap < need) {
                uint8_t *p = realloc(b->p, need);
                if (!p)
                        return NULL;
                b->p = p;
                b->cap = need;
        }
        return b->p;
}

static int known_add_cb(const struct index_object *o, void *userdata)
{
        return idset_add(userdata, &o->id) < 0 ? -ENOMEM : 0;
}

struct recover_ctx {
        struct repo *repo;
        unsigned n;
};

/* Index a pack found on disk (crash between link and commit). */
static int recover_pack_cb(void *userdata, const struct oid *pack_id, uint64_t size)
{
        struct recover_ctx *c = userdata;
        struct repo *r = c->repo;
        struct index_pack p;
        char hex[OID_HEX_SIZE];

        if (index_pack_lookup(r->wr, pack_id, &p) >= 0)
                return 0;
        oid_to_hex(pack_id, hex);
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%.2s/%s", r->pack_dir, hex, hex) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                log_warning_errno(-errno, "Cannot open unindexed pack %s, ignoring", path);
                return 0;
        }
        struct pack_entry *entries = NULL;
        size_t n = 0;
        int k = pack_verify_fd(fd, pack_id);
        if (k >= 0)
                k = pack_read_header_fd(fd, size, r->keys->pack_key, &entries, &n);
        if (k < 0) {
                log_warning_errno(k, "Unindexed pack %s is damaged or not ours, ignoring", path);
                return 0;
        }
        _cleanup_free_ struct index_pack_entry *ie = calloc(n ? n : 1, sizeof(*ie));
        if (!ie) {
                free(entries);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                ie[i].id = entries[i].id;
                ie[i].type = entries[i].type;
                ie[i].offset = entries[i].offset;
                ie[i].length = entries[i].length;
        }
        free(entries);
        k = index_pack_commit(r->wr, pack_id, size, ie, n);
        if (k < 0)
                return k;
        c->n++;
        return 0;
}

int repo_open(struct daemon *d, struct repo **ret)
{
        struct repo *r = calloc(1, sizeof(*r));
        int k;

        if (!r)
                return log_oom();
        r->daemon = d;
        r->keys = d->keyring;
        r->cipher = d->config.cipher ? (enum crypto_cipher)d->config.cipher : crypto_cipher_default();
        r->compression = d->config.compression_level;
        r->n_slots = MIN((size_t)REPO_MAX_SLOTS, (size_t)(d->config.workers ? d->config.workers : 64) + 1);
        for (size_t i = 0; i < REPO_MAX_SLOTS; i++)
                r->slots[i].fd = -1;
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->slot_free, NULL);
        pthread_cond_init(&r->commit_wanted, NULL);
        pthread_cond_init(&r->commit_done, NULL);
        pthread_mutex_init(&r->commit_lock, NULL);
        pthread_mutex_init(&r->readers_lock, NULL);
        idset_init(&r->known);
        if (asprintf(&r->pack_dir, "%s/packs", d->config.state_dir) < 0 ||
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
        k = index_open(r->index_path, 0, &r->wr);
        if (k < 0) {
                log_error_errno(k, "Cannot open the index %s", r->index_path);
                goto fail;
        }
        struct recover_ctx rc = {.repo = r};
        k = store_list(r->local, recover_pack_cb, &rc);
        if (k < 0) {
                log_error_errno(k, "Cannot list the pack directory %s", r->pack_dir);
                goto fail;
        }
        if (rc.n > 0)
                log_notice("Re-indexed %u pack(s) written before an interruption", rc.n);
        k = index_object_foreach(r->wr, known_add_cb, &r->known);
        if (k < 0) {
                log_error_errno(k, "Cannot load object ids from %s", r->index_path);
                goto fail;
        }
        k = pthread_create(&r->committer, NULL, committer_main, r);
        if (k != 0) {
                k = log_error_errno(-k, "Cannot start the pack committer thread");
                goto fail;
        }
        r->committer_started = true;
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
        if (r->committer_started) {
                pthread_mutex_lock(&r->lock);
                r->committer_stop = true;
                pthread_cond_signal(&r->commit_wanted);
                pthread_mutex_unlock(&r->lock);
                pthread_join(r->committer, NULL);
        }
        for (size_t i = 0; i < REPO_MAX_SLOTS; i++) {
                pack_writer_free(r->slots[i].pw);
                if (r->slots[i].fd >= 0)
                        close(r->slots[i].fd);
                free(r->slots[i].ids);
        }
        for (size_t i = 0; i < r->n_pending; i++) {
                close(r->pending[i].fd);
                free(r->pending[i].ids);
        }
        free(r->pending);
        for (size_t i = 0; i < r->n_readers; i++)
                index_close(r->readers[i]);
        index_close(r->wr);
        index_close(r->index);
        store_free(r->local);
        idset_done(&r->known);
        free(r->pack_dir);
        free(r->index_path);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->slot_free);
        pthread_cond_destroy(&r->commit_wanted);
        pthread_cond_destroy(&r->commit_done);
        pthread_mutex_destroy(&r->commit_lock);
        pthread_mutex_destroy(&r->readers_lock);
        free(r);
}

struct index *repo_index(struct repo *r) { return r->index; }
struct store *repo_store(struct repo *r) { return r->local; }

void repo_set_compression(struct repo *r, int level)
{
        pthread_mutex_lock(&r->lock);
        r->compression = level;
        pthread_mutex_unlock(&r->lock);
}

/* Forget ids whose pack failed (caller holds r->lock). */
static void forget_locked(struct repo *r, const struct oid *ids, size_t n)
{
        for (size_t i = 0; i < n; i++)
                idset_remove(&r->known, &ids[i]);
        r->failures++;
}

/* Drop a slot's pack after a failure (the slot is ours: busy). */
static void slot_abandon(struct repo *r, struct open_pack *p)
{
        pthread_mutex_lock(&r->lock);
        forget_locked(r, p->ids, p->n_ids);
        pthread_mutex_unlock(&r->lock);
        p->n_ids = 0;
        pack_writer_free(p->pw);
        p->pw = NULL;
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
}

/* Seal the slot's pack and queue it for commit (the slot is ours: busy). */
static int slot_seal(struct repo *r, struct open_pack *p)
{
        struct sealed_pack sp = {.fd = p->fd};
        if (!p->pw)
                return 0;
        int k = pack_writer_seal(p->pw, &sp.id, &sp.size, NULL);
        pack_writer_free(p->pw);
        p->pw = NULL;
        if (k < 0) {
                slot_abandon(r, p);
                return k;
        }
        /* start writing it out now; the commit waits for it later */
        sync_file_range(p->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        sp.ids = p->ids;
        sp.n_ids = p->n_ids;
        p->ids = NULL;
        p->n_ids = p->cap_ids = 0;
        p->fd = -1;
        pthread_mutex_lock(&r->lock);
        if (!GROW(r->pending, r->n_pending, r->cap_pending, 16)) {
                forget_locked(r, sp.ids, sp.n_ids);
                pthread_mutex_unlock(&r->lock);
                close(sp.fd);
                free(sp.ids);
                return -ENOMEM;
        }
        r->pending[r->n_pending++] = sp;
        r->stats.packs_sealed++;
        pthread_mutex_unlock(&r->lock);
        return 0;
}

/* Make every sealed pack durable, link it and commit it to the index. */
static int commit_pending(struct repo *r)
{
        pthread_mutex_lock(&r->commit_lock);
        pthread_mutex_lock(&r->lock);
        struct sealed_pack *v = r->pending;
        size_t n = r->n_pending;
        r->pending = NULL;
        r->n_pending = r->cap_pending = 0;
        pthread_cond_broadcast(&r->commit_done);
        pthread_mutex_unlock(&r->lock);

        int k = 0;
        size_t done = 0;
        for (; done < n && k >= 0; done++)
                k = store_local_link_trusted(r->local, v[done].fd, &v[done].id);
        if (k >= 0)
                k = index_begin(r->wr);
        for (size_t i = 0; i < n && k >= 0; i++) {
                struct pack_entry *entries = NULL;
                size_t ne = 0;
                k = pack_read_header_fd(v[i].fd, v[i].size, r->keys->pack_key, &entries, &ne);
                if (k < 0)
                        break;
                struct index_pack_entry *ie = calloc(ne ? ne : 1, sizeof(*ie));
                if (!ie) {
                        free(entries);
                        k = -ENOMEM;
                        break;
                }
                for (size_t e = 0; e < ne; e++) {
                        ie[e].id = entries[e].id;
                        ie[e].type = entries[e].type;
                        ie[e].offset = entries[e].offset;
                        ie[e].length = entries[e].length;
                }
                free(entries);
                k = index_pack_commit(r->wr, &v[i].id, v[i].size, ie, ne);
                free(ie);
                if (k >= 0) {
                        char hex[OID_HEX_SIZE];
                        oid_to_hex(&v[i].id, hex);
                        log_debug("Pack %s: %zu objects, %llu bytes", hex, ne, (unsigned long long)v[i].size);
                }
        }
        if (k >= 0)
                k = index_commit(r->wr);
        else if (done > 0 || n > 0)
                index_rollback(r->wr);
        pthread_mutex_unlock(&r->commit_lock);
        if (k < 0) {
                /* linked packs are re-indexed at the next start */
                log_error_errno(k, "Cannot commit %zu pack(s) to the index", n);
                pthread_mutex_lock(&r->lock);
                for (size_t i = 0; i < n; i++)
                        forget_locked(r, v[i].ids, v[i].n_ids);
                pthread_mutex_unlock(&r->lock);
        }
        for (size_t i = 0; i < n; i++) {
                close(v[i].fd);
                free(v[i].ids);
        }
        free(v);
        return k;
}

static struct open_pack *slot_acquire(struct repo *r)
{
        pthread_mutex_lock(&r->lock);
        for (;;) {
                struct open_pack *best = NULL;
                for (size_t i = 0; i < r->n_slots; i++) {
                        struct open_pack *p = &r->slots[i];
                        if (p->busy)
                                continue;
                        if (p->pw) { /* prefer filling an open pack */
                                best = p;
                                break;
                        }
                        if (!best)
                                best = p;
                }
                if (best) {
                        best->busy = true;
                        pthread_mutex_unlock(&r->lock);
                        return best;
                }
                pthread_cond_wait(&r->slot_free, &r->lock);
        }
}

static void slot_release(struct repo *r, struct open_pack *p)
{
        pthread_mutex_lock(&r->lock);
        p->busy = false;
        pthread_cond_signal(&r->slot_free);
        if (r->n_pending >= REPO_PENDING_BATCH)
                pthread_cond_signal(&r->commit_wanted);
        while (r->n_pending >= 4 * REPO_PENDING_BATCH && r->committer_started)
                pthread_cond_wait(&r->commit_done, &r->lock);
        pthread_mutex_unlock(&r->lock);
}

static void *committer_main(void *arg)
{
        struct repo *r = arg;
        pthread_mutex_lock(&r->lock);
        while (!r->committer_stop) {
                if (r->n_pending < REPO_PENDING_BATCH) {
                        pthread_cond_wait(&r->commit_wanted, &r->lock);
                        continue;
                }
                pthread_mutex_unlock(&r->lock);
                commit_pending(r);
                pthread_mutex_lock(&r->lock);
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

int repo_put(struct repo *r, enum object_type type, const void *payload, size_t len,
             struct oid *ret_id, uint64_t *ret_added)
{
        struct oid id;
        size_t rlen;
        int k = oid_compute(r->keys->id_key, type, payload, len, &id);
        if (k < 0)
                return k;

        pthread_mutex_lock(&r->lock);
        k = idset_add(&r->known, &id);
        int level = r->compression;
        pthread_mutex_unlock(&r->lock);
        if (k < 0)
                return k;
        if (k == 0) { /* known, or being stored by another thread right now */
                *ret_id = id;
                if (ret_added)
                        *ret_added = 0;
                return 0;
        }

        uint8_t *buf = seal_buffer(record_bound(len));
        if (!buf)
                k = -ENOMEM;
        else
                k = record_seal(r->cipher, r->keys->enc_key, &id, type, payload, len,
                                level, buf, record_bound(len), &rlen);
        if (k < 0) {
                pthread_mutex_lock(&r->lock);
                idset_remove(&r->known, &id);
                pthread_mutex_unlock(&r->lock);
                return k;
        }

        struct open_pack *p = slot_acquire(r);
        if (p->pw && pack_writer_count(p->pw) > 0 && pack_writer_would_overflow(p->pw, rlen))
                k = slot_seal(r, p);
        if (k >= 0 && !p->pw) {
                k = store_local_tmpfile(r->local, &p->fd);
                if (k >= 0) {
                        k = pack_writer_new(r->cipher, r->keys->pack_key, p->fd, &p->pw);
                        if (k < 0) {
                                close(p->fd);
                                p->fd = -1;
                        }
                }
        }
        if (k >= 0 && !GROW(p->ids, p->n_ids, p->cap_ids, 256))
                k = -ENOMEM;
        if (k >= 0) {
                k = pack_writer_add(p->pw, &id, (uint8_t)type, buf, rlen);
                if (k < 0)
                        slot_abandon(r, p);
        }
        if (k >= 0)
                p->ids[p->n_ids++] = id;
        slot_release(r, p);
        pthread_mutex_lock(&r->lock);
        if (k < 0) {
                idset_remove(&r->known, &id);
        } else {
                r->stats.objects_added++;
                r->stats.bytes_added += rlen;
        }
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
        int k = 0;
        for (size_t i = 0; i < r->n_slots; i++) {
                struct open_pack *p = &r->slots[i];
                pthread_mutex_lock(&r->lock);
                while (p->busy)
                        pthread_cond_wait(&r->slot_free, &r->lock);
                p->busy = true;
                pthread_mutex_unlock(&r->lock);
                int s = slot_seal(r, p);
                if (s < 0 && k >= 0)
                        k = s;
                pthread_mutex_lock(&r->lock);
                p->busy = false;
                pthread_cond_broadcast(&r->slot_free);
                pthread_mutex_unlock(&r->lock);
        }
        int c = commit_pending(r);
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

struct index *repo_reader_get(struct repo *r)
{
        struct index *idx = NULL;
        pthread_mutex_lock(&r->readers_lock);
        if (r->n_readers > 0)
                idx = r->readers[--r->n_readers];
        pthread_mutex_unlock(&r->readers_lock);
        if (idx)
                return idx;
        int k = index_open(r->index_path, INDEX_READONLY, &idx);
        if (k < 0) {
                log_error_errno(k, "Cannot open a read connection to %s", r->index_path);
                return NULL;
        }
        return idx;
}

void repo_reader_put(struct repo *r, struct index *idx)
{
        if (!idx)
                return;
        pthread_mutex_lock(&r->readers_lock);
        if (r->n_readers < REPO_READERS) {
                r->readers[r->n_readers++] = idx;
                idx = NULL;
        }
        pthread_mutex_unlock(&r->readers_lock);
        index_close(idx);
}

/* A read connection pinned to a worker thread with a read transaction kept
 * open for a while: a lookup per object otherwise pays SQLite's lock
 * round trips every time. Refreshed when older than PIN_NS, and whenever a
 * lookup misses (the object may have been committed since). */
#define PIN_NS (500 * 1000 * 1000)
struct pinned {
        struct repo *repo;
        struct index *idx;
        int64_t since_ns;
};
static pthread_key_t pinned_key;
static pthread_once_t pinned_once = PTHREAD_ONCE_INIT;

static void pinned_free(void *arg)
{
        struct pinned *p = arg;
        if (!p)
                return;
        if (p->idx) {
                index_commit(p->idx);
                index_close(p->idx);
        }
        free(p);
}

static void pinned_key_init(void) { pthread_key_create(&pinned_key, pinned_free); }

static struct index *pinned_reader(struct repo *r, bool refresh)
{
        pthread_once(&pinned_once, pinned_key_init);
        struct pinned *p = pthread_getspecific(pinned_key);
        if (!p) {
                p = calloc(1, sizeof(*p));
                if (!p)
                        return NULL;
                pthread_setspecific(pinned_key, p);
        }
        if (p->idx && p->repo != r) { /* a repository closed and opened again */
                pinned_free(p);
                p = calloc(1, sizeof(*p));
                if (!p)
                        return NULL;
                pthread_setspecific(pinned_key, p);
        }
        int64_t now = monotonic_ns();
        if (p->idx && (refresh || now - p->since_ns > PIN_NS)) {
                index_commit(p->idx);
                if (index_begin(p->idx) < 0) {
                        index_close(p->idx);
                        p->idx = NULL;
                }
                p->since_ns = now;
        }
        if (!p->idx) {
                if (index_open(r->index_path, INDEX_READONLY, &p->idx) < 0)
                        return NULL;
                if (index_begin(p->idx) < 0) {
                        index_close(p->idx);
                        p->idx = NULL;
                        return NULL;
                }
                p->repo = r;
                p->since_ns = now;
        }
        return p->idx;
}

int repo_get(struct repo *r, const struct oid *id, enum object_type type, size_t size_hint,
             uint8_t **ret, size_t *ret_len)
{
        struct index_object o;
        struct index *idx = pinned_reader(r, false);
        if (!idx)
                return -EIO;
        int k = index_object_lookup(idx, id, &o);
        if (k == -ENOENT) {
                idx = pinned_reader(r, true);
                k = idx ? index_object_lookup(idx, id, &o) : -EIO;
        }
        if (k < 0)
                return k;
        if (type && o.type != (int)type)
                return -EBADMSG;

        _cleanup_free_ uint8_t *rec = malloc(o.length ? o.length : 1);
        if (!rec)
                return -ENOMEM;
        k = store_get(r->local, &o.pack, o.offset, o.length, rec);
        if (k < 0)
                return k;
        size_t cap = size_hint ? size_hint : MAX(record_plain_size(o.length), (size_t)4096);
        for (;;) {
                uint8_t *out = malloc(cap ? cap : 1);
                enum object_type got;
                size_t len;
                if (!out)
                        return -ENOMEM;
                k = record_open_verify(r->keys->enc_key, r->keys->id_key, id, rec, o.length, &got, out,
                                       cap, &len);
                if (k == -ENOBUFS && cap < REPO_GET_MAX) {
                        free(out);
                        cap = MIN((size_t)REPO_GET_MAX, cap * 4);
                        continue;
                }
                if (k >= 0 && type && got != type)
                        k = -EBADMSG;
                if (k < 0) {
                        free(out);
                        return k;
                }
                *ret = out;
                *ret_len = len;
                return 0;
        }
}

int repo_with_writer(struct repo *r, int (*fn)(struct index *wr, void *userdata), void *userdata)
{
        pthread_mutex_lock(&r->commit_lock);
        int k = fn(r->wr, userdata);
        pthread_mutex_unlock(&r->commit_lock);
        return k;
}

void repo_get_stats(struct repo *r, struct repo_stats *ret)
{
        pthread_mutex_lock(&r->lock);
        *ret = r->stats;
        pthread_mutex_unlock(&r->lock);
}
