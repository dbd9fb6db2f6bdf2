/* SPDX-License-Identifier: MIT */
/* What check's damage reaches: every snapshot's trees walked (a page of
 * snapshot rows at a time, one tree in memory per directory level), each
 * referenced object looked up in the index; a path whose tree, list or data
 * is not indexed or lies in a pack of job->bad_packs is recorded. Trees
 * found whole are remembered by id and not walked again. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cond.h"
#include "daemon.h"
#include "index.h"
#include "object.h"
#include "repo.h"
#include "snaptree.h"

#define WALK_PATH_MAX 65536
#define WALK_PAGE 64

struct walk {
        struct check_job *job;
        struct index *rd;
        struct idset clean;   /* trees whose whole subtree is fine */
        struct oid snapshot;
        bool hit;             /* this snapshot is affected */
        size_t root_len;      /* of the root path in path */
        bool root_reported;   /* the root path is listed for this snapshot */
        char *path;           /* root path, then the path inside */
        size_t len;
};

enum { OBJ_OK = 0, OBJ_MISSING, OBJ_BAD };

static int object_state(struct walk *w, const struct oid *id, struct oid *ret_pack)
{
        struct index_object o;
        int r = index_object_lookup(w->rd, id, &o);

        if (r == -ENOENT) {
                w->job->missing_objects++;
                memset(ret_pack, 0, sizeof(*ret_pack));
                return OBJ_MISSING;
        }
        if (r < 0)
                return r;
        *ret_pack = o.pack;
        return idset_has(&w->job->bad_packs, &o.pack) ? OBJ_BAD : OBJ_OK;
}

/* Queue the path for the client; wait while the queue is full (the loop
 * empties it as the client reads). */
static int affected(struct walk *w, const struct oid *pack)
{
        struct check_job *job = w->job;
        struct check_affected a = { .snapshot = w->snapshot, .pack = *pack };
        int r = 0;

        if (w->len == w->root_len) {
                if (w->root_reported)
                        return 0; /* the snapshot object and its root tree: one path */
                w->root_reported = true;
        }
        job->affected_paths++;
        w->hit = true;
        a.path = strndup(w->path, w->len);
        if (!a.path)
                return -ENOMEM;
        pthread_mutex_lock(&job->lock);
        while (job->n_affected >= CHECK_QUEUE_MAX && !__atomic_load_n(&job->cancel, __ATOMIC_RELAXED)) {
                struct timespec until;
                cond_deadline(&until, 100 * 1000 * 1000);
                pthread_cond_timedwait(&job->cond, &job->lock, &until);
        }
        if (__atomic_load_n(&job->cancel, __ATOMIC_RELAXED)) {
                r = -ECANCELED;
        } else {
                if (!job->affected)
                        job->affected = calloc(CHECK_QUEUE_MAX, sizeof(*job->affected));
                if (job->affected)
                        job->affected[job->n_affected++] = a;
                else
                        r = -ENOMEM;
        }
        pthread_mutex_unlock(&job->lock);
        if (r < 0)
                free(a.path);
        return r;
}

/* 0 whole, 1 damaged, or -errno. */
static int walk_file(struct walk *w, const struct object_entry *e)
{
        struct object_list *list = NULL;
        const struct object_extent *ext;
        struct oid pack;
        size_t n;
        int r;

        memset(&pack, 0, sizeof(pack));
        if (e->has_list) {
                r = object_state(w, &e->list, &pack);
                if (r != OBJ_OK)
                        return r < 0 ? r : affected(w, &pack) < 0 ? -ENOMEM : 1;
        }
        r = snaptree_extents(w->job->daemon->repo, e, &ext, &n, &list);
        if (r == -EBADMSG || r == -ENOENT) /* the list (in pack) cannot be read */
                return affected(w, &pack) < 0 ? -ENOMEM : 1;
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (oid_is_null(&ext[i].id))
                        continue; /* a hole */
                r = object_state(w, &ext[i].id, &pack);
                if (r != OBJ_OK) {
                        if (r > 0)
                                r = affected(w, &pack) < 0 ? -ENOMEM : 1;
                        break;
                }
        }
        object_list_free(list);
        return r;
}

