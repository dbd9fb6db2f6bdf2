/* SPDX-License-Identifier: MIT */
/* The replicator's reads from its stores, on reading threads: chunk faults
 * (repo_set_fault: a byte range of a pack not here, from the first store
 * that has it), stores borrowed by recover, and copies of packs evicted
 * here (local_copy = cache): for an upload, the pack is copied from another
 * store into an anonymous file (O_TMPFILE) in the local store's tmp dir,
 * hashed on the way and used only when its SHA-256 is its id; for a
 * verification, read back and hashed. Stores stay up while a thread is
 * inside one: the loop unlinks a store only once no reader is left. */
#include "replicate-private.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "repo.h"
#include "store.h"

/* Reading threads walk the store list under this lock; the loop links and
 * unlinks stores under it too, and unlinks one only once no reader is
 * inside it. */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fault_cond = PTHREAD_COND_INITIALIZER;
static struct replicate *fault_rep; /* under fault_lock */

void replicate_read_link(struct replicate *rep, struct replicate_store *rs)
{
        pthread_mutex_lock(&fault_lock);
        rs->next = rep->stores;
        rep->stores = rs;
        pthread_mutex_unlock(&fault_lock);
}

void replicate_read_unlink(struct replicate *rep, struct replicate_store *rs)
{
        pthread_mutex_lock(&fault_lock);
        rs->fault_closed = true;
        while (rs->readers > 0)
                pthread_cond_wait(&fault_cond, &fault_lock);
        for (struct replicate_store **pp = &rep->stores; *pp; pp = &(*pp)->next)
                if (*pp == rs) {
                        *pp = rs->next;
                        break;
                }
        pthread_mutex_unlock(&fault_lock);
}

/* The repository's chunk fault handler (a reading thread): the byte range
 * from the first store, at or after position *from of the list, that has it. */
struct fault_get {
        const struct oid *pack;
        uint64_t offset;
        size_t len;
        void *buf;
        unsigned from; /* stores before it were asked already (their copies did not authenticate) */
        unsigned pos;  /* the store being asked */
};

static int fault_get(struct store *s, void *userdata)
{
        struct fault_get *g = userdata;

        if (g->pos++ < g->from)
                return -ENOENT; /* asked before, answered or not: the next store */
        return store_get(s, g->pack, g->offset, g->len, g->buf);
}

static int replicate_fault(void *userdata, const struct oid *pack, uint64_t offset, size_t len, void *buf,
                           unsigned *from)
{
        struct fault_get g = { .pack = pack, .offset = offset, .len = len, .buf = buf, .from = *from };
        int r;

        (void)userdata;
        r = replicate_stores_try(NULL, NULL, fault_get, &g);
        if (r >= 0)
                *from = g.pos;
        return r;
}

int replicate_stores_try(struct replicate *rep, const struct replicate_store *skip,
                         int (*fn)(struct store *s, void *userdata), void *userdata)
{
        int r = -ENOENT;

        pthread_mutex_lock(&fault_lock);
        if (!rep)
                rep = fault_rep;
        else if (rep != fault_rep)
                rep = NULL; /* stopping */
        for (struct replicate_store *rs = rep ? rep->stores : NULL; rs; rs = rs->next) {
                if (rs->fault_closed || rs == skip)
                        continue;
                rs->readers++;
                pthread_mutex_unlock(&fault_lock);
                int k = fn(rs->store, userdata);
                pthread_mutex_lock(&fault_lock);
                if (--rs->readers == 0)
                        pthread_cond_broadcast(&fault_cond);
                if (k >= 0) {
                        r = 0;
                        break;
                }
                if (r == -ENOENT && k != -ENOENT)
                        r = k; /* a store that might have it could not say */
        }
        pthread_mutex_unlock(&fault_lock);
        return r;
}

/* A borrow holds a reference, not a reader: the loop that removes the store
 * does not wait for it (the borrower gives it back on the loop, which would
 * wait forever); the store is shut down, its calls fail at once, and it is
 * freed when the borrow ends. */
struct store *replicate_store_borrow(struct daemon *d, int64_t store_id, void **ret_token)
{
        for (struct replicate_store *rs = d->replicate ? d->replicate->stores : NULL; rs; rs = rs->next)
                if (rs->id == store_id && !rs->fault_closed && !rs->stopped && rs->store) {
                        rs->refs++;
                        *ret_token = rs;
                        return rs->store;
                }
        return NULL;
}

