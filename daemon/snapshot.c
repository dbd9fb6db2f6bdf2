/* SPDX-License-Identifier: MIT */
/* Snapshot of one root (see snapshot.h), on the job's thread: the walk
 * (walk.c: lstat every entry, reuse the content of files the cache says are
 * unchanged) queues changed files for reading on the worker pool and stores
 * each directory's tree once complete (assemble.c); then the snapshot
 * object, flush the open packs, and commit the file cache (spooled rows)
 * and the snapshot row in one transaction. A crash anywhere before that
 * commit leaves no reference to anything half-written. */

#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assemble.h"
#include "cache-spool.h"
#include "cleanup.h"
#include "daemon.h"
#include "job-error.h"
#include "exclude.h"
#include "index.h"
#include "log.h"
#include "repo.h"
#include "snaptree.h"
#include "walk.h"
#include "walk-list.h"

/* Errors are rare: one lock for every job's retry set. */
static pthread_mutex_t retry_lock = PTHREAD_MUTEX_INITIALIZER;

void snapshot_job_retry(struct snapshot_job *job, const char *relpath)
{
        pthread_mutex_lock(&retry_lock);
        if (pathset_add(&job->retry, relpath) < 0)
                job->retry_full = true;
        pthread_mutex_unlock(&retry_lock);
}

void snapshot_job_fail(struct snapshot_job *job, int error, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        job_error_set(&job->error, job->error_text, sizeof(job->error_text), error, fmt, ap);
        va_end(ap);
}

bool snapshot_cancelled(const struct snapshot_job *job)
{
        return job_error_get(&job->error) || (job->cancel && __atomic_load_n(job->cancel, __ATOMIC_RELAXED));
}

char *snapshot_full_path(const struct snapshot_job *job, const char *relpath)
{
        char *p = NULL;
        if (!*relpath)
                return strdup(job->path);
        if (asprintf(&p, "%s/%s", job->path, relpath) < 0)
                return NULL;
        return p;
}

/* ---- committing ---- */

struct commit_ctx {
        struct walk *w;
        struct object_snapshot *snap;
        const struct oid *parent;
        struct index *wr;
};

static int commit_row(const char *path, const struct index_file *f, void *userdata)
{
        struct commit_ctx *c = userdata;
        return index_file_put(c->wr, c->w->job->root_id, path, f);
}

static int commit_cb(struct index *wr, void *userdata)
{
        struct commit_ctx *c = userdata;
        struct walk *w = c->w;
        struct snapshot_job *job = w->job;
        int r = index_begin(wr);
        if (r < 0)
                return r;
        /* forget what is gone first: a path may be gone as a file and back as a directory */
        for (size_t i = 0; i < w->removed.n; i++) {
                r = index_file_delete_prefix(wr, job->root_id, w->removed.paths[i]);
                if (r < 0)
                        goto fail;
        }
        c->wr = wr;
        r = cache_spool_foreach(w->spool, commit_row, c);
        if (r < 0)
                goto fail;
        if (!job->unchanged) {
                struct index_snapshot row = {
                        .id = job->id,
                        .root_id = job->root_id,
                        .time_ns = job->time_ns,
                        .tree = job->tree,
                        .hostname = c->snap->hostname,
                        .tags = (char *)"",
                        .files = job->stats.files,
                        .dirs = job->stats.dirs,
                        .bytes = job->stats.bytes,
                        .new_bytes = job->stats.new_bytes,
                        .errors = job->stats.errors,
                        .files_read = job->stats.files_read,
                        .root_path = (char *)c->snap->root,
                };
                if (c->parent)
                        row.parent = *c->parent;
                r = index_snapshot_add(wr, &row);
                if (r < 0)
                        goto fail;
        }
        return index_commit(wr);
fail:
        index_rollback(wr);
        return r;
}

/* Same root entry metadata (the tree ids are compared separately)? */
static bool root_entry_same(const struct object_entry *a, const struct object_entry *b)
{
        if (a->mode != b->mode || a->uid != b->uid || a->gid != b->gid || a->mtime_ns != b->mtime_ns ||
            a->n_xattrs != b->n_xattrs)
                return false;
        for (size_t i = 0; i < a->n_xattrs; i++)
                if (strcmp(a->xattrs[i].name, b->xattrs[i].name) ||
                    a->xattrs[i].value_len != b->xattrs[i].value_len ||
                    memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].value_len))
                        return false;
        return true;
}

