/* SPDX-License-Identifier: MIT */
/* The SQLite index (DESIGN §6): one struct index per connection, the schema and
 * its numbered migrations, and every query the daemon makes. SQLite result
 * codes become -errno here and nowhere else. It owns no pack bytes: reading
 * packs for a reindex is common/reindex.c. Never logs; index_last_error()
 * gives SQLite's message for the caller to log. Format: docs/index.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "oid.h"

/* Highest schema version this code knows (PRAGMA user_version). */
#define INDEX_SCHEMA_VERSION 7

enum index_open_flags {
        INDEX_READONLY = 1 << 0, /* read-only connection (workers); no migration */
};

enum index_replica_state {
        /* a copy is there but failed its check: not held (never counted
         * towards copies or eviction), to be uploaded again, the copy
         * deleted first; kept until then for what of it still reads */
        INDEX_REPLICA_DAMAGED = -1,
        INDEX_REPLICA_PENDING = 0, /* also what a missing row means */
        INDEX_REPLICA_UPLOADED = 1,
        INDEX_REPLICA_VERIFIED = 2,
};

struct index;

/* A watched root. Owned strings when filled by index_root_get(); borrowed
 * (valid during the callback only) when passed to a foreach callback. */
struct index_root {
        int64_t id;
        char *path;     /* absolute path, bytes as on disk */
        char *excludes; /* newline-separated patterns, "" for none */
        int one_fs;     /* do not cross filesystem boundaries */
        int state;      /* opaque to the index; the daemon's root state */
        int64_t created_ns;
};

/* One file cache entry (the path is the key, passed separately). */
struct index_file {
        uint64_t dev;
        uint64_t ino;
        uint64_t size;
        int64_t mtime_ns;
        int64_t ctime_ns;
        uint32_t mode;
        void *content; /* opaque encoded content reference; owned by get */
        size_t content_len;
};

/* One object row: where an object lives. */
struct index_object {
        struct oid id;
        int type; /* enum object_type */
        struct oid pack;
        uint64_t offset;
        uint32_t length;
};

/* One entry of a pack header, as index_pack_commit() takes them. */
struct index_pack_entry {
        struct oid id;
        int type;
        uint64_t offset;
        uint32_t length;
};

struct index_pack {
        struct oid id;
        uint64_t size;
        uint32_t n_objects;
        int64_t created_ns;
        int local; /* 1 = present in the local pack dir, 0 = evicted */
        uint64_t record_bytes; /* its records' bytes (index_pack_add sums them) */
};

struct index_store {
        int64_t id;
        char *name;
        char *kind;   /* "local", "peer", "s3" */
        char *config; /* opaque to the index */
        uint64_t upload_limit, download_limit; /* bytes/s, 0 = none */
        int64_t refused_ns; /* since when it refuses this node; 0 while it accepts us */
};

struct index_replica {
        struct oid pack;
        int64_t store_id;
        int state; /* enum index_replica_state */
        int64_t updated_ns;
};

/* A store's packs by replica state, for status. */
struct index_replica_counts {
        uint64_t pending_packs; /* not on the store and still wanted there (see copies) */
        uint64_t pending_bytes;
        uint64_t uploaded_packs; /* state UPLOADED */
        uint64_t uploaded_bytes;
        uint64_t verified_packs; /* state VERIFIED */
        uint64_t verified_bytes;
        int64_t verified_ns; /* newest PROVE that passed on the store, 0 = none */
};

/* A snapshot row. parent all-zero means none. hostname, tags and root_path are owned
 * when filled by a get/find function, borrowed in callbacks. */
struct index_snapshot {
        struct oid id;
        int64_t root_id;
        int64_t time_ns;
        struct oid tree;
        struct oid parent;
        char *hostname;
        char *tags; /* opaque text, "" for none */
        uint64_t files;
        uint64_t dirs;
        uint64_t bytes;
        uint64_t new_bytes;
        uint64_t errors;
        uint64_t files_read;
        char *root_path; /* the watched root's path ("" if unknown) */
};

