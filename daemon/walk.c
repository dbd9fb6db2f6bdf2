/* SPDX-License-Identifier: MIT */
/* The walk of a snapshot (see walk.h): take each directory's listing
 * (walk-list.c, made ahead on the pool for the subdirectories it will
 * enter), decide per file between the file cache (joined per directory in a
 * full walk) and a read, per directory between the parent snapshot's tree
 * and a new listing, and keep the totals. Runs on the job's thread; reads no
 * file content. */

#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assemble.h"
#include "walk-list.h"
#include "walk-rows.h"
#include "cleanup.h"
#include "daemon.h"
#include "exclude.h"
#include "fdpath.h"
#include "index.h"
#include "log.h"
#include "path.h"
#include "snapshot.h"
#include "snaptree.h"

/* The walk's file-cache reads share one read transaction for up to this
 * long: one per directory costs more than the rows it reads. Nothing else
 * writes this root's rows while it is walked; ending it now and then lets
 * checkpoints of the log go on. */
#define WALK_READ_HOLD_NS (50 * 1000 * 1000)

void walk_reader_release(struct walk *w)
{
        if (!w->reading)
                return;
        (void)index_commit(w->reader); /* reads only: nothing to lose */
        w->reading = false;
}

/* End the shared read transaction once it is older than the limit, even if
 * no read comes (the rows of most directories come with their listing made
 * ahead): it must not stay open while the walk waits for reads. */
static void reader_expire(struct walk *w)
{
        if (w->reading && monotonic_ns() - w->read_since >= WALK_READ_HOLD_NS)
                walk_reader_release(w);
}

/* Open the shared read transaction, unless one younger than the limit is. */
static void reader_hold(struct walk *w)
{
        reader_expire(w);
        if (w->reading)
                return;
        if (index_begin(w->reader) >= 0) { /* else each read is its own transaction */
                w->reading = true;
                w->read_since = monotonic_ns();
        }
}

static bool cache_matches(const struct index_file *c, const struct stat *st)
{
        return c->dev == (uint64_t)st->st_dev && c->ino == (uint64_t)st->st_ino &&
               c->size == (uint64_t)st->st_size && c->mtime_ns == walk_ts_ns(st->st_mtim) &&
               c->ctime_ns == walk_ts_ns(st->st_ctim);
}


/* Is the file unchanged according to cache entry c? Then take its content:
 * file_cache_decode's flags, or -ENOENT. */
static int reuse_cached(const struct index_file *c, const struct stat *st, struct object_entry *e)
{
        if (!cache_matches(c, st))
                return -ENOENT;
        int k = file_cache_decode(c->content, c->content_len, e);
        if (k < 0)
                return -ENOENT;
        if (e->size == (uint64_t)st->st_size)
                return k;
        free(e->extents);
        e->extents = NULL;
        e->n_extents = 0;
        e->has_list = false;
        return -ENOENT;
}

/* Decide what to do with one file entry: reuse cached content (full walks:
 * the row the directory's join found, if any) or queue a read. Its extended
 * attributes: none if the cache says it had none, else read here (reused)
 * or by the reader from the open file. */
static int plan_file(struct walk *w, int dirfd, struct dnode *dn, size_t index, const char *relpath,
                     const struct stat *st, const struct index_file *cached)
{
        struct object_entry *e = &dn->tree->entries[index];
        int k = -ENOENT;

        struct index_file f;
        bool got = false;
        if (cached) {
                k = reuse_cached(cached, st, e);
        } else if (!w->full) {
                reader_hold(w);
                got = index_file_get(w->reader, w->job->root_id, relpath, &f) >= 0;
                if (got)
                        k = reuse_cached(&f, st, e);
        }
        if (k >= 0) {
                if (got)
                        index_file_done(&f);
                if (!(k & FILE_CACHE_NO_XATTRS))
                        walk_entry_xattrs(w, dirfd, relpath, e);
                return 0;
        }
        e->size = (uint64_t)st->st_size;
        /* inotify tells of a change through the path written only: the
         * file's other names keep what the parent snapshot has for them */
        if (!w->full && st->st_nlink > 1)
                __atomic_store_n(&w->job->changed_link, true, __ATOMIC_RELAXED);
        walk_reader_release(w); /* queueing a read may wait for others to end */
        k = assemble_read(w, dn, index, relpath, st, got ? &f : cached);
        if (got)
                index_file_done(&f);
        return k;
}