void snapshot_run(struct snapshot_job *job)
{
        struct daemon *d = job->daemon;
        struct walk w = {.job = job, .repo = d->repo, .owners_lock = PTHREAD_MUTEX_INITIALIZER};
        struct object_snapshot snap = {0};
        struct object_snapshot *prev_snap = NULL;
        struct object_tree *prev_root = NULL;
        struct commit_ctx cc = {.w = &w, .snap = &snap};
        struct index_snapshot parent = {0};
        bool have_parent = false;
        char hostname[256] = "";
        int gate;
        int r;

        pathset_init(&w.removed);
        job->time_ns = now_ns();
        uint64_t failures_before = repo_failures(d->repo);
        _cleanup_close_ int rootfd = open(job->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat rst;
        if (rootfd < 0 || fstat(rootfd, &rst) < 0) {
                snapshot_job_fail(job, -errno, "cannot open %s: %s", job->path, strerror(errno));
                return;
        }
        w.root_dev = rst.st_dev;
        r = own_files_in_state_dir(&job->own, rootfd);
        if (r != 0) {
                if (r > 0)
                        snapshot_job_fail(job, -EPERM,
                                          "%s is inside chuted's state directory, which is never backed up",
                                          job->path);
                else
                        snapshot_job_fail(job, r, "cannot tell whether %s is inside chuted's state directory: %s",
                                          job->path, strerror(-r));
                return;
        }

        w.reader = repo_reader_get(d->repo);
        if (!w.reader) {
                snapshot_job_fail(job, -ENOMEM, "cannot open the index");
                return;
        }
        /* prune's gate: while this runs, prune keeps what the parent reaches
         * and deletes nothing this job may have deduplicated against. The
         * parent is checked again once pinned: a forget in between drops it. */
        gate = repo_job_begin(d->repo);
        if (gate < 0) {
                snapshot_job_fail(job, gate, "out of memory");
                repo_reader_put(d->repo, w.reader);
                return;
        }
        if (index_snapshot_latest(w.reader, job->root_id, &parent) >= 0) {
                struct index_snapshot again;
                repo_job_set_parent(d->repo, gate, &parent.id);
                if (index_snapshot_get(w.reader, &parent.id, &again) >= 0) {
                        index_snapshot_done(&again);
                        have_parent = true;
                } else {
                        repo_job_set_parent(d->repo, gate, NULL);
                        index_snapshot_done(&parent);
                }
        }
        /* Incremental: reuse the parent snapshot's trees outside the dirty
         * directories. It needs the parent's objects to be readable. */
        if (have_parent && !job->full && snaptree_load_snapshot(d->repo, &parent.id, &prev_snap) >= 0 &&
            snaptree_load(d->repo, &prev_snap->tree, &prev_root) >= 0) {
                w.incremental = true;
                w.dirty = &job->dirty;
                w.deep = &job->deep;
                pathset_freeze(&job->dirty);
                pathset_freeze(&job->deep);
                job->stats = prev_snap->stats;
                job->stats.new_bytes = job->stats.files_read = job->stats.errors = 0;
        } else {
                w.full = true;
        }

        struct exclude_error xerr = {0};
        r = exclude_new(job->excludes, &xerr, &w.excludes);
        if (r < 0) {
                snapshot_job_fail(job, r, "bad exclude pattern on line %u: %s", xerr.line,
                         xerr.reason ? xerr.reason : strerror(-r));
                goto out;
        }
        r = assemble_begin(&w);
        if (r < 0) {
                snapshot_job_fail(job, r, "cannot prepare the reads: %s", strerror(-r));
                goto out;
        }
        w.rootfd = rootfd;
        r = walk_list_begin(&w);
        if (r < 0) {
                snapshot_job_fail(job, r, "out of memory");
                goto out;
        }
        int64_t t0 = monotonic_ns(), t1, t2, t3, t4;
        /* the walk; files are read and trees stored as it goes */
        walk_dir(&w, rootfd, NULL, 0, "", prev_root, w.incremental && pathset_has(&job->deep, ""), w.excludes,
                 NULL);
        walk_reader_release(&w); /* before waiting for the last reads */
        if (snapshot_cancelled(job))
                goto out;
        t1 = monotonic_ns();
        assemble_finish(&w);
        if (snapshot_cancelled(job))
                goto out;
        if (!w.root_stored) {
                snapshot_job_fail(job, -EIO, "the walk of %s ended with its root tree not stored", job->path);
                goto out;
        }
        t2 = monotonic_ns();

        /* the snapshot object, flush, commit */
        job->tree = w.root_tree;
        gethostname(hostname, sizeof(hostname) - 1);
        snap.time_ns = job->time_ns;
        snap.hostname = hostname;
        snap.root = (uint8_t *)job->path;
        snap.root_len = strlen(job->path);
        snap.tree = job->tree;
        if (have_parent) {
                snap.has_parent = true;
                snap.parent = parent.id;
                cc.parent = &parent.id;
        }
        snap.stats = job->stats;
        {
                const char *base = strrchr(job->path, '/');
                base = base && base[1] ? base + 1 : "root";
                r = walk_entry_from_stat(&w, base, &rst, &snap.root_entry);
                if (r >= 0)
                        r = walk_read_xattrs(NULL, rootfd, &snap.root_entry);
                if (r < 0) {
                        snapshot_job_fail(job, r, "cannot read the metadata of %s", job->path);
                        goto out;
                }
                snap.root_entry.nlink = 0;
                snap.root_entry.subtree = job->tree;
                snap.has_root_entry = true;
        }
        if (job->skip_if_unchanged && have_parent) {
                if (!prev_snap)
                        snaptree_load_snapshot(d->repo, &parent.id, &prev_snap);
                if (prev_snap && !oid_cmp(&prev_snap->tree, &job->tree) && prev_snap->has_root_entry &&
                    root_entry_same(&prev_snap->root_entry, &snap.root_entry))
                        job->unchanged = true;
        }
        if (!job->unchanged) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                r = object_snapshot_encode(&snap, &buf, &len);
                if (r < 0) {
                        snapshot_job_fail(job, r, "cannot encode the snapshot");
                        goto out;
                }
                r = repo_put(d->repo, OBJECT_SNAPSHOT, buf, len, &job->id, NULL);
                if (r < 0) {
                        snapshot_job_fail(job, r, "cannot store the snapshot: %s", strerror(-r));
                        goto out;
                }
        }
        t3 = monotonic_ns();
        r = repo_flush(d->repo);
        if (r >= 0 && repo_failures(d->repo) != failures_before)
                r = -EIO;
        if (r < 0) {
                snapshot_job_fail(job, r, "cannot write packs: %s", strerror(-r));
                goto out;
        }
        t4 = monotonic_ns();
        r = repo_with_writer(d->repo, commit_cb, &cc);
        if (r < 0)
                snapshot_job_fail(job, r, "cannot commit the snapshot to the index: %s", strerror(-r));
        log_debug("Snapshot of %s (%s%s): walk and reads %.3fs, the last reads %.3fs (%zu files), snapshot %.3fs, "
                  "packs durable %.3fs, commit %.3fs; %llu chunks (%llu bytes) recognized by fingerprint, "
                  "%llu bytes not chunked again",
                  job->path, w.incremental ? "incremental" : "full", job->unchanged ? ", unchanged" : "",
                  (t1 - t0) / 1e9, (t2 - t1) / 1e9, w.n_queued, (t3 - t2) / 1e9, (t4 - t3) / 1e9,
                  (monotonic_ns() - t4) / 1e9, (unsigned long long)job->recognized_chunks,
                  (unsigned long long)job->recognized_bytes, (unsigned long long)job->unchunked_bytes);
out:
        if (snap.has_root_entry)
                object_entry_done(&snap.root_entry);
        object_snapshot_free(prev_snap);
        object_tree_free(prev_root);
        walk_reader_release(&w);
        repo_reader_put(d->repo, w.reader);
        if (have_parent)
                index_snapshot_done(&parent);
        walk_done(&w); /* waits for reads in flight: they dedupe under the gate */
        repo_job_end(d->repo, gate);
}

void snapshot_job_free(struct snapshot_job *job)
{
        if (!job)
                return;
        pathset_done(&job->dirty);
        pathset_done(&job->deep);
        pathset_done(&job->retry);
        free(job->path);
        free(job->excludes);
        free(job);
}
