/* SPDX-License-Identifier: MIT */
/* forget: remove one snapshot (SNAPSHOT) or apply a retention policy to one
 * root (KEEP_* from the request, else [retention] of the config), or with
 * DRY_RUN only say what would go. The deciding is common/retention.c, the
 * reading and deleting (one transaction) daemon/retention-apply.c, both on
 * a worker; the reply lists the rows actually deleted. The data stays in
 * packs until a prune. */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "parse.h"
#include "recover.h"
#include "repo.h"
#include "retention-apply.h"
#include "root.h"
#include "workers.h"

/* At most this many snapshots are listed in the RESULT (REMOVED has the
 * full count), so the reply stays far below the control frame limit. */
#define FORGET_LIST_MAX 2000

/* The KEEP_* keys of the request as a policy: 1 when any was given, 0 when
 * none, -EINVAL after sending the ERROR. A count of 2^31 or more means
 * unlimited (chutectl sends 2^32 - 1). */
static int request_policy(struct request *r, struct retention_policy *ret)
{
        static const struct {
                uint32_t key;
                size_t offset;
        } counts[] = {
                { CTL_KEY_KEEP_LAST, offsetof(struct retention_policy, keep_last) },
                { CTL_KEY_KEEP_HOURLY, offsetof(struct retention_policy, keep_hourly) },
                { CTL_KEY_KEEP_DAILY, offsetof(struct retention_policy, keep_daily) },
                { CTL_KEY_KEEP_WEEKLY, offsetof(struct retention_policy, keep_weekly) },
                { CTL_KEY_KEEP_MONTHLY, offsetof(struct retention_policy, keep_monthly) },
                { CTL_KEY_KEEP_YEARLY, offsetof(struct retention_policy, keep_yearly) },
        };
        struct retention_policy p = { 0 };
        bool given = false;
        uint64_t v;
        int k;

        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                k = msg_map_get_uint(&r->args, counts[i].key, &v);
                if (k == -ENOENT)
                        continue;
                if (k < 0) {
                        request_error(r, CTL_STATUS_BAD_REQUEST, "a keep count must be an unsigned integer");
                        return -EINVAL;
                }
                *(int *)((char *)&p + counts[i].offset) = v > INT_MAX ? RETENTION_UNLIMITED : (int)v;
                given = true;
        }
        _cleanup_free_ char *within = NULL;
        k = msg_map_get_text_dup(&r->args, CTL_KEY_KEEP_WITHIN, &within);
        if (k >= 0) {
                uint64_t ns;
                if (parse_duration_ns(within, &ns) < 0 || ns > INT64_MAX / 2) {
                        request_error(r, CTL_STATUS_BAD_REQUEST,
                                      "\"%s\" is not a duration for keep-within (e.g. 90m, 36h, 7d)", within);
                        return -EINVAL;
                }
                p.keep_within_ns = (int64_t)ns;
                given = true;
        } else if (k != -ENOENT) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "keep-within must be text such as 7d");
                return -EINVAL;
        }
        *ret = p;
        return given;
}

/* One forget, planned and applied on a worker: the loop neither reads
 * thousands of rows nor waits for the index's write lock and fsync. A dry
 * run plans on a reader connection; a real forget plans and deletes in one
 * transaction on the writer (retention_apply_forget). */
struct forget_job {
        struct request *r;
        int64_t root_id;
        char *root_path; /* NULL: a root no longer watched */
        bool dry_run;
        bool one;                  /* forget row, else apply policy */
        struct index_snapshot row;
        struct retention_policy policy;
        int64_t now;
        /* results */
        struct retention_apply_result forgotten; /* what a real forget deleted */
        struct msg *reply;         /* the RESULT, built on the worker */
        int result;                /* -ECANCELED: never ran */
        bool plan_failed;
        char error[256];
};

/* The RESULT: REMOVED = n, SNAPSHOTS = up to FORGET_LIST_MAX of rows (their
 * root paths read through idx). */
