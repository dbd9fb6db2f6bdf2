/* SPDX-License-Identifier: MIT */
/* diff: what changed between two snapshots (added, removed, modified
 * entries, by path). Subtrees with the same id are skipped without being
 * read, so the cost follows the size of the change. The comparison runs on
 * a worker a batch at a time (a stack of the directories being compared
 * kept between batches), sent as the client takes it (cmd-stream.h). */

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

/* Entries per batch compared on the worker. */
#define DIFF_BATCH (4 * CMD_LISTING_BATCH)

/* A pair of directories being compared (b set), or one whose whole
 * content was added or removed (change set). */
struct diff_frame {
        struct object_tree *a, *b;
        size_t i, n; /* the next entry of a, of b */
        const char *change;
        char *prefix;
};

struct diff_job {
        struct cmd_stream s; /* first: the stream's callbacks get the job */
        struct oid a, b;
        bool started;
        struct diff_frame *stack;
        size_t depth, cap;
};

static int diff_add(struct diff_job *j, const char *path, const char *change, const struct object_entry *e)
{
        struct msg_map item;
        int k = cmd_listing_item(&j->s.out, &item);
        if (k < 0)
                return k;
        msg_map_set_bytes(&item, CTL_KEY_PATH, path, strlen(path));
        msg_map_set_text(&item, CTL_KEY_CHANGE, change);
        msg_map_set_text(&item, CTL_KEY_KIND, object_kind_name(e->kind));
        msg_map_set_uint(&item, CTL_KEY_SIZE, e->size);
        return 0;
}

static bool same_content(const struct object_entry *x, const struct object_entry *y)
{
        if (x->has_list != y->has_list || x->n_extents != y->n_extents)
                return false;
        if (x->has_list)
                return !oid_cmp(&x->list, &y->list);
        for (size_t i = 0; i < x->n_extents; i++)
                if (x->extents[i].hole != y->extents[i].hole || x->extents[i].length != y->extents[i].length ||
                    oid_cmp(&x->extents[i].id, &y->extents[i].id))
                        return false;
        return true;
}

static bool entry_changed(const struct object_entry *x, const struct object_entry *y)
{
        if (x->kind != y->kind || x->mode != y->mode || x->uid != y->uid || x->gid != y->gid ||
            x->mtime_ns != y->mtime_ns || x->size != y->size || x->rdev != y->rdev)
                return true;
        if (x->kind == OBJECT_KIND_SYMLINK)
                return x->target_len != y->target_len || memcmp(x->target, y->target, x->target_len);
        if (x->kind == OBJECT_KIND_FILE)
                return !same_content(x, y);
        return false;
}

/* Open a frame: trees a and b (taken) to compare, or a alone whose every
 * entry was change ("added", "removed"), under prefix (copied). */
static int diff_push(struct diff_job *j, struct object_tree *a, struct object_tree *b, const char *change,
                     const char *prefix)
{
        if (j->depth == j->cap) {
                size_t cap = j->cap ? 2 * j->cap : 8;
                struct diff_frame *v = reallocarray(j->stack, cap, sizeof(*v));
                if (!v) {
                        object_tree_free(a);
                        object_tree_free(b);
                        return -ENOMEM;
                }
                j->stack = v;
                j->cap = cap;
        }
        char *p = strdup(prefix);
        if (!p) {
                object_tree_free(a);
                object_tree_free(b);
                return -ENOMEM;
        }
        j->stack[j->depth++] = (struct diff_frame){ .a = a, .b = b, .change = change, .prefix = p };
        return 0;
}

static void diff_pop(struct diff_job *j)
{
        struct diff_frame *f = &j->stack[--j->depth];
        object_tree_free(f->a);
        object_tree_free(f->b);
        free(f->prefix);
}

/* Push the comparison of trees a and b (nothing when they are the same). */
static int diff_push_pair(struct diff_job *j, const struct oid *a, const struct oid *b, const char *prefix)
{
        struct repo *repo = j->s.r->daemon->repo;
        struct object_tree *ta = NULL, *tb = NULL;

        if (!oid_cmp(a, b))
                return 0;
        int k = snaptree_load(repo, a, &ta);
        if (k >= 0)
                k = snaptree_load(repo, b, &tb);
        if (k < 0) {
                object_tree_free(ta);
                object_tree_free(tb);
                return k;
        }
        return diff_push(j, ta, tb, NULL, prefix);
}

/* Push everything below directory entry e as change. */
static int diff_push_all(struct diff_job *j, const struct object_entry *e, const char *change, const char *path)
{
        struct object_tree *sub = NULL;
        int k = snaptree_load(j->s.r->daemon->repo, &e->subtree, &sub);
        return k < 0 ? k : diff_push(j, sub, NULL, change, path);
}

/* The next step of the top frame: an entry added, removed or modified (and
 * a frame pushed for what is below it), or the frame done. */
