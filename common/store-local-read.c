/* SPDX-License-Identifier: MIT */
/* The local store's read side: a small cache of open pack files (restores
 * read thousands of small objects, and an open/fstat/close per object is
 * most of their cost), ranged get, the paged listing in id order, prove. */
#include "store-local-private.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"

/* An fd for reading pack_id (cached); *ret_slot is the slot to release, or
 * NULL when the fd is a private one to close. */
static int fd_acquire(struct store_local *l, const struct oid *pack_id, int *ret_fd, uint64_t *ret_size,
                      struct fd_slot **ret_slot)
{
        struct fd_slot *victim = NULL;
        char path[LOCAL_PATH_SIZE];
        struct stat st;

        pthread_mutex_lock(&l->fd_lock);
        for (size_t i = 0; i < FD_CACHE_SIZE; i++) {
                struct fd_slot *f = &l->fds[i];
                if (f->fd >= 0 && !f->dead && !oid_cmp(&f->id, pack_id)) {
                        f->refs++;
                        f->used = ++l->clock;
                        *ret_fd = f->fd;
                        *ret_size = f->size;
                        *ret_slot = f;
                        pthread_mutex_unlock(&l->fd_lock);
                        return 0;
                }
                if (f->refs == 0 && (!victim || f->fd < 0 || (victim->fd >= 0 && f->used < victim->used)))
                        victim = f;
        }
        pack_path(pack_id, path);
        int fd = openat(l->dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                pthread_mutex_unlock(&l->fd_lock);
                return r;
        }
        if (victim) {
                if (victim->fd >= 0)
                        close(victim->fd);
                victim->id = *pack_id;
                victim->fd = fd;
                victim->size = (uint64_t)st.st_size;
                victim->refs = 1;
                victim->dead = false;
                victim->used = ++l->clock;
        }
        pthread_mutex_unlock(&l->fd_lock);
        *ret_fd = fd;
        *ret_size = (uint64_t)st.st_size;
        *ret_slot = victim;
        return 0;
}

static void fd_release(struct store_local *l, int fd, struct fd_slot *slot)
{
        if (!slot) {
                close(fd);
                return;
        }
        pthread_mutex_lock(&l->fd_lock);
        if (--slot->refs == 0 && slot->dead) {
                close(slot->fd);
                slot->fd = -1;
                slot->dead = false;
        }
        pthread_mutex_unlock(&l->fd_lock);
}

void store_local_read_forget(struct store_local *l, const struct oid *pack_id)
{
        pthread_mutex_lock(&l->fd_lock);
        for (size_t i = 0; i < FD_CACHE_SIZE; i++) {
                struct fd_slot *f = &l->fds[i];
                if (f->fd < 0 || oid_cmp(&f->id, pack_id))
                        continue;
                if (f->refs > 0) {
                        f->dead = true;
                } else {
                        close(f->fd);
                        f->fd = -1;
                }
        }
        pthread_mutex_unlock(&l->fd_lock);
}

int store_local_read_get(struct store *s, const struct oid *pack_id, uint64_t offset, size_t len,
                     void *buf)
{
        struct store_local *l = to_local(s);
        struct fd_slot *slot;
        uint64_t size;
        int fd, r;

        if (!pack_id || (!buf && len > 0))
                return -EINVAL;
        r = fd_acquire(l, pack_id, &fd, &size, &slot);
        if (r < 0)
                return r;
        if (offset > size || len > size - offset)
                r = -ERANGE;
        else
                r = read_exact(fd, buf, len, offset);
        fd_release(l, fd, slot);
        return r;
}

static int oid_cmp_qsort(const void *a, const void *b)
{
        return oid_cmp(a, b);
}

/* The ids named canonically in fan-out directory d (whose name is prefix),
 * sorted, into *ids (grown as needed). */
static int fanout_read(DIR *d, const char prefix[3], struct oid **ids, size_t *ret_n, size_t *cap)
{
        struct dirent *de;
        size_t n = 0;

        while ((errno = 0, de = readdir(d))) {
                char hex[OID_HEX_SIZE];
                struct oid id;

                /* Only canonical names of this fan-out dir; skip strays. */
                if (oid_from_hex(de->d_name, &id) < 0)
                        continue;
                oid_to_hex(&id, hex);
                if (strcmp(hex, de->d_name) != 0 || strncmp(hex, prefix, 2) != 0)
                        continue;
                if (!GROW(*ids, n, *cap, 64))
                        return -ENOMEM;
                (*ids)[n++] = id;
        }
        if (errno != 0)
                return -errno;
        if (n > 1)
                qsort(*ids, n, sizeof(**ids), oid_cmp_qsort);
        *ret_n = n;
        return 0;
}

/* Walk the fan-out directories in order from after's (hex order is id
 * order), sorting the names within each. */
int store_local_read_list(struct store *s, const struct oid *after, size_t max, store_list_fn fn,
                      void *userdata, int *ret_more)
{
        struct store_local *l = to_local(s);
        _cleanup_free_ struct oid *ids = NULL;
        size_t cap = 0, listed = 0;
        int more = 0, r = 0;

        if (!fn || max == 0 || !ret_more)
                return -EINVAL;
        for (unsigned prefix = after ? after->bytes[0] : 0; prefix < 256 && !more && r >= 0; prefix++) {
                char name[3];
                size_t n = 0;
                DIR *d;
                int fd;

                name[0] = "0123456789abcdef"[prefix >> 4];
                name[1] = "0123456789abcdef"[prefix & 15];
                name[2] = '\0';
                fd = openat(l->dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                d = fdopendir(fd);
                if (!d) {
                        r = -errno;
                        close(fd);
                        return r;
                }
                r = fanout_read(d, name, &ids, &n, &cap);
                for (size_t i = 0; i < n && r >= 0; i++) {
                        char hex[OID_HEX_SIZE];
                        struct stat st;

                        if (after && oid_cmp(&ids[i], after) <= 0)
                                continue;
                        oid_to_hex(&ids[i], hex);
                        if (fstatat(dirfd(d), hex, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                                continue; /* gone since readdir, or not a pack file */
                        if (listed == max) {
                                more = 1; /* one past the page: there is more */
                                break;
                        }
                        r = fn(userdata, &ids[i], (uint64_t) st.st_size);
                        listed++;
                }
                closedir(d);
        }
        if (r < 0)
                return r;
        *ret_more = more;
        return 0;
}

int store_local_read_prove(struct store *s, const struct oid *pack_id, const void *nonce,
                       size_t nonce_len, uint8_t ret_digest[CRYPTO_SHA256_SIZE])
{
        char path[LOCAL_PATH_SIZE];
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        struct crypto_sha256 *h = NULL;
        uint64_t offset = 0;
        int r;

        if (!pack_id || (!nonce && nonce_len > 0) || !ret_digest)
                return -EINVAL;
        pack_path(pack_id, path);
        fd = openat(to_local(s)->dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        buf = malloc(IO_CHUNK);
        if (!buf)
                return -ENOMEM;
        r = crypto_sha256_new(&h);
        if (r < 0)
                return r;
        r = crypto_sha256_update(h, nonce, nonce_len);
        while (r >= 0) {
                ssize_t k = pread(fd, buf, IO_CHUNK, (off_t) offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                r = crypto_sha256_update(h, buf, (size_t) k);
                offset += (uint64_t) k;
        }
        if (r < 0) {
                crypto_sha256_free(h);
                return r;
        }
        return crypto_sha256_final(h, ret_digest);
}