/* Add (sign 1) or take away (sign -1) the counts of t's direct entries. */
static void count_direct(struct snapshot_job *job, const struct object_tree *t, int sign)
{
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct object_entry *e = &t->entries[i];
                if (e->kind == OBJECT_KIND_DIR) {
                        __atomic_add_fetch(&job->stats.dirs, (uint64_t)(int64_t)sign, __ATOMIC_RELAXED);
                } else if (e->kind == OBJECT_KIND_FILE) {
                        __atomic_add_fetch(&job->stats.files, (uint64_t)(int64_t)sign, __ATOMIC_RELAXED);
                        __atomic_add_fetch(&job->stats.bytes, (uint64_t)((int64_t)sign * (int64_t)e->size),
                                           __ATOMIC_RELAXED);
                }
        }
}

static int uncount_subtree(struct walk *w, const struct oid *id);

/* Take away everything in old tree t (recursively). */
static int uncount_tree(struct walk *w, const struct object_tree *t)
{
        int r = 0;
        count_direct(w->job, t, -1);
        for (size_t i = 0; i < t->n_entries && r >= 0; i++)
                if (t->entries[i].kind == OBJECT_KIND_DIR)
                        r = uncount_subtree(w, &t->entries[i].subtree);
        return r;
}

/* Take away everything below an old directory that is gone (recursively). */
static int uncount_subtree(struct walk *w, const struct oid *id)
{
        struct object_tree *t = NULL;
        int r = snaptree_load(w->repo, id, &t);
        if (r < 0)
                return r;
        r = uncount_tree(w, t);
        object_tree_free(t);
        return r;
}

/* Leave out directory entry index of parent (relpath): it holds a valid
 * CACHEDIR.TAG. Its own listing finds the tag, so no directory is probed
 * for one by name. What it had in the parent snapshot is the caller's to
 * take away from the totals. */
static void drop_cachedir(struct walk *w, struct dnode *parent, size_t index, const char *relpath)
{
        struct snapshot_job *job = w->job;
        log_debug("Leaving out %s/%s: it is tagged as a cache directory", job->path, relpath);
        parent->tree->entries[index].kind = 0; /* dropped when the tree is assembled */
        __atomic_sub_fetch(&job->stats.dirs, 1, __ATOMIC_RELAXED);
        /* the file-cache rows below it are forgotten at the commit */
        if (pathset_add(&w->removed, relpath) < 0)
                snapshot_job_fail(job, -ENOMEM, "out of memory while walking %s", job->path);
}

/* An empty directory (not entered: a mount point, or not openable) as entry
 * index of parent. */
static void walk_empty_dir(struct walk *w, struct dnode *parent, size_t index, const char *relpath)
{
        struct dnode *dn = assemble_dir(w, parent, index, relpath);
        if (dn)
                assemble_listed(w, dn);
}

/* What the walk does with a directory entry. */
enum dir_plan {
        DIR_ENTER,  /* listed and walked */
        DIR_REUSE,  /* unchanged since the parent snapshot: its tree there is kept */
        DIR_MOUNT,  /* a mount point under one_file_system: recorded empty, not entered */
};

/* The plan for directory entry e (relpath, lstat st) of a directory whose
 * parent-snapshot tree is prev (force: it is listed again in full);
 * *ret_old: its entry there (the tree to reuse, or to compare with when it
 * is entered), NULL if none; *ret_force: whether it is listed in full. */
static enum dir_plan dir_plan(struct walk *w, const struct object_tree *prev, const struct object_entry *e,
                              const char *relpath, const struct stat *st, bool force,
                              const struct object_entry **ret_old, bool *ret_force)
{
        bool child_force = force || (w->deep && pathset_has(w->deep, relpath));
        *ret_force = child_force;
        const struct object_entry *old = prev ? snaptree_find(prev, e->name, e->name_len) : NULL;
        if (old && old->kind != OBJECT_KIND_DIR)
                old = NULL;
        *ret_old = old;
        if (w->job->one_fs && st->st_dev != w->root_dev)
                return DIR_MOUNT;
        if (old && !child_force && !pathset_has(w->dirty, relpath) && !pathset_has_below(w->dirty, relpath) &&
            !pathset_has_below(w->deep, relpath))
                return DIR_REUSE;
        return DIR_ENTER;
}

