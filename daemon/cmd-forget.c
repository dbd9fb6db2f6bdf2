/* SPDX-License-Identifier: MIT */
/* forget: remove one snapshot (SNAPSHOT) or apply a retention policy to one
 * root (KEEP_* from the request, else [retention] of the config), or with
 * DRY_RUN only say what would go. The deciding is common/retention.c, the
 * deleting daemon/retention-apply.c; the data stays in packs until a prune. */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
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
#include "retention-apply.h"
#include "root.h"

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

/* The RESULT: REMOVED = n, SNAPSHOTS = up to FORGET_LIST_MAX of rows. */
static void reply_removed(struct request *r, const struct index_snapshot *const *rows, size_t n)
{
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map body = msg_body(m);
        int k = msg_map_set_uint(&body, CTL_KEY_REMOVED, n);
        for (size_t i = 0; k >= 0 && i < n && i < FORGET_LIST_MAX; i++)
                k = cmd_add_snapshot_item(r, &body, rows[i]);
        if (k < 0) {
                msg_free(m);
                request_error_errno(r, k, "cannot build the reply");
                return;
        }
        request_reply(r, m);
}

static void forget_one(struct request *r, const char *snap, const char *path, bool dry_run)
{
        struct daemon *d = r->daemon;
        struct index_snapshot s;
        struct index_root ir = { 0 };
        int k = cmd_resolve_snapshot(r, snap, path, &s);

        if (k < 0)
                return;
        bool have_root = index_root_get(d->index, s.root_id, &ir) >= 0;
        if (!dry_run) {
                k = retention_apply_forget(d, have_root ? ir.path : NULL, &s.id, 1, "chutectl forget");
                if (k < 0)
                        request_error_errno(r, k, "cannot forget the snapshot");
        }
        if (k >= 0) {
                const struct index_snapshot *row = &s;
                reply_removed(r, &row, 1);
        }
        if (have_root)
                index_root_done(&ir);
        index_snapshot_done(&s);
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
        struct daemon *d = r->daemon;
        struct retention_apply_plan plan = { 0 };
        _cleanup_free_ const struct index_snapshot **rows = NULL;
        _cleanup_free_ struct oid *ids = NULL;
        struct root *root = forget_root(r, path);
        size_t n = 0;
        int k;

        if (!root)
                return;
        if (retention_policy_check(policy) < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              given ? "the policy would keep only the newest snapshot: give a --keep-* option above 0"
                                    : "the [retention] policy of chuted.conf turns every rule off; give --keep-* options");
                return;
        }
        k = retention_apply_plan(d, root->id, policy, now_ns(), &plan);
        if (k < 0) {
                log_debug("index: %s", index_last_error(d->index));
                request_error_errno(r, k, "cannot read the snapshots of %s", root->path);
                return;
        }
        rows = calloc(plan.n_forget + 1, sizeof(*rows));
        ids = calloc(plan.n_forget + 1, sizeof(*ids));
        if (!rows || !ids) {
                retention_apply_plan_done(&plan);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        /* newest first, as restic lists them */
        for (size_t i = plan.n; i-- > 0;) {
                char why[RETENTION_REASONS_MAX];
                if (plan.verdicts[i].reasons) {
                        if (dry_run)
                                log_debug("forget --dry-run: keep %s snapshot at %lld (%s)", root->path,
                                          (long long)plan.rows[i].time_ns,
                                          retention_reasons_format(plan.verdicts[i].reasons, why));
                        continue;
                }
                if (n == plan.n_forget)
                        continue;
                rows[n] = &plan.rows[i];
                ids[n++] = plan.rows[i].id;
        }
        if (!dry_run && n > 0) {
                k = retention_apply_forget(d, root->path, ids, n, "chutectl forget");
                if (k < 0) {
                        retention_apply_plan_done(&plan);
                        request_error_errno(r, k, "cannot forget snapshots of %s", root->path);
                        return;
                }
        }
        reply_removed(r, rows, n);
        retention_apply_plan_done(&plan);
}

void cmd_forget(struct request *r)
{
        struct retention_policy policy;
        _cleanup_free_ char *snap = NULL;
        bool dry_run = false;
        int k;

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
