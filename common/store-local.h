/* SPDX-License-Identifier: MIT */
/* The local directory store (a struct store of kind "local"): packs under
 * DIR/xx/<hex id>, partial uploads under DIR/tmp/. The node's own pack
 * directory is one. Semantics: docs/stores.md. */
#pragma once

#include <stdint.h>

#include "store.h"

/* Open the directory store at dir (dir and dir/tmp created 0700 if missing). */
int store_local_new(const char *dir, struct store **ret);
/* Delete partial uploads not modified for max_age_sec seconds; returns how many. */
int store_local_gc_partials(struct store *s, uint64_t max_age_sec);
/* An anonymous file (O_TMPFILE) in DIR/tmp for the pack writer to stream into. */
int store_local_tmpfile(struct store *s, int *ret_fd);
/* Make the finished pack in fd (on this store's filesystem, e.g. from
 * store_local_tmpfile) visible as pack_id: fsync, hash check (-EBADMSG),
 * link into place, fsync the directory. 0 if it is already there. */
int store_local_link(struct store *s, int fd, const struct oid *pack_id);
/* As store_local_link for a pack this process sealed itself (pack_writer_seal
 * computed pack_id from the very bytes it wrote): fdatasync and link, without
 * reading the pack back to hash it again. */
int store_local_link_trusted(struct store *s, int fd, const struct oid *pack_id);
