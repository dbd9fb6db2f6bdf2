/* SPDX-License-Identifier: MIT */
/* Reading snapshots back: load tree objects, find an entry by name or by a
 * path inside a snapshot, and get a file's extents (inline or from its list
 * object). Blocking (object reads): call from worker threads. */
#pragma once

#include <stddef.h>

#include "object.h"
#include "oid.h"

struct repo;

/* Load and decode snapshot object id. */
int snaptree_load_snapshot(struct repo *r, const struct oid *id, struct object_snapshot **ret);
/* Load and decode tree object id. */
int snaptree_load(struct repo *r, const struct oid *id, struct object_tree **ret);
/* The entry named name in t (binary search), or NULL. */
struct object_entry *snaptree_find(const struct object_tree *t, const uint8_t *name, size_t len);
/* Path of absolute path inside a snapshot of root: "" for the root itself,
 * else the part after "root/"; NULL when path is outside root. */
const char *snaptree_relpath(const char *root, const char *path);
/* Walk relpath ("" = root) down from root_tree. For "" *ret_entry is NULL and
 * *ret_tree the root tree; otherwise *ret_tree is the tree holding the entry
 * (owned by the caller, free with object_tree_free) and *ret_entry points
 * into it. -ENOENT when a component is missing, -ENOTDIR when one is not a
 * directory. */
int snaptree_resolve(struct repo *r, const struct oid *root_tree, const char *relpath,
                     struct object_tree **ret_tree, struct object_entry **ret_entry);
/* A file's extents: inline ones are borrowed from e; those of a list object
 * are in *ret_list (free with object_list_free). Lengths are checked
 * against e->size (-EBADMSG). */
int snaptree_extents(struct repo *r, const struct object_entry *e, const struct object_extent **ret,
                     size_t *ret_n, struct object_list **ret_list);
