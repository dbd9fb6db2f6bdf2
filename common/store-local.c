/* SPDX-License-Identifier: MIT */
/* The local directory store: DIR/xx/<hex id> for visible packs (two-hex-digit
 * fan-out), DIR/tmp/<hex id>.part for partial uploads. A whole-pack put links
 * the caller's anonymous file into place when it can, else copies it; commit
 * = hash check, fsync, rename, fsync of the directory. Holds only an fd of
 * DIR, so it is safe to call from several threads on different packs. The
 * read side (fd cache, get, list, prove) is store-local-read.c. */

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "pack.h"
#include "store-local-private.h"

static const struct store_ops store_local_ops;

static int fsync_dir_at(int dir_fd, const char *name)
{
        _cleanup_close_ int fd = -1;

        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

/* Create the fan-out directory of id if needed (fsyncing DIR when it is new). */
static int make_fanout(struct store_local *l, const struct oid *id)
{
        char name[3];

        fanout_name(id, name);
        if (mkdirat(l->dir_fd, name, 0700) < 0) {
                if (errno == EEXIST)
                        return 0;
                return -errno;
        }
        return fsync(l->dir_fd) < 0 ? -errno : 0;
}

static int write_exact(int fd, const void *buf, size_t len, uint64_t offset)
{
        const uint8_t *p = buf;

        while (len > 0) {
                ssize_t k = pwrite(fd, p, len, (off_t) offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                len -= (size_t) k;
                offset += (uint64_t) k;
        }
        return 0;
}

static int local_stat(struct store *s, const struct oid *pack_id, uint64_t *ret_size)
{
        char path[LOCAL_PATH_SIZE];
        struct stat st;

        pack_path(pack_id, path);
        if (fstatat(to_local(s)->dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (ret_size)
                *ret_size = (uint64_t) st.st_size;
        return 0;
}

/* pwritev all of iov at offset, however short the kernel's writes are. */
static int writev_exact(int fd, const struct iovec *iov, int iovcnt, uint64_t offset)
{
        struct iovec local[64];

        while (iovcnt > 0) {
                int n = iovcnt < (int)(sizeof(local) / sizeof(local[0])) ? iovcnt
                                                                         : (int)(sizeof(local) / sizeof(local[0]));
                size_t want = 0;

                memcpy(local, iov, (size_t)n * sizeof(*iov));
                for (int i = 0; i < n; i++)
                        want += local[i].iov_len;
                struct iovec *v = local;
                int vn = n;
                while (want > 0) {
                        ssize_t w = pwritev(fd, v, vn, (off_t)offset);
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        if (w == 0)
                                return -EIO;
                        offset += (uint64_t)w;
                        want -= (size_t)w;
                        while (vn > 0 && (size_t)w >= v->iov_len) {
                                w -= (ssize_t)v->iov_len;
                                v++;
                                vn--;
                        }
                        if (vn > 0) {
                                v->iov_base = (char *)v->iov_base + w;
                                v->iov_len -= (size_t)w;
                        }
                }
                iov += n;
                iovcnt -= n;
        }
        return 0;
}

static int local_put_range(struct store *s, const struct oid *pack_id, uint64_t offset,
                           const struct iovec *iov, int iovcnt)
{
        struct store_local *l = to_local(s);
        _cleanup_close_ int fd = -1;
        char path[LOCAL_PATH_SIZE];
        struct stat st;
        uint64_t len = 0;
        int r;

        if (!pack_id || iovcnt < 0 || (iovcnt > 0 && !iov))
                return -EINVAL;
        for (int i = 0; i < iovcnt; i++) {
                if (!iov[i].iov_base && iov[i].iov_len > 0)
                        return -EINVAL;
                len += iov[i].iov_len;
        }
        if (offset > PACK_MAX_SIZE || len > PACK_MAX_SIZE - offset)
                return -EFBIG;
        r = local_stat(s, pack_id, NULL);
        if (r >= 0)
                return -EEXIST;
        if (r != -ENOENT)
                return r;

        partial_path(pack_id, path);
        fd = openat(l->dir_fd, path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (offset > (uint64_t) st.st_size)
                return -EINVAL; /* would leave a hole: resume from partial_size */
        r = writev_exact(fd, iov, iovcnt, offset);
        if (r < 0)
                return r;
        /* Durable before we say so: partial_size must never over-report. */
        return fdatasync(fd) < 0 ? -errno : 0;
}

static int local_partial_size(struct store *s, const struct oid *pack_id, uint64_t *ret_size)
{
        char path[LOCAL_PATH_SIZE];
        struct stat st;

        if (!pack_id || !ret_size)
                return -EINVAL;
        partial_path(pack_id, path);
        if (fstatat(to_local(s)->dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret_size = 0;
                return 0;
        }
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

static int local_commit(struct store *s, const struct oid *pack_id, uint64_t total_size)
{
        struct store_local *l = to_local(s);
        char path[LOCAL_PATH_SIZE], final[LOCAL_PATH_SIZE], fanout[3];
        _cleanup_close_ int fd = -1;
        struct stat st;
        uint64_t size;
        int r;

        if (!pack_id)
                return -EINVAL;
        partial_path(pack_id, path);
        fd = openat(l->dir_fd, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                /* A retried commit whose first attempt succeeded. */
                r = local_stat(s, pack_id, &size);
                if (r < 0)
                        return r;
                return size == total_size ? 0 : -EEXIST;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size < total_size)
                return -ENODATA;
        if ((uint64_t) st.st_size > total_size) {
                (void) unlinkat(l->dir_fd, path, 0);
                return -EBADMSG;
        }
        r = pack_verify_fd(fd, pack_id);
        if (r == -EBADMSG) {
                (void) unlinkat(l->dir_fd, path, 0);
                return r;
        }
        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return -errno;

        r = make_fanout(l, pack_id);
        if (r < 0)
                return r;
        pack_path(pack_id, final);
        if (renameat(l->dir_fd, path, l->dir_fd, final) < 0)
                return -errno;
        fanout_name(pack_id, fanout);
        r = fsync_dir_at(l->dir_fd, fanout);
        if (r < 0)
                return r;
        return fsync_dir_at(l->dir_fd, "tmp");
}

/* Link the anonymous file fd into DIR as path: through /proc/self/fd (any
 * user), else AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH). -EXDEV when this
 * file cannot be linked here (another filesystem, no /proc, an O_EXCL
 * tmpfile, ...): copy it instead. */
static int link_fd(struct store_local *l, int fd, const char *path)
{
        char proc[64];

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, l->dir_fd, path, AT_SYMLINK_FOLLOW) >= 0)
                return 0;
        if (errno == EEXIST)
                return -EEXIST;
        if (linkat(fd, "", l->dir_fd, path, AT_EMPTY_PATH) >= 0)
                return 0;
        switch (errno) {
        case EEXIST:
                return -EEXIST;
        case EXDEV:
        case ENOENT:
        case EPERM:
        case EACCES:
        case EINVAL:
        case EOPNOTSUPP:
                return -EXDEV;
        default:
                return -errno;
        }
}

/* put of an anonymous file of exactly the pack's size: make its bytes
 * durable (and check their hash unless trusted), link the file itself into
 * place, fsync the fan-out directory so the name survives too. */
static int put_link(struct store_local *l, int fd, const struct oid *pack_id, unsigned flags)
{
        char final[LOCAL_PATH_SIZE], fanout[3];
        int r;

        if (flags & STORE_PUT_TRUSTED) {
                /* pack_id was computed from these very bytes */
                if (fdatasync(fd) < 0)
                        return -errno;
        } else {
                if (fsync(fd) < 0)
                        return -errno;
                r = pack_verify_fd(fd, pack_id);
                if (r < 0)
                        return r;
        }
        r = make_fanout(l, pack_id);
        if (r < 0)
                return r;
        pack_path(pack_id, final);
        r = link_fd(l, fd, final);
        if (r == -EEXIST)
                return 0; /* a concurrent put of the same id: same bytes */
        if (r < 0)
                return r;
        fanout_name(pack_id, fanout);
        return fsync_dir_at(l->dir_fd, fanout);
}

/* put by copy: the size bytes of fd into a partial upload, hashed on the
 * way (whatever the flags: these are new bytes), then committed as a ranged
 * upload is. A failure leaves nothing visible and no partial. */
static int put_copy(struct store_local *l, int fd, const struct oid *pack_id, uint64_t size)
{
        char path[LOCAL_PATH_SIZE], final[LOCAL_PATH_SIZE], fanout[3];
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int out = -1;
        struct crypto_sha256 *h = NULL;
        struct oid got;
        uint64_t offset = 0;
        int r;

        buf = malloc(IO_CHUNK);
        if (!buf)
                return -ENOMEM;
        partial_path(pack_id, path);
        out = openat(l->dir_fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0)
                return -errno;
        r = crypto_sha256_new(&h);
        while (r >= 0 && offset < size) {
                size_t n = (size_t) MIN((uint64_t) IO_CHUNK, size - offset);

                r = read_exact(fd, buf, n, offset);
                if (r == -EIO)
                        r = -ENODATA; /* fewer than size bytes */
                if (r >= 0)
                        r = crypto_sha256_update(h, buf, n);
                if (r >= 0)
                        r = write_exact(out, buf, n, offset);
                offset += n;
        }
        if (r >= 0) {
                r = crypto_sha256_final(h, got.bytes);
                if (r >= 0 && oid_cmp(&got, pack_id) != 0)
                        r = -EBADMSG;
        } else
                crypto_sha256_free(h);
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r >= 0)
                r = make_fanout(l, pack_id);
        if (r < 0) {
                (void) unlinkat(l->dir_fd, path, 0);
                return r;
        }
        pack_path(pack_id, final);
        if (renameat(l->dir_fd, path, l->dir_fd, final) < 0) {
                r = -errno;
                (void) unlinkat(l->dir_fd, path, 0);
                return r;
        }
        fanout_name(pack_id, fanout);
        r = fsync_dir_at(l->dir_fd, fanout);
        if (r < 0)
                return r;
        return fsync_dir_at(l->dir_fd, "tmp");
}

static int local_put(struct store *s, const struct oid *pack_id, int fd, uint64_t size, unsigned flags)
{
        struct store_local *l = to_local(s);
        struct stat st;
        uint64_t have;
        int r;

        if (!pack_id || fd < 0 || (flags & ~(unsigned) (STORE_PUT_TRUSTED | STORE_PUT_REPLACE)))
                return -EINVAL;
        if (size > PACK_MAX_SIZE)
                return -EFBIG;
        if (flags & STORE_PUT_REPLACE) {
                /* the file here is bad: the bytes, hashed, are renamed over it
                 * (never a moment without a pack file) */
                r = put_copy(l, fd, pack_id, size);
                store_local_read_forget(l, pack_id); /* no read goes on with the old file */
                return r;
        }
        r = local_stat(s, pack_id, &have);
        if (r >= 0)
                return have == size ? 0 : -EEXIST;
        if (r != -ENOENT)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode) && (uint64_t) st.st_size < size)
                return -ENODATA;
        /* An anonymous file (O_TMPFILE) holding exactly the pack: nobody
         * else can reach it, so it can become the pack itself. A named file
         * is copied, as its owner may change it later. */
        if (S_ISREG(st.st_mode) && st.st_nlink == 0 && (uint64_t) st.st_size == size) {
                r = put_link(l, fd, pack_id, flags);
                if (r != -EXDEV)
                        return r;
        }
        return put_copy(l, fd, pack_id, size);
}

static int local_del(struct store *s, const struct oid *pack_id)
{
        struct store_local *l = to_local(s);
        char path[LOCAL_PATH_SIZE], fanout[3];
        bool found = false;

        if (!pack_id)
                return -EINVAL;
        store_local_read_forget(l, pack_id);
        pack_path(pack_id, path);
        if (unlinkat(l->dir_fd, path, 0) >= 0) {
                int r;

                found = true;
                fanout_name(pack_id, fanout);
                r = fsync_dir_at(l->dir_fd, fanout);
                if (r < 0)
                        return r;
        } else if (errno != ENOENT)
                return -errno;

        partial_path(pack_id, path);
        if (unlinkat(l->dir_fd, path, 0) >= 0)
                found = true;
        else if (errno != ENOENT)
                return -errno;

        return found ? 0 : -ENOENT;
}

static void local_free(struct store *s)
{
        struct store_local *l = to_local(s);

        if (!l)
                return;
        for (size_t i = 0; i < FD_CACHE_SIZE; i++)
                if (l->fds[i].fd >= 0)
                        close(l->fds[i].fd);
        pthread_mutex_destroy(&l->fd_lock);
        if (l->dir_fd >= 0)
                close(l->dir_fd);
        free(l);
}

static const struct store_ops store_local_ops = {
        .kind = "local",
        .put = local_put,
        .put_range = local_put_range,
        .commit = local_commit,
        .partial_size = local_partial_size,
        .get = store_local_read_get,
        .stat = local_stat,
        .list = store_local_read_list,
        .del = local_del,
        .prove = store_local_read_prove,
        .free = local_free,
};

int store_local_new(const char *dir, struct store **ret)
{
        struct store_local *l;
        int r;

        if (!dir || !ret)
                return -EINVAL;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->base.ops = &store_local_ops;
        pthread_mutex_init(&l->fd_lock, NULL);
        for (size_t i = 0; i < FD_CACHE_SIZE; i++)
                l->fds[i].fd = -1;
        l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->dir_fd < 0) {
                r = -errno;
                local_free(&l->base);
                return r;
        }
        if (mkdirat(l->dir_fd, "tmp", 0700) < 0 && errno != EEXIST) {
                r = -errno;
                local_free(&l->base);
                return r;
        }
        *ret = &l->base;
        return 0;
}

int store_local_gc_partials(struct store *s, uint64_t max_age_sec)
{
        struct store_local *l;
        struct dirent *de;
        struct timespec now;
        DIR *d;
        int fd, removed = 0, r = 0;

        if (!s || s->ops != &store_local_ops)
                return -EINVAL;
        l = to_local(s);
        if (clock_gettime(CLOCK_REALTIME, &now) < 0)
                return -errno;
        fd = openat(l->dir_fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                if (st.st_mtime > now.tv_sec || (uint64_t) (now.tv_sec - st.st_mtime) < max_age_sec)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
                        if (errno != ENOENT) {
                                r = -errno;
                                break;
                        }
                        continue;
                }
                removed++;
        }
        closedir(d);
        return r < 0 ? r : removed;
}

int store_local_open(struct store *s, const struct oid *pack_id, int *ret_fd)
{
        char path[LOCAL_PATH_SIZE];
        int fd;

        if (!s || s->ops != &store_local_ops || !pack_id || !ret_fd)
                return -EINVAL;
        pack_path(pack_id, path);
        fd = openat(to_local(s)->dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}