struct index_hosted {
        struct oid peer;
        struct oid pack;
        uint64_t size;
        int64_t created_ns;
        int64_t deleted_ns; /* 0 = not marked; else when a DELETE marked it */
};

/* What a peer's packs take on this node. bytes and packs count marked packs
 * too (the quota counts them); marked_* are the marked part. */
struct index_hosted_usage {
        uint64_t bytes;
        uint64_t packs;
        uint64_t marked_bytes;
        uint64_t marked_packs;
};

/* Most pending (unapproved) nodes remembered; the least recently seen go. */
#define INDEX_PEER_PENDING_MAX 32

/* A peer (approved) or a pending node (approved 0, name ""). Owned strings
 * when filled by a get/find function; borrowed in a foreach callback. */
struct index_peer {
        struct oid id;      /* node id: SHA-256 of its certificate */
        char *name;         /* unique; "" for a pending node */
        char *address;      /* host:port we dial; "" when it only keeps packs here */
        int approved;
        uint64_t quota;     /* bytes it may keep here */
        int64_t delete_delay_ns; /* how long its marked packs are kept */
        int64_t first_seen_ns;
        int64_t last_seen_ns; /* last connection, 0 = never */
        char *last_address;   /* where it last connected from, "" = never */
};

struct index_stats {
        uint64_t n_objects;
        uint64_t n_packs;
        uint64_t pack_bytes;  /* sum of pack sizes */
        uint64_t local_bytes; /* sum of sizes of packs present locally */
        uint64_t n_local_packs; /* packs present locally */
        uint64_t n_snapshots;
        uint64_t n_roots;
        uint64_t hosted_bytes;
        /* of pack_bytes: what is neither a record nor the header and trailer
         * (Padmé padding), over the packs whose record bytes are known */
        uint64_t padding_bytes;
};

/* Callbacks for the foreach functions: return 0 to go on; any other value
 * stops the iteration and is returned by the foreach function. A callback may
 * call other functions of the same index (listings use their own statement). */
typedef int (*index_root_cb)(const struct index_root *root, void *userdata);
typedef int (*index_file_cb)(const char *path, const struct index_file *file, void *userdata);
typedef int (*index_object_cb)(const struct index_object *object, void *userdata);
typedef int (*index_pack_cb)(const struct index_pack *pack, void *userdata);
typedef int (*index_store_cb)(const struct index_store *store, void *userdata);
typedef int (*index_snapshot_cb)(const struct index_snapshot *snapshot, void *userdata);
typedef int (*index_hosted_cb)(const struct index_hosted *hosted, void *userdata);
typedef int (*index_peer_cb)(const struct index_peer *peer, void *userdata);

/* --- connection --- */

/* A struct index is one SQLite connection, used by one thread at a time. */

/* Open (creating and migrating unless INDEX_READONLY) the index at path.
 * -EPROTONOSUPPORT if the db is newer than this code, -EBADMSG if not SQLite,
 * -EROFS if read-only and the schema needs a migration. */
int index_open(const char *path, unsigned flags, struct index **ret);
/* Close the connection, rolling back an open transaction; accepts NULL. */
void index_close(struct index *idx);
/* SQLite's message for the last failure on this connection (for logging). */
const char *index_last_error(struct index *idx);
/* The schema version of the open db. */
int index_schema_version(struct index *idx);

/* Checkpoint the write-ahead log without waiting for readers when this
 * (read-write) connection's last commit left at least min_frames frames in
 * it: 1 complete (the log restarts, and shrinks, at the next write), 0 not
 * needed or not complete, -errno. */
int index_checkpoint(struct index *idx, int min_frames);
/* Begin a transaction; nests (inner levels are savepoints). */
int index_begin(struct index *idx);
/* Commit the innermost level; if the outer COMMIT fails it is rolled back. */
int index_commit(struct index *idx);
/* Roll back the innermost level. */
int index_rollback(struct index *idx);

