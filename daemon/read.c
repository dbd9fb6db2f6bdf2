/* SPDX-License-Identifier: MIT */
/* Reading one file of a snapshot (see read.h): open it, read it (following
 * its holes) in two alternating blocks, cut it into chunks, store the
 * chunks of one block on the worker pool while the next block is read and
 * cut, and fill the file's tree entry and file-cache entry. A file that
 * changes while read is read again (READ_ATTEMPTS). */

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
#include "crypto.h"
#include "daemon.h"
#include "fdpath.h"
#include "log.h"
#include "object.h"
#include "path.h"
#include "repo.h"
#include "snapshot.h"
#include "test-hook.h"
#include "walk.h"
#include "workers.h"


/* Files from this size on are announced as read sequentially. */
#define READ_SEQUENTIAL_MIN (1024 * 1024)
/* How often a file that changes while read is read again. */
#define READ_ATTEMPTS 3
/* The racy window for a file whose times have no sub-second part. */
#define READ_RACY_COARSE_NS (INT64_C(3) * 1000000000)
/* Files changed this close to being read are read again next time: file
 * systems stamp times from the coarse clock, so a change within the same
 * tick leaves them unchanged. A few ticks, at least 20 ms. */
static int64_t racy_ns(void)
{
        static int64_t ns; /* every worker reads it, the first ones set it: atomic both ways */
        int64_t v = __atomic_load_n(&ns, __ATOMIC_RELAXED);
        if (!v) {
                struct timespec res;
                v = 20 * 1000 * 1000;
                if (clock_getres(CLOCK_REALTIME_COARSE, &res) == 0 && res.tv_sec == 0 && 4 * res.tv_nsec > v)
                        v = 4 * res.tv_nsec;
                __atomic_store_n(&ns, v, __ATOMIC_RELAXED);
        }
        return v;
}

/* ---- reading files (worker threads) ---- */

/* A file's bytes are read into blocks of READ_BLOCK bytes: the chunks cut
 * in one are stored on the pool while the next is read and cut. A cut
 * always comes within the chunker's max_size, so the bytes after a block's
 * last cut (carried into the next block) are fewer than that, and every
 * block has READ_BLOCK - max_size bytes at least to read into. */
#define READ_BLOCK (CHUNKER_MAX_SIZE_DEFAULT + 2 * 1024 * 1024)
/* Chunks cut in one block, at most: READ_BLOCK / min_size, and the last. */
#define BLOCK_CHUNKS (READ_BLOCK / CHUNKER_MIN_SIZE_DEFAULT + 2)

/* One per worker thread: two blocks (the second is allocated for the
 * first file larger than one) and a chunker, whose PRF holds a copy of the
 * CDC key. It is rebuilt when the keys change (generation), and freed,
 * wiped, when the thread exits. */
