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
#include "cmd-stream.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "path.h"
#include "repo.h"
#include "snaptree.h"

/* Entries per batch read on the worker. */
#define LS_BATCH (4 * CMD_LISTING_BATCH)

/* A directory being listed: its tree, the next entry, its path. */
struct ls_frame {
        struct object_tree *t;
        size_t next;
        char *prefix;
};

struct ls_job {
        struct cmd_stream s; /* first: the stream's callbacks get the job */
        struct oid tree;
        char *relpath;
        bool recursive;
        bool started; /* the path resolved, the stack set up */
        struct ls_frame *stack;
        size_t depth, cap;
};

static int ls_add(struct ls_job *j, const char *path, const struct object_entry *e)
{
        struct msg_map item;
        int k = cmd_listing_item(&j->s.out, &item);
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
        struct repo *repo = j->s.r->daemon->repo;
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
                _cleanup_free_ char *path = path_join(f->prefix, (const char *)e->name);
                if (!path)
                        return -ENOMEM;
                int k = ls_add(j, path, e);
                if (k < 0)
                        return k;
                n++;
                if (j->recursive && e->kind == OBJECT_KIND_DIR) {
                        struct object_tree *sub = NULL;
                        k = snaptree_load(j->s.r->daemon->repo, &e->subtree, &sub);
                        if (k < 0)
                                return k;
                        k = ls_push(j, sub, path); /* f may move */
                        if (k < 0)
                                return k;
                }
        }
        if (j->depth > 0)
                return 0;
        j->s.finished = true;
        return cmd_listing_finish(&j->s.out, j->s.r);
}

static int ls_more(struct cmd_stream *stream)
{
        struct ls_job *j = (struct ls_job *)stream;
        int k = 0;
        if (!j->started) {
                j->started = true;
                k = ls_start(j);
        }
        return k < 0 ? k : ls_batch(j);
}

static void ls_fail(struct cmd_stream *stream)
{
        struct ls_job *j = (struct ls_job *)stream;
        if (stream->error == -ENOENT)
                request_error(stream->r, CTL_STATUS_NOT_FOUND, "%s is not in that snapshot", j->relpath);
        else if (stream->error == -ENOTDIR)
                request_error(stream->r, CTL_STATUS_NOT_FOUND,
                              "a component of %s is not a directory in that snapshot", j->relpath);
        else
                request_error_errno(stream->r, stream->error, "cannot read the snapshot");
}

static void ls_free(struct cmd_stream *stream)
{
        struct ls_job *j = (struct ls_job *)stream;
        while (j->depth > 0)
                ls_pop(j);
        free(j->stack);
        free(j->relpath);
        free(j);
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
        index_snapshot_done(&s);
        j->s.batch = ls_more;
        j->s.fail = ls_fail;
        j->s.free = ls_free;
        cmd_stream_start(&j->s, r);
}
