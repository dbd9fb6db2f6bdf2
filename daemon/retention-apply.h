/* SPDX-License-Identifier: MIT */
/* Retention in the daemon: reading a root's snapshot rows, asking
 * common/retention.c which to keep, and forgetting the rest (deleting their
 * rows in one transaction and recording that a prune is pending). Used by
 * `chutectl forget` (cmd-forget.c) and automatically after snapshots.
 * Loop thread only. Packs are untouched: that is prune's job. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "retention.h"

struct daemon;
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

/* Read root_id's snapshots and apply policy at now_ns; -EINVAL for an
 * empty or bad policy, -errno from the index. */
int retention_apply_plan(struct daemon *d, int64_t root_id, const struct retention_policy *policy,
                         int64_t now_ns, struct retention_apply_plan *ret);
/* Free what a plan owns; accepts a zeroed plan. */
void retention_apply_plan_done(struct retention_apply_plan *plan);
/* Forget n snapshots of the root at root_path (for the log line, may be
 * NULL) in one transaction, add n to the pending prune and point the
 * in-memory roots at their newest remaining snapshot. Logs one line with
 * why ("retention", "chutectl forget"). Returns how many were deleted
 * (ids already gone are skipped), or -errno with nothing deleted. */
int retention_apply_forget(struct daemon *d, const char *root_path, const struct oid *ids, size_t n,
                           const char *why);
/* Automatic retention, to call on the loop after each successful snapshot
 * of root: does nothing when [retention] auto = no or when it ran for this
 * root less than a minute ago; else applies the configured policy. Returns
 * the number forgotten, or -errno (already logged). */
int retention_apply_root(struct daemon *d, struct root *root);
