/* SPDX-License-Identifier: MIT */
/* The repository (see repo.h). Objects are sealed as records in parallel,
 * appended to one open pack under a lock; a full pack is sealed into an
 * anonymous file, fsync'ed and linked into the pack directory, and only
 * then committed to the index, so the index never references bytes that are
 * not durable. On open, packs present on disk but missing from the index
 * (a crash between link and commit) are re-indexed from their headers. */
#include "config.h"

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

struct repo {
        struct daemon *daemon;
        const struct keys *keys;
        enum crypto_cipher cipher;
        int compression;
        char *pack_dir;
        char *index_path;
        struct index *index; /* loop thread */
        struct store *local;

        pthread_mutex_t lock; /* everything below until readers */
        struct index *wr;
        struct idset known;
        struct pack_writer *pw;
        int pw_fd;
        struct oid *open_ids; /* ids in the open pack, to forget if it fails */
        size_t n_open_ids, cap_open_ids;
        struct repo_stats stats;

        pthread_mutex_t readers_lock;
        struct index *readers[REPO_READERS];
        size_t n_readers;
};

/* Per-thread buffer for sealing records. */
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
        r->keys = &d->keys;
        r->cipher = d->config.cipher ? (enum crypto_cipher)d->config.cipher : crypto_cipher_default();
        r->compression = d->config.compression_level;
        r->pw_fd = -1;
        pthread_mutex_init(&r->lock, NULL);
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
        pack_writer_free(r->pw);
        if (r->pw_fd >= 0)
                close(r->pw_fd);
        for (size_t i = 0; i < r->n_readers; i++)
                index_close(r->readers[i]);
        index_close(r->wr);
        index_close(r->index);
        store_free(r->local);
        idset_done(&r->known);
        free(r->open_ids);
        free(r->pack_dir);
        free(r->index_path);
        pthread_mutex_destroy(&r->lock);
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

/* Forget the ids of the open pack (it failed) and drop it. */
static void abandon_locked(struct repo *r)
{
        for (size_t i = 0; i < r->n_open_ids; i++)
                idset_remove(&r->known, &r->open_ids[i]);
        r->n_open_ids = 0;
        pack_writer_free(r->pw);
        r->pw = NULL;
        if (r->pw_fd >= 0)
                close(r->pw_fd);
        r->pw_fd = -1;
}

static int seal_locked(struct repo *r)
{
        struct oid pack_id;
        uint64_t size;
        struct pack_entry *entries = NULL;
        size_t n = 0;
        char hex[OID_HEX_SIZE];

        if (!r->pw)
                return 0;
        int k = pack_writer_seal(r->pw, &pack_id, &size, NULL);
        if (k >= 0)
                k = store_local_link(r->local, r->pw_fd, &pack_id);
        if (k >= 0)
                k = pack_read_header_fd(r->pw_fd, size, r->keys->pack_key, &entries, &n);
        if (k < 0) {
                abandon_locked(r);
                return k;
        }
        _cleanup_free_ struct index_pack_entry *ie = calloc(n ? n : 1, sizeof(*ie));
        if (!ie) {
                free(entries);
                abandon_locked(r);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                ie[i].id = entries[i].id;
                ie[i].type = entries[i].type;
                ie[i].offset = entries[i].offset;
                ie[i].length = entries[i].length;
        }
        free(entries);
        k = index_pack_commit(r->wr, &pack_id, size, ie, n);
        if (k < 0) {
                /* the pack is on disk: the next start re-indexes it */
                abandon_locked(r);
                return k;
        }
        oid_to_hex(&pack_id, hex);
        log_debug("Sealed pack %s: %zu objects, %llu bytes", hex, n, (unsigned long long)size);
        r->stats.packs_sealed++;
        r->n_open_ids = 0;
        pack_writer_free(r->pw);
        r->pw = NULL;
        close(r->pw_fd);
        r->pw_fd = -1;
        return 0;
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
        int compress = r->compression > 0;
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
                                compress ? RECORD_SEAL_COMPRESS : 0, buf, record_bound(len), &rlen);

        pthread_mutex_lock(&r->lock);
        if (k >= 0 && r->pw && pack_writer_count(r->pw) > 0 && pack_writer_would_overflow(r->pw, rlen))
                k = seal_locked(r);
        if (k >= 0 && !r->pw) {
                k = store_local_tmpfile(r->local, &r->pw_fd);
                if (k >= 0) {
                        k = pack_writer_new(r->cipher, r->keys->pack_key, r->pw_fd, &r->pw);
                        if (k < 0) {
                                close(r->pw_fd);
                                r->pw_fd = -1;
                        }
                }
        }
        if (k >= 0 && r->n_open_ids == r->cap_open_ids) {
                size_t cap = r->cap_open_ids ? 2 * r->cap_open_ids : 256;
                struct oid *v = realloc(r->open_ids, cap * sizeof(*v));
                if (!v)
                        k = -ENOMEM;
                else {
                        r->open_ids = v;
                        r->cap_open_ids = cap;
                }
        }
        if (k >= 0)
                k = pack_writer_add(r->pw, &id, (uint8_t)type, buf, rlen);
        if (k < 0) {
                idset_remove(&r->known, &id);
                pthread_mutex_unlock(&r->lock);
                return k;
        }
        r->open_ids[r->n_open_ids++] = id;
        r->stats.objects_added++;
        r->stats.bytes_added += rlen;
        pthread_mutex_unlock(&r->lock);
        *ret_id = id;
        if (ret_added)
                *ret_added = rlen;
        return 0;
}

int repo_flush(struct repo *r)
{
        pthread_mutex_lock(&r->lock);
        int k = seal_locked(r);
        pthread_mutex_unlock(&r->lock);
        return k;
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

int repo_get(struct repo *r, const struct oid *id, enum object_type type, size_t size_hint,
             uint8_t **ret, size_t *ret_len)
{
        struct index_object o;
        struct index *idx = repo_reader_get(r);
        if (!idx)
                return -EIO;
        int k = index_object_lookup(idx, id, &o);
        repo_reader_put(r, idx);
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
        pthread_mutex_lock(&r->lock);
        int k = fn(r->wr, userdata);
        pthread_mutex_unlock(&r->lock);
        return k;
}

void repo_get_stats(struct repo *r, struct repo_stats *ret)
{
        pthread_mutex_lock(&r->lock);
        *ret = r->stats;
        pthread_mutex_unlock(&r->lock);
}