/* Start listing ahead the subdirectories of dn (relpath, open as dirfd) that
 * the walk will enter, from entry *next on, as far as the walk's share
 * allows; *next: the first entry not considered yet. They go to the head
 * of the pool's queue, last first, so that the pool makes a batch in the
 * order the walk takes them, before the ones queued for directories the
 * walk reaches later (a depth-first walk needs the newest soonest). A
 * refill of one sibling goes ahead of siblings still queued from the
 * batch before: one listing out of order, which the walk makes itself if
 * it gets there first. */
static int ahead_refill(struct walk *w, int dirfd, struct dnode *dn, const char *relpath,
                        const struct object_tree *prev, bool force, const struct stat *stats,
                        const struct exclude *here, struct walk_ahead **ahead, size_t *next, size_t *level)
{
        size_t pick[WALK_AHEAD_LEVEL];
        char *rel[WALK_AHEAD_LEVEL];
        size_t n = 0, room = w->max_ahead > w->n_ahead ? w->max_ahead - w->n_ahead : 0;
        /* a few per level: the share is left for the levels below, which a
         * depth-first walk needs first */
        room = MIN(room, WALK_AHEAD_LEVEL - *level);
        int r = 0;

        for (; *next < dn->tree->n_entries && n < room; (*next)++) {
                const struct object_entry *e = &dn->tree->entries[*next], *old;
                if (e->kind != OBJECT_KIND_DIR)
                        continue;
                char *child_rel = path_join(relpath, (const char *)e->name);
                if (!child_rel) {
                        r = -ENOMEM;
                        break;
                }
                bool child_force;
                if (dir_plan(w, prev, e, child_rel, &stats[*next], force, &old, &child_force) != DIR_ENTER) {
                        free(child_rel);
                        continue;
                }
                pick[n] = *next;
                rel[n++] = child_rel;
        }
        while (n-- > 0) {
                const struct object_entry *e = &dn->tree->entries[pick[n]];
                if (r >= 0)
                        ahead[pick[n]] = walk_ahead_start(w, dirfd, (const char *)e->name, rel[n], here);
                if (ahead[pick[n]])
                        (*level)++;
                free(rel[n]);
        }
        return r;
}

/* prev is the same directory's tree in the parent snapshot (NULL if none or a
 * full walk); force: everything below must be listed again. */