/* --- roots --- */

/* Add a root; -EEXIST if the path is already a root. */
int index_root_add(struct index *idx, const char *path, const char *excludes, int one_fs,
                   int64_t *ret_id);
/* Fill ret (owned strings) for the root with this id; -ENOENT if none. */
int index_root_get(struct index *idx, int64_t id, struct index_root *ret);
/* Fill ret (owned strings) for the root with this path; -ENOENT if none. */
int index_root_find(struct index *idx, const char *path, struct index_root *ret);
/* Set a root's excludes, one_fs and state; -ENOENT if none. */
int index_root_update(struct index *idx, int64_t id, const char *excludes, int one_fs, int state);
/* Remove a root and its file cache (snapshots stay); -ENOENT if none. */
int index_root_remove(struct index *idx, int64_t id);
/* Call cb for every root, by id. */
int index_root_foreach(struct index *idx, index_root_cb cb, void *userdata);
/* Free the strings of a root filled by a get function. */
void index_root_done(struct index_root *root);

/* --- file cache --- */

/* Look up (root, path); fills ret with owned content; -ENOENT if none. */
int index_file_get(struct index *idx, int64_t root_id, const char *path, struct index_file *ret);
/* Insert or replace (root, path). Wrap many in index_begin/commit. */
int index_file_put(struct index *idx, int64_t root_id, const char *path,
                   const struct index_file *file);
/* Put n entries in one transaction. */
int index_file_put_batch(struct index *idx, int64_t root_id, const char *const *paths,
                         const struct index_file *files, size_t n);
/* Delete path and everything under path + "/"; "" deletes the whole root.
 * Returns the number of rows deleted. */
int index_file_delete_prefix(struct index *idx, int64_t root_id, const char *prefix);
/* Delete the whole file cache of a root; returns the number of rows deleted. */
int index_file_delete_root(struct index *idx, int64_t root_id);
/* Call cb for path and every entry under path + "/" ("" = all), by path bytes. */
int index_file_foreach(struct index *idx, int64_t root_id, const char *prefix, index_file_cb cb,
                       void *userdata);
/* The rows of dir's direct children ("" = the root) in path order, and once
 * for each subdirectory with rows below it: cb(its path, NULL), without its
 * rows. Reads a batch at a time (no read transaction held between), so a
 * full walk can join its listing against the cache one directory at a time. */
int index_file_foreach_child(struct index *idx, int64_t root_id, const char *dir, index_file_cb cb,
                             void *userdata);
/* Free the content of a file entry filled by index_file_get(). */
void index_file_done(struct index_file *file);

/* --- objects and packs --- */

/* Fill ret with where object id lives; -ENOENT if unknown. */
int index_object_lookup(struct index *idx, const struct oid *id, struct index_object *ret);
/* 1 if object id is known, 0 if not, -errno on failure (the hot path). */
int index_object_exists(struct index *idx, const struct oid *id);
/* 1 if object id has a row in a pack that is not condemned by prune (a put
 * may deduplicate against it), 0 if not, -errno on failure. */
int index_object_stored(struct index *idx, const struct oid *id);
/* Call cb for every object id (only id is filled; in no order). */
int index_object_foreach_id(struct index *idx, index_object_cb cb, void *userdata);
/* Add n object rows in one transaction; an id already present keeps its
 * existing row unless that row's pack is condemned. Their packs must exist. */
int index_object_add_batch(struct index *idx, const struct index_object *objects, size_t n);
/* Call cb for every object, by id. */
int index_object_foreach(struct index *idx, index_object_cb cb, void *userdata);
/* Call cb for every object of one type, by id (e.g. OBJECT_SNAPSHOT after a
 * reindex, to rebuild the snapshot rows). */
int index_object_foreach_type(struct index *idx, int type, index_object_cb cb, void *userdata);
/* Call cb for every object of one pack, by offset. */
int index_object_foreach_in_pack(struct index *idx, const struct oid *pack, index_object_cb cb,
                                 void *userdata);