static int walk_tree(struct walk *w, const struct oid *tree_id)
{
        struct object_tree *t = NULL;
        struct oid pack;
        bool damaged = false;
        int r;

        if (idset_has(&w->clean, tree_id))
                return 0;
        r = object_state(w, tree_id, &pack);
        if (r != OBJ_OK)
                return r < 0 ? r : affected(w, &pack) < 0 ? -ENOMEM : 1;
        r = snaptree_load(w->job->daemon->repo, tree_id, &t);
        if (r == -EBADMSG || r == -ENOENT) /* indexed in pack, but unreadable */
                return affected(w, &pack) < 0 ? -ENOMEM : 1;
        if (r < 0)
                return r;
        size_t base = w->len;
        for (size_t i = 0; i < t->n_entries && r >= 0; i++) {
                const struct object_entry *e = &t->entries[i];

                if (__atomic_load_n(&w->job->cancel, __ATOMIC_RELAXED)) {
                        r = -ECANCELED;
                        break;
                }
                if (base + 1 + e->name_len >= WALK_PATH_MAX) {
                        r = -ENAMETOOLONG;
                        break;
                }
                w->path[base] = '/';
                memcpy(w->path + base + 1, e->name, e->name_len);
                w->len = base + 1 + e->name_len;
                if (e->kind == OBJECT_KIND_DIR)
                        r = walk_tree(w, &e->subtree);
                else if (e->kind == OBJECT_KIND_FILE)
                        r = walk_file(w, e);
                else
                        r = 0;
                if (r > 0)
                        damaged = true;
        }
        w->len = base;
        object_tree_free(t);
        if (r < 0)
                return r;
        if (!damaged)
                return idset_add(&w->clean, tree_id) < 0 ? -ENOMEM : 0;
        return 1;
}

struct page {
        struct index_snapshot rows[WALK_PAGE];
        size_t n;
};

static int page_add(const struct index_snapshot *s, void *userdata)
{
        struct page *p = userdata;
        struct index_snapshot *c = &p->rows[p->n];

        *c = *s;
        c->hostname = strdup(s->hostname ? s->hostname : "");
        c->tags = strdup(s->tags ? s->tags : "");
        c->root_path = strdup(s->root_path ? s->root_path : "");
        p->n++;
        return c->hostname && c->tags && c->root_path ? 0 : -ENOMEM;
}

static void page_clear(struct page *p)
{
        for (size_t i = 0; i < p->n; i++)
                index_snapshot_done(&p->rows[i]);
        p->n = 0;
}

static int walk_snapshot(struct walk *w, const struct index_snapshot *s)
{
        struct oid pack;
        size_t rl = strlen(s->root_path);
        int r;

        if (rl >= WALK_PATH_MAX / 2)
                return -ENAMETOOLONG;
        memcpy(w->path, s->root_path, rl);
        w->len = w->root_len = rl;
        w->snapshot = s->id;
        w->hit = false;
        w->root_reported = false;
        r = object_state(w, &s->id, &pack);
        if (r > 0)
                r = affected(w, &pack);
        if (r >= 0)
                r = walk_tree(w, &s->tree);
        if (r >= 0 && w->hit)
                w->job->affected_snapshots++;
        return r < 0 ? r : 0;
}

int check_walk_snapshots(struct check_job *job)
{
        struct walk w = { .job = job };
        struct page *page = calloc(1, sizeof(*page));
        struct index_snapshot last = { 0 };
        bool have_last = false;
        uint64_t count = 0;
        int r = 0;

        w.path = malloc(WALK_PATH_MAX);
        w.rd = repo_reader_get(job->daemon->repo);
        idset_init(&w.clean);
        if (!page || !w.path || !w.rd) {
                r = w.rd ? -ENOMEM : -EIO;
                goto out;
        }
        __atomic_store_n(&job->done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&job->total, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&job->phase, "snapshots", __ATOMIC_RELEASE);
        for (;;) {
                r = index_snapshot_page(w.rd, -1, have_last ? &last : NULL, WALK_PAGE, page_add, page);
                if (r < 0 || page->n == 0)
                        break;
                for (size_t i = 0; i < page->n && r >= 0; i++) {
                        r = walk_snapshot(&w, &page->rows[i]);
                        count++;
                        __atomic_add_fetch(&job->done, 1, __ATOMIC_RELAXED);
                }
                if (r < 0)
                        break;
                last.id = page->rows[page->n - 1].id;
                last.time_ns = page->rows[page->n - 1].time_ns;
                have_last = true;
                page_clear(page);
        }
        job->snapshots = count;
out:
        if (page) {
                page_clear(page);
                free(page);
        }
        if (w.rd)
                repo_reader_put(job->daemon->repo, w.rd);
        idset_done(&w.clean);
        free(w.path);
        return r;
}
