/* SPDX-License-Identifier: MIT */
/* Building the trees of a snapshot as the walk goes (see assemble.h). Every
 * directory counts what is pending below it: 1 while it is being listed,
 * one per file queued for reading, one per subdirectory not yet stored.
 * When the count drops to 0 its tree is stored, its id written into its
 * entry in the parent, and the parent's count drops in turn. Reads go through
 * a window (window.c); the job thread takes each one back (spools its
 * file-cache row, frees it) before queueing more. */

#include "assemble.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache-spool.h"
#include "cleanup.h"
#include "daemon.h"
#include "file-cache.h"
#include "index.h"
#include "log.h"
#include "read.h"
#include "repo.h"
#include "snapshot.h"
#include "test-hook.h"

static void read_one(struct window_item *link, void *userdata);
static void read_done(struct window_item *link, void *userdata);

int assemble_begin(struct walk *w)
{
        /* a test pausing "between the walk and the reads" gets exactly that */
        int r = window_new(w->job->daemon->workers, read_one, read_done, w, test_hook_armed("snapshot-read"),
                           &w->reads);
        if (r < 0)
                return r;
        return cache_spool_new(repo_tmp_dir(w->repo), &w->spool);
}

struct dnode *assemble_dir(struct walk *w, struct dnode *parent, size_t index, const char *relpath)
{
        struct dnode *dn = calloc(1, sizeof(*dn));
        if (!dn)
                goto oom;
        dn->tree = object_tree_new();
        dn->relpath = strdup(relpath);
        if (!dn->tree || !dn->relpath) {
                object_tree_free(dn->tree);
                free(dn->relpath);
                free(dn);
                goto oom;
        }
        dn->parent = parent;
        dn->index = index;
        dn->pending = 1;
        if (parent)
                parent->pending++;
        LIST_INSERT_HEAD(&w->live, dn, live);
        return dn;
oom:
        snapshot_job_fail(w->job, -ENOMEM, "out of memory while walking %s", w->job->path);
        return NULL;
}

static void dnode_free(struct dnode *dn)
{
        LIST_REMOVE(dn, live);
        object_tree_free(dn->tree);
        free(dn->relpath);
        free(dn);
}

/* Store dn's tree (nothing is pending below it), then its parents' that
 * this completes. */
static void store_dir(struct walk *w, struct dnode *dn)
{
        struct snapshot_job *job = w->job;

        while (dn && dn->pending == 0 && !snapshot_cancelled(job)) {
                struct object_tree *t = dn->tree;
                size_t j = 0;
                /* files that could not be read are left out (kind 0) */
                for (size_t i = 0; i < t->n_entries; i++) {
                        if (t->entries[i].kind == 0) {
                                object_entry_done(&t->entries[i]);
                                continue;
                        }
                        if (j != i)
                                t->entries[j] = t->entries[i];
                        j++;
                }
                t->n_entries = j;
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                uint64_t added = 0;
                struct oid id;
                int r = object_tree_encode(t, &buf, &len);
                if (r < 0) {
                        snapshot_job_fail(job, r, "cannot encode the tree of %s/%s", job->path, dn->relpath);
                        return;
                }
                r = repo_put(w->repo, OBJECT_TREE, buf, len, &id, &added);
                if (r < 0) {
                        snapshot_job_fail(job, r, "cannot store the tree of %s/%s", job->path, dn->relpath);
                        return;
                }
                __atomic_add_fetch(&job->stats.new_bytes, added, __ATOMIC_RELAXED); /* reads add too */
                struct dnode *parent = dn->parent;
                if (parent) {
                        parent->tree->entries[dn->index].subtree = id;
                        parent->pending--;
                } else {
                        w->root_tree = id;
                        w->root_stored = true;
                }
                dnode_free(dn);
                dn = parent;
        }
}

void assemble_listed(struct walk *w, struct dnode *dn)
{
        dn->pending--;
        store_dir(w, dn);
}

static void item_free(struct file_item *it)
{
        free(it->prev);
        free(it->relpath);
        free(it);
}

/* On the job's thread: a read is done; spool its row, store what it
 * completes. */
static void read_done(struct window_item *link, void *userdata)
{
        struct walk *w = userdata;
        struct snapshot_job *job = w->job;
        struct file_item *it = window_entry(link, struct file_item, link);
        struct dnode *dn = it->dir;
        if (it->read_ok && !snapshot_cancelled(job)) {
                const struct object_entry *e = &dn->tree->entries[it->index];
                _cleanup_free_ uint8_t *blob = NULL;
                size_t blob_len;
                int r = file_cache_encode(e, !it->xattrs_failed, &blob, &blob_len);
                if (r >= 0)
                        r = cache_spool_add(w->spool, it->relpath,
                                            &(struct index_file){
                                                    .dev = it->cache.dev, .ino = it->cache.ino,
                                                    .size = it->cache.size, .mtime_ns = it->cache.mtime_ns,
                                                    .ctime_ns = it->cache.ctime_ns, .mode = it->cache.mode,
                                                    .content = blob, .content_len = blob_len });
                if (r < 0)
                        snapshot_job_fail(job, r, "cannot keep the file cache entry of %s/%s: %s", job->path,
                                          it->relpath, strerror(-r));
        }
        item_free(it);
        dn->pending--;
        store_dir(w, dn);
}

/* On a worker: read the file. */
static void read_one(struct window_item *link, void *userdata)
{
        (void)userdata;
        read_file(window_entry(link, struct file_item, link));
}

/* A read that never ran, or was not taken back (the job failed). */
static void read_drop(struct window_item *link, void *userdata)
{
        (void)userdata;
        item_free(window_entry(link, struct file_item, link));
}

int assemble_read(struct walk *w, struct dnode *dn, size_t index, const char *relpath, const struct stat *st,
                  const struct index_file *prev)
{
        struct file_item *it = calloc(1, sizeof(*it));
        if (!it)
                return -ENOMEM;
        it->job = w->job;
        it->walk = w;
        it->dir = dn;
        it->index = index;
        it->st = *st;
        it->rootfd = w->rootfd;
        it->relpath = strdup(relpath);
        if (!it->relpath) {
                free(it);
                return -ENOMEM;
        }
        /* a big file read before: its chunks may start where they did (read.c) */
        struct object_entry last = {0};
        if (prev && st->st_size >= READ_FINGERPRINT_MIN && file_cache_decode(prev->content, prev->content_len, &last) >= 0) {
                it->prev_has_list = last.has_list;
                it->prev_list = last.list;
                it->prev = last.extents;
                it->n_prev = last.n_extents;
        }
        dn->pending++;
        w->n_queued++;
        window_add(w->reads, &it->link);
        return 0;
}

void assemble_finish(struct walk *w)
{
        if (window_holding(w->reads))
                test_hook_pause("snapshot-read");
        window_finish(w->reads);
}

void assemble_done(struct walk *w)
{
        /* reads in flight end first; held ones never ran: their
         * directories go with the rest */
        window_free(w->reads, read_drop);
        w->reads = NULL;
        while (!LIST_EMPTY(&w->live))
                dnode_free(LIST_FIRST(&w->live));
        cache_spool_free(w->spool);
        w->spool = NULL;
}
