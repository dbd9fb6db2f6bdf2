/* SPDX-License-Identifier: MIT */
/* Retention in the daemon: reading a root's snapshot rows, asking
 * common/retention.c which to keep, and forgetting the rest (deleting their
 * rows in one transaction on the writer connection, off the loop, and
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
/* On a worker thread: delete n snapshot rows in one transaction on the
 * writer connection and add them to the pending prune (*ret_forgotten: the
 * total since the last prune). Returns how many were deleted (ids already
 * gone are skipped), or -errno with nothing deleted and the index's message
 * in error. */
int retention_apply_delete(struct repo *repo, const struct oid *ids, size_t n, int64_t *ret_forgotten,
                           char *error, size_t error_size);
/* On the loop after retention_apply_delete returned deleted: point the
 * in-memory roots at their newest remaining snapshot and log one line with
 * why ("retention", "chutectl forget") about the root at root_path (may be
 * NULL), or the failure. Returns deleted. */
int retention_apply_forgotten(struct daemon *d, const char *root_path, const struct oid *ids, size_t n,
                              int deleted, int64_t forgotten, const char *error, const char *why);
/* Automatic retention, to call on the loop after each successful snapshot
 * of root: does nothing when [retention] auto = no or when it ran for this
 * root less than a minute ago; else plans and applies the configured policy
 * on a worker and logs what it forgot. Returns 0, or -errno (logged) when it
 * could not be queued. */
int retention_apply_root(struct daemon *d, struct root *root);