struct reader {
        struct chunker *chunker;
        uint64_t generation;
        uint8_t *buf[2];
};

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_free(void *p)
{
        struct reader *rd = p;
        if (!rd)
                return;
        chunker_free(rd->chunker); /* wipes the chunker and its PRF */
        free(rd->buf[0]);
        free(rd->buf[1]);
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
        rd->buf[0] = malloc(READ_BLOCK);
        if (!rd->buf[0] || chunker_new(d->keyring->cdc_key, NULL, &rd->chunker) < 0) {
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

/* One chunk to store: its bytes stay in its block until it is stored. */
struct chunk_task {
        struct file_item *it;
        const uint8_t *p;
        size_t len;
        bool known; /* id is known: a chunk of the last version, taken whole */
        struct oid id;
        int r;
};

/* The chunks of a changed file's last version, where they started: a
 * chunk of the new version that starts with the same bytes as one of them
 * (its fingerprint gives that chunk's id) ends where it did too. The
 * chunker, which cuts by the bytes since the last cut, would cut there
 * again; it is not run over it. The last chunk before a hole or the end is
 * not taken (its end was not a cut of the chunker's). Bytes inserted or
 * removed shift the rest: after a cut of the chunker's, the old chunk
 * nearest to where the shift so far puts it is tried, and a match sets
 * the new shift. PREV_MISSES_MAX failed tries in a row end the tries. */
#define PREV_MISSES_MAX 32
struct prev_chunks {
        struct object_extent *x;
        uint64_t *start;
        size_t n;
        size_t j;       /* the chunk tried last */
        int64_t shift;  /* new offset - old offset of the chunks taken last */
        unsigned misses;
        uint64_t taken, bytes_taken;
};

static void prev_chunks_done(struct prev_chunks *pv)
{
        free(pv->x);
        free(pv->start);
        *pv = (struct prev_chunks){0};
}

/* Load the last version's chunks of it (none where it had none, where
 * this CPU cannot fingerprint, or on any error: the chunker then cuts
 * everything). */
static void prev_chunks_load(struct file_item *it, struct prev_chunks *pv)
{
        *pv = (struct prev_chunks){0};
        if ((!it->prev_has_list && it->n_prev == 0) || !crypto_fingerprint_available())
                return;
        if (it->prev_has_list) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                struct object_list *list = NULL;
                if (repo_get(it->job->daemon->repo, &it->prev_list, OBJECT_LIST, 0, &buf, &len) < 0 ||
                    object_list_decode(buf, len, &list) < 0)
                        return;
                pv->x = list->extents;
                pv->n = list->n_extents;
                list->extents = NULL;
                object_list_free(list);
        } else {
                pv->x = it->prev;
                pv->n = it->n_prev;
                it->prev = NULL;
                it->n_prev = 0;
        }
        pv->start = malloc(sizeof(*pv->start) * (pv->n ? pv->n : 1));
        if (!pv->start) {
                prev_chunks_done(pv);
                return;
        }
        uint64_t at = 0;
        for (size_t i = 0; i < pv->n; i++) {
                pv->start[i] = at;
                at += pv->x[i].length;
        }
}

/* The length of the last version's chunk to try at new file offset off
 * (pv->j is set to it), or 0: the one that started at off - shift, else
 * the one that started nearest to it. */
static size_t prev_chunk_at(struct prev_chunks *pv, uint64_t off)
{
        if (pv->misses >= PREV_MISSES_MAX)
                return 0;
        int64_t want = (int64_t)off - pv->shift;
        size_t lo = 0, hi = pv->n; /* the first chunk starting at want or after */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if ((int64_t)pv->start[mid] < want)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        size_t j = lo;
        if (j == pv->n || (j > 0 && want - (int64_t)pv->start[j - 1] < (int64_t)pv->start[j] - want))
                j--;
        if (j + 1 >= pv->n || pv->x[j].hole || pv->x[j + 1].hole)
                return 0;
        pv->j = j;
        return (size_t)pv->x[j].length;
}

static void chunk_task_run(void *arg)
{
        struct chunk_task *t = arg;
        struct snapshot_job *job = t->it->job;
        struct repo *repo = job->daemon->repo;
        uint8_t fp[CRYPTO_FINGERPRINT_SIZE];
        uint64_t added = 0;
        if (t->known || (t->it->st.st_size >= READ_FINGERPRINT_MIN &&
                         crypto_fingerprint(job->daemon->keyring->fingerprint_key, t->p, t->len, fp) >= 0)) {
                bool recognized = t->known;
                t->r = t->known ? repo_put_as(repo, &t->id, OBJECT_DATA, t->p, t->len, &added)
                                : repo_put_fingerprinted(repo, fp, t->p, t->len, &t->id, &added, &recognized);
                if (t->r >= 0 && recognized) {
                        __atomic_add_fetch(&job->recognized_chunks, 1, __ATOMIC_RELAXED);
                        __atomic_add_fetch(&job->recognized_bytes, t->len, __ATOMIC_RELAXED);
                }
        } else
                t->r = repo_put(repo, OBJECT_DATA, t->p, t->len, &t->id, &added);
        if (t->r >= 0 && test_hook_fail("chunk-store"))
                t->r = -EDQUOT; /* tests: the repository refuses a chunk */
        if (t->r < 0) {
                __atomic_store_n(&t->it->store_error, t->r, __ATOMIC_RELAXED);
                return;
        }
        __atomic_add_fetch(&job->stats.new_bytes, added, __ATOMIC_RELAXED);
        __atomic_add_fetch(job->progress_bytes, t->len, __ATOMIC_RELAXED);
}

/* A block of a region and the chunks cut in it, stored on the pool (at the
 * head of its queue: a big file's chunks go to the next idle worker before
 * more files are started). */
struct block {
        uint8_t *buf;
        struct chunk_task tasks[BLOCK_CHUNKS];
        size_t n;
        struct workers_group *g; /* NULL until its chunks are handed out */
};

/* Hand the block's chunks to the pool, and store here those no idle
 * worker took at once: while they are still in the cache. Only what other
 * workers store overlaps with reading the next block. */
static int block_submit(struct file_item *it, struct block *b)
{
        if (b->n == 0)
                return 0;
        if (!b->g) {
                int r = workers_group_new(it->job->daemon->workers, &b->g);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < b->n; i++)
                workers_group_push(b->g, chunk_task_run, &b->tasks[i]);
        workers_group_help(b->g);
        return 0;
}

/* Wait for the block's chunks (helping store them), then record their
 * extents in file order; the block is free for reuse. */
static int block_finish(struct block *b, struct extents *x, int r)
{
        if (b->g)
                workers_group_wait(b->g, 0);
        for (size_t i = 0; i < b->n; i++) {
                if (r >= 0 && b->tasks[i].r < 0)
                        r = b->tasks[i].r;
                if (r >= 0)
                        r = extents_add(x, &b->tasks[i].id, b->tasks[i].len, false);
        }
        b->n = 0;
        return r;
}

/* Chunk and store the bytes of fd from offset start to end: read into one
 * block while the chunks of the other are stored. A block's last chunk
 * alone (most files: their only one) is stored here, off the pool. */
static int read_region(struct file_item *it, struct reader *rd, int fd, uint64_t start, uint64_t end,
                       struct prev_chunks *pv, struct extents *x)
{
        /* the tasks are filled as chunks are cut: not cleared for each file */
        struct block blocks[2];
        blocks[0].buf = rd->buf[0];
        blocks[1].buf = NULL;
        blocks[0].n = blocks[1].n = 0;
        blocks[0].g = blocks[1].g = NULL;
        struct block *cur = &blocks[0];
        size_t fill = 0, scan = 0, begin = 0;
        uint64_t pos = start;
        bool eof = false, carry_prev = false;
        int r = 0;

        chunker_reset(rd->chunker);
        while (r >= 0) {
                if (snapshot_cancelled(it->job)) {
                        r = -ECANCELED;
                        break;
                }
                /* the block is full and cut as far as it goes: what is
                 * left after the last cut is less than max_size; carry it
                 * into the other block, once that one's chunks are
                 * stored, and read on there */
                if (!eof && fill == READ_BLOCK && (scan == fill || carry_prev)) {
                        struct block *next = cur == &blocks[0] ? &blocks[1] : &blocks[0];
                        if (!next->buf) {
                                if (!rd->buf[1] && !(rd->buf[1] = malloc(READ_BLOCK))) {
                                        r = -ENOMEM;
                                        break;
                                }
                                next->buf = rd->buf[1];
                        }
                        r = block_submit(it, cur);
                        if (r < 0)
                                break;
                        r = block_finish(next, x, 0);
                        if (r < 0)
                                break;
                        memcpy(next->buf, cur->buf + begin, fill - begin);
                        fill -= begin;
                        scan -= begin;
                        begin = 0;
                        cur = next;
                        carry_prev = false;
                }
                if (!eof && fill < READ_BLOCK) {
                        size_t want = MIN(READ_BLOCK - fill, (size_t)(end - pos));
                        ssize_t n = want ? pread(fd, cur->buf + fill, want, (off_t)pos) : 0;
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                r = -errno;
                                break;
                        }
                        if (n == 0)
                                eof = true;
                        fill += (size_t)n;
                        pos += (uint64_t)n;
                }
                /* a chunk of the last version starts here and is all read */
                size_t prev = pv && scan == begin && begin < fill ? prev_chunk_at(pv, pos - (fill - begin)) : 0;
                if (prev > CHUNKER_MAX_SIZE_DEFAULT)
                        prev = 0;
                if (prev > fill - begin && !eof) {
                        /* read on first: into this block, or the next one */
                        carry_prev = fill == READ_BLOCK;
                        continue;
                }
                if (prev > 0 && prev <= fill - begin && cur->n < BLOCK_CHUNKS - 1) {
                        struct daemon *d = it->job->daemon;
                        uint8_t fp[CRYPTO_FINGERPRINT_SIZE];
                        struct oid id;
                        if (crypto_fingerprint(d->keyring->fingerprint_key, cur->buf + begin, prev, fp) >= 0 &&
                            repo_fingerprint_id(d->repo, fp, &id) > 0 && oid_cmp(&id, &pv->x[pv->j].id) == 0) {
                                cur->tasks[cur->n++] = (struct chunk_task){
                                        .it = it, .p = cur->buf + begin, .len = prev, .known = true, .id = id};
                                pv->taken++;
                                pv->bytes_taken += prev;
                                pv->shift = (int64_t)(pos - (fill - begin)) - (int64_t)pv->start[pv->j];
                                pv->misses = 0;
                                begin = scan = begin + prev;
                                continue;
                        }
                        pv->misses++;
                }
                size_t cut = scan < fill ? chunker_scan(rd->chunker, cur->buf + scan, fill - scan)
                                         : CHUNKER_NEED_MORE;
                if (cut != CHUNKER_NEED_MORE) {
                        if (cur->n == BLOCK_CHUNKS - 1) { /* cannot happen: cuts are min_size apart */
                                r = -EOVERFLOW;
                                break;
                        }
                        cur->tasks[cur->n++] = (struct chunk_task){.it = it, .p = cur->buf + begin,
                                                                   .len = scan + cut - begin};
                        begin = scan = scan + cut;
                        continue;
                }
                scan = fill;
                if (!eof)
                        continue;
                if (fill > begin)
                        cur->tasks[cur->n++] = (struct chunk_task){.it = it, .p = cur->buf + begin,
                                                                   .len = fill - begin};
                if (cur->n == 1) /* most files: one chunk */
                        chunk_task_run(&cur->tasks[0]);
                else
                        r = block_submit(it, cur);
                break;
        }
        /* the older block's chunks come first in the file */
        struct block *older = cur == &blocks[0] ? &blocks[1] : &blocks[0];
        r = block_finish(older, x, r);
        r = block_finish(cur, x, r);
        workers_group_free(blocks[0].g);
        workers_group_free(blocks[1].g);
        return r;
}

