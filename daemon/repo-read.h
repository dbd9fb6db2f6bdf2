/* SPDX-License-Identifier: MIT */
/* The repository's read side: read-only index connections for worker
 * threads (a small pool, and one pinned to each thread that reads objects)
 * and reading an object back from its pack with its tag and id verified.
 * It never writes the index; the committer asks it to end idle pinned read
 * transactions so that checkpoints can complete. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oid.h"

struct keys;
struct index;
struct repo_read;
struct store;

/* Readers of the index at index_path, objects in the local store; up to
 * pool idle connections (at least 8) wait in the pool for the next borrower. */
int repo_read_new(const char *index_path, struct store *local, const struct keys *keys, size_t pool,
                  struct repo_read **ret);
/* Reads a byte range of a pack from somewhere else than the local store
 * (a chunk fault: the pack was evicted, or not copied here yet), from the
 * first store that answers, in the handler's order, at or after position
 * *from (0: the first); on success *from becomes the position after that
 * store, where the next call starts when the copy read does not
 * authenticate. So each store is asked at most once per read, whether it
 * answered or failed. 0 or -errno, -ENOENT when no (further) store holds
 * it. Called on the reading thread. */
typedef int (*repo_read_fault_fn)(void *userdata, const struct oid *pack_id, uint64_t offset,
                                  size_t len, void *buf, unsigned *from);
/* Install (or, with NULL, remove) the chunk fault handler; set it before
 * readers run or while none does. */
void repo_read_set_fault(struct repo_read *rr, repo_read_fault_fn fn, void *userdata);
/* Told of every read served by a local pack file (the cache's recency),
 * on the reading thread. */
typedef void (*repo_read_touch_fn)(void *userdata, const struct oid *pack_id);
/* Install (or, with NULL, remove) the touch handler, like the fault handler. */
void repo_read_set_touch(struct repo_read *rr, repo_read_touch_fn fn, void *userdata);
/* Close every connection. Threads must not read any more. NULL is fine. */
void repo_read_free(struct repo_read *rr);
/* Read len bytes at offset of pack: the local file, else through the fault
 * function (a store). */
int repo_read_raw(struct repo_read *rr, const struct oid *pack, uint64_t offset, size_t len, void *buf);
/* As repo_get (repo.h); verify_id: recompute the id from the payload too. */
int repo_read_object(struct repo_read *rr, const struct oid *id, enum object_type type, size_t size_hint,
                     bool verify_id, uint8_t **ret, size_t *ret_len);
/* Borrow a read-only connection from the pool (not in a transaction:
 * each statement sees the latest commit); give it back. */
struct index *repo_read_borrow(struct repo_read *rr);
void repo_read_return(struct repo_read *rr, struct index *idx);
/* End the read transaction of every pinned connection not in use right now
 * (they begin a fresh one at their next lookup): an old read transaction
 * keeps the write-ahead log from being checkpointed and reset. */
void repo_read_release_idle(struct repo_read *rr);