/* Record a sealed, fsync'ed local pack and all its objects in ONE transaction
 * (a savepoint if one is open). Idempotent for the same pack. */
int index_pack_commit(struct index *idx, const struct oid *pack_id, uint64_t size,
                      const struct index_pack_entry *entries, size_t n);
/* As index_pack_commit with explicit created_ns (0 = now) and local flag. */
int index_pack_add(struct index *idx, const struct oid *pack_id, uint64_t size, int64_t created_ns,
                   int local, const struct index_pack_entry *entries, size_t n);
/* Fill ret for pack id; -ENOENT if unknown. */
int index_pack_lookup(struct index *idx, const struct oid *id, struct index_pack *ret);
/* Mark a pack present (1) or evicted (0) locally; -ENOENT if unknown. */
int index_pack_set_local(struct index *idx, const struct oid *id, int local);
/* Delete a pack with its objects and replica rows; -ENOENT if unknown. */
int index_pack_delete(struct index *idx, const struct oid *id);
/* Call cb for every pack, by id. */
int index_pack_foreach(struct index *idx, index_pack_cb cb, void *userdata);

/* --- stores and replicas --- */

/* Add a store; -EEXIST if the name is taken. */
int index_store_add(struct index *idx, const char *name, const char *kind, const char *config,
                    int64_t *ret_id);
/* Fill ret (owned strings) for the store named name; -ENOENT if none. */
int index_store_find(struct index *idx, const char *name, struct index_store *ret);
/* Set the upload and download limits (bytes/s, 0 = none) of store id;
 * -ENOENT if none. */
int index_store_set_limits(struct index *idx, int64_t id, uint64_t upload, uint64_t download);
/* Remove a store and its replica rows; -ENOENT if none. */
int index_store_remove(struct index *idx, int64_t id);
/* Replace the config of store id (its replica rows stay); -ENOENT if none. */
int index_store_set_config(struct index *idx, int64_t id, const char *config);
/* Record that store id refuses this node since now_ns (0: it accepts us
 * again). Only a change is written: the first refusal's time stays.
 * 1 when the state changed, 0 when it was so already; -ENOENT if no such
 * store. A refusing store's copies count towards no "held" or "copies"
 * question (index_replica_held, the replicator's pending packs, the
 * cache's evictable packs). */
int index_store_set_refused(struct index *idx, int64_t id, int64_t now_ns);
/* Call cb for every store, by id. */
int index_store_foreach(struct index *idx, index_store_cb cb, void *userdata);
/* Free the strings of a store filled by index_store_find(). */
void index_store_done(struct index_store *store);

/* Set (insert or update) the state of pack on store, stamped now. */
int index_replica_set(struct index *idx, const struct oid *pack, int64_t store_id, int state);
/* Return the state of pack on store (PENDING if no row), or -errno
 * (DAMAGED is -1 too: index_replica_damaged tells them apart). */
int index_replica_get(struct index *idx, const struct oid *pack, int64_t store_id);
/* 1 when store_id's copy of pack is INDEX_REPLICA_DAMAGED, 0 if not, -errno. */
int index_replica_damaged(struct index *idx, const struct oid *pack, int64_t store_id);
/* Return how many stores hold pack in at least state min_state, or -errno. */
int index_replica_count(struct index *idx, const struct oid *pack, int min_state);
/* The copies of pack that count: uploaded or verified, on stores that do not
 * refuse this node (index_store_set_refused). */
int index_replica_held(struct index *idx, const struct oid *pack);
/* Call cb for every pack not yet uploaded to store (no row or PENDING), by id. */
int index_replica_foreach_pending(struct index *idx, int64_t store_id, index_pack_cb cb,
                                  void *userdata);
/* Call cb for at most limit packs pending for store, by id, after the pack
 * after (NULL: from the first): packs the store does not hold and, unless
 * copies is 0 (every store), that fewer than copies stores hold. A page is
 * one query, so a queue of millions is never loaded at once. */
