/* SPDX-License-Identifier: MIT */
/* Retention in the daemon: reading a root's snapshot rows, asking
 * common/retention.c which to keep, and forgetting the rest (reading and
 * deleting in one transaction on the writer connection, off the loop, and
 * recording that a prune is pending). Used by `chutectl forget`
 * (cmd-forget.c) and automatically after snapshots. Packs are untouched:
 * that is prune's job. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "retention.h"

struct daemon;
struct repo;
struct root;

/* Index kv keys: when the first forget since the last prune happened (ns)
 * and how many snapshots were forgotten since. A prune resets both. */
#define RETENTION_KV_PENDING_SINCE "prune.pending_since"
#define RETENTION_KV_FORGOTTEN "prune.forgotten"

/* A root's snapshots, oldest first, with the policy's verdict on each. */
struct retention_apply_plan {
        struct index_snapshot *rows;           /* owned strings */
        struct retention_snapshot *verdicts;   /* same order: reasons 0 = forget */
        size_t n;
        size_t n_forget;
};

/* Read root_id's snapshots through idx (any thread's connection) and apply
 * policy at now_ns; -EINVAL for an empty or bad policy, -errno from the
 * index. */
int retention_apply_plan(struct index *idx, int64_t root_id, const struct retention_policy *policy,
                         int64_t now_ns, struct retention_apply_plan *ret);
/* Free what a plan owns; accepts a zeroed plan. */
void retention_apply_plan_done(struct retention_apply_plan *plan);
/* What retention_apply_forget deleted. */
struct retention_apply_result {
        struct index_snapshot *rows; /* the rows deleted, newest first; owned */
        size_t n;
        int64_t forgotten;           /* snapshots forgotten since the last prune */
        char error[256];             /* the index's message on failure */
};

/* On a worker thread, in one transaction on the writer connection (BEGIN
 * IMMEDIATE, so no other writer runs between the reading and the deleting):
 * with one, delete that snapshot if it still exists; else read root_id's
 * snapshots, apply policy at now_ns and delete those it does not keep.
 * Tombstones naming the rows to delete are made durable first (forgotten.c),
 * so a reindex never brings them back. The deleted rows are added to the
 * pending prune and returned in *ret. Returns how many were deleted, or
 * -errno with nothing deleted and the index's message in ret->error. */
/* No forget of this daemon runs between hold and release (reindex and
 * recover: a forget between their reading of the tombstones and their
 * adding of snapshot rows would see its snapshot come back). A forget
 * running at hold finishes first. Worker threads. */
void retention_forgets_hold(void);
void retention_forgets_release(void);
int retention_apply_forget(struct repo *repo, int64_t root_id, const struct retention_policy *policy,
                           int64_t now_ns, const struct oid *one, struct retention_apply_result *ret);
/* Free the rows of a result; accepts a zeroed one. */
void retention_apply_result_done(struct retention_apply_result *result);
/* On the loop after retention_apply_forget returned deleted: point the
 * in-memory roots at their newest remaining snapshot and log one line with
 * why ("retention", "chutectl forget") about the root at root_path (may be
 * NULL), or the failure. Returns deleted. */
int retention_apply_forgotten(struct daemon *d, const char *root_path, const struct retention_apply_result *result,
                              int deleted, const char *why);
/* Automatic retention, to call on the loop after each successful snapshot
 * of root: does nothing when [retention] auto = no or when it ran for this
 * root less than a minute ago; else plans and applies the configured policy
 * on a worker and logs what it forgot. Returns 0, or -errno (logged) when it
 * could not be queued. */
int retention_apply_root(struct daemon *d, struct root *root);
