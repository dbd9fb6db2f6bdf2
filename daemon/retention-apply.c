/* SPDX-License-Identifier: MIT */
/* Retention in the daemon (see retention-apply.h): plans from the index
 * rows and forgets in one transaction on the writer connection (the plan is
 * read under the same BEGIN IMMEDIATE as the delete, so concurrent forgets
 * run as if in sequence), after the tombstones naming the planned rows are
 * durable (forgotten.c), with the pending-prune bookkeeping, on a worker,
 * and the rate-limited automatic run after snapshots. */

#include "retention-apply.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "forgotten.h"
#include "idset.h"
#include "log.h"
#include "prune.h"
#include "recover.h"
#include "repo.h"
#include "root.h"
#include "workers.h"

/* Automatic retention runs at most this often per root. */
#define AUTO_INTERVAL_NS (60 * INT64_C(1000000000))
/* A forget whose plan keeps changing under it (another writer of the index)
 * gives up after writing this many tombstones. */
#define FORGET_TRIES 4
/* Roots remembered for the rate limit; with more, the oldest entry is
 * reused and a root may be looked at a little more often. */
#define AUTO_SLOTS 64

struct collect {
        struct retention_apply_plan *plan;
        size_t cap;
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
                struct index_snapshot *r = reallocarray(p->rows, cap, sizeof(*r));
                if (!r)
                        return -ENOMEM;
                p->rows = r;
                c->cap = cap;
        }
        p->verdicts[p->n] = (struct retention_snapshot){ .id = s->id, .time_ns = s->time_ns };
        struct index_snapshot *r = &p->rows[p->n];
        *r = *s;
        r->tags = NULL;
        r->hostname = s->hostname ? strdup(s->hostname) : NULL;
        r->root_path = s->root_path ? strdup(s->root_path) : NULL;
        if ((s->hostname && !r->hostname) || (s->root_path && !r->root_path)) {
                free(r->hostname);
                free(r->root_path);
                return -ENOMEM;
        }
        p->n++;
        return 0;
}

