/* SPDX-License-Identifier: MIT */
/* The node's repository: the SQLite index, the local pack directory (a
 * local store) and the open pack. repo_put stores an object once (dedupe
 * on keyed ids), sealing and committing packs as they fill; repo_get reads
 * an object back and verifies its tag and id. Both are thread-safe and meant
 * for worker threads; repo_index() is the loop thread's own connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oid.h"

struct daemon;
struct index;
struct store;
struct repo;

/* Open (creating) the index and pack directory under the state dir,
 * clean up what a crash left behind, and fill the dedupe filter with the
 * ids of the index's objects. */
int repo_open(struct daemon *d, struct repo **ret);
/* Seal nothing, free everything (an open pack is abandoned: its objects were
 * never referenced by a committed snapshot). NULL is fine. */
void repo_close(struct repo *r);
/* The loop thread's read-write index connection. */
struct index *repo_index(struct repo *r);
/* The local pack store. */
struct store *repo_store(struct repo *r);
/* zstd level for new records (0 = off). */
void repo_set_compression(struct repo *r, int level);

/* Store payload as an object of type unless it exists; *ret_id is its id,
 * *ret_added (if not NULL) the bytes this added to the repository (0 for a
 * duplicate). The object is durable only after repo_flush; a duplicate of
 * an object another thread is still storing waits for it, so a flush after
 * any put covers its object (or repo_failures changes). */
int repo_put(struct repo *r, enum object_type type, const void *payload, size_t len,
             struct oid *ret_id, uint64_t *ret_added);
/* repo_put of payload whose id (for type) the caller has already. */
int repo_put_as(struct repo *r, const struct oid *id, enum object_type type, const void *payload, size_t len,
                uint64_t *ret_added);
/* The id recorded for chunk fingerprint fp (its row's tag checked): 1 and
 * *ret_id, 0 if none, -errno. */
int repo_fingerprint_id(struct repo *r, const uint8_t fp[16], struct oid *ret_id);
/* repo_put of a data chunk whose fingerprint fp (crypto_fingerprint with
 * K_fp) is known: an id recorded for fp is taken without computing the
 * HMAC; else the id is computed and fp -> id recorded with the next commit
 * (docs/fingerprints.md). *ret_recognized (if not NULL) tells which. */
int repo_put_fingerprinted(struct repo *r, const uint8_t fp[16], const void *payload, size_t len,
                           struct oid *ret_id, uint64_t *ret_added, bool *ret_recognized);
/* Seal the open pack (if any), fsync it and commit it to the index. */
int repo_flush(struct repo *r);
/* Number of packs that failed since the repository was opened: a snapshot
 * that saw it change may reference objects that were never stored. */
uint64_t repo_failures(struct repo *r);
/* End the read transactions of reading threads that are idle: an open one
 * keeps the index's WAL from being checkpointed past it. The committer does
 * it before each of its writes; the loop's own writes need it too. */
void repo_release_readers(struct repo *r);
/* Where reads of packs that are not local go (repo-read.h; NULL: nowhere). */
void repo_set_fault(struct repo *r, int (*fn)(void *userdata, const struct oid *pack_id, uint64_t offset,
                                              size_t len, void *buf, unsigned *from),
                    void *userdata);
/* Who hears of reads served by local pack files (repo-read.h; NULL: nobody). */
void repo_set_touch(struct repo *r, void (*fn)(void *userdata, const struct oid *pack_id), void *userdata);
/* The local store's directory for temporary files (pack_dir/tmp). */
const char *repo_tmp_dir(struct repo *r);
/* Learn the ids of objects the index gained behind the repository's back
 * (a recovery's reindex), so puts deduplicate against them (until then
 * they are stored again). */
int repo_reload_known(struct repo *r);
/* 1 when the object is stored (committed in a pack not condemned, in an
 * open pack, or being stored), 0 when not, -errno when the index fails. */
int repo_has(struct repo *r, const struct oid *id);

/* Read object id, check it is of type (0 = any) and that its tag and id
 * verify; *ret is malloc'ed. size_hint: expected payload size, 0 = unknown.
 * -ENOENT unknown object, -EBADMSG damaged. */
int repo_get(struct repo *r, const struct oid *id, enum object_type type, size_t size_hint,
             uint8_t **ret, size_t *ret_len);
/* As repo_get, trusting the tag alone: the record's AEAD binds its id
 * (AAD = id), so a record that opens is what a holder of the key sealed
 * for id; the id is not recomputed from the payload (one SHA-256 pass
 * less). What that leaves unchecked is a writer that sealed a payload
 * under the wrong id: restore --verify and check --read-data catch it. */
int repo_get_authenticated(struct repo *r, const struct oid *id, enum object_type type, size_t size_hint,
                           uint8_t **ret, size_t *ret_len);

/* Run fn with the writer connection held (for commits of snapshot rows and
 * the file cache, which must follow repo_flush). */
int repo_with_writer(struct repo *r, int (*fn)(struct index *wr, void *userdata), void *userdata);
/* Borrow a read-only index connection for a worker thread; give it back. */
struct index *repo_reader_get(struct repo *r);
void repo_reader_put(struct repo *r, struct index *idx);

/* Counters for status and bench. */
struct repo_stats {
        uint64_t packs_sealed;
        uint64_t objects_added;
        uint64_t bytes_added;
};
void repo_get_stats(struct repo *r, struct repo_stats *ret);

/* Call fn(userdata, pack, size) for every pack committed from now on (the
 * replicator's "pack committed"), on the committing thread; NULL clears it. */
void repo_set_committed(struct repo *r, void (*fn)(void *userdata, const struct oid *pack_id, uint64_t size),
                        void *userdata);

/* --- prune (repo-prune.c, docs/prune.md) --- */

/* Register a snapshot or restore job with prune's gate: returns a ticket
 * (>= 0) for repo_job_end, or -ENOMEM. */
int repo_job_begin(struct repo *r);
/* The snapshot the job builds on (its parent; NULL: none): prune keeps
 * what it reaches while the job runs. */
void repo_job_set_parent(struct repo *r, int ticket, const struct oid *snapshot);
/* The job is over (a negative ticket is ignored). */
void repo_job_end(struct repo *r, int ticket);
/* Start a new epoch (call once the mark's transaction has committed: from
 * now on no put deduplicates against a condemned pack); returns it. */
uint64_t repo_prune_mark(struct repo *r);
/* Wait until every job registered before epoch began is over; -ECANCELED
 * when stop(userdata) says so (asked every 200 ms). */
int repo_prune_wait(struct repo *r, uint64_t epoch, bool (*stop)(void *userdata), void *userdata);
/* When the oldest job running now began (CLOCK_REALTIME ns; INT64_MAX: none). */
int64_t repo_prune_oldest_job(struct repo *r);
/* The parents of the jobs running now (malloc'ed). */
int repo_prune_pins(struct repo *r, struct oid **ret, size_t *ret_n);
/* Append a sealed record verbatim to a new pack (committed by repo_flush);
 * always a new copy, which puts deduplicate against until it is committed. */
int repo_put_record(struct repo *r, const struct oid *id, enum object_type type, const void *record, size_t len);
/* 0 when record (len bytes) opens with our key as object id: its tag and
 * its id verify; -EBADMSG when damaged. */
int repo_check_record(struct repo *r, const struct oid *id, const void *record, size_t len);
/* Read len raw bytes at offset of pack (local, else from a store). */
int repo_read_record(struct repo *r, const struct oid *pack, uint64_t offset, size_t len, void *buf);
