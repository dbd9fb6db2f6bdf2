/* SPDX-License-Identifier: MIT */
/* ls: list a directory of a snapshot (or one entry), optionally recursive.
 * The trees are read on a worker a batch of entries at a time (the walk's
 * stack of open trees kept between batches); entries go out in DATA
 * messages of a bounded size, the next batch only once the client has
 * taken most of the last, then an empty RESULT. So neither a huge
 * directory nor `ls -R` of a million files makes one oversized frame or
 * makes the daemon hold the whole listing, and a client that goes away
 * stops the walk. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "repo.h"
#include "snaptree.h"
#include "workers.h"

/* Entries per batch read on the worker. */
#define LS_BATCH (4 * CMD_LISTING_BATCH)
/* Read the next batch when less than this waits for the client. */
#define LS_LOW_WATER (512u * 1024)

/* A directory being listed: its tree, the next entry, its path. */
struct ls_frame {
        struct object_tree *t;
        size_t next;
        char *prefix;
};

struct ls_job {
        struct request *r;
        struct oid tree;
        char *relpath;
        bool recursive;
        bool started; /* the path resolved, the stack set up */
        bool finished; /* the RESULT is queued */
        bool busy;     /* on a worker */
        int error;
        struct ls_frame *stack;
        size_t depth, cap;
        struct cmd_listing out;
};

static int ls_add(struct ls_job *j, const char *path, const struct object_entry *e)
{
        struct msg_map item;
        int k = cmd_listing_item(&j->out, &item);
        if (k < 0)
                return k;
        msg_map_set_bytes(&item, CTL_KEY_PATH, path, strlen(path));
        msg_map_set_text(&item, CTL_KEY_KIND, object_kind_name(e->kind));
        msg_map_set_uint(&item, CTL_KEY_MODE, e->mode);
        msg_map_set_uint(&item, CTL_KEY_UID, e->uid);
        msg_map_set_uint(&item, CTL_KEY_GID, e->gid);
        if (e->user)
                msg_map_set_text(&item, CTL_KEY_USER, e->user);
        if (e->group)
                msg_map_set_text(&item, CTL_KEY_GROUP, e->group);
        msg_map_set_int(&item, CTL_KEY_MTIME, e->mtime_ns);
        msg_map_set_uint(&item, CTL_KEY_SIZE, e->size);
        if (e->kind == OBJECT_KIND_SYMLINK)
                msg_map_set_bytes(&item, CTL_KEY_LINK_TARGET, e->target, e->target_len);
        return 0;
}

/* Open t (taken) for listing under prefix (copied). */
static int ls_push(struct ls_job *j, struct object_tree *t, const char *prefix)
{
        if (j->depth == j->cap) {
                size_t cap = j->cap ? 2 * j->cap : 8;
                struct ls_frame *v = reallocarray(j->stack, cap, sizeof(*v));
                if (!v) {
                        object_tree_free(t);
                        return -ENOMEM;
                }
                j->stack = v;
                j->cap = cap;
        }
        char *p = strdup(prefix);
        if (!p) {
                object_tree_free(t);
                return -ENOMEM;
        }
        j->stack[j->depth++] = (struct ls_frame){ .t = t, .prefix = p };
        return 0;
}

static void ls_pop(struct ls_job *j)
{
        struct ls_frame *f = &j->stack[--j->depth];
        object_tree_free(f->t);
        free(f->prefix);
}

/* Resolve the path: one entry listed at once, or the directory to walk. */
static int ls_start(struct ls_job *j)
{
        struct repo *repo = j->r->daemon->repo;
        struct object_tree *t = NULL;
        struct object_entry *e = NULL;
        int k = snaptree_resolve(repo, &j->tree, j->relpath, &t, &e);
        if (k < 0) {
                object_tree_free(t);
                return k;
        }
        if (e && e->kind != OBJECT_KIND_DIR) {
                k = ls_add(j, (const char *)e->name, e);
                object_tree_free(t);
                return k;
        }
        if (e) {
                struct object_tree *sub = NULL;
                k = snaptree_load(repo, &e->subtree, &sub);
                object_tree_free(t);
                return k < 0 ? k : ls_push(j, sub, "");
        }
        return ls_push(j, t, "");
}

