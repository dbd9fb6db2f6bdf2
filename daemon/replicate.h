/* SPDX-License-Identifier: MIT */
/* The replicator (DESIGN §5): which pack goes to which store. One store and
 * one store runner per row of the stores table; each store is fed its
 * pending packs from the index a page at a time, a few uploads in flight,
 * with per-store errors and backoff, and PROVE rounds on random held packs.
 * It owns the replica state in the index; the stores own the transport. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "oid.h"

struct daemon;
struct store;
struct replicate;

/* Start one store per row of the stores table (after the repository is up). */
int replicate_start(struct daemon *d, struct replicate **ret);
/* Stop every store (uploads in flight are abandoned and resume next time)
 * and free; NULL is fine. */
void replicate_stop(struct replicate *rep);
/* Read the stores table again now: start stores added since, stop removed
 * ones (peer add/remove call it; a timer does too). Loop thread. */
void replicate_reload(struct daemon *d);
/* A pack was committed to the index: offer it to every store. Loop thread. */
void replicate_pack_committed(struct daemon *d, const struct oid *pack, uint64_t size);
/* Look at every store's queue again now (prune retired packs: their deletes). */
void replicate_kick(struct daemon *d);

/* The running store of index id store_id for blocking calls from a worker
 * thread (recover), or NULL; it stays usable until replicate_store_return
 * (a store removed meanwhile fails its calls at once). Loop thread. */
struct store *replicate_store_borrow(struct daemon *d, int64_t store_id, void **ret_token);
/* Up to max packs being uploaded now, into ret; how many. Loop thread. */
size_t replicate_uploads(struct daemon *d, struct oid *ret, size_t max);
/* True while a store deletes packs a prune retired. Loop thread. */
bool replicate_deleting(struct daemon *d);
/* Give a borrowed store back. Loop thread. */
void replicate_store_return(void *token);

/* What the replicator knows of one store (for status and stores). */
struct replicate_store_status {
        bool connected;          /* a peer store's connection is up (others: true) */
        bool have_usage;         /* used and quota came from the store */
        uint64_t used, quota;    /* bytes the store holds for us, bytes it allows (0 = none) */
        char error[256];         /* the last error, one sentence; "" when none */
        uint64_t uploaded_bytes; /* pack bytes sent since start */
        uint64_t resumed_bytes;  /* bytes not sent because the store had them durably */
        uint64_t uploads;        /* packs uploaded since start */
        unsigned in_flight;      /* uploads running now */
        bool have_requests;      /* an S3 store: requests and retries below */
        uint64_t requests, retries;
};
/* Fill ret for the store with index id store_id: 0, or -ENOENT when the
 * replicator does not run it (stopped, or a kind it cannot open). */
int replicate_store_status(struct daemon *d, int64_t store_id, struct replicate_store_status *ret);

/* Result of a verification round over one store. */
struct replicate_verify_result {
        uint64_t packs;  /* packs challenged */
        uint64_t errors; /* missing or damaged: deleted there and queued again */
        uint64_t failed; /* not answered (transport errors): nothing changed */
};
typedef void (*replicate_verify_done_fn)(int error, const struct replicate_verify_result *result,
                                         void *userdata);
/* PROVE every pack the store named name holds, now; done runs on the loop
 * once (-ENOENT: no such store running, -EBUSY: a round is running). */
int replicate_verify_store(struct daemon *d, const char *name, replicate_verify_done_fn done,
                           void *userdata);

/* check: */
/* Read pack (size bytes, 0: unknown) back from s and check its SHA-256 is its id: 0,
 * -ENOENT missing there, -EBADMSG damaged (or of another size), else the
 * read's error. A store or worker thread. */
int replicate_fetch_check(struct store *s, const struct oid *pack, uint64_t size);
/* A hash-checked copy of pack from the first store with a good one, in an
 * anonymous file (*ret_fd); -ENOENT when none holds it. A worker thread. */
int replicate_fetch_pack(struct daemon *d, const struct oid *pack, uint64_t size, int *ret_fd);
/* The copy of pack on store store_id was deleted and its replica row reset:
 * upload it again. Loop thread. */
void replicate_requeue(struct daemon *d, int64_t store_id, const struct oid *pack, uint64_t size);