static int build_reply(struct forget_job *j, struct index *idx, const struct index_snapshot *const *rows, size_t n)
{
        struct msg *m = request_result(j->r);
        if (!m)
                return -ENOMEM;
        struct msg_map body = msg_body(m), item;
        int k = msg_map_set_uint(&body, CTL_KEY_REMOVED, n);
        for (size_t i = 0; k >= 0 && i < n && i < FORGET_LIST_MAX; i++) {
                k = msg_map_append_map(&body, CTL_KEY_SNAPSHOTS, &item);
                if (k >= 0)
                        k = cmd_snapshot_item(idx, &item, rows[i]);
        }
        if (k < 0) {
                msg_free(m);
                return k;
        }
        j->reply = m;
        return 0;
}

/* A dry run: the snapshots j's policy would forget, newest first as restic
 * lists them, read through idx; *ret_rows point into plan. */
static int dry_run_rows(struct forget_job *j, struct index *idx, struct retention_apply_plan *plan,
                        const struct index_snapshot ***ret_rows, size_t *ret_n)
{
        int k = retention_apply_plan(idx, j->root_id, &j->policy, j->now, plan);
        if (k < 0)
                return k;
        const struct index_snapshot **rows = calloc(plan->n_forget + 1, sizeof(*rows));
        size_t n = 0;
        if (!rows)
                return -ENOMEM;
        for (size_t i = plan->n; i-- > 0;) {
                char why[RETENTION_REASONS_MAX];
                if (plan->verdicts[i].reasons) {
                        log_debug("forget --dry-run: keep %s snapshot at %lld (%s)", j->root_path,
                                  (long long)plan->rows[i].time_ns,
                                  retention_reasons_format(plan->verdicts[i].reasons, why));
                        continue;
                }
                if (n < plan->n_forget)
                        rows[n++] = &plan->rows[i];
        }
        *ret_rows = rows;
        *ret_n = n;
        return 0;
}

static void forget_work(void *userdata)
{
        struct forget_job *j = userdata;
        struct repo *repo = j->r->daemon->repo;
        struct retention_apply_plan plan = { 0 };
        _cleanup_free_ const struct index_snapshot **rows = NULL;
        size_t n = 0;
        int k;

        if (!j->dry_run) {
                k = retention_apply_forget(repo, j->root_id, &j->policy, j->now, j->one ? &j->row.id : NULL,
                                           &j->forgotten);
                j->result = k;
                if (k < 0)
                        return; /* reported by retention_apply_forgotten */
                n = j->forgotten.n;
                rows = calloc(n + 1, sizeof(*rows));
                if (!rows)
                        return; /* forgotten, but no reply: forget_done says so */
                for (size_t i = 0; i < n; i++)
                        rows[i] = &j->forgotten.rows[i];
        }

        struct index *idx = repo_reader_get(repo);
        if (!idx) {
                if (j->dry_run) {
                        j->result = -EIO;
                        j->plan_failed = true;
                }
                return; /* a real forget is done: forget_done reports the missing reply */
        }
        k = 0;
        if (j->one && j->dry_run) {
                rows = calloc(1, sizeof(*rows));
                k = rows ? 0 : -ENOMEM;
                if (rows)
                        rows[n++] = &j->row;
        } else if (j->dry_run) {
                k = dry_run_rows(j, idx, &plan, &rows, &n);
                if (k < 0) {
                        snprintf(j->error, sizeof(j->error), "%s", index_last_error(idx));
                        j->plan_failed = true;
                }
        }
        if (k >= 0)
                k = build_reply(j, idx, rows, n);
        retention_apply_plan_done(&plan);
        repo_reader_put(repo, idx);
        if (k < 0 && j->dry_run)
                j->result = k;
        else if (j->dry_run)
                j->result = (int)(n > INT32_MAX ? INT32_MAX : n);
}

static void forget_done(void *userdata)
{
        struct forget_job *j = userdata;
        struct request *r = j->r;
        const char *what = j->root_path ? j->root_path : "a root no longer watched";

        if (j->result == -ECANCELED) {
                request_error(r, CTL_STATUS_BUSY, "chuted is stopping: nothing was forgotten");
        } else if (j->plan_failed) {
                if (*j->error)
                        log_debug("index: %s", j->error);
                request_error_errno(r, j->result, "cannot read the snapshots of %s", what);
        } else {
                int k = j->result;
                if (!j->dry_run)
                        k = retention_apply_forgotten(r->daemon, j->root_path, &j->forgotten, j->result,
                                                      "chutectl forget");
                if (k >= 0 && !j->reply)
                        request_error(r, CTL_STATUS_INTERNAL,
                                      "forgot %d snapshot%s of %s, but could not build the reply", k,
                                      k == 1 ? "" : "s", what);
                else if (k < 0)
                        request_error_errno(r, k, j->one ? "cannot forget the snapshot"
                                                         : "cannot forget snapshots of %s", what);
                else
                        request_reply(r, TAKE_PTR(j->reply));
        }
        msg_free(j->reply);
        if (j->one)
                index_snapshot_done(&j->row);
        retention_apply_result_done(&j->forgotten);
        free(j->root_path);
        request_unref(r);
        free(j);
}

