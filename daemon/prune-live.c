/* SPDX-License-Identifier: MIT */
/* What prune must keep (docs/prune.md): every object reachable from a
 * snapshot row, from the file cache (a later snapshot reuses it without a
 * put), every tombstone, and what the parents of running jobs reach. The
 * rows are read in one read transaction, so they are one moment's state;
 * the parents are read after it (a job pins its parent before checking it
 * still exists, so one or the other sees it). Trees are walked once each. */
#include "prune.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "file-cache.h"
#include "index.h"
#include "object.h"
#include "repo.h"
#include "snaptree.h"

struct live {
        struct prune_job *job;
        struct repo *repo;
        struct idset *set;
        struct oid *roots; /* snapshot ids to walk */
        size_t n_roots, cap_roots;
        struct idset lists; /* list ids from the file cache, to expand */
};

static bool cancelled(struct live *l)
{
        return __atomic_load_n(&l->job->cancel, __ATOMIC_RELAXED) != 0 ||
               __atomic_load_n(&l->job->daemon->stopping, __ATOMIC_RELAXED);
}

static int add(struct live *l, const struct oid *id)
{
        return idset_add(l->set, id) < 0 ? -ENOMEM : 0;
}

static int add_extents(struct live *l, const struct object_extent *ext, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!ext[i].hole && add(l, &ext[i].id) < 0)
                        return -ENOMEM;
        return 0;
}

/* A list object (when not seen yet) and the data ids it names. */
static int walk_list(struct live *l, const struct oid *id)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct object_list *list = NULL;
        size_t len;
        int k;

        if (idset_has(l->set, id))
                return 0;
        k = repo_get(l->repo, id, OBJECT_LIST, 0, &buf, &len);
        if (k >= 0)
                k = object_list_decode(buf, len, &list);
        if (k >= 0)
                k = add_extents(l, list->extents, list->n_extents);
        object_list_free(list);
        return k < 0 ? k : add(l, id);
}

static int walk_file(struct live *l, const struct object_entry *e)
{
        return e->has_list ? walk_list(l, &e->list) : add_extents(l, e->extents, e->n_extents);
}

static int walk_tree(struct live *l, const struct oid *tree_id)
{
        struct object_tree *t = NULL;
        int k;

        if (idset_has(l->set, tree_id))
                return 0; /* a tree is a Merkle node: its whole subtree is in already */
        if (cancelled(l))
                return -ECANCELED;
        k = snaptree_load(l->repo, tree_id, &t);
        if (k < 0)
                return k;
        for (size_t i = 0; i < t->n_entries && k >= 0; i++) {
                const struct object_entry *e = &t->entries[i];
                if (e->kind == OBJECT_KIND_DIR)
                        k = walk_tree(l, &e->subtree);
                else if (e->kind == OBJECT_KIND_FILE)
                        k = walk_file(l, e);
        }
        object_tree_free(t);
        /* added after its subtree: a tree in the set is complete */
        return k < 0 ? k : add(l, tree_id);
}

static int walk_snapshot(struct live *l, const struct oid *id)
{
        struct object_snapshot *s = NULL;
        int k;

        if (idset_has(l->set, id))
                return 0;
        k = snaptree_load_snapshot(l->repo, id, &s);
        if (k < 0)
                return k;
        k = walk_tree(l, &s->tree);
        object_snapshot_free(s);
        if (k >= 0)
                k = add(l, id);
        if (k >= 0)
                __atomic_add_fetch(&l->job->progress_done, 1, __ATOMIC_RELAXED);
        return k;
}

static int snapshot_cb(const struct index_snapshot *s, void *userdata)
{
        struct live *l = userdata;
        if (!GROW(l->roots, l->n_roots, l->cap_roots, 64))
                return -ENOMEM;
        l->roots[l->n_roots++] = s->id;
        return 0;
}

static int file_cb(const char *path, const struct index_file *f, void *userdata)
{
        struct live *l = userdata;
        struct object_entry e = { 0 };
        int k;

        (void)path;
        if (!f->content || f->content_len == 0)
                return 0;
        k = file_cache_decode(f->content, f->content_len, &e);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return 0; /* a damaged row is never reused either */
        if (e.has_list)
                k = idset_has(l->set, &e.list) ? 0 : idset_add(&l->lists, &e.list) < 0 ? -ENOMEM : 0;
        else
                k = add_extents(l, e.extents, e.n_extents);
        free(e.extents);
        return k;
}

struct roots_ctx {
        struct live *l;
        struct index *rd;
};

static int root_cb(const struct index_root *root, void *userdata)
{
        struct roots_ctx *rc = userdata;
        return index_file_foreach(rc->rd, root->id, "", file_cb, rc->l);
}

static int tombstone_cb(const struct index_object *o, void *userdata)
{
        return add(userdata, &o->id);
}

int prune_live(struct prune_job *job, struct idset *set, uint64_t *ret_snapshots)
{
        struct repo *repo = job->daemon->repo;
        struct live l = { .job = job, .repo = repo, .set = set };
        struct index *rd = repo_reader_get(repo);
        _cleanup_free_ struct oid *pins = NULL;
        size_t n_pins = 0;
        int k;

        if (!rd)
                return -EIO;
        idset_init(&l.lists);
        /* one moment's rows: snapshots, file cache, tombstones */
        k = index_begin(rd);
        if (k >= 0) {
                k = index_snapshot_foreach(rd, -1, snapshot_cb, &l);
                if (k >= 0)
                        k = index_root_foreach(rd, root_cb, &(struct roots_ctx){ .l = &l, .rd = rd });
                if (k >= 0)
                        k = index_object_foreach_type(rd, OBJECT_TOMBSTONE, tombstone_cb, &l);
                index_commit(rd);
        }
        repo_reader_put(repo, rd);
        if (k >= 0)
                k = repo_prune_pins(repo, &pins, &n_pins);
        __atomic_store_n(&job->progress_total, l.n_roots + n_pins, __ATOMIC_RELAXED);
        __atomic_store_n(&job->progress_done, 0, __ATOMIC_RELAXED);
        for (size_t i = 0; i < l.n_roots && k >= 0; i++)
                k = walk_snapshot(&l, &l.roots[i]);
        for (size_t i = 0; i < n_pins && k >= 0; i++)
                k = walk_snapshot(&l, &pins[i]);
        for (size_t i = 0; i < l.lists.cap && k >= 0; i++)
                if (l.lists.used && l.lists.used[i] == 1)
                        k = walk_list(&l, &l.lists.slots[i]);
        if (ret_snapshots)
                *ret_snapshots = l.n_roots;
        idset_done(&l.lists);
        free(l.roots);
        return k;
}
