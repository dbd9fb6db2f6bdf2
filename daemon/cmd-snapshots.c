/* SPDX-License-Identifier: MIT */
/* snapshots: list snapshots (of one root or all), oldest first. The rows
 * are read on a worker through a read-only index connection and go out in
 * DATA messages of a bounded size, then an empty RESULT, so any number of
 * snapshots fits the frame limit and the loop never waits on the query. */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "repo.h"
#include "root.h"
#include "workers.h"

struct snapshots_job {
        struct request *r;
        int64_t root_id; /* -1: every root */
        int error;
        struct index *idx; /* the worker's read connection */
        struct cmd_listing out;
};

static int add_cb(const struct index_snapshot *s, void *userdata)
{
        struct snapshots_job *j = userdata;
        struct msg_map item;
        int k = cmd_listing_item(&j->out, &item);
        return k < 0 ? k : cmd_snapshot_item(j->idx, &item, s);
}

static void snapshots_work(void *userdata)
{
        struct snapshots_job *j = userdata;
        struct repo *repo = j->r->daemon->repo;
        int k;

        j->idx = repo_reader_get(repo);
        if (!j->idx) {
                j->error = -EIO;
                return;
        }
        k = index_snapshot_foreach(j->idx, j->root_id, add_cb, j);
        if (k >= 0)
                k = cmd_listing_finish(&j->out, j->r);
        repo_reader_put(repo, j->idx);
        j->idx = NULL;
        j->error = k < 0 ? k : 0;
}

static void snapshots_done(void *userdata)
{
        struct snapshots_job *j = userdata;
        if (j->error)
                request_error_errno(j->r, j->error, "cannot list snapshots");
        else
                cmd_listing_send(&j->out, j->r);
        cmd_listing_done(&j->out);
        request_unref(j->r);
        free(j);
}

void cmd_snapshots(struct request *r)
{
        struct daemon *d = r->daemon;
        int k;
        int64_t root_id = -1;
        _cleanup_free_ char *path = cmd_get_path(r, CTL_KEY_PATH, false, &k);
        if (k < 0)
                return;
        if (path) {
                struct index_root ir;
                k = index_root_find(d->index, path, &ir);
                if (k < 0) {
                        struct root *root = root_containing(d, path);
                        if (!root) {
                                request_error(r, CTL_STATUS_NOT_FOUND, "%s is not a watched path", path);
                                return;
                        }
                        root_id = root->id;
                } else {
                        root_id = ir.id;
                        index_root_done(&ir);
                }
        }
        struct snapshots_job *j = calloc(1, sizeof(*j));
        if (!j) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->r = request_ref(r);
        j->root_id = root_id;
        j->out.reqid = r->reqid;
        j->out.key = CTL_KEY_SNAPSHOTS;
        if (workers_submit(d->workers, snapshots_work, snapshots_done, j) < 0) {
                j->error = -ENOMEM;
                snapshots_done(j);
        }
}