void replicate_store_return(void *token)
{
        replicate_store_unref(token);
}

void replicate_read_attach(struct replicate *rep)
{
        pthread_mutex_lock(&fault_lock);
        fault_rep = rep;
        pthread_mutex_unlock(&fault_lock);
        repo_set_fault(rep->d->repo, replicate_fault, NULL);
}

void replicate_read_detach(struct replicate *rep)
{
        pthread_mutex_lock(&fault_lock);
        if (fault_rep == rep)
                fault_rep = NULL; /* the handler stays installed and finds nothing */
        pthread_mutex_unlock(&fault_lock);
}

/* ---- copies of evicted packs ------------------------------------------------ */

/* Write all of buf at off. */
static int pwrite_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
        while (len > 0) {
                ssize_t n = pwrite(fd, buf, len, off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t)n;
                off += n;
        }
        return 0;
}

/* Bytes per GET of a fetch. */
#define FETCH_CHUNK (1024 * 1024)

struct fetch {
        const struct oid *pack;
        uint64_t size; /* 0: as the store says (the hash decides) */
        int fd;        /* -1: only check the hash */
        uint8_t *buf;
};

static int fetch_from(struct store *s, void *userdata)
{
        struct fetch *f = userdata;
        struct crypto_sha256 *h = NULL;
        uint8_t digest[CRYPTO_SHA256_SIZE];
        uint64_t size;
        int r;

        r = store_stat(s, f->pack, &size);
        if (r < 0)
                return r;
        if (f->size && size != f->size)
                return -EBADMSG; /* not the pack the index knows */
        if (f->fd >= 0 && ftruncate(f->fd, 0) < 0)
                return -errno;
        r = crypto_sha256_new(&h);
        if (r < 0)
                return r;
        for (uint64_t off = 0; off < size && r >= 0; off += FETCH_CHUNK) {
                size_t n = size - off < FETCH_CHUNK ? (size_t)(size - off) : FETCH_CHUNK;
                r = store_get(s, f->pack, off, n, f->buf);
                if (r >= 0)
                        r = crypto_sha256_update(h, f->buf, n);
                if (r >= 0 && f->fd >= 0)
                        r = pwrite_all(f->fd, f->buf, n, (off_t)off);
        }
        if (r >= 0)
                r = crypto_sha256_final(h, digest); /* frees h */
        else
                crypto_sha256_free(h);
        if (r < 0)
                return r == -ENOENT ? -EIO : r; /* gone halfway: not "nobody has it" */
        return memcmp(digest, f->pack->bytes, sizeof(digest)) == 0 ? 0 : -EBADMSG;
}

int replicate_fetch(struct replicate *rep, const struct replicate_store *skip, const struct oid *pack,
                    uint64_t size, int *ret_fd)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        int r;

        fd = open(repo_tmp_dir(rep->d->repo), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        buf = malloc(FETCH_CHUNK);
        if (!buf)
                return -ENOMEM;
        struct fetch f = { .pack = pack, .size = size, .fd = fd, .buf = buf };
        r = replicate_stores_try(rep, skip, fetch_from, &f);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int replicate_fetch_check(struct store *s, const struct oid *pack, uint64_t size)
{
        _cleanup_free_ uint8_t *buf = malloc(FETCH_CHUNK);
        struct fetch f = { .pack = pack, .size = size, .fd = -1, .buf = buf };

        if (!buf)
                return -ENOMEM;
        return fetch_from(s, &f);
}

int replicate_fetch_pack(struct daemon *d, const struct oid *pack, uint64_t size, int *ret_fd)
{
        struct replicate *rep;

        pthread_mutex_lock(&fault_lock);
        rep = fault_rep;
        pthread_mutex_unlock(&fault_lock);
        if (!rep || rep->d != d)
                return -ENOENT;
        return replicate_fetch(rep, NULL, pack, size, ret_fd);
}

void replicate_requeue(struct daemon *d, int64_t store_id, const struct oid *pack, uint64_t size)
{
        for (struct replicate_store *rs = d->replicate ? d->replicate->stores : NULL; rs; rs = rs->next)
                if (rs->id == store_id && !rs->fault_closed) {
                        replicate_store_requeue(rs, pack, size);
                        return;
                }
}
