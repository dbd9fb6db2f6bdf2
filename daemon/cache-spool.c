/* SPDX-License-Identifier: MIT */
/* The file-cache row spool (see cache-spool.h). A row is a fixed header
 * (lengths, then the stat fields, little-endian as the host writes them:
 * the file never leaves this process) followed by the path and the content
 * reference. */

#include "cache-spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

#define SPOOL_BUFFER (1024 * 1024)
/* A path or content reference longer than this is not a row we wrote. */
#define SPOOL_FIELD_MAX (64 * 1024 * 1024)

struct spool_header {
        uint32_t path_len;
        uint32_t content_len;
        uint64_t dev, ino, size;
        int64_t mtime_ns, ctime_ns;
        uint32_t mode;
        uint32_t pad;
};

struct cache_spool {
        char *dir;
        int fd;          /* the spill file, -1 until the first spill */
        uint64_t spilled; /* bytes in it */
        uint8_t *buf;
        size_t len, cap;
        uint64_t count;
};

int cache_spool_new(const char *dir, struct cache_spool **ret)
{
        struct cache_spool *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->dir = strdup(dir);
        if (!s->dir) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
        while (n > 0) {
                ssize_t k = pwrite(fd, p, n, (off_t)off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
                off += (uint64_t)k;
        }
        return 0;
}

static int spill(struct cache_spool *s)
{
        if (s->len == 0)
                return 0;
        if (s->fd < 0) {
                s->fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (s->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
                        /* no O_TMPFILE here: a named file, unlinked at once */
                        _cleanup_free_ char *tmpl = NULL;
                        if (asprintf(&tmpl, "%s/spool-XXXXXX", s->dir) < 0)
                                return -ENOMEM;
                        s->fd = mkostemp(tmpl, O_CLOEXEC);
                        if (s->fd >= 0 && unlink(tmpl) < 0) {
                                int r = -errno;
                                close(s->fd);
                                s->fd = -1;
                                return r;
                        }
                }
                if (s->fd < 0)
                        return -errno;
        }
        int r = write_all(s->fd, s->buf, s->len, s->spilled);
        if (r < 0)
                return r;
        s->spilled += s->len;
        s->len = 0;
        return 0;
}

int cache_spool_add(struct cache_spool *s, const char *path, const struct index_file *f)
{
        size_t plen = strlen(path);
        if (plen == 0)
                return -EINVAL;
        if (plen > SPOOL_FIELD_MAX || f->content_len > SPOOL_FIELD_MAX)
                return -E2BIG;
        size_t need = sizeof(struct spool_header) + plen + f->content_len;
        if (s->len + need > SPOOL_BUFFER && s->len > 0) {
                int r = spill(s);
                if (r < 0)
                        return r;
        }
        if (s->len + need > s->cap) {
                size_t cap = s->cap ? s->cap : 4096;
                while (cap < s->len + need)
                        cap *= 2;
                uint8_t *b = realloc(s->buf, cap);
                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->cap = cap;
        }
        struct spool_header h = {
                .path_len = (uint32_t)plen, .content_len = (uint32_t)f->content_len,
                .dev = f->dev, .ino = f->ino, .size = f->size,
                .mtime_ns = f->mtime_ns, .ctime_ns = f->ctime_ns, .mode = f->mode,
        };
        memcpy(s->buf + s->len, &h, sizeof(h));
        memcpy(s->buf + s->len + sizeof(h), path, plen);
        if (f->content_len)
                memcpy(s->buf + s->len + sizeof(h) + plen, f->content, f->content_len);
        s->len += need;
        s->count++;
        return 0;
}

uint64_t cache_spool_count(const struct cache_spool *s) { return s->count; }

/* Visit the rows in buf[0, len); *used: the bytes of whole rows. */
static int visit_rows(const uint8_t *buf, size_t len, size_t *used, char **path, size_t *path_cap,
                      index_file_cb cb, void *userdata)
{
        size_t at = 0;
        *used = 0;
        while (len - at >= sizeof(struct spool_header)) {
                struct spool_header h;
                memcpy(&h, buf + at, sizeof(h));
                if (h.path_len == 0 || h.path_len > SPOOL_FIELD_MAX || h.content_len > SPOOL_FIELD_MAX)
                        return -EBADMSG;
                size_t need = sizeof(h) + h.path_len + h.content_len;
                if (len - at < need)
                        break;
                if (*path_cap < (size_t)h.path_len + 1) {
                        char *p = realloc(*path, (size_t)h.path_len + 1);
                        if (!p)
                                return -ENOMEM;
                        *path = p;
                        *path_cap = (size_t)h.path_len + 1;
                }
                memcpy(*path, buf + at + sizeof(h), h.path_len);
                (*path)[h.path_len] = '\0';
                struct index_file f = {
                        .dev = h.dev, .ino = h.ino, .size = h.size, .mtime_ns = h.mtime_ns,
                        .ctime_ns = h.ctime_ns, .mode = h.mode,
                        .content = h.content_len ? (void *)(buf + at + sizeof(h) + h.path_len) : NULL,
                        .content_len = h.content_len,
                };
                int r = cb(*path, &f, userdata);
                if (r != 0)
                        return r;
                at += need;
                *used = at;
        }
        return 0;
}

int cache_spool_foreach(struct cache_spool *s, index_file_cb cb, void *userdata)
{
        _cleanup_free_ char *path = NULL;
        size_t path_cap = 0, used;
        int r;

        if (s->fd >= 0) {
                _cleanup_free_ uint8_t *rd = NULL;
                size_t cap = SPOOL_BUFFER, fill = 0;
                uint64_t off = 0;
                rd = malloc(cap);
                if (!rd)
                        return -ENOMEM;
                for (;;) {
                        if (off < s->spilled) {
                                if (fill == cap) { /* one row larger than the buffer */
                                        uint8_t *nb = realloc(rd, cap * 2);
                                        if (!nb)
                                                return -ENOMEM;
                                        rd = nb;
                                        cap *= 2;
                                }
                                size_t want = (size_t)MIN((uint64_t)(cap - fill), s->spilled - off);
                                ssize_t k = pread(s->fd, rd + fill, want, (off_t)off);
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k < 0)
                                        return -errno;
                                if (k == 0)
                                        return -EBADMSG;
                                fill += (size_t)k;
                                off += (uint64_t)k;
                        }
                        r = visit_rows(rd, fill, &used, &path, &path_cap, cb, userdata);
                        if (r != 0)
                                return r;
                        memmove(rd, rd + used, fill - used);
                        fill -= used;
                        if (off >= s->spilled) {
                                if (fill > 0)
                                        return -EBADMSG; /* a row cut short */
                                break;
                        }
                }
        }
        r = visit_rows(s->buf, s->len, &used, &path, &path_cap, cb, userdata);
        if (r != 0)
                return r;
        return used == s->len ? 0 : -EBADMSG;
}

void cache_spool_free(struct cache_spool *s)
{
        if (!s)
                return;
        if (s->fd >= 0)
                close(s->fd);
        free(s->buf);
        free(s->dir);
        free(s);
}
