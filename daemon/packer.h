/* SPDX-License-Identifier: MIT */
/* The packer: seals objects into records (zstd, AEAD) and appends them to
 * one of several open packs, one per thread at a time, so sealing, hashing
 * and writing run in parallel; full packs are sealed and handed to the
 * committer. File data and the rest (lists, trees, snapshots, tombstones)
 * never share a pack: one more slot takes the latter. It knows nothing of
 * ids already stored (repo.c decides). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "oid.h"

struct committer;
struct keys;
struct packer;

/* Objects appended to a pack that failed: they will never be stored. */
typedef void (*packer_lost_fn)(void *userdata, const struct oid *ids, size_t n);

/* A packer with n_slots open packs, anonymous files in staging_dir (best
 * on the local store's filesystem, so that storing a pack is a link),
 * sealing with cipher and compressing at level (0 = off), handing sealed
 * packs to committer. */
int packer_new(size_t n_slots, enum crypto_cipher cipher, const struct keys *keys, int level,
               const char *staging_dir, struct committer *committer, packer_lost_fn lost, void *userdata,
               struct packer **ret);
/* Abandon open packs (their objects were never committed) and free. NULL is fine. */
void packer_free(struct packer *p);
/* zstd level for new records (0 = off). */
void packer_set_compression(struct packer *p, int level);
/* Seal payload as the record of object id and append it to an open pack;
 * *ret_len: the record's size. */
int packer_add(struct packer *p, const struct oid *id, enum object_type type, const void *payload,
               size_t len, size_t *ret_len);
/* Append a record sealed earlier (prune's repack copies records verbatim:
 * never sealed again under a reused nonce) to an open pack. */
int packer_add_record(struct packer *p, const struct oid *id, enum object_type type, const void *record,
                      size_t len);
/* Seal every open pack (waiting for packs in use) and queue it for commit. */
int packer_seal_all(struct packer *p);
/* Packs sealed so far. */
uint64_t packer_sealed(struct packer *p);

/* Tests only (tests/unit/test-repo.c): before_pack runs in packer_add of
 * every packer once the record of id is sealed and before it is in an open
 * pack, on the putting thread, so a test can hold a put exactly there.
 * Never set in chuted (NULL: one load and a branch). */
struct packer_test_hook {
        void (*before_pack)(const struct oid *id, void *userdata);
        void *userdata;
};
/* Install hook (NULL removes it); the struct must outlive its use. */
void packer_set_test_hook(const struct packer_test_hook *hook);
