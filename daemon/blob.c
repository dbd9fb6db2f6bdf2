/* SPDX-License-Identifier: MIT */
/* The parachute blob store (see blob.h): ids, index.json, the ranges of an
 * upload in progress, writes that fdatasync before they are recorded, and
 * completion (hash on the workers, check, rename into the blob root,
 * snapshot request). */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "hex.h"
#include "log.h"
#include "root.h"
#include "workers.h"

struct blob_store {
        struct daemon *daemon;
        char *root_path; /* realpath of STATE/blobs */
        int blobs_fd, staging_fd;
        struct blob_job *jobs; /* writes and hashes running on the workers */
};

struct blob_job {
        struct blob_store *store; /* NULL once the store is gone */
        struct blob_job *next;
        struct blob *write;       /* a write job: blob_write(write, offset, iov, n_iov) */
        uint64_t offset;
        const struct iovec *iov;
        size_t n_iov;
        blob_write_done_fn write_done;
        int fd;
        uint64_t start, len;
        bool sync; /* fsync the content first */
        int r;
        char hex[65];
        char id[BLOB_ID_LEN + 1]; /* the blob being completed, or "" */
        blob_hash_done_fn done;
        void *userdata;
};

static int open_dir(int at, const char *name)
{
        if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
                return -errno;
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int blob_store_new(struct daemon *d, struct blob_store **ret)
{
        struct blob_store *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->daemon = d;
        s->blobs_fd = s->staging_fd = -1;
        _cleanup_close_ int state = open(d->config.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *abs = realpath(d->config.state_dir, NULL);
        int r = state < 0 || !abs ? -errno : 0;
        if (r >= 0)
                r = s->blobs_fd = open_dir(state, BLOB_DIR);
        if (r >= 0)
                r = s->staging_fd = open_dir(state, BLOB_STAGING_DIR);
        if (r >= 0 && asprintf(&s->root_path, "%s/%s", abs, BLOB_DIR) < 0) {
                s->root_path = NULL;
                r = -ENOMEM;
        }
        if (r < 0) {
                blob_store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void blob_store_free(struct blob_store *s)
{
        if (!s)
                return;
        if (s->blobs_fd >= 0)
                close(s->blobs_fd);
        if (s->staging_fd >= 0)
                close(s->staging_fd);
        for (struct blob_job *j = s->jobs; j; j = j->next)
                j->store = NULL; /* their done callbacks come from workers_free */
        free(s->root_path);
        free(s);
}

int blob_store_root(struct blob_store *s)
{
        struct daemon *d = s->daemon;
        if (!d->repo)
                return -EAGAIN; /* no key yet: roots come up with it */
        if (root_find(d, s->root_path))
                return 0;
        int r = root_add(d, s->root_path, "", NULL);
        return r == -EEXIST ? 0 : r;
}

/* ---- index.json ---- */

/* Write name in dirfd through a temporary file and a rename. */
static int write_atomic(int dirfd, const char *name, const char *data, size_t len, bool sync)
{
        char tmp[64];
        snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        _cleanup_close_ int fd =
                openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        for (size_t done = 0; done < len;) {
                ssize_t k = write(fd, data + done, len - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)k;
        }
        if (sync && fsync(fd) < 0)
                return -errno;
        if (renameat(dirfd, tmp, dirfd, name) < 0)
                return -errno;
        return 0;
}

static int save_index(struct blob *b, bool sync)
{
        _cleanup_free_ char *text = json_dumps(b->index, JSON_COMPACT | JSON_SORT_KEYS);
        _cleanup_free_ char *line = NULL;
        if (!text || asprintf(&line, "%s\n", text) < 0)
                return -ENOMEM;
        return write_atomic(b->dirfd, "index.json", line, strlen(line), sync);
}

static int save_ranges(struct blob *b)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = blob_ranges_format(b->ranges, b->n_ranges, &text, &len);
        return r < 0 ? r : write_atomic(b->dirfd, "ranges", text, len, false);
}

/* Read a small file of dirfd whole (NUL-terminated); -EFBIG above max. */
static int read_small(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        while (got < (size_t)st.st_size) {
                ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                got += (size_t)k;
        }
        buf[got] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = got;
        return 0;
}

/* Call fn(s, name, userdata) for every entry of directory fd (not "." or
 * ".."); fn returns false to stop. -errno when it cannot be listed. */
static int list_dir(int fd, struct blob_store *s, bool (*fn)(struct blob_store *s, const char *name, void *userdata),
                    void *userdata)
{
        int dfd = dup(fd);
        DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;

        if (!dir) {
                int r = -errno;
                if (dfd >= 0)
                        close(dfd);
                return r;
        }
        rewinddir(dir); /* a dup shares its file offset with fd */
        for (struct dirent *de; (de = readdir(dir));)
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && !fn(s, de->d_name, userdata))
                        break;
        closedir(dir);
        return 0;
}

struct usage {
        uint64_t bytes;
        size_t n;
};

static bool usage_cb(struct blob_store *s, const char *name, void *userdata)
{
        struct usage *u = userdata;
        struct blob *b = NULL;

        if (!blob_id_valid(name, strlen(name)))
                return true;
        u->n++;
        if (blob_open(s, name, &b) >= 0) {
                u->bytes += b->size - blob_stored(b);
                blob_free(b);
        }
        return true;
}

/* What the uploads in progress still need (their sparse files reserve
 * nothing) and how many there are. */
static void staging_usage(struct blob_store *s, uint64_t *ret_bytes, size_t *ret_n)
{
        struct usage u = { 0 };
        list_dir(s->staging_fd, s, usage_cb, &u);
        *ret_bytes = u.bytes;
        *ret_n = u.n;
}

int blob_create(struct blob_store *s, json_t *doc, char ret_id[BLOB_ID_LEN + 1])
{
        uint8_t raw[BLOB_ID_LEN / 2];
        struct blob b = {.dirfd = -1, .index = json_deep_copy(doc)};
        int r = b.index ? crypto_random(raw, sizeof(raw)) : -ENOMEM;
        if (r < 0)
                goto out;
        hex_encode(raw, sizeof(raw), b.id);
        b.size = (uint64_t)json_integer_value(json_object_get(doc, "size"));
        const char *declared = json_string_value(json_object_get(doc, "sha256"));
        if (declared && strlen(declared) == 64)
                memcpy(b.sha256, declared, 65);
        json_object_set_new(b.index, "id", json_string(b.id));
        json_object_set_new(b.index, "complete", json_false());
        uint64_t reserved = 0;
        size_t uploads = 0;
        staging_usage(s, &reserved, &uploads);
        if (uploads >= BLOB_MAX_UPLOADS) {
                r = -EDQUOT; /* so many uploads in progress: finish or DELETE some */
                goto out;
        }
        struct statvfs vfs;
        if (fstatvfs(s->staging_fd, &vfs) == 0 &&
            (uint64_t)vfs.f_bavail * vfs.f_frsize < reserved + b.size + BLOB_FREE_MARGIN) {
                r = -ENOSPC; /* the uploads in progress and this one would not fit */
                goto out;
        }
        if (mkdirat(s->staging_fd, b.id, 0700) < 0) {
                r = -errno;
                goto out;
        }
        b.dirfd = openat(s->staging_fd, b.id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (b.dirfd < 0) {
                r = -errno;
                goto out;
        }
        {
                /* sparse at its full size: reads of missing bytes see zeros */
                _cleanup_close_ int fd = openat(b.dirfd, "0", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0 || ftruncate(fd, (off_t)b.size) < 0) {
                        r = -errno;
                        goto out;
                }
        }
        r = save_ranges(&b);
        if (r >= 0)
                r = save_index(&b, false);
        if (r >= 0 && b.size == 0) {
                char hex[65];
                r = blob_hash(&b, 0, 0, hex);
                if (r >= 0)
                        r = blob_complete(s, &b, hex);
        }
        if (r >= 0) {
                memcpy(ret_id, b.id, sizeof(b.id));
                r = 0;
        }
out:
        if (b.dirfd >= 0)
                close(b.dirfd);
        json_decref(b.index);
        free(b.ranges);
        return r;
}

static int load_ranges(struct blob *b)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_small(b->dirfd, "ranges", BLOB_MAX_RANGES * 44, &text, &len);
        return r < 0 ? r : blob_ranges_parse(text, b->size, &b->ranges, &b->n_ranges);
}

int blob_open(struct blob_store *s, const char *id, struct blob **ret)
{
        if (!blob_id_valid(id, strlen(id)))
                return -ENOENT;
        struct blob *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        memcpy(b->id, id, BLOB_ID_LEN);
        b->complete = true;
        b->dirfd = openat(s->blobs_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (b->dirfd < 0 && errno == ENOENT) {
                b->complete = false;
                b->dirfd = openat(s->staging_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int r = b->dirfd < 0 ? -errno : 0;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (r >= 0)
                r = read_small(b->dirfd, "index.json", 2 * BLOB_MAX_INDEX, &text, &len);
        if (r >= 0) {
                b->index = json_loadb(text, len, 0, NULL);
                json_t *size = json_object_get(b->index, "size");
                const char *sha = json_string_value(json_object_get(b->index, "sha256"));
                if (!json_is_integer(size) || json_integer_value(size) < 0)
                        r = -EBADMSG;
                else
                        b->size = (uint64_t)json_integer_value(size);
                if (sha && strlen(sha) == 64)
                        memcpy(b->sha256, sha, 65);
        }
        if (r >= 0 && !b->complete) {
                r = load_ranges(b);
                /* a completion cut short after ranges went: every byte is
                 * there, so the next start (or PUT) completes it again */
                if (r == -ENOENT && json_is_true(json_object_get(b->index, "complete")))
                        r = b->size == 0 ? 0 : blob_ranges_add(&b->ranges, &b->n_ranges, 0, b->size);
        }
        if (r < 0) {
                blob_free(b);
                return r;
        }
        *ret = b;
        return 0;
}

void blob_free(struct blob *b)
{
        if (!b)
                return;
        if (b->dirfd >= 0)
                close(b->dirfd);
        json_decref(b->index);
        free(b->ranges);
        free(b);
}

uint64_t blob_stored(const struct blob *b)
{
        if (b->complete)
                return b->size;
        uint64_t n = 0;
        for (size_t i = 0; i < b->n_ranges; i++)
                n += b->ranges[i].end - b->ranges[i].start;
        return n;
}

uint64_t blob_prefix(const struct blob *b)
{
        if (b->complete)
                return b->size;
        return b->n_ranges && b->ranges[0].start == 0 ? b->ranges[0].end : 0;
}

bool blob_has(const struct blob *b, uint64_t start, uint64_t end)
{
        if (b->complete || start >= end)
                return end <= b->size;
        for (size_t i = 0; i < b->n_ranges; i++)
                if (b->ranges[i].start <= start && end <= b->ranges[i].end)
                        return true;
        return false;
}

static int hash_fd(int fd, uint64_t start, uint64_t len, char ret_hex[65])
{
        struct crypto_sha256 *h = NULL;
        uint8_t digest[CRYPTO_SHA256_SIZE];
        _cleanup_free_ uint8_t *buf = malloc(1 << 20);
        int r = fd < 0 ? fd : !buf ? -ENOMEM : crypto_sha256_new(&h);
        while (r >= 0 && len > 0) {
                ssize_t k = pread(fd, buf, (size_t)MIN(len, (uint64_t)(1 << 20)), (off_t)start);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? -errno : -EIO; /* shorter than it should be */
                        break;
                }
                r = crypto_sha256_update(h, buf, (size_t)k);
                start += (uint64_t)k;
                len -= (uint64_t)k;
        }
        if (r >= 0)
                r = crypto_sha256_final(TAKE_PTR(h), digest); /* frees it */
        crypto_sha256_free(h);
        if (r < 0)
                return r;
        hex_encode(digest, sizeof(digest), ret_hex);
        return 0;
}

int blob_hash(const struct blob *b, uint64_t start, uint64_t len, char ret_hex[65])
{
        _cleanup_close_ int fd = blob_open_content(b);
        return hash_fd(fd, start, len, ret_hex);
}

static void job_work(void *userdata)
{
        struct blob_job *j = userdata;
        if (j->write) {
                j->r = blob_write(j->write, j->offset, j->iov, j->n_iov);
                return;
        }
        j->r = j->sync && fsync(j->fd) < 0 ? -errno : 0;
        if (j->r >= 0)
                j->r = hash_fd(j->fd, j->start, j->len, j->hex);
}

static void job_done(void *userdata)
{
        struct blob_job *j = userdata;
        if (j->store) {
                struct blob_job **p = &j->store->jobs;
                while (*p != j)
                        p = &(*p)->next;
                *p = j->next;
        }
        if (j->write)
                j->write_done(j->store ? j->r : -ECANCELED, j->write, j->userdata);
        else {
                close(j->fd);
                j->done(j->store ? j->r : -ECANCELED, j->hex, j->userdata);
        }
        free(j);
}

int blob_write_async(struct blob_store *s, struct blob *b, uint64_t offset, const struct iovec *iov, size_t n,
                     blob_write_done_fn done, void *userdata)
{
        struct blob_job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (struct blob_job){ .store = s, .write = b, .offset = offset, .iov = iov, .n_iov = n, .fd = -1,
                                .write_done = done, .userdata = userdata };
        memcpy(j->id, b->id, sizeof(j->id));
        int r = workers_submit(s->daemon->workers, job_work, job_done, j);
        if (r < 0) {
                free(j);
                return r;
        }
        j->next = s->jobs;
        s->jobs = j;
        return 0;
}

int blob_hash_async(struct blob_store *s, const struct blob *b, uint64_t start, uint64_t len,
                    bool completing, blob_hash_done_fn done, void *userdata)
{
        struct blob_job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->fd = blob_open_content(b);
        if (j->fd < 0) {
                int r = j->fd;
                free(j);
                return r;
        }
        j->store = s;
        j->start = start;
        j->len = len;
        j->sync = completing;
        if (completing)
                memcpy(j->id, b->id, sizeof(j->id));
        j->done = done;
        j->userdata = userdata;
        int r = workers_submit(s->daemon->workers, job_work, job_done, j);
        if (r < 0) {
                close(j->fd);
                free(j);
                return r;
        }
        j->next = s->jobs;
        s->jobs = j;
        return 0;
}

bool blob_completing(const struct blob_store *s, const char *id)
{
        for (const struct blob_job *j = s->jobs; j; j = j->next)
                if (!strcmp(j->id, id))
                        return true;
        return false;
}

struct resume {
        struct blob_store *store;
        char id[BLOB_ID_LEN + 1];
};

static void resumed(int r, const char hex[65], void *userdata)
{
        struct resume *c = userdata;
        struct blob *b = NULL;
        if (r != -ECANCELED) {
                if (r >= 0)
                        r = blob_open(c->store, c->id, &b);
                if (r >= 0)
                        r = blob_complete(c->store, b, hex); /* logs a SHA-256 mismatch itself */
                if (r < 0 && r != -EILSEQ)
                        log_warning_errno(r, "Cannot complete blob %s, the next PUT to it tries again", c->id);
                blob_free(b);
        }
        free(c);
}

static bool leftover_cb(struct blob_store *s, const char *name, void *userdata)
{
        static const char *const names[] = {"0", "index.json", "ranges", ".index.json.tmp", ".ranges.tmp"};

        (void)userdata;
        if (strlen(name) != BLOB_ID_LEN + 5 || strcmp(name + BLOB_ID_LEN, ".gone") != 0 ||
            !blob_id_valid(name, BLOB_ID_LEN))
                return true;
        _cleanup_close_ int d = openat(s->staging_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        for (size_t i = 0; d >= 0 && i < ELEMENTSOF(names); i++)
                unlinkat(d, names[i], 0);
        unlinkat(s->staging_fd, name, AT_REMOVEDIR);
        return true;
}

static bool resume_cb(struct blob_store *s, const char *name, void *userdata)
{
        struct blob *b = NULL;
        struct resume *c = NULL;

        (void)userdata;
        if (!blob_id_valid(name, strlen(name)) || blob_open(s, name, &b) < 0)
                return true;
        if (!b->complete && blob_stored(b) == b->size && (c = calloc(1, sizeof(*c)))) {
                c->store = s;
                memcpy(c->id, b->id, sizeof(c->id));
                log_info("Blob %s has every byte but was not completed, completing it", b->id);
                if (blob_hash_async(s, b, 0, b->size, true, resumed, c) < 0)
                        free(c);
        }
        blob_free(b);
        return true;
}

static bool any_cb(struct blob_store *s, const char *name, void *userdata)
{
        (void)s;
        *(bool *)userdata = name[0] != '.';
        return !*(bool *)userdata;
}

int blob_store_start(struct blob_store *s)
{
        bool any = false;
        int r = list_dir(s->blobs_fd, s, any_cb, &any);
        if (r < 0)
                return r;
        /* what a DELETE cut short left (ID.gone), then uploads whose bytes all
         * arrived but that were not completed (chuted stopped while it hashed
         * them): complete them now */
        list_dir(s->staging_fd, s, leftover_cb, NULL);
        r = list_dir(s->staging_fd, s, resume_cb, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot list the blob uploads in progress, ignoring");
        return any ? blob_store_root(s) : 0;
}

int blob_open_content(const struct blob *b)
{
        int fd = openat(b->dirfd, "0", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd < 0 ? -errno : fd;
}

int blob_index_text(const struct blob *b, char **ret, size_t *ret_len)
{
        return read_small(b->dirfd, "index.json", 2 * BLOB_MAX_INDEX, ret, ret_len);
}

/* Start a snapshot of the blob root now (it becomes a root first). */
static void snapshot_soon(struct blob_store *s, const char *id)
{
        int r = blob_store_root(s);
        struct root *root = r >= 0 ? root_find(s->daemon, s->root_path) : NULL;
        if (root)
                r = root_snapshot(root, NULL);
        if (r < 0 && r != -EAGAIN)
                log_warning_errno(r, "Cannot start a snapshot of %s for blob %s, the watcher will",
                                  s->root_path, id);
}

int blob_complete(struct blob_store *s, struct blob *b, const char hex[65])
{
        int r;
        if (b->complete)
                return -EEXIST;
        if (blob_stored(b) < b->size)
                return -EAGAIN;
        if (*b->sha256 && strcmp(hex, b->sha256) != 0) {
                log_warning("Blob %s: all %" PRIu64
                            " bytes arrived but their SHA-256 is %s, not the declared %s; "
                            "the upload starts over",
                            b->id, b->size, hex, b->sha256);
                free(b->ranges);
                b->ranges = NULL;
                b->n_ranges = 0;
                r = save_ranges(b);
                return r < 0 ? r : -EILSEQ;
        }
        memcpy(b->sha256, hex, 65);
        json_object_set_new(b->index, "sha256", json_string(hex));
        json_object_set_new(b->index, "complete", json_true());
        r = save_index(b, true);
        if (r >= 0 && unlinkat(b->dirfd, "ranges", 0) < 0 && errno != ENOENT)
                r = -errno;
        if (r >= 0 && fsync(b->dirfd) < 0)
                r = -errno;
        if (r >= 0 && renameat(s->staging_fd, b->id, s->blobs_fd, b->id) < 0)
                r = -errno;
        if (r < 0)
                return r;
        fsync(s->blobs_fd);
        fsync(s->staging_fd);
        int fd = openat(s->blobs_fd, b->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                close(b->dirfd);
                b->dirfd = fd;
        }
        b->complete = true;
        free(b->ranges);
        b->ranges = NULL;
        b->n_ranges = 0;
        log_info("Blob %s is complete (%" PRIu64 " bytes, sha256 %s)", b->id, b->size, hex);

        snapshot_soon(s, b->id); /* rather than after the watcher's quiet period */
        return 1;
}

int blob_delete(struct blob_store *s, struct blob *b)
{
        static const char *const names[] = {"0", "index.json", "ranges", ".index.json.tmp", ".ranges.tmp"};
        char trash[BLOB_ID_LEN + 8];

        /* out of blobs/ in one step (a snapshot never sees half a blob),
         * then emptied in staging under a name no blob id has; a crash in
         * between leaves only that, which the next start removes */
        snprintf(trash, sizeof(trash), "%s.gone", b->id);
        if (renameat(b->complete ? s->blobs_fd : s->staging_fd, b->id, s->staging_fd, trash) < 0)
                return -errno;
        if (b->complete)
                fsync(s->blobs_fd);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (unlinkat(b->dirfd, names[i], 0) < 0 && errno != ENOENT)
                        return -errno;
        if (unlinkat(s->staging_fd, trash, AT_REMOVEDIR) < 0)
                return -errno;
        if (b->complete)
                snapshot_soon(s, b->id);
        return 0;
}


int blob_write(struct blob *b, uint64_t offset, const struct iovec *iov, size_t n)
{
        uint64_t len = 0;
        if (b->complete)
                return -EEXIST;
        for (size_t i = 0; i < n; i++)
                len += iov[i].iov_len;
        if (offset > b->size || len > b->size - offset)
                return -ERANGE;
        if (len > 0) {
                _cleanup_close_ int fd = openat(b->dirfd, "0", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        return -errno;
                uint64_t at = offset;
                for (size_t i = 0; i < n; i++) {
                        const char *p = iov[i].iov_base;
                        size_t left = iov[i].iov_len;
                        while (left > 0) {
                                ssize_t k = pwrite(fd, p, left, (off_t)at);
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0)
                                        return k < 0 ? -errno : -EIO;
                                p += k;
                                left -= (size_t)k;
                                at += (uint64_t)k;
                        }
                }
                /* on disk before the ranges say so: a crash loses progress, never bytes */
                if (fdatasync(fd) < 0)
                        return -errno;
                int r = blob_ranges_add(&b->ranges, &b->n_ranges, offset, offset + len);
                if (r < 0)
                        return r;
                r = save_ranges(b);
                if (r < 0)
                        return r;
        }
        return blob_stored(b) == b->size;
}
