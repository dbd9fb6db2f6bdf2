/* SPDX-License-Identifier: MIT */
/* snapshots: list snapshots (of one root or all), oldest first. The rows
 * are read on a worker, a page (one DATA message) at a time after the last
 * row sent, then an empty RESULT; the next page is read only when the client
 * has taken most of the previous one, so the daemon never holds the whole
 * list and the loop never waits on the query. */
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

/* Read the next page when less than this waits for the client. */
#define SNAPSHOTS_LOW_WATER (512u * 1024)

struct snapshots_job {
        struct request *r;
        int64_t root_id;           /* -1: every root */
        struct index_snapshot after; /* id and time of the last row sent */
        bool started;              /* after is set */
        bool busy;                 /* a page is on the workers */
        bool end;                  /* the last page was read: RESULT queued */
        size_t in_page;
        int error;
        struct index *idx;         /* the worker's read connection */
        struct cmd_listing out;
};

static void snapshots_free(struct snapshots_job *j)
{
        struct request *r = j->r;

        r->on_writable = NULL;
        r->on_gone = NULL;
        r->state = NULL;
        request_unref(r);
        cmd_listing_done(&j->out);
        free(j);
}

static int add_cb(const struct index_snapshot *s, void *userdata)
{
        struct snapshots_job *j = userdata;
        struct msg_map item;
        int k = cmd_listing_item(&j->out, &item);
        if (k >= 0)
                k = cmd_snapshot_item(j->idx, &item, s);
        if (k < 0)
                return k;
        j->after = (struct index_snapshot){ .id = s->id, .time_ns = s->time_ns };
        j->started = true;
        j->in_page++;
        return 0;
}

/* One page: at most CMD_LISTING_BATCH rows after the last one sent. */
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
        j->in_page = 0;
        k = index_snapshot_page(j->idx, j->root_id, j->started ? &j->after : NULL, CMD_LISTING_BATCH, add_cb, j);
        if (k >= 0 && j->in_page < CMD_LISTING_BATCH) {
                j->end = true;
                k = cmd_listing_finish(&j->out, j->r);
        }
        repo_reader_put(repo, j->idx);
        j->idx = NULL;
        j->error = k < 0 ? k : 0;
}

static void snapshots_next(struct snapshots_job *j);

static void snapshots_done(void *userdata)
{
        struct snapshots_job *j = userdata;
        struct request *r = j->r;

        j->busy = false;
        if (r->gone) {
                snapshots_free(j);
        } else if (j->error) {
                request_error_errno(r, j->error, "cannot list snapshots");
                snapshots_free(j);
        } else if (j->end) {
                cmd_listing_send(&j->out, r);
                snapshots_free(j);
        } else {
                cmd_listing_flush(&j->out, r);
                snapshots_next(j);
        }
}

/* Queue the next page unless one is on the workers or the client has not
 * taken most of what was sent (then on_writable calls again). */
static void snapshots_next(struct snapshots_job *j)
{
        if (j->busy || request_pending(j->r) > SNAPSHOTS_LOW_WATER)
                return;
        j->busy = true;
        if (workers_submit(j->r->daemon->workers, snapshots_work, snapshots_done, j) < 0) {
                j->error = -ENOMEM;
                snapshots_done(j);
        }
}

static void snapshots_writable(struct request *r)
{
        if (r->state)
                snapshots_next(r->state);
}

/* The client left while we waited for it to drain: nothing is on the
 * workers, so end here (a busy job ends in snapshots_done instead). */
static void snapshots_gone(struct request *r)
{
        struct snapshots_job *j = r->state;
        if (j && !j->busy)
                snapshots_free(j);
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
        r->state = j;
        r->on_writable = snapshots_writable;
        r->on_gone = snapshots_gone;
        snapshots_next(j);
}
