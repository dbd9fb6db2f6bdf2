/* SPDX-License-Identifier: MIT */
/* Disaster recovery from one store (`chutectl recover STORE`): copy its
 * packs here, rebuild the index from them and list their snapshots. The
 * job runs on a worker thread; cmd-recover.c reports its progress. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct store;

struct recover_job {
        struct daemon *daemon;
        struct store *store;      /* the store to recover from (borrowed) */
        struct store *local;      /* the node's own pack store (borrowed) */
        struct store **extra;     /* reindex: stores whose listings count too (cache mode) */
        int64_t *extra_ids;
        size_t n_extra;
        char *store_name;
        int64_t store_id;         /* its row in `stores` */
        char *staging_dir;        /* where pack copies are assembled (O_TMPFILE) */
        bool cancel;              /* set (atomic) when the client went away */
        /* progress, read atomically by the loop */
        uint64_t bytes, total_bytes;
        /* results */
        uint64_t packs_copied, packs, objects, snapshots, undeleted;
        uint64_t bad_packs, bad_snapshots;
        uint64_t tombstones;      /* tombstone objects read */
        uint64_t bad_tombstones;  /* unreadable ones (damaged, newer format) */
        uint64_t forgotten;       /* snapshot objects a tombstone names: not listed */
        uint64_t rows_dropped;    /* rows of those still listed (a forget cut short), deleted */
        int error;                /* -errno; error_text says what failed */
        char error_text[256];
};

/* Rebuild the index from packs alone (chutectl reindex, on a worker thread):
 * job->local, plus job->store when set (its packs read where they lie, not
 * copied), then the snapshot rows; job->error tells how it went. */
void recover_reindex_run(struct recover_job *job);
/* The index jobs (recover, reindex, check) run one at a time: claim the
 * turn (what: "a check", ...), -EBUSY when another holds it. Loop thread. */
int recover_claim(struct daemon *d, const char *what);
void recover_release(struct daemon *d);
/* What holds the turn ("a recovery", ...), or NULL. */
const char *recover_holder(struct daemon *d);
/* What stops a recover or reindex from starting now ("a snapshot", the
 * turn's holder, "a delete of pruned packs on a store": a rebuild that
 * listed a pack being deleted would bring its rows back), or NULL. */
const char *recover_blocker(struct daemon *d);
/* The turns that rebuild the snapshot rows, claimed by these very strings. */
extern const char recover_turn_reindex[], recover_turn_recovery[];
/* The holder when it rebuilds the snapshot rows (a reindex or a recovery:
 * no forget meanwhile), or NULL. */
const char *recover_rebuilding(struct daemon *d);

/* Run the whole recovery (on a worker thread); job->error tells how it went. */
void recover_run(struct recover_job *job);
/* Free a job (NULL is fine). */
void recover_job_free(struct recover_job *job);
