/* SPDX-License-Identifier: MIT */
/* diff: what changed between two snapshots (added, removed, modified
 * entries, by path). Subtrees with the same id are skipped without being
 * read, so the cost follows the size of the change. */

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

struct diff_job {
        struct request *r;
        struct oid a, b;
        int error;
        struct cmd_listing out;
};

static int diff_add(struct diff_job *j, const char *path, const char *change, const struct object_entry *e)
{
        struct msg_map item;
        int k = cmd_listing_item(&j->out, &item);
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

static int diff_all(struct diff_job *j, const struct object_tree *t, const char *prefix, const char *change);

static int diff_trees(struct diff_job *j, const struct oid *a, const struct oid *b, const char *prefix)
{
        struct repo *repo = j->r->daemon->repo;
        struct object_tree *ta = NULL, *tb = NULL;
        int k;

        if (!oid_cmp(a, b))
                return 0;
        k = snaptree_load(repo, a, &ta);
        if (k >= 0)
                k = snaptree_load(repo, b, &tb);
        size_t i = 0, n = 0;
        while (k >= 0 && (i < (ta ? ta->n_entries : 0) || n < (tb ? tb->n_entries : 0))) {
                const struct object_entry *x = i < ta->n_entries ? &ta->entries[i] : NULL;
                const struct object_entry *y = n < tb->n_entries ? &tb->entries[n] : NULL;
                int c = !x ? 1 : !y ? -1 : object_name_cmp(x->name, x->name_len, y->name, y->name_len);
                const struct object_entry *e = c <= 0 ? x : y;
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", (const char *)e->name) < 0) {
                        k = -ENOMEM;
                        break;
                }
                if (c < 0) {
                        k = diff_add(j, path, "removed", x);
                        if (k >= 0 && x->kind == OBJECT_KIND_DIR) {
                                struct object_tree *sub = NULL;
                                k = snaptree_load(repo, &x->subtree, &sub);
                                if (k >= 0)
                                        k = diff_all(j, sub, path, "removed");
                                object_tree_free(sub);
                        }
                        i++;
                } else if (c > 0) {
                        k = diff_add(j, path, "added", y);
                        if (k >= 0 && y->kind == OBJECT_KIND_DIR) {
                                struct object_tree *sub = NULL;
                                k = snaptree_load(repo, &y->subtree, &sub);
                                if (k >= 0)
                                        k = diff_all(j, sub, path, "added");
                                object_tree_free(sub);
                        }
                        n++;
                } else {
                        if (x->kind == OBJECT_KIND_DIR && y->kind == OBJECT_KIND_DIR) {
                                if (entry_changed(x, y))
                                        k = diff_add(j, path, "modified", y);
                                if (k >= 0)
                                        k = diff_trees(j, &x->subtree, &y->subtree, path);
                        } else if (x->kind != y->kind) {
                                k = diff_add(j, path, "removed", x);
                                if (k >= 0)
                                        k = diff_add(j, path, "added", y);
                        } else if (entry_changed(x, y)) {
                                k = diff_add(j, path, "modified", y);
                        }
                        i++;
                        n++;
                }
        }
        object_tree_free(ta);
        object_tree_free(tb);
        return k;
}

static int diff_all(struct diff_job *j, const struct object_tree *t, const char *prefix, const char *change)
{
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct object_entry *e = &t->entries[i];
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", prefix, (const char *)e->name) < 0)
                        return -ENOMEM;
                int k = diff_add(j, path, change, e);
                if (k < 0)
                        return k;
                if (e->kind == OBJECT_KIND_DIR) {
                        struct object_tree *sub = NULL;
                        k = snaptree_load(j->r->daemon->repo, &e->subtree, &sub);
                        if (k >= 0)
                                k = diff_all(j, sub, path, change);
                        object_tree_free(sub);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

static void diff_work(void *userdata)
{
        struct diff_job *j = userdata;
        int k = diff_trees(j, &j->a, &j->b, "");
        if (k >= 0)
                k = cmd_listing_finish(&j->out, j->r);
        j->error = k < 0 ? k : 0;
}

static void diff_done(void *userdata)
{
        struct diff_job *j = userdata;
        if (j->error)
                request_error_errno(j->r, j->error, "cannot compare the snapshots");
        else
                cmd_listing_send(&j->out, j->r);
        cmd_listing_done(&j->out);
        request_unref(j->r);
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
        j->r = request_ref(r);
        j->out.reqid = r->reqid;
        if (workers_submit(r->daemon->workers, diff_work, diff_done, j) < 0) {
                j->error = -ENOMEM;
                diff_done(j);
        }
}