void walk_dir(struct walk *w, int dirfd, struct dnode *parent, size_t index, const char *relpath,
              const struct object_tree *prev, bool force, const struct exclude *ex, struct walk_listing *listed)
{
        struct snapshot_job *job = w->job;
        struct walk_listing l;
        struct stat *stats = NULL;
        struct walk_rows rows = {0};
        struct walk_ahead **ahead = NULL;
        struct exclude *here = NULL;
        struct dnode *dn = NULL;

        if (listed) {
                l = *listed;
                memset(listed, 0, sizeof(*listed));
        } else if (walk_list(w, dirfd, relpath, ex, &l) < 0) {
                walk_listing_done(&l);
                snapshot_job_fail(job, -ENOMEM, "out of memory while walking %s", job->path);
                return;
        }
        if (parent && l.cachedir) {
                if (prev && uncount_tree(w, prev) < 0)
                        __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                drop_cachedir(w, parent, index, relpath);
                walk_listing_done(&l);
                return;
        }
        here = l.here;
        l.here = NULL;
        /* the rows, if the listing ahead loaded them */
        bool have_rows = l.has_rows;
        int rows_error = l.rows_error;
        rows = l.rows;
        memset(&l.rows, 0, sizeof(l.rows));
        dn = assemble_dir(w, parent, index, relpath);
        if (!dn) {
                walk_listing_done(&l);
                walk_rows_done(&rows); /* moved out of l above */
                exclude_free(here);
                return;
        }
        if (l.error && !parent) {
                /* the root itself: a snapshot of nothing would pass for one
                 * (and push good ones out of retention) */
                snapshot_job_fail(job, l.error, "cannot list %s: %s", job->path, strerror(-l.error));
                walk_listing_done(&l);
                goto out;
        }
        if (l.error) { /* said by walk_list: recorded empty */
                snapshot_job_retry(job, relpath);
                walk_listing_done(&l);
                goto out;
        }
        stats = malloc((l.n ? l.n : 1) * sizeof(*stats));
        if (!stats) {
                walk_listing_done(&l);
                goto oom;
        }
        for (size_t i = 0; i < l.n; i++) {
                stats[i] = l.v[i].st;
                int k = object_tree_append(dn->tree, &l.v[i].e);
                if (k == -E2BIG) {
                        /* more entries than a tree holds: the rest of this
                         * directory is left out, not the whole snapshot */
                        log_warning("%s/%s has more than %u entries; the %zu past them are left out of this "
                                    "snapshot",
                                    w->job->path, relpath, (unsigned)OBJECT_TREE_ENTRIES_MAX, l.n - i);
                        __atomic_add_fetch(&w->job->stats.errors, l.n - i, __ATOMIC_RELAXED);
                        for (size_t j = i; j < l.n; j++)
                                object_entry_done(&l.v[j].e);
                        break;
                }
                if (k < 0) {
                        for (size_t j = i; j < l.n; j++)
                                object_entry_done(&l.v[j].e);
                        free(l.v);
                        goto oom;
                }
        }
        free(l.v);
        object_tree_sort(dn->tree); /* sorts the xattrs; the names are in order already */
        count_direct(job, dn->tree, 1);

        if (prev) {
                /* what the parent snapshot had here and is gone now */
                count_direct(job, prev, -1);
                for (size_t i = 0; i < prev->n_entries; i++) {
                        const struct object_entry *old = &prev->entries[i];
                        const struct object_entry *now = snaptree_find(dn->tree, old->name, old->name_len);
                        if (now && now->kind == old->kind)
                                continue;
                        _cleanup_free_ char *gone = path_join(relpath, (const char *)old->name);
                        if (!gone || pathset_add(&w->removed, gone) < 0)
                                goto oom;
                        if (old->kind == OBJECT_KIND_DIR && uncount_subtree(w, &old->subtree) < 0)
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                }
        }

        /* the subdirectories to enter are listed ahead on the pool meanwhile */
        ahead = calloc(dn->tree->n_entries ? dn->tree->n_entries : 1, sizeof(*ahead));
        if (!ahead)
                goto oom;
        size_t next_ahead = 0, level_ahead = 0;
        if (ahead_refill(w, dirfd, dn, relpath, prev, force, stats, here, ahead, &next_ahead, &level_ahead) < 0)
                goto oom;

        /* a full walk joins the listing with the directory's file-cache rows */
        if (w->full) {
                int r = rows_error;
                if (!have_rows) {
                        reader_hold(w);
                        r = walk_rows_load(w->reader, job->root_id, relpath, &rows);
                }
                if (r < 0) {
                        snapshot_job_fail(job, r, "cannot read the file cache: %s", strerror(-r));
                        goto out;
                }
        }
        for (size_t i = 0; i < dn->tree->n_entries && !snapshot_cancelled(job); i++) {
                struct object_entry *e = &dn->tree->entries[i];
                _cleanup_free_ char *child_rel = path_join(relpath, (const char *)e->name);
                if (!child_rel)
                        goto oom;
                const struct stat st = stats[i];
                if (e->kind == OBJECT_KIND_DIR) {
                        /* listings taken free the walk's share: start the
                         * next siblings' while this one is walked */
                        if (next_ahead <= i)
                                next_ahead = i + 1;
                        if (ahead[i])
                                level_ahead--; /* taken below */
                        if (ahead_refill(w, dirfd, dn, relpath, prev, force, stats, here, ahead, &next_ahead,
                                         &level_ahead) < 0)
                                goto oom;
                        const struct object_entry *old;
                        bool child_force;
                        enum dir_plan plan = dir_plan(w, prev, e, child_rel, &st, force, &old, &child_force);
                        if (plan == DIR_MOUNT && walk_cachedir_tagged(dirfd, (const char *)e->name)) {
                                if (old && uncount_subtree(w, &old->subtree) < 0)
                                        __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                                drop_cachedir(w, dn, i, child_rel);
                                continue;
                        }
                        if (plan != DIR_ENTER) {
                                walk_entry_xattrs(w, dirfd, child_rel, e);
                                if (plan == DIR_REUSE)
                                        e->subtree = old->subtree;
                                else
                                        walk_empty_dir(w, dn, i, child_rel);
                                continue;
                        }
                        struct object_tree *old_tree = NULL;
                        if (old && !child_force && snaptree_load(w->repo, &old->subtree, &old_tree) < 0)
                                old_tree = NULL; /* then it is listed as new */
                        if (old && !old_tree && uncount_subtree(w, &old->subtree) < 0)
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                        struct walk_listing sub = {0}, *subp = NULL;
                        int cfd = -1;
                        if (ahead[i]) {
                                int r = walk_ahead_take(w, ahead[i], &sub, &cfd);
                                ahead[i] = NULL;
                                if (r < 0) {
                                        walk_listing_done(&sub);
                                        close(cfd);
                                        object_tree_free(old_tree);
                                        goto oom;
                                }
                                subp = &sub;
                        } else {
                                cfd = openat(dirfd, (const char *)e->name,
                                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        }
                        if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
                                /* chuted's own limit, not the directory's error: a
                                 * snapshot missing the subtree would look fine */
                                snapshot_job_fail(job, -errno, "cannot open directory %s/%s: %s", job->path,
                                                  child_rel, strerror(errno));
                                object_tree_free(old_tree);
                                goto out;
                        }
                        if (cfd < 0) {
                                log_warning_errno(-errno, "Cannot open directory %s/%s, recording it empty",
                                                  job->path, child_rel);
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                                snapshot_job_retry(job, child_rel);
                                object_tree_free(old_tree);
                                walk_entry_xattrs(w, dirfd, child_rel, e);
                                walk_empty_dir(w, dn, i, child_rel);
                                continue;
                        }
                        int xr = walk_read_xattrs(NULL, cfd, e);
                        if (xr < 0 && xr != -ENOENT) {
                                log_warning_errno(xr, "Cannot read extended attributes of %s/%s, storing without them",
                                                  job->path, child_rel);
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                        }
                        struct walk_row *below = w->full ? walk_rows_find(&rows, e->name, e->name_len, true) : NULL;
                        if (below)
                                below->seen = true; /* its own walk joins those rows */
                        walk_dir(w, cfd, dn, i, child_rel, old_tree, child_force, here, subp);
                        walk_listing_done(&sub);
                        close(cfd);
                        object_tree_free(old_tree);
                } else if (e->kind == OBJECT_KIND_FILE) {
                        struct walk_row *row = w->full ? walk_rows_find(&rows, e->name, e->name_len, false) : NULL;
                        if (row)
                                row->seen = true;
                        if (plan_file(w, dirfd, dn, i, child_rel, &st, row ? &row->file : NULL) < 0)
                                goto oom;
                }
        }
        /* rows of what is gone (or left out now): forgotten at the commit */
        for (size_t i = 0; i < rows.n && !snapshot_cancelled(job); i++) {
                if (rows.v[i].seen)
                        continue;
                _cleanup_free_ char *gone = path_join(relpath, rows.v[i].name);
                if (!gone || pathset_add(&w->removed, gone) < 0)
                        goto oom;
        }
out:
        reader_expire(w);
        if (ahead)
                for (size_t i = 0; i < dn->tree->n_entries; i++)
                        walk_ahead_drop(w, ahead[i]);
        free(ahead);
        free(stats);
        walk_rows_done(&rows);
        exclude_free(here);
        assemble_listed(w, dn);
        return;
oom:
        snapshot_job_fail(job, -ENOMEM, "out of memory while walking %s", job->path);
        goto out;
}

void walk_done(struct walk *w)
{
        assemble_done(w);
        pathset_done(&w->removed);
        walk_list_end(w);
        tdestroy(w->owners, walk_owners_free);
        pthread_mutex_destroy(&w->owners_lock);
        exclude_free(w->excludes);
}