/* Up to LS_BATCH more entries, depth first; the RESULT once all are in. */
static int ls_batch(struct ls_job *j)
{
        size_t n = 0;
        while (j->depth > 0 && n < LS_BATCH) {
                struct ls_frame *f = &j->stack[j->depth - 1];
                if (f->next == f->t->n_entries) {
                        ls_pop(j);
                        continue;
                }
                const struct object_entry *e = &f->t->entries[f->next++];
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s%s%s", f->prefix, *f->prefix ? "/" : "", (const char *)e->name) < 0)
                        return -ENOMEM;
                int k = ls_add(j, path, e);
                if (k < 0)
                        return k;
                n++;
                if (j->recursive && e->kind == OBJECT_KIND_DIR) {
                        struct object_tree *sub = NULL;
                        k = snaptree_load(j->r->daemon->repo, &e->subtree, &sub);
                        if (k < 0)
                                return k;
                        k = ls_push(j, sub, path); /* f may move */
                        if (k < 0)
                                return k;
                }
        }
        if (j->depth > 0)
                return 0;
        j->finished = true;
        return cmd_listing_finish(&j->out, j->r);
}

static void ls_work(void *userdata)
{
        struct ls_job *j = userdata;
        int k = 0;
        if (!j->started) {
                j->started = true;
                k = ls_start(j);
        }
        if (k >= 0)
                k = ls_batch(j);
        j->error = k < 0 ? k : 0;
}

static void ls_free(struct ls_job *j)
{
        while (j->depth > 0)
                ls_pop(j);
        free(j->stack);
        cmd_listing_done(&j->out);
        free(j->relpath);
        free(j);
}

/* The request is over (answered, failed or gone): let go of it. */
static void ls_end(struct ls_job *j)
{
        struct request *r = j->r;
        r->on_writable = NULL;
        r->on_gone = NULL;
        r->state = NULL;
        request_unref(r);
        ls_free(j);
}

static void ls_next(struct ls_job *j);

static void ls_done(void *userdata)
{
        struct ls_job *j = userdata;
        struct request *r = j->r;
        j->busy = false;
        if (r->gone) {
                ls_end(j);
                return;
        }
        if (j->error) {
                if (j->error == -ENOENT)
                        request_error(r, CTL_STATUS_NOT_FOUND, "%s is not in that snapshot", j->relpath);
                else if (j->error == -ENOTDIR)
                        request_error(r, CTL_STATUS_NOT_FOUND, "a component of %s is not a directory in that snapshot",
                                      j->relpath);
                else
                        request_error_errno(r, j->error, "cannot read the snapshot");
                ls_end(j);
                return;
        }
        if (j->finished) {
                cmd_listing_send(&j->out, r);
                ls_end(j);
                return;
        }
        cmd_listing_flush(&j->out, r);
        ls_next(j);
}

static void ls_next(struct ls_job *j)
{
        if (j->busy || request_pending(j->r) > LS_LOW_WATER)
                return; /* on_writable calls again */
        j->busy = true;
        if (workers_submit(j->r->daemon->workers, ls_work, ls_done, j) < 0) {
                j->error = -ENOMEM;
                ls_done(j);
        }
}

static void ls_writable(struct request *r)
{
        if (r->state)
                ls_next(r->state);
}

/* The client left while we waited for it to drain: nothing is on the
 * workers, so end here (a busy job ends in ls_done instead). */
static void ls_gone(struct request *r)
{
        struct ls_job *j = r->state;
        if (!j || j->busy)
                return;
        ls_end(j);
}

void cmd_ls(struct request *r)
{
        struct index_snapshot s;
        char *rel;
        if (cmd_snapshot_path(r, "ls", false, &s, &rel) < 0)
                return;
        struct ls_job *j = calloc(1, sizeof(*j));
        if (!j) {
                free(rel);
                index_snapshot_done(&s);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->relpath = rel;
        bool rec = false;
        msg_map_get_bool(&r->args, CTL_KEY_RECURSIVE, &rec);
        j->recursive = rec;
        j->tree = s.tree;
        j->r = request_ref(r);
        j->out.reqid = r->reqid;
        index_snapshot_done(&s);
        r->state = j;
        r->on_writable = ls_writable;
        r->on_gone = ls_gone;
        ls_next(j);
}
