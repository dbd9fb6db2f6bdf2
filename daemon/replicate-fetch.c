/* SPDX-License-Identifier: MIT */
/* Packs evicted here (local_copy = cache): for an upload, the pack is
 * copied from another store that holds it into an anonymous file (O_TMPFILE)
 * in the local store's tmp dir, range by range, hashed on the way, and used
 * only when its SHA-256 is its id (nothing of it is ever visible locally);
 * for a verification, it is read back from the store and hashed. */
#include "replicate-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "repo.h"
#include "store.h"

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