int index_replica_pending_page(struct index *idx, int64_t store_id, unsigned copies,
                               const struct oid *after, size_t limit, index_pack_cb cb,
                               void *userdata);
/* Call cb for at most limit packs store holds (UPLOADED or VERIFIED), by id,
 * after the pack after (NULL: from the first). */
int index_replica_held_page(struct index *idx, int64_t store_id, const struct oid *after,
                            size_t limit, index_pack_cb cb, void *userdata);
/* Counts and bytes of store's packs by state (pending as in
 * index_replica_pending_page with copies), newest verification time. */
int index_replica_counts(struct index *idx, int64_t store_id, unsigned copies,
                         struct index_replica_counts *ret);
/* A PROVE of pack on store passed at verified_ns: state VERIFIED with that
 * time; -ENOENT unless the store held it (UPLOADED or VERIFIED). */
int index_replica_set_verified(struct index *idx, const struct oid *pack, int64_t store_id,
                               int64_t verified_ns);
/* Back to PENDING with no verification time (a damaged or lost copy to
 * upload again); 0 also when there was no row. */
int index_replica_reset(struct index *idx, const struct oid *pack, int64_t store_id);
/* Forget every replica row of a store (it is somewhere else now: every
 * pack pending there). */
int index_replica_clear_store(struct index *idx, int64_t store_id);
/* Up to n distinct packs store holds, picked at random (ret_packs has room
 * for n); *ret_n how many: all of them when the store holds at most n. */
int index_replica_random(struct index *idx, int64_t store_id, size_t n, struct oid *ret_packs,
                         size_t *ret_n);

/* --- the local pack cache (local_copy = cache) --- */

/* A local pack that may be evicted (see index_cache_candidates). */
struct index_cache_candidate {
        struct oid id;
        uint64_t size;
        int64_t created_ns;
        int verified; /* 1 when at least min_copies stores hold it VERIFIED */
};
typedef int (*index_cache_candidate_cb)(const struct index_cache_candidate *c, void *userdata);
/* What the cache holds, for status. */
struct index_cache_usage {
        uint64_t local_packs, local_bytes;     /* packs present in the local pack directory */
        uint64_t evicted_packs, evicted_bytes; /* packs only on stores */
        uint64_t stores;                       /* rows of the stores table */
};
/* Call cb for at most limit local packs held (UPLOADED or VERIFIED) by at
 * least min_copies (>= 1) stores that do not refuse us, and that hold no
 * tree or snapshot object:
 * VERIFIED ones first, then oldest first. */
int index_cache_candidates(struct index *idx, unsigned min_copies, size_t limit,
                           index_cache_candidate_cb cb, void *userdata);
/* 1 when at least min_copies (>= 1) stores that do not refuse us hold pack,
 * 0 if not, -errno. */
int index_cache_held(struct index *idx, const struct oid *pack, unsigned min_copies);
/* *ret: bytes of local packs holding a tree or a snapshot object (never evicted). */
int index_cache_pinned_bytes(struct index *idx, uint64_t *ret);
/* Fill ret with the local and evicted packs and bytes. */
int index_cache_usage(struct index *idx, struct index_cache_usage *ret);
/* Packs not here (evicted) that no store but store_id holds (a store that
 * refuses us holds none), or of which
 * store_id has the only copy left, damaged: what removing that store would
 * lose. */
int index_cache_only_on(struct index *idx, int64_t store_id, uint64_t *ret_packs, uint64_t *ret_bytes);
/* Call cb for at most limit packs with id > after (NULL: from the first), by
 * id, that the index has here (local) and that no store but store_id holds:
 * to check that their files are really here before that store goes away
 * or moves (an eviction cut short by a crash leaves the flag behind). */
int index_cache_local_only_on_page(struct index *idx, int64_t store_id, const struct oid *after, size_t limit,
                                   index_pack_cb cb, void *userdata);

/* --- prune (docs/prune.md) --- */

