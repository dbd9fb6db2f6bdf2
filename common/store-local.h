/* SPDX-License-Identifier: MIT */
/* The local directory store (a struct store of kind "local"): packs under
 * DIR/xx/<hex id>, partial uploads under DIR/tmp/. The node's own pack
 * directory is one. Everything else goes through store.h.
 * Semantics: docs/stores.md. */
#pragma once

#include <stdint.h>

#include "store.h"

/* Open the directory store at dir (dir and dir/tmp created 0700 if missing). */
int store_local_new(const char *dir, struct store **ret);
/* Open the visible pack pack_id for reading (pread; the caller closes the fd):
 * what the replicator uploads from. -ENOENT when absent, -EINVAL for a store
 * of another kind. */
int store_local_open(struct store *s, const struct oid *pack_id, int *ret_fd);
/* Delete partial uploads not modified for max_age_sec seconds; returns how many. */
int store_local_gc_partials(struct store *s, uint64_t max_age_sec);
