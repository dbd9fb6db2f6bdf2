/* SPDX-License-Identifier: MIT */
/* A set of relative paths ("a/b", "" for the root) with the queries the
 * incremental walk needs: is this directory in the set, and is anything
 * below it. Built unsorted, then frozen (sorted, deduplicated) for
 * lookups. Not thread-safe while building; read-only after freeze. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct pathset {
        char **paths;
        size_t n, cap;
        bool frozen;
};

/* Empty set. */
void pathset_init(struct pathset *s);
/* Free every path. */
void pathset_done(struct pathset *s);
/* Add a copy of path (before freeze); -ENOMEM. */
int pathset_add(struct pathset *s, const char *path);
/* Sort and drop duplicates; lookups need it. */
void pathset_freeze(struct pathset *s);
/* True when path is in the (frozen) set. */
bool pathset_has(const struct pathset *s, const char *path);
/* True when some member lies strictly below path ("" = below the root). */
bool pathset_has_below(const struct pathset *s, const char *path);
/* Move everything from src into dst (src becomes empty; dst unfrozen). */
int pathset_merge(struct pathset *dst, struct pathset *src);
