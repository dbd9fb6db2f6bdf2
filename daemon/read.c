/* SPDX-License-Identifier: MIT */
/* Reading one file of a snapshot (see read.h): open it, read it (following
 * its holes), cut it into chunks and store them in parallel batches on the
 * worker pool, and fill the file's tree entry and file-cache entry. A file
 * that changes while read is read again (READ_ATTEMPTS). */

#include "read.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chunker.h"
#include "cleanup.h"
#include "daemon.h"
#include "fdpath.h"
#include "log.h"
#include "repo.h"
#include "snapshot.h"
#include "walk.h"
#include "workers.h"


/* Files from this size on are announced as read sequentially. */
#define READ_SEQUENTIAL_MIN (1024 * 1024)
/* How often a file that changes while read is read again. */
#define READ_ATTEMPTS 3
/* Files changed this close to being read are read again next time: file
 * systems stamp times from the coarse clock, so a change within the same
 * tick leaves them unchanged. A few ticks, at least 20 ms. */
static int64_t racy_ns(void)
{
        static int64_t ns;
        if (!__atomic_load_n(&ns, __ATOMIC_RELAXED)) {
                struct timespec res;
                int64_t v = 20 * 1000 * 1000;
                if (clock_getres(CLOCK_REALTIME_COARSE, &res) == 0 && res.tv_sec == 0 && 4 * res.tv_nsec > v)
                        v = 4 * res.tv_nsec;
                __atomic_store_n(&ns, v, __ATOMIC_RELAXED);
        }
        return ns;
}

/* ---- reading files (worker threads) ---- */

/* One per worker thread: the read buffer and a chunker, whose PRF holds a
 * copy of the CDC key. It is rebuilt when the keys change (generation), and
 * freed, wiped, when the thread exits. */
struct reader {
        struct chunker *chunker;
        uint64_t generation;
        uint8_t *buf;
        size_t cap;
};

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_free(void *p)
{
        struct reader *rd = p;
        if (!rd)
                return;
        chunker_free(rd->chunker); /* wipes the chunker and its PRF */
        free(rd->buf);
        free(rd);
}

static void reader_key_init(void) { pthread_key_create(&reader_key, reader_free); }

static struct reader *reader_get(struct daemon *d)
{
        pthread_once(&reader_once, reader_key_init);
        uint64_t generation = __atomic_load_n(&d->key_generation, __ATOMIC_ACQUIRE);
        struct reader *rd = pthread_getspecific(reader_key);
        if (rd && rd->generation == generation)
                return rd;
        if (rd) {
                /* the keys changed since this thread's last file */
                pthread_setspecific(reader_key, NULL);
                reader_free(rd);
        }
        rd = calloc(1, sizeof(*rd));
        if (!rd)
                return NULL;
        rd->generation = generation;
        rd->cap = 2 * CHUNKER_MAX_SIZE_DEFAULT;
        rd->buf = malloc(rd->cap);
        if (!rd->buf || chunker_new(d->keyring->cdc_key, NULL, &rd->chunker) < 0) {
                reader_free(rd);
                return NULL;
        }
        pthread_setspecific(reader_key, rd);
        return rd;
}

struct extents {
        struct object_extent *v;
        size_t n, cap;
};

static int extents_add(struct extents *x, const struct oid *id, uint64_t len, bool hole)
{
        if (x->n > 0 && hole && x->v[x->n - 1].hole) {
                x->v[x->n - 1].length += len;
                return 0;
        }
        if (!GROW(x->v, x->n, x->cap, 8))
                return -ENOMEM;
        struct object_extent *e = &x->v[x->n++];
        memset(e, 0, sizeof(*e));
        if (id)
                e->id = *id;
        e->length = len;
        e->hole = hole;
        return 0;
}

/* One chunk waiting to be stored: its bytes stay in the read buffer until
 * the batch it belongs to is flushed. */
struct chunk_task {
        struct file_item *it;
        const uint8_t *p;
        size_t len;
        struct oid id;
        int r;
};

/* Chunks cut but not yet stored, at most (a batch fills half the buffer). */
#define CHUNK_BATCH 32

static void chunk_task_run(void *arg)
{
        struct chunk_task *t = arg;
        struct snapshot_job *job = t->it->job;
        uint64_t added = 0;
        t->r = repo_put(job->daemon->repo, OBJECT_DATA, t->p, t->len, &t->id, &added);
        if (t->r < 0)
                return;
        __atomic_add_fetch(&job->stats.new_bytes, added, __ATOMIC_RELAXED);
        __atomic_add_fetch(job->progress_bytes, t->len, __ATOMIC_RELAXED);
}

/* Store the batch (in parallel on the pool when there is more than one
 * chunk: a worker that is busy with its own file leaves them to us), then
 * record the extents in file order. */
