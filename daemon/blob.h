/* SPDX-License-Identifier: MIT */
/* The parachute blob store behind /chute/blob/ (docs/http-api.md): a blob
 * is a directory ID/ holding index.json and its content "0". Uploads grow
 * in STATE/blob-staging/ID (never snapshotted) with the byte ranges received
 * in ID/ranges; once every byte is there (and the declared SHA-256 matches)
 * the directory is renamed into STATE/blobs/, a watched root. HTTP is
 * http-blob.c's; this file knows only files. Loop thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <jansson.h>

#include "blob-index.h"

struct daemon;

#define BLOB_DIR "blobs"                /* under the state dir: complete blobs, a root */
#define BLOB_STAGING_DIR "blob-staging" /* under the state dir: uploads in progress */
#define BLOB_MAX_UPLOADS 256        /* uploads in progress at once */
#define BLOB_FREE_MARGIN (UINT64_C(256) << 20) /* left free beside what uploads need */

struct blob_store;

struct blob {
        char id[BLOB_ID_LEN + 1];
        bool complete;
        uint64_t size;
        json_t *index;             /* index.json as stored */
        char sha256[65];           /* of the content, "" until known */
        struct blob_range *ranges; /* received, sorted, disjoint, coalesced */
        size_t n_ranges;
        int dirfd; /* blobs/ID or blob-staging/ID */
};

/* Make STATE/blobs and STATE/blob-staging (the blob root is added with
 * the first complete blob, so that a node without blobs has no such root). */
int blob_store_new(struct daemon *d, struct blob_store **ret);
void blob_store_free(struct blob_store *s);
/* Register STATE/blobs as a root if it is not one yet; -EAGAIN without a key. */
int blob_store_root(struct blob_store *s);
/* At start: complete the uploads that have every byte (chuted stopped while
 * it hashed them), and register the root when STATE/blobs holds a blob. */
int blob_store_start(struct blob_store *s);

/* Start an upload for doc (from blob_index_check); ret_id gets the id. A
 * blob of size 0 is complete at once. */
int blob_create(struct blob_store *s, json_t *doc, char ret_id[BLOB_ID_LEN + 1]);
/* Load blob id (complete or in progress); -ENOENT. */
int blob_open(struct blob_store *s, const char *id, struct blob **ret);
void blob_free(struct blob *b);

/* Write the n bytes of iov at offset of an upload in progress and record
 * them (after fdatasync). 1 when every byte is there now (complete it with
 * blob_hash_async and blob_complete), 0 when some are still missing. */
int blob_write(struct blob *b, uint64_t offset, const struct iovec *iov, size_t n);
/* All bytes are there and hash to hex: check it against the declared
 * SHA-256, record it, rename the blob into blobs/ and start a snapshot of
 * the blob root. 1 done; -EILSEQ another hash (every range is dropped: the
 * upload starts over); -EAGAIN bytes missing; -EEXIST already complete. */
int blob_complete(struct blob_store *s, struct blob *b, const char hex[65]);
/* Remove blob b: an upload in progress, or a complete blob (snapshots
 * taken keep it; one of the blob root starts now). */
int blob_delete(struct blob_store *s, struct blob *b);
/* Bytes received; the length of the run from byte 0. */
uint64_t blob_stored(const struct blob *b);
uint64_t blob_prefix(const struct blob *b);
/* True when every byte of [start, end) was received. */
bool blob_has(const struct blob *b, uint64_t start, uint64_t end);
/* SHA-256 (lowercase hex) of bytes [start, start + len) of the content. */
int blob_hash(const struct blob *b, uint64_t start, uint64_t len, char ret_hex[65]);
/* Called on the loop with the hash or -errno; -ECANCELED: the store is
 * gone (chuted stops), free userdata and touch nothing else. */
typedef void (*blob_hash_done_fn)(int r, const char hex[65], void *userdata);
/* The same on a worker thread (the loop never reads a whole blob); with
 * completing, fsync first and mark b as completing until done is called. */
int blob_hash_async(struct blob_store *s, const struct blob *b, uint64_t start, uint64_t len,
                    bool completing, blob_hash_done_fn done, void *userdata);
/* True while blob id is being hashed for completion. */
bool blob_completing(const struct blob_store *s, const char *id);
typedef void (*blob_write_done_fn)(int r, struct blob *b, void *userdata);
/* blob_write on a worker (its pwrite and fdatasync never stall the loop):
 * b is handed back to done with blob_write's result (-ECANCELED: the store
 * went away), and meanwhile blob_completing is true for it, so no second
 * write, hash or DELETE of the blob runs at once. iov stays valid until
 * done. */
int blob_write_async(struct blob_store *s, struct blob *b, uint64_t offset, const struct iovec *iov, size_t n,
                     blob_write_done_fn done, void *userdata);
/* The content opened for reading. */
int blob_open_content(const struct blob *b);
/* index.json as stored (new string); its length in *ret_len. */
int blob_index_text(const struct blob *b, char **ret, size_t *ret_len);