struct index_prune_pack {
        struct oid id;
        uint64_t size;
        int64_t created_ns;
        int local;
        int64_t condemned_ns; /* 0: live; else when prune marked it */
};
typedef int (*index_prune_pack_cb)(const struct index_prune_pack *p, void *userdata);

/* A retired pack still to be deleted on a store (store_id 0: the local file). */
struct index_pack_delete {
        struct oid pack;
        int64_t store_id;
        uint64_t size;
        int64_t created_ns;
};
typedef int (*index_pack_delete_cb)(const struct index_pack_delete *d, void *userdata);

struct index_prune_counts {
        uint64_t condemned_packs, condemned_bytes; /* marked, not yet retired */
        uint64_t delete_packs, delete_bytes;       /* retired, deletes queued */
};

/* Call cb for every object row, grouped by pack (by pack id, then offset). */
int index_prune_foreach_object_by_pack(struct index *idx, index_object_cb cb, void *userdata);
/* Call cb for every pack (condemned_only: only condemned ones), by id. */
int index_prune_foreach_pack(struct index *idx, int condemned_only, index_prune_pack_cb cb, void *userdata);
/* Mark pack condemned at ns (0: live again); -ENOENT if unknown. */
int index_prune_condemn(struct index *idx, const struct oid *pack, int64_t ns);
/* 0 when pack is indexed and live, 1 when condemned, -ENOENT when gone. */
int index_prune_pack_state(struct index *idx, const struct oid *pack);
/* Un-condemn every condemned pack (a prune that did not finish: at start);
 * how many, or -errno. */
int index_prune_release_all(struct index *idx);
/* Retire a condemned pack in one transaction: queue its deletes (the local
 * file, every store), ordered after the clock and after after_ns (the
 * clock when the repack's packs were committed), and delete its row with
 * its objects and replica rows. -ENOENT if unknown or not condemned. */
int index_prune_retire(struct index *idx, const struct oid *pack, int64_t after_ns);
/* Call cb for at most limit queued deletes of store_id, oldest first, that
 * may go now: the pack has no row again, and (a store, not 0) no pack
 * created before the delete is still pending for it (copies as for
 * index_replica_pending_page), so a repack's packs are there first; with
 * any_order, whatever is pending (a store too full to take those packs
 * until the deletes make room). */
int index_pack_deletes_page(struct index *idx, int64_t store_id, unsigned copies, bool any_order, size_t limit,
                            index_pack_delete_cb cb, void *userdata);
/* A queued delete was carried out (or was not needed). */
int index_pack_delete_done(struct index *idx, const struct oid *pack, int64_t store_id);
/* 1 if a delete of pack on store_id is queued, 0 if not, or -errno. */
int index_pack_delete_queued(struct index *idx, const struct oid *pack, int64_t store_id);
/* Condemned packs, and queued deletes of store_id (-1: of all stores). */
int index_prune_counts(struct index *idx, int64_t store_id, struct index_prune_counts *ret);
int index_cache_foreach_pack(struct index *idx, const struct oid *after, size_t limit, index_pack_cb cb,
                             void *userdata);

/* --- snapshots --- */

/* Add a snapshot row; -EEXIST if the id is present. */
int index_snapshot_add(struct index *idx, const struct index_snapshot *snapshot);
/* Fill ret (owned strings) for snapshot id; -ENOENT if unknown. */
int index_snapshot_get(struct index *idx, const struct oid *id, struct index_snapshot *ret);
/* Find the snapshot whose hex id starts with prefix (1-64 hex digits, either
 * case): -ENOENT none, -ENOTUNIQ several, -EINVAL not hex. */
int index_snapshot_find_prefix(struct index *idx, const char *prefix, struct index_snapshot *ret);
/* Fill ret with the newest snapshot of root; -ENOENT if none. */
int index_snapshot_latest(struct index *idx, int64_t root_id, struct index_snapshot *ret);
/* Fill ret with the newest snapshot whose root path is path or contains it
 * (the deepest such root); path NULL: the newest snapshot when every
 * snapshot has the same root path, -ENOTUNIQ when they have several.
 * -ENOENT if none. For roots not watched here (recovered, removed). */