static int flush_chunks(struct file_item *it, struct chunk_task *tasks, size_t *n, struct extents *x)
{
        if (*n == 1) {
                chunk_task_run(&tasks[0]);
        } else if (*n > 1) {
                void *items[CHUNK_BATCH];
                for (size_t i = 0; i < *n; i++)
                        items[i] = &tasks[i];
                workers_run_parallel(it->job->daemon->workers, chunk_task_run, items, *n);
        }
        size_t count = *n;
        *n = 0;
        for (size_t i = 0; i < count; i++) {
                if (tasks[i].r < 0)
                        return tasks[i].r;
                int r = extents_add(x, &tasks[i].id, tasks[i].len, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Chunk and store the bytes of fd from offset start to end. */
static int read_region(struct file_item *it, struct reader *rd, int fd, uint64_t start, uint64_t end,
                       struct extents *x)
{
        struct chunk_task tasks[CHUNK_BATCH];
        size_t fill = 0, scan = 0, begin = 0, n_tasks = 0;
        uint64_t pos = start;
        bool eof = false;
        int r;

        chunker_reset(rd->chunker);
        while (!snapshot_cancelled(it->job)) {
                /* Compact once the consumed part is half of the buffer:
                 * at most one byte moved per byte consumed. A cut always
                 * comes within max_size of begin, so a full buffer never
                 * stalls the scan. The pending chunks live in the consumed
                 * part: store them first. */
                if (!eof && begin >= rd->cap / 2) {
                        r = flush_chunks(it, tasks, &n_tasks, x);
                        if (r < 0)
                                return r;
                        memmove(rd->buf, rd->buf + begin, fill - begin);
                        fill -= begin;
                        scan -= begin;
                        begin = 0;
                }
                if (!eof && fill < rd->cap) {
                        size_t want = MIN(rd->cap - fill, (size_t)(end - pos));
                        ssize_t n = want ? pread(fd, rd->buf + fill, want, (off_t)pos) : 0;
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        if (n == 0)
                                eof = true;
                        fill += (size_t)n;
                        pos += (uint64_t)n;
                }
                size_t cut = scan < fill ? chunker_scan(rd->chunker, rd->buf + scan, fill - scan)
                                         : CHUNKER_NEED_MORE;
                if (cut != CHUNKER_NEED_MORE) {
                        if (n_tasks == CHUNK_BATCH) {
                                r = flush_chunks(it, tasks, &n_tasks, x);
                                if (r < 0)
                                        return r;
                        }
                        tasks[n_tasks++] = (struct chunk_task){.it = it, .p = rd->buf + begin,
                                                               .len = scan + cut - begin};
                        begin = scan = scan + cut;
                        continue;
                }
                scan = fill;
                if (eof) {
                        if (fill > begin) {
                                if (n_tasks == CHUNK_BATCH) {
                                        r = flush_chunks(it, tasks, &n_tasks, x);
                                        if (r < 0)
                                                return r;
                                }
                                tasks[n_tasks++] = (struct chunk_task){.it = it, .p = rd->buf + begin,
                                                                       .len = fill - begin};
                        }
                        return flush_chunks(it, tasks, &n_tasks, x);
                }
        }
        return -ECANCELED;
}

/* Read a whole file into extents, following its holes. */
static int read_content(struct file_item *it, struct reader *rd, int fd, uint64_t size,
                        bool sparse, struct extents *x)
{
        if (!sparse)
                return read_region(it, rd, fd, 0, size, x);
        uint64_t pos = 0;
        while (pos < size) {
                off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO) /* only a hole up to the end */
                                data = (off_t)size;
                        else if (errno == EINVAL) /* no SEEK_DATA here */
                                return read_region(it, rd, fd, pos, size, x);
                        else
                                return -errno;
                }
                if ((uint64_t)data > size)
                        data = (off_t)size;
                if ((uint64_t)data > pos) {
                        int r = extents_add(x, NULL, (uint64_t)data - pos, true);
                        if (r < 0)
                                return r;
                        pos = (uint64_t)data;
                }
                if (pos >= size)
                        break;
                off_t hole = lseek(fd, (off_t)pos, SEEK_HOLE);
                if (hole < 0)
                        return -errno;
                if ((uint64_t)hole > size)
                        hole = (off_t)size;
                int r = read_region(it, rd, fd, pos, (uint64_t)hole, x);
                if (r < 0)
                        return r;
                pos = (uint64_t)hole;
        }
        return 0;
}

static bool same_version(const struct stat *a, const struct stat *b)
{
        return a->st_size == b->st_size && walk_ts_ns(a->st_mtim) == walk_ts_ns(b->st_mtim) &&
               walk_ts_ns(a->st_ctim) == walk_ts_ns(b->st_ctim) && a->st_ino == b->st_ino;
}

void read_file(struct file_item *it)
{
        struct snapshot_job *job = it->job;
        struct object_entry *e = &it->dir->tree->entries[it->index];
        struct reader *rd = reader_get(job->daemon);
        struct extents x = {0};
        int r = 0;

        if (snapshot_cancelled(job))
                return;
        if (!rd) {
                snapshot_job_fail(job, -ENOMEM, "out of memory");
                return;
        }
        /* Below the root's fd with no symlink at any level: a directory on
         * the way swapped for a symlink cannot redirect the read. */
        int fd = fdpath_open(it->rootfd, it->relpath, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOATIME, 0);
        if (fd == -EPERM)
                fd = fdpath_open(it->rootfd, it->relpath, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
        if (fd < 0) {
                r = fd;
                goto unreadable;
        }
        /* a big file is read once, front to back: read ahead further */
        if (it->st.st_size >= READ_SEQUENTIAL_MIN)
                (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        struct stat before = it->st, after;
        bool refresh = false;
        int64_t read_start = now_ns();
        for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
                if (fstat(fd, &before) < 0) {
                        r = -errno;
                        break;
                }
                if (!S_ISREG(before.st_mode)) {
                        r = -EINVAL;
                        break;
                }
                /* Not the inode the walk saw (renamed over), or its metadata
                 * changed since: the entry must describe what is read. */
                if (before.st_dev != it->st.st_dev || before.st_ino != it->st.st_ino ||
                    walk_ts_ns(before.st_ctim) != walk_ts_ns(it->st.st_ctim))
                        refresh = true;
                x.n = 0;
                bool sparse = (uint64_t)before.st_blocks * 512 < (uint64_t)before.st_size;
                r = read_content(it, rd, fd, (uint64_t)before.st_size, sparse, &x);
                if (r < 0)
                        break;
                if (fstat(fd, &after) < 0) {
                        r = -errno;
                        break;
                }
                if (same_version(&before, &after))
                        break;
                if (attempt == READ_ATTEMPTS - 1) {
                        log_warning("%s/%s kept changing while it was read; storing it as read", job->path, it->relpath);
                        before = after;
                }
        }
        if (r == -ECANCELED) {
                close(fd);
                free(x.v);
                return;
        }
        if (r >= 0) {
                if (refresh && (before.st_dev != it->st.st_dev || before.st_ino != it->st.st_ino))
                        log_debug("%s/%s was replaced after it was listed; storing the file found now", job->path,
                                  it->relpath);
                /* the walk leaves a file's extended attributes to its reader */
                r = refresh ? walk_entry_refresh(e, &before, fd) : walk_read_xattrs(NULL, fd, e);
                if (r < 0 && r != -ENOMEM) {
                        log_warning_errno(r, "Cannot read extended attributes of %s/%s, storing without them",
                                          job->path, it->relpath);
                        __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                        it->xattrs_failed = true; /* its cache row must not say it has none */
                        r = 0;
                }
        }
        close(fd);
        if (r < 0)
                goto unreadable;
        uint64_t size = 0;
        for (size_t i = 0; i < x.n; i++)
                size += x.v[i].length;
        e->size = size;
        e->mtime_ns = walk_ts_ns(before.st_mtim);
        e->ctime_ns = walk_ts_ns(before.st_ctim);
        if (x.n > OBJECT_INLINE_EXTENTS_MAX) {
                struct object_list list = {.extents = x.v, .n_extents = x.n};
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                uint64_t added = 0;
                r = object_list_encode(&list, &buf, &len);
                if (r >= 0)
                        r = repo_put(job->daemon->repo, OBJECT_LIST, buf, len, &e->list, &added);
                if (r < 0) {
                        free(x.v);
                        snapshot_job_fail(job, r, "cannot store the extent list of %s/%s", job->path, it->relpath);
                        return;
                }
                __atomic_add_fetch(&job->stats.new_bytes, added, __ATOMIC_RELAXED);
                e->has_list = true;
                free(x.v);
        } else {
                e->extents = x.v;
                e->n_extents = x.n;
        }
        it->cache.dev = (uint64_t)before.st_dev;
        it->cache.ino = (uint64_t)before.st_ino;
        it->cache.size = (uint64_t)before.st_size;
        it->cache.mtime_ns = walk_ts_ns(before.st_mtim);
        it->cache.ctime_ns = walk_ts_ns(before.st_ctim);
        /* "Racily clean": a file changed in the same timestamp tick as we read
         * it could change again without its times moving. Such an entry must
         * not let the next snapshot skip the file (0 never matches a ctime). */
        if (walk_ts_ns(before.st_ctim) >= read_start - racy_ns() || walk_ts_ns(before.st_mtim) >= read_start - racy_ns())
                it->cache.ctime_ns = 0;
        it->cache.mode = before.st_mode;
        it->read_ok = true;
        __atomic_add_fetch(&job->stats.files_read, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(job->progress_files, 1, __ATOMIC_RELAXED);
        return;

unreadable:
        free(x.v);
        if (r == -ENOMEM || r == -ENOSPC || r == -EIO) {
                snapshot_job_fail(job, r, "cannot store %s/%s: %s", job->path, it->relpath, strerror(-r));
                return;
        }
        log_warning_errno(r, "Cannot read %s/%s, it is left out of this snapshot", job->path, it->relpath);
        __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&job->stats.files, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&job->stats.bytes, e->size, __ATOMIC_RELAXED);
        e->kind = 0; /* dropped when the tree is assembled */
}
