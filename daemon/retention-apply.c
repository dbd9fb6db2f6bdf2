/* SPDX-License-Identifier: MIT */
/* Retention in the daemon (see retention-apply.h): plans from the index
 * rows, forgetting in one transaction on the writer connection with the
 * pending-prune bookkeeping (on a worker: the loop never waits for the
 * write lock or an fsync), and the rate-limited automatic run after
 * snapshots. */

#include "retention-apply.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "repo.h"
#include "root.h"
#include "workers.h"

/* Automatic retention runs at most this often per root. */
#define AUTO_INTERVAL_NS (60 * INT64_C(1000000000))
/* Roots remembered for the rate limit; with more, the oldest entry is
 * reused and a root may be looked at a little more often. */
#define AUTO_SLOTS 64

struct collect {
        struct retention_apply_plan *plan;
        size_t cap;
        bool rows; /* keep full rows, not only id and time */
};

static int collect_cb(const struct index_snapshot *s, void *userdata)
{
        struct collect *c = userdata;
        struct retention_apply_plan *p = c->plan;

        if (p->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 64;
                struct retention_snapshot *v = reallocarray(p->verdicts, cap, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                p->verdicts = v;
                if (c->rows) {
                        struct index_snapshot *r = reallocarray(p->rows, cap, sizeof(*r));
                        if (!r)
                                return -ENOMEM;
                        p->rows = r;
                }
                c->cap = cap;
        }
        p->verdicts[p->n] = (struct retention_snapshot){ .id = s->id, .time_ns = s->time_ns };
        if (c->rows) {
                struct index_snapshot *r = &p->rows[p->n];
                *r = *s;
                r->tags = NULL;
                r->hostname = s->hostname ? strdup(s->hostname) : NULL;
                if (s->hostname && !r->hostname)
                        return -ENOMEM;
        }
        p->n++;
        return 0;
}

static int plan_build(struct index *idx, int64_t root_id, const struct retention_policy *policy,
                      int64_t now, bool rows, struct retention_apply_plan *ret)
{
        struct retention_apply_plan plan = { 0 };
        struct collect c = { .plan = &plan, .rows = rows };
        int k = retention_policy_check(policy);

        if (k < 0)
                return k;
        k = index_snapshot_foreach(idx, root_id, collect_cb, &c);
        if (k >= 0)
                k = retention_select(policy, now, plan.verdicts, plan.n);
        if (k < 0) {
                retention_apply_plan_done(&plan);
                return k;
        }
        plan.n_forget = (size_t)k;
        *ret = plan;
        return 0;
}

int retention_apply_plan(struct index *idx, int64_t root_id, const struct retention_policy *policy,
                         int64_t now, struct retention_apply_plan *ret)
{
        return plan_build(idx, root_id, policy, now, true, ret);
}

void retention_apply_plan_done(struct retention_apply_plan *plan)
{
        if (plan->rows)
                for (size_t i = 0; i < plan->n; i++)
                        index_snapshot_done(&plan->rows[i]);
        free(plan->rows);
        free(plan->verdicts);
        *plan = (struct retention_apply_plan){ 0 };
}

/* After snapshots were deleted: roots whose newest snapshot went get the
 * newest remaining one (or none). */
static void refresh_roots(struct daemon *d, const struct oid *ids, size_t n)
{
        for (struct root *root = d->roots; root; root = root->next) {
                bool gone = false;
                for (size_t i = 0; i < n && !gone; i++)
                        gone = oid_cmp(&root->last_snapshot, &ids[i]) == 0;
                if (!gone)
                        continue;
                struct index_snapshot s;
                if (index_snapshot_latest(d->index, root->id, &s) >= 0) {
                        root->last_snapshot_ns = s.time_ns;
                        root->last_snapshot = s.id;
                        index_snapshot_done(&s);
                } else {
                        root->last_snapshot_ns = 0;
                        memset(&root->last_snapshot, 0, sizeof(root->last_snapshot));
                }
        }
}

struct delete_ctx {
        const struct oid *ids;
        size_t n;
        int deleted;
        int64_t forgotten;
        char *error;
        size_t error_size;
};

static int delete_in_transaction(struct index *wr, void *userdata)
{
        struct delete_ctx *c = userdata;
        int64_t forgotten = 0, since;
        size_t deleted = 0;
        int k = index_begin(wr);

        if (k < 0)
                goto fail;
        for (size_t i = 0; i < c->n; i++) {
                k = index_snapshot_delete(wr, &c->ids[i]);
                if (k == -ENOENT)
                        continue; /* forgotten meanwhile */
                if (k < 0)
                        goto rollback;
                deleted++;
        }
        k = index_kv_get_int(wr, RETENTION_KV_FORGOTTEN, &forgotten);
        if (k < 0 && k != -ENOENT && k != -EINVAL)
                goto rollback;
        if (k < 0 || forgotten < 0)
                forgotten = 0;
        forgotten += (int64_t)deleted;
        k = index_kv_set_int(wr, RETENTION_KV_FORGOTTEN, forgotten);
        if (k < 0)
                goto rollback;
        k = index_kv_get_int(wr, RETENTION_KV_PENDING_SINCE, &since);
        if (k == -ENOENT || k == -EINVAL)
                k = index_kv_set_int(wr, RETENTION_KV_PENDING_SINCE, now_ns());
        if (k < 0)
                goto rollback;
        k = index_commit(wr);
        if (k < 0)
                goto fail;
        c->deleted = deleted > INT32_MAX ? INT32_MAX : (int)deleted;
        c->forgotten = forgotten;
        return c->deleted;

rollback:
        snprintf(c->error, c->error_size, "%s", index_last_error(wr));
        index_rollback(wr);
        return k;
fail:
        snprintf(c->error, c->error_size, "%s", index_last_error(wr));
        return k;
}

int retention_apply_delete(struct repo *repo, const struct oid *ids, size_t n, int64_t *ret_forgotten,
                           char *error, size_t error_size)
{
        struct delete_ctx c = { .ids = ids, .n = n, .error = error, .error_size = error_size };

        if (error_size)
                *error = '\0';
        if (n == 0)
                return 0;
        int k = repo_with_writer(repo, delete_in_transaction, &c);
        if (k >= 0 && ret_forgotten)
                *ret_forgotten = c.forgotten;
        return k;
}

int retention_apply_forgotten(struct daemon *d, const char *root_path, const struct oid *ids, size_t n,
                              int deleted, int64_t forgotten, const char *error, const char *why)
{
        const char *what = root_path ? root_path : "a root no longer watched";

        if (deleted < 0) {
                if (error && *error)
                        log_debug("index: %s", error);
                return log_error_errno(deleted, "Cannot forget snapshots of %s (%s)", what, why);
        }
        refresh_roots(d, ids, n);
        if (deleted == 0)
                return 0;
        log_info("Forgot %d snapshot%s of %s (%s); prune pending: %lld snapshots forgotten", deleted,
                 deleted == 1 ? "" : "s", what, why, (long long)forgotten);
        daemon_update_status(d);
        return deleted;
}

struct auto_slot {
        int64_t root_id;
        int64_t last_ns; /* monotonic; 0 = free slot */
};

static struct auto_slot auto_slots[AUTO_SLOTS];

/* True (and the root's slot stamped now) when root_id may run now. */
static bool auto_due(int64_t root_id, int64_t now)
{
        struct auto_slot *slot = NULL, *oldest = &auto_slots[0];

        for (size_t i = 0; i < AUTO_SLOTS; i++) {
                struct auto_slot *s = &auto_slots[i];
                if (s->last_ns && s->root_id == root_id) {
                        slot = s;
                        break;
                }
                if (!s->last_ns) {
                        if (oldest->last_ns)
                                oldest = s;
                } else if (oldest->last_ns && s->last_ns < oldest->last_ns)
                        oldest = s;
        }
        if (slot && now - slot->last_ns < AUTO_INTERVAL_NS)
                return false;
        if (!slot)
                slot = oldest;
        *slot = (struct auto_slot){ .root_id = root_id, .last_ns = now ? now : 1 };
        return true;
}

/* Automatic retention of one root: planned and applied on a worker. */
struct auto_job {
        struct daemon *d;
        int64_t root_id;
        char *root_path;
        int64_t now;
        struct oid *ids;  /* forgotten */
        size_t n;
        int result;       /* snapshots deleted, or -errno; -ECANCELED: never ran */
        bool empty_policy;
        int64_t forgotten;
        char error[256];
};

static void auto_work(void *userdata)
{
        struct auto_job *j = userdata;
        struct retention_apply_plan plan = { 0 };
        struct repo *repo = j->d->repo;
        struct index *idx = repo_reader_get(repo);
        int k;

        if (!idx) {
                j->result = -EIO;
                return;
        }
        k = plan_build(idx, j->root_id, &j->d->config.retention, j->now, false, &plan);
        if (k < 0)
                snprintf(j->error, sizeof(j->error), "%s", index_last_error(idx));
        repo_reader_put(repo, idx);
        if (k == -EINVAL) {
                j->empty_policy = true;
                j->result = 0;
                return;
        }
        if (k >= 0 && plan.n_forget > 0) {
                j->ids = calloc(plan.n_forget, sizeof(*j->ids));
                if (!j->ids)
                        k = -ENOMEM;
                for (size_t i = 0; j->ids && i < plan.n && j->n < plan.n_forget; i++)
                        if (!plan.verdicts[i].reasons)
                                j->ids[j->n++] = plan.verdicts[i].id;
        }
        retention_apply_plan_done(&plan);
        if (k >= 0)
                k = retention_apply_delete(repo, j->ids, j->n, &j->forgotten, j->error, sizeof(j->error));
        j->result = k;
}

static void auto_done(void *userdata)
{
        static bool warned_empty;
        struct auto_job *j = userdata;

        if (j->empty_policy) {
                if (!warned_empty)
                        log_warning("The [retention] policy turns every rule off, not forgetting any snapshot "
                                    "(set auto = no in [retention] to turn automatic retention off)");
                warned_empty = true;
        } else if (j->result == -ECANCELED) {
                log_debug("Retention of %s was not applied: chuted is stopping", j->root_path);
        } else if (j->result < 0 && j->n == 0) {
                if (*j->error)
                        log_debug("index: %s", j->error);
                log_warning_errno(j->result, "Cannot apply retention to %s, trying again later", j->root_path);
        } else {
                retention_apply_forgotten(j->d, j->root_path, j->ids, j->n, j->result, j->forgotten, j->error,
                                          "retention");
        }
        free(j->ids);
        free(j->root_path);
        free(j);
}

int retention_apply_root(struct daemon *d, struct root *root)
{
        if (!d->config.retention_auto || d->stopping || !auto_due(root->id, monotonic_ns()))
                return 0;
        struct auto_job *j = calloc(1, sizeof(*j));
        if (!j || !(j->root_path = strdup(root->path))) {
                free(j);
                return log_oom();
        }
        j->d = d;
        j->root_id = root->id;
        j->now = now_ns();
        j->result = -ECANCELED;
        int k = workers_submit(d->workers, auto_work, auto_done, j);
        if (k < 0) {
                free(j->root_path);
                free(j);
                return log_warning_errno(k, "Cannot apply retention to %s, trying again later", root->path);
        }
        return 0;
}
