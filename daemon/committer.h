/* SPDX-License-Identifier: MIT */
/* The pack committer: sealed packs wait in a queue until they are made
 * durable in batches (store_put into the local store: fdatasync, link, fsync
 * the directory) and recorded in the index in one transaction, on a background
 * thread or on a flush. It owns the index's writer connection. It neither
 * seals packs (packer.c) nor reads them back (repo-read.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "oid.h"

struct committer;
struct index;
struct keys;
struct store;

/* A sealed pack (an anonymous file) handed to the committer. */
struct sealed_pack {
        int fd;
        struct oid id;
        uint64_t size;
        struct oid *ids; /* its objects, reported lost if it fails */
        size_t n_ids;
};

/* Objects that will never be committed (their pack failed), or (stored)
 * that a commit has just put in the index. */
typedef void (*committer_lost_fn)(void *userdata, const struct oid *ids, size_t n);
/* Called with the writer connection held, before each write transaction. */
typedef void (*committer_hook_fn)(void *userdata);
/* Called after a commit, on the thread that made it, for each pack it put in the index. */
typedef void (*committer_committed_fn)(void *userdata, const struct oid *pack_id, uint64_t size);

/* A committer on the writer connection wr (owned from now on, also on
 * failure) for packs of the local store; not started. stored hears of the
 * objects of each queued pack once its transaction has committed. */
int committer_new(struct index *wr, struct store *local, const struct keys *keys, committer_lost_fn lost,
                  committer_lost_fn stored, committer_hook_fn before_write, void *userdata,
                  struct committer **ret);
/* Index packs found in the local store but missing from the index (a crash
 * between store_put and commit); *ret_n: how many. Call before the first queue. */
int committer_recover(struct committer *c, unsigned *ret_n);
/* Start the background thread. */
int committer_start(struct committer *c);
/* Stop the thread, abandon queued packs (never referenced by a committed
 * snapshot), close the writer connection. NULL is fine. */
void committer_free(struct committer *c);
/* Queue a sealed pack; ownership moves (on failure its objects are lost). */
int committer_queue(struct committer *c, struct sealed_pack *sp);
/* Queue the chunk fingerprint fp of object id (and the row's tag), recorded
 * in the index at the next commit, or once many wait (docs/fingerprints.md);
 * dropped when memory is short. */
void committer_add_fingerprint(struct committer *c, const uint8_t fp[16], const struct oid *id,
                               const uint8_t tag[16]);
/* Wait while the disk is far behind (many sealed packs queued). */
void committer_throttle(struct committer *c);
/* Commit every pack queued so far on this thread; returns once a batch the
 * background thread took is committed too. */
int committer_flush(struct committer *c);
/* Run fn with the writer connection held (a write transaction that must
 * follow committer_flush), then checkpoint the index if its log is long. */
int committer_with_writer(struct committer *c, int (*fn)(struct index *wr, void *userdata), void *userdata);
/* Set (fn NULL: clear) the hook told of every pack committed from now on; any thread. */
void committer_set_committed(struct committer *c, committer_committed_fn fn, void *userdata);