/* Queue j (taken) on a worker. */
static void forget_start(struct forget_job *j, struct request *r)
{
        j->r = request_ref(r);
        j->result = -ECANCELED;
        if (workers_submit(r->daemon->workers, forget_work, forget_done, j) < 0) {
                j->result = -ENOMEM;
                j->plan_failed = true;
                forget_done(j);
        }
}

static void forget_one(struct request *r, const char *snap, const char *path, bool dry_run)
{
        struct daemon *d = r->daemon;
        struct index_root ir = { 0 };
        struct forget_job *j = calloc(1, sizeof(*j));

        if (!j) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        if (cmd_resolve_snapshot(r, snap, path, &j->row) < 0) {
                free(j);
                return;
        }
        j->one = true;
        j->dry_run = dry_run;
        j->root_id = j->row.root_id;
        if (index_root_get(d->index, j->row.root_id, &ir) >= 0) {
                j->root_path = strdup(ir.path);
                index_root_done(&ir);
        }
        forget_start(j, r);
}

/* The root PATH names, or the only root; NULL after sending the ERROR. */
static struct root *forget_root(struct request *r, const char *path)
{
        struct daemon *d = r->daemon;
        struct root *root;

        if (path) {
                root = root_find(d, path);
                if (!root)
                        root = root_containing(d, path);
                if (!root)
                        request_error(r, CTL_STATUS_NOT_FOUND, "%s is not a watched path", path);
                return root;
        }
        if (!d->roots)
                request_error(r, CTL_STATUS_NOT_FOUND, "no path is watched");
        else if (d->roots->next)
                request_error(r, CTL_STATUS_AMBIGUOUS,
                              "several paths are watched: say which one to apply the policy to (--root PATH)");
        else
                return d->roots;
        return NULL;
}

static void forget_policy(struct request *r, const char *path, const struct retention_policy *policy,
                          bool given, bool dry_run)
{
        struct root *root = forget_root(r, path);
        struct forget_job *j;

        if (!root)
                return;
        if (retention_policy_check(policy) < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              given ? "the policy would keep only the newest snapshot: give a --keep-* option above 0"
                                    : "the [retention] policy of chuted.conf turns every rule off; give --keep-* options");
                return;
        }
        j = calloc(1, sizeof(*j));
        if (!j || !(j->root_path = strdup(root->path))) {
                free(j);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->root_id = root->id;
        j->policy = *policy;
        j->now = now_ns();
        j->dry_run = dry_run;
        forget_start(j, r);
}

void cmd_forget(struct request *r)
{
        struct retention_policy policy;
        _cleanup_free_ char *snap = NULL;
        bool dry_run = false;
        int k;

        if (recover_rebuilding(r->daemon)) {
                request_error(r, CTL_STATUS_BUSY, "busy: %s is running; forget when it is done",
                              recover_rebuilding(r->daemon));
                return;
        }
        _cleanup_free_ char *path = cmd_get_path(r, CTL_KEY_PATH, false, &k);
        if (k < 0)
                return;
        k = msg_map_get_bool(&r->args, CTL_KEY_DRY_RUN, &dry_run);
        if (k < 0 && k != -ENOENT) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "dry_run must be a boolean");
                return;
        }
        k = msg_map_get_text_dup(&r->args, CTL_KEY_SNAPSHOT, &snap);
        if (k < 0 && k != -ENOENT) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "the snapshot must be text: an id prefix or \"latest\"");
                return;
        }
        int given = request_policy(r, &policy);
        if (given < 0)
                return;
        if (snap && given) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "give either a snapshot or --keep-* options, not both");
                return;
        }
        if (snap)
                forget_one(r, snap, path, dry_run);
        else
                forget_policy(r, path, given ? &policy : &r->daemon->config.retention, given, dry_run);
}
