/* SPDX-License-Identifier: MIT */
/* ls: list a directory of a snapshot (or one entry), optionally recursive.
 * The trees are read on a worker; entries go out in DATA messages of a
 * bounded size, then an empty RESULT, so a huge directory never makes one
 * oversized frame. */

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

struct ls_job {
        struct request *r;
        struct oid tree;
        char *relpath;
        bool recursive;
        int error;
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

static int ls_tree(struct ls_job *j, const struct object_tree *t, const char *prefix)
{
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct object_entry *e = &t->entries[i];
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", (const char *)e->name) < 0)
                        return -ENOMEM;
                int k = ls_add(j, path, e);
                if (k < 0)
                        return k;
                if (j->recursive && e->kind == OBJECT_KIND_DIR) {
                        struct object_tree *sub = NULL;
                        k = snaptree_load(j->r->daemon->repo, &e->subtree, &sub);
                        if (k >= 0)
                                k = ls_tree(j, sub, path);
                        object_tree_free(sub);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

static void ls_work(void *userdata)
{
        struct ls_job *j = userdata;
        struct object_tree *t = NULL;
        struct object_entry *e = NULL;
        int k = snaptree_resolve(j->r->daemon->repo, &j->tree, j->relpath, &t, &e);
        if (k >= 0) {
                if (e && e->kind != OBJECT_KIND_DIR) {
                        k = ls_add(j, (const char *)e->name, e);
                } else if (e) {
                        struct object_tree *sub = NULL;
                        k = snaptree_load(j->r->daemon->repo, &e->subtree, &sub);
                        if (k >= 0)
                                k = ls_tree(j, sub, "");
                        object_tree_free(sub);
                } else {
                        k = ls_tree(j, t, "");
                }
        }
        object_tree_free(t);
        if (k >= 0)
                k = cmd_listing_finish(&j->out, j->r);
        j->error = k < 0 ? k : 0;
}

static void ls_done(void *userdata)
{
        struct ls_job *j = userdata;
        if (j->error) {
                if (j->error == -ENOENT)
                        request_error(j->r, CTL_STATUS_NOT_FOUND, "%s is not in that snapshot", j->relpath);
                else if (j->error == -ENOTDIR)
                        request_error(j->r, CTL_STATUS_NOT_FOUND, "a component of %s is not a directory in that snapshot",
                                      j->relpath);
                else
                        request_error_errno(j->r, j->error, "cannot read the snapshot");
        } else {
                cmd_listing_send(&j->out, j->r);
        }
        cmd_listing_done(&j->out);
        free(j->relpath);
        request_unref(j->r);
        free(j);
}

void cmd_ls(struct request *r)
{
        struct daemon *d = r->daemon;
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
        if (workers_submit(d->workers, ls_work, ls_done, j) < 0) {
                j->error = -ENOMEM;
                ls_done(j);
        }
}