int index_snapshot_latest_containing(struct index *idx, const char *path,
                                     struct index_snapshot *ret);
/* Delete a snapshot row; -ENOENT if unknown. */
int index_snapshot_delete(struct index *idx, const struct oid *id);
/* Call cb for the snapshots of root (root_id < 0: all), oldest first. */
int index_snapshot_foreach(struct index *idx, int64_t root_id, index_snapshot_cb cb,
                           void *userdata);
/* Call cb for at most limit snapshots of root (root_id < 0: all), oldest
 * first, starting after the row after (by time, then id; NULL: from the
 * first): a listing in pages, each its own query. */
int index_snapshot_page(struct index *idx, int64_t root_id, const struct index_snapshot *after, size_t limit,
                        index_snapshot_cb cb, void *userdata);
/* Free the strings of a snapshot filled by a get/find function. */
void index_snapshot_done(struct index_snapshot *snapshot);

/* --- peers --- */

/* Add an approved peer (address NULL or "": it only keeps packs here); a
 * pending row of that id becomes it. -EEXIST if the id is already approved
 * or the name taken, -EINVAL without a name. */
int index_peer_add(struct index *idx, const struct oid *id, const char *name, const char *address,
                   uint64_t quota, int64_t delete_delay_ns);
/* Record that node id connected from address at now_ns: a pending row when
 * unknown, else its last_seen/last_address. Keeps at most
 * INDEX_PEER_PENDING_MAX pending rows, dropping the least recently seen. */
int index_peer_pending(struct index *idx, const struct oid *id, const char *address, int64_t now_ns);
/* Fill ret (owned strings) for node id; -ENOENT if unknown. */
int index_peer_get(struct index *idx, const struct oid *id, struct index_peer *ret);
/* Fill ret (owned strings) for the peer named name; -ENOENT if none. */
int index_peer_find(struct index *idx, const char *name, struct index_peer *ret);
/* Approve a pending node under name: -ENOENT unknown, -EALREADY approved
 * already, -EEXIST name taken. */
int index_peer_approve(struct index *idx, const struct oid *id, const char *name, uint64_t quota,
                       int64_t delete_delay_ns);
/* Set an approved peer's quota; -ENOENT if none. */
int index_peer_set_quota(struct index *idx, const struct oid *id, uint64_t quota);
/* Forget a peer or pending node (its hosted packs stay); -ENOENT if none. */
int index_peer_remove(struct index *idx, const struct oid *id);
/* Stamp a connection of node id: last_seen_ns, last_address; -ENOENT if none. */
int index_peer_touch(struct index *idx, const struct oid *id, int64_t now_ns, const char *address);
/* Call cb for every approved peer (by name), then every pending node (most
 * recently seen first). */
int index_peer_foreach(struct index *idx, index_peer_cb cb, void *userdata);
/* Free the strings of a peer filled by a get/find function. */
void index_peer_done(struct index_peer *peer);

/* --- packs hosted for peers --- */

/* Record (or re-record, keeping created_ns and clearing a mark) a pack hosted for peer. */
int index_hosted_add(struct index *idx, const struct oid *peer, const struct oid *pack,
                     uint64_t size);
/* Fill ret for (peer, pack); -ENOENT if not hosted. */
int index_hosted_get(struct index *idx, const struct oid *peer, const struct oid *pack,
                     struct index_hosted *ret);
/* Forget a hosted pack; -ENOENT if not hosted. */
int index_hosted_remove(struct index *idx, const struct oid *peer, const struct oid *pack);
/* Mark a hosted pack deleted at now_ns unless marked already; *ret_deleted_ns
 * is the mark in force. -ENOENT if not hosted. */