static int diff_step(struct diff_job *j)
{
        struct diff_frame *f = &j->stack[j->depth - 1];
        size_t na = f->a ? f->a->n_entries : 0, nb = f->b ? f->b->n_entries : 0;

        if (f->change) { /* everything below an added or removed directory */
                if (f->i == na) {
                        diff_pop(j);
                        return 0;
                }
                const struct object_entry *e = &f->a->entries[f->i++];
                const char *change = f->change;
                _cleanup_free_ char *path = path_join(f->prefix, (const char *)e->name);
                if (!path)
                        return -ENOMEM;
                int k = diff_add(j, path, change, e);
                return k >= 0 && e->kind == OBJECT_KIND_DIR ? diff_push_all(j, e, change, path) : k;
        }
        if (f->i == na && f->n == nb) {
                diff_pop(j);
                return 0;
        }
        const struct object_entry *x = f->i < na ? &f->a->entries[f->i] : NULL;
        const struct object_entry *y = f->n < nb ? &f->b->entries[f->n] : NULL;
        int c = !x ? 1 : !y ? -1 : object_name_cmp(x->name, x->name_len, y->name, y->name_len);
        const struct object_entry *e = c <= 0 ? x : y;
        _cleanup_free_ char *path = path_join(f->prefix, (const char *)e->name);
        if (!path)
                return -ENOMEM;
        int k = 0;
        /* the frame moves on before a push (which may move the stack) */
        if (c < 0) {
                f->i++;
                k = diff_add(j, path, "removed", x);
                if (k >= 0 && x->kind == OBJECT_KIND_DIR)
                        k = diff_push_all(j, x, "removed", path);
        } else if (c > 0) {
                f->n++;
                k = diff_add(j, path, "added", y);
                if (k >= 0 && y->kind == OBJECT_KIND_DIR)
                        k = diff_push_all(j, y, "added", path);
        } else {
                f->i++;
                f->n++;
                if (x->kind == OBJECT_KIND_DIR && y->kind == OBJECT_KIND_DIR) {
                        if (entry_changed(x, y))
                                k = diff_add(j, path, "modified", y);
                        if (k >= 0)
                                k = diff_push_pair(j, &x->subtree, &y->subtree, path);
                } else if (x->kind != y->kind) {
                        k = diff_add(j, path, "removed", x);
                        if (k >= 0)
                                k = diff_add(j, path, "added", y);
                } else if (entry_changed(x, y)) {
                        k = diff_add(j, path, "modified", y);
                }
        }
        return k;
}

static int diff_more(struct cmd_stream *stream)
{
        struct diff_job *j = (struct diff_job *)stream;
        int k = 0;
        if (!j->started) {
                j->started = true;
                k = diff_push_pair(j, &j->a, &j->b, "");
        }
        for (size_t n0 = stream->out.n_msgs; k >= 0 && j->depth > 0;) {
                /* a batch: about DIFF_BATCH entries (whole DATA messages) */
                if ((stream->out.n_msgs - n0) * CMD_LISTING_BATCH >= DIFF_BATCH)
                        return 0;
                k = diff_step(j);
        }
        if (k < 0)
                return k;
        stream->finished = true;
        return cmd_listing_finish(&stream->out, stream->r);
}

static void diff_fail(struct cmd_stream *stream)
{
        request_error_errno(stream->r, stream->error, "cannot compare the snapshots");
}

static void diff_free(struct cmd_stream *stream)
{
        struct diff_job *j = (struct diff_job *)stream;
        while (j->depth > 0)
                diff_pop(j);
        free(j->stack);
        free(j);
}

void cmd_diff(struct request *r)
{
        _cleanup_free_ char *a = NULL, *b = NULL;
        int k;
        _cleanup_free_ char *path = cmd_get_path(r, CTL_KEY_PATH, false, &k);
        if (k < 0)
                return;
        if (msg_map_get_text_dup(&r->args, CTL_KEY_SNAPSHOT, &a) < 0 ||
            msg_map_get_text_dup(&r->args, CTL_KEY_OTHER, &b) < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "diff needs two snapshots");
                return;
        }
        struct index_snapshot sa, sb;
        if (cmd_resolve_snapshot(r, a, path, &sa) < 0)
                return;
        if (cmd_resolve_snapshot(r, b, path, &sb) < 0) {
                index_snapshot_done(&sa);
                return;
        }
        struct diff_job *j = calloc(1, sizeof(*j));
        if (!j) {
                index_snapshot_done(&sa);
                index_snapshot_done(&sb);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->a = sa.tree;
        j->b = sb.tree;
        index_snapshot_done(&sa);
        index_snapshot_done(&sb);
        j->s.batch = diff_more;
        j->s.fail = diff_fail;
        j->s.free = diff_free;
        cmd_stream_start(&j->s, r);
}