int retention_apply_plan(struct index *idx, int64_t root_id, const struct retention_policy *policy,
                         int64_t now, struct retention_apply_plan *ret)
{
        struct retention_apply_plan plan = { 0 };
        struct collect c = { .plan = &plan };
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
 * newest remaining one (or none), and a full walk next: the changes seen
 * since were seen against the snapshot that went, so an automatic run
 * that took only them on top of an older one would record old content
 * for everything changed in between. */
static void refresh_roots(struct daemon *d, const struct index_snapshot *rows, size_t n)
{
        for (struct root *root = d->roots; root; root = root->next) {
                bool gone = false;
                for (size_t i = 0; i < n && !gone; i++)
                        gone = oid_cmp(&root->last_snapshot, &rows[i].id) == 0;
                if (!gone)
                        continue;
                root->full = true;
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

void retention_apply_result_done(struct retention_apply_result *result)
{
        for (size_t i = 0; i < result->n; i++)
                index_snapshot_done(&result->rows[i]);
        free(result->rows);
        result->rows = NULL;
        result->n = 0;
}

struct forget_ctx {
        int64_t root_id;
        const struct retention_policy *policy;
        int64_t now;
        const struct oid *one;
        struct retention_apply_result *result;
        const struct idset *tombstoned; /* named by a durable tombstone of this forget */
        bool need_tombstone;            /* the plan names others: nothing deleted */
};

/* Delete the selected rows through wr; a row already gone is dropped from
 * the result. */
static int forget_delete(struct index *wr, struct retention_apply_result *res)
{
        size_t kept = 0;
        int k = 0;

        for (size_t i = 0; i < res->n; i++) {
                if (k >= 0)
                        k = index_snapshot_delete(wr, &res->rows[i].id);
                if (k == -ENOENT) {
                        k = 0;
                        index_snapshot_done(&res->rows[i]);
                        continue;
                }
                res->rows[kept++] = res->rows[i];
        }
        res->n = kept;
        return k;
}

/* What to forget, read through wr inside its transaction, into the result
 * (not deleted yet): the one row, or the snapshots of the root the policy
 * does not keep, newest first. */
static int forget_select(struct index *wr, struct forget_ctx *c)
{
        struct retention_apply_result *res = c->result;
        int k;

        if (c->one) {
                struct index_snapshot row;
                k = index_snapshot_get(wr, c->one, &row);
                if (k == -ENOENT)
                        return 0; /* forgotten meanwhile */
                if (k < 0)
                        return k;
                res->rows = calloc(1, sizeof(*res->rows));
                if (!res->rows) {
                        index_snapshot_done(&row);
                        return -ENOMEM;
                }
                res->rows[res->n++] = row;
                return 0;
        }

        struct retention_apply_plan plan = { 0 };
        k = retention_apply_plan(wr, c->root_id, c->policy, c->now, &plan);
        if (k < 0)
                return k;
        res->rows = calloc(plan.n_forget + 1, sizeof(*res->rows));
        if (!res->rows)
                k = -ENOMEM;
        for (size_t i = plan.n; k >= 0 && i-- > 0;) {
                if (plan.verdicts[i].reasons || res->n == plan.n_forget)
                        continue;
                res->rows[res->n++] = plan.rows[i];
                plan.rows[i].hostname = NULL; /* taken */
                plan.rows[i].tags = NULL;
                plan.rows[i].root_path = NULL;
        }
        retention_apply_plan_done(&plan);
        return k < 0 ? k : 0;
}

/* Record result's deletions as a pending prune. */
static int forget_record(struct index *wr, struct retention_apply_result *res)
{
        int64_t forgotten = 0, since;
        int k = index_kv_get_int(wr, RETENTION_KV_FORGOTTEN, &forgotten);

        if (k < 0 && k != -ENOENT && k != -EINVAL)
                return k;
        if (k < 0 || forgotten < 0)
                forgotten = 0;
        forgotten += (int64_t)res->n;
        k = index_kv_set_int(wr, RETENTION_KV_FORGOTTEN, forgotten);
        if (k < 0)
                return k;
        k = index_kv_get_int(wr, RETENTION_KV_PENDING_SINCE, &since);
        if (k == -ENOENT || k == -EINVAL)
                k = index_kv_set_int(wr, RETENTION_KV_PENDING_SINCE, now_ns());
        if (k < 0)
                return k;
        res->forgotten = forgotten;
        return 0;
}

static int forget_in_transaction(struct index *wr, void *userdata)
{
        struct forget_ctx *c = userdata;
        struct retention_apply_result *res = c->result;
        int k = index_begin(wr); /* BEGIN IMMEDIATE: no other writer until the commit */

        if (k < 0)
                goto fail;
        k = forget_select(wr, c);
        for (size_t i = 0; k >= 0 && i < res->n && !c->need_tombstone; i++)
                c->need_tombstone = !idset_has(c->tombstoned, &res->rows[i].id);
        if (k >= 0 && c->need_tombstone) {
                /* the caller writes the tombstones of res and comes back */
                index_rollback(wr);
                return 0;
        }
        if (k >= 0)
                k = forget_delete(wr, res);
        if (k >= 0 && res->n > 0)
                k = forget_record(wr, res);
        if (k < 0) {
                snprintf(res->error, sizeof(res->error), "%s", index_last_error(wr));
                index_rollback(wr);
                retention_apply_result_done(res);
                return k;
        }
        k = index_commit(wr);
        if (k < 0)
                goto fail;
        return res->n > INT32_MAX ? INT32_MAX : (int)res->n;

fail:
        snprintf(res->error, sizeof(res->error), "%s", index_last_error(wr));
        retention_apply_result_done(res);
        return k;
}

/* Forgets of this daemon run one at a time, so one's tombstone cannot name
 * rows another's plan changes. */
static pthread_mutex_t forget_lock = PTHREAD_MUTEX_INITIALIZER;

void retention_forgets_hold(void)
{
        pthread_mutex_lock(&forget_lock);
}

void retention_forgets_release(void)
{
        pthread_mutex_unlock(&forget_lock);
}

int retention_apply_forget(struct repo *repo, int64_t root_id, const struct retention_policy *policy,
                           int64_t now, const struct oid *one, struct retention_apply_result *ret)
{
        struct idset tombstoned;
        struct forget_ctx c = { .root_id = root_id, .policy = policy, .now = now, .one = one, .result = ret,
                                .tombstoned = &tombstoned };
        int k;

        idset_init(&tombstoned);
        pthread_mutex_lock(&forget_lock);
        /* Plan under the write lock; if the plan names a snapshot no
         * tombstone of ours names yet, write the tombstones first (durable
         * before any row goes) and plan again: usually twice in all. */
        for (int tries = 0;; tries++) {
                *ret = (struct retention_apply_result){ 0 };
                c.need_tombstone = false;
                k = repo_with_writer(repo, forget_in_transaction, &c);
                if (k < 0 || !c.need_tombstone)
                        break;
                if (tries == FORGET_TRIES) {
                        snprintf(ret->error, sizeof(ret->error), "the snapshots to forget kept changing");
                        k = -EBUSY;
                } else {
                        k = forgotten_write(repo, ret->rows, ret->n, now_ns());
                        if (k < 0)
                                snprintf(ret->error, sizeof(ret->error), "cannot write the tombstone: %s",
                                         strerror(-k));
                        for (size_t i = 0; k >= 0 && i < ret->n; i++)
                                k = idset_add(&tombstoned, &ret->rows[i].id);
                }
                retention_apply_result_done(ret);
                if (k < 0)
                        break;
        }
        pthread_mutex_unlock(&forget_lock);
        idset_done(&tombstoned);
        return k;
}

int retention_apply_forgotten(struct daemon *d, const char *root_path, const struct retention_apply_result *result,
                              int deleted, const char *why)
{
        const char *what = root_path ? root_path : "a root no longer watched";

        if (deleted < 0) {
                if (*result->error)
                        log_debug("index: %s", result->error);
                return log_error_errno(deleted, "Cannot forget snapshots of %s (%s)", what, why);
        }
        refresh_roots(d, result->rows, result->n);
        if (deleted == 0)
                return 0;
        log_info("Forgot %d snapshot%s of %s (%s); prune pending: %lld snapshots forgotten", deleted,
                 deleted == 1 ? "" : "s", what, why, (long long)result->forgotten);
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

/* Automatic retention of one root: planned and applied on a worker, in one
 * transaction on the writer connection. */
struct auto_job {
        struct daemon *d;
        int64_t root_id;
        char *root_path;
        int64_t now;
        struct retention_apply_result forgotten;
        int result;       /* snapshots deleted, or -errno; -ECANCELED: never ran */
        bool empty_policy;
};

static void auto_work(void *userdata)
{
        struct auto_job *j = userdata;
        const struct retention_policy *policy = &j->d->config.retention;

        if (retention_policy_check(policy) < 0) {
                j->empty_policy = true;
                j->result = 0;
                return;
        }
        j->result = retention_apply_forget(j->d->repo, j->root_id, policy, j->now, NULL, &j->forgotten);
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
        } else if (j->result < 0) {
                if (*j->forgotten.error)
                        log_debug("index: %s", j->forgotten.error);
                log_warning_errno(j->result, "Cannot apply retention to %s, trying again later", j->root_path);
        } else {
                retention_apply_forgotten(j->d, j->root_path, &j->forgotten, j->result, "retention");
                prune_auto(j->d);
        }
        retention_apply_result_done(&j->forgotten);
        free(j->root_path);
        free(j);
}

int retention_apply_root(struct daemon *d, struct root *root)
{
        /* not while a reindex or recover rebuilds the snapshot rows: it is
         * due again after the next snapshot */
        if (!d->config.retention_auto || d->stopping || recover_rebuilding(d) ||
            !auto_due(root->id, monotonic_ns()))
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