/* Read a whole file into extents, following its holes; pv (may be
 * NULL) has the last version's chunks. */
static int read_content(struct file_item *it, struct reader *rd, int fd, uint64_t size,
                        bool sparse, struct prev_chunks *pv, struct extents *x)
{
        if (!sparse) {
                /* only where nothing is skipped do offsets line up with the last version's */
                if (pv) { /* again from the start */
                        pv->j = 0;
                        pv->taken = pv->bytes_taken = 0;
                        pv->shift = 0;
                        pv->misses = 0;
                }
                return read_region(it, rd, fd, 0, size, pv && pv->n > 1 ? pv : NULL, x);
        }
        uint64_t pos = 0;
        while (pos < size) {
                off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO) /* only a hole up to the end */
                                data = (off_t)size;
                        else if (errno == EINVAL) /* no SEEK_DATA here */
                                return read_region(it, rd, fd, pos, size, NULL, x);
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
                        return errno == ENXIO ? -EAGAIN : -errno; /* shrunk past pos meanwhile */
                if ((uint64_t)hole > size)
                        hole = (off_t)size;
                size_t first = x->n;
                int r = read_region(it, rd, fd, pos, (uint64_t)hole, NULL, x);
                if (r < 0)
                        return r;
                /* the end of the file came before the hole did: it shrank,
                 * and what follows would sit at the wrong offsets */
                uint64_t got = 0;
                for (size_t i = first; i < x->n; i++)
                        got += x->v[i].length;
                if (got != (uint64_t)hole - pos)
                        return -EAGAIN;
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
        struct prev_chunks pv;
        prev_chunks_load(it, &pv);
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
                r = read_content(it, rd, fd, (uint64_t)before.st_size, sparse, &pv, &x);
                if (r == -EAGAIN && attempt < READ_ATTEMPTS - 1)
                        continue; /* it changed under the read: again */
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
        __atomic_add_fetch(&job->unchunked_bytes, pv.bytes_taken, __ATOMIC_RELAXED);
        prev_chunks_done(&pv);
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
                if (r == -EINVAL) {
                        /* more extents than a list holds (a sparse file of a
                         * million holes): this file only is left out */
                        log_warning("%s/%s has %zu extents, more than the %u a snapshot records; it is left "
                                    "out",
                                    job->path, it->relpath, x.n, (unsigned)OBJECT_LIST_EXTENTS_MAX);
                        r = -EFBIG;
                        goto unreadable;
                }
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
        int64_t racy = racy_ns();
        /* whole-second times (ext3, ext4 with 128-byte inodes, FAT's two
         * seconds, HFS+): the tick is the file system's, not the clock's */
        if (before.st_mtim.tv_nsec == 0 && before.st_ctim.tv_nsec == 0)
                racy = MAX(racy, READ_RACY_COARSE_NS);
        if (walk_ts_ns(before.st_ctim) >= read_start - racy || walk_ts_ns(before.st_mtim) >= read_start - racy)
                it->cache.ctime_ns = 0;
        it->cache.mode = before.st_mode;
        it->read_ok = true;
        __atomic_add_fetch(&job->stats.files_read, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(job->progress_files, 1, __ATOMIC_RELAXED);
        return;

unreadable:
        free(x.v);
        /* What the repository could not take (a full disk or quota, a pack
         * that cannot be written), and chuted's own limits (memory, too many
         * open files, opening this one too), fail the snapshot: leaving the
         * file out would make a snapshot that looks fine, and the next ones
         * reuse its trees. Only the file's own errors (an I/O error of its
         * disk too) leave it out. */
        int store_error = __atomic_load_n(&it->store_error, __ATOMIC_RELAXED);
        if (store_error < 0 && r != -ECANCELED)
                r = store_error;
        if (store_error < 0 || r == -ENOMEM || r == -EMFILE || r == -ENFILE) {
                snapshot_job_fail(job, r, "cannot store %s/%s: %s", job->path, it->relpath, strerror(-r));
                return;
        }
        log_warning_errno(r, "Cannot read %s/%s, it is left out of this snapshot", job->path, it->relpath);
        __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
        _cleanup_free_ char *dir = path_parent(it->relpath);
        snapshot_job_retry(job, dir ? dir : ""); /* its directory is walked again next time */
        __atomic_sub_fetch(&job->stats.files, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&job->stats.bytes, e->size, __ATOMIC_RELAXED);
        e->kind = 0; /* dropped when the tree is assembled */
}
