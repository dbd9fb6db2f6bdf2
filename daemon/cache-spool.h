/* SPDX-License-Identifier: MIT */
/* The file-cache rows a snapshot will commit, kept off the heap: a snapshot
 * learns a row per file it reads but may write them only in the transaction
 * that commits the snapshot. Rows are appended to a buffer that spills, each
 * MiB, to an anonymous file in the staging directory, and are read back in
 * order at the commit. Memory stays the same for ten files or ten million. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "index.h"

struct cache_spool;

/* A new, empty spool; its file (made at the first spill) lies in dir. */
int cache_spool_new(const char *dir, struct cache_spool **ret);
/* Append the row (path, f). */
int cache_spool_add(struct cache_spool *s, const char *path, const struct index_file *f);
/* Rows appended. */
uint64_t cache_spool_count(const struct cache_spool *s);
/* Call cb for every row in the order appended; a non-zero return stops
 * and is returned. -EBADMSG if the spill file reads back damaged. */
int cache_spool_foreach(struct cache_spool *s, index_file_cb cb, void *userdata);
/* Free the spool (its file goes with it). */
void cache_spool_free(struct cache_spool *s);
