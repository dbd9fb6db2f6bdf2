/* SPDX-License-Identifier: MIT */
/* Disaster recovery from one store (`chutectl recover STORE`): copy its
 * packs here, rebuild the index from them and list their snapshots. The
 * job runs on a worker thread; cmd-recover.c reports its progress. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct store;

struct recover_job {
        struct daemon *daemon;
        struct store *store;      /* the store to recover from (borrowed) */
        struct store *local;      /* the node's own pack store (borrowed) */
        char *store_name;
        int64_t store_id;         /* its row in `stores` */
        char *staging_dir;        /* where pack copies are assembled (O_TMPFILE) */
        bool cancel;              /* set (atomic) when the client went away */
        /* progress, read atomically by the loop */
        uint64_t bytes, total_bytes;
        /* results */
        uint64_t packs_copied, packs, objects, snapshots, undeleted;
        uint64_t bad_packs, bad_snapshots;
        int error;                /* -errno; error_text says what failed */
        char error_text[256];
};

/* Run the whole recovery (on a worker thread); job->error tells how it went. */
void recover_run(struct recover_job *job);
/* Free a job (NULL is fine). */
void recover_job_free(struct recover_job *job);