int index_hosted_mark(struct index *idx, const struct oid *peer, const struct oid *pack, int64_t now_ns,
                      int64_t *ret_deleted_ns);
/* Mark every unmarked pack of peer (a removed peer); returns how many. */
int index_hosted_mark_all(struct index *idx, const struct oid *peer, int64_t now_ns);
/* Clear a mark (marked or not); -ENOENT if not hosted. */
int index_hosted_unmark(struct index *idx, const struct oid *peer, const struct oid *pack);
/* Bytes and packs hosted for peer, marked ones included and apart. */
int index_hosted_usage(struct index *idx, const struct oid *peer, struct index_hosted_usage *ret);
/* Call cb for every pack hosted for peer, by pack id. */
int index_hosted_foreach(struct index *idx, const struct oid *peer, index_hosted_cb cb,
                         void *userdata);
/* Call cb for at most limit packs of peer with id > after (NULL: from the
 * first), by pack id: one page of a listing. */
int index_hosted_page(struct index *idx, const struct oid *peer, const struct oid *after, size_t limit,
                      index_hosted_cb cb, void *userdata);
/* Call cb for every marked pack whose delay has run out at now_ns: the
 * peer's delete_delay_ns, default_delay_ns for a peer no longer approved. */
int index_hosted_foreach_expired(struct index *idx, int64_t now_ns, int64_t default_delay_ns,
                                 index_hosted_cb cb, void *userdata);

/* --- chunk fingerprints (local only, docs/fingerprints.md) --- */

#define INDEX_FINGERPRINT_SIZE 16
/* The object id a chunk fingerprint was recorded with and the row's tag
 * (the caller's to check): 1 and *ret_id, ret_tag, 0 when none was, -errno. */
int index_fingerprint_get(struct index *idx, const uint8_t fp[INDEX_FINGERPRINT_SIZE], struct oid *ret_id,
                          uint8_t ret_tag[INDEX_FINGERPRINT_SIZE]);
/* Record (or replace) fp -> id with its tag. */
int index_fingerprint_put(struct index *idx, const uint8_t fp[INDEX_FINGERPRINT_SIZE], const struct oid *id,
                          const uint8_t tag[INDEX_FINGERPRINT_SIZE]);
/* Drop the fingerprints of objects the index no longer has: rows dropped, or -errno. */
int index_fingerprint_prune(struct index *idx);
/* Fingerprints recorded. */
int index_fingerprint_count(struct index *idx, uint64_t *ret);

/* --- small state --- */

/* Fetch a value (malloc'd, NUL-terminated beyond len); -ENOENT if unset. */
int index_kv_get(struct index *idx, const char *key, void **ret_value, size_t *ret_len);
/* Set a value. */
int index_kv_set(struct index *idx, const char *key, const void *value, size_t len);
/* Fetch an integer value; -ENOENT if unset, -EINVAL if not an integer. */
int index_kv_get_int(struct index *idx, const char *key, int64_t *ret);
/* Set an integer value. */
int index_kv_set_int(struct index *idx, const char *key, int64_t value);
/* Delete a key; -ENOENT if unset. */
int index_kv_delete(struct index *idx, const char *key);

/* Counts for status. */
int index_stats(struct index *idx, struct index_stats *ret);
/* Consistency counts for check (index-check.c). */
struct index_check_counts {
        uint64_t orphan_objects; /* object rows whose pack has no row */
};
int index_check_counts(struct index *idx, struct index_check_counts *ret);

/* --- reindex (rebuild packs and objects from the packs alone) --- */

/* Open the reindex transaction: clear objects, start marking packs. Then call
 * index_pack_add/commit for every pack found, then index_reindex_end(). */
int index_reindex_begin(struct index *idx);
/* Drop packs (with their replica rows) not seen since begin and commit;
 * commit=0 rolls everything back. Snapshot rows are untouched: the daemon
 * rebuilds them afterwards (see docs/index.md, "snapshot hook"). */
int index_reindex_end(struct index *idx, int commit);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct index *, index_close);
