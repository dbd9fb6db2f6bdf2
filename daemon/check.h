/* SPDX-License-Identifier: MIT */
/* `chutectl check` (DESIGN §5, §6): is the repository whole? The index
 * (every pack row has its file or a store that holds it), with read-data the
 * chosen packs read whole (hash, header, every record), PROVE of them on the
 * stores, --repair, and which snapshots and paths the damage reaches
 * (check-walk.c). A worker job; cmd-verify.c is the request glue. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check-subset.h"
#include "idset.h"
#include "oid.h"

struct daemon;
struct store;

/* The report lists at most this many damaged packs (the counts cover them
 * all); affected paths stream to the client, at most this many waiting. */
#define CHECK_DAMAGED_MAX 1000
#define CHECK_QUEUE_MAX 1024

enum check_state {
        CHECK_MISSING = 1, /* no file here and no store holds it / not on that store */
        CHECK_DAMAGED,     /* bytes differ from the id, or a record fails */
        CHECK_UNANSWERED,  /* a store could not say (transport error), or only stores that refuse this node hold it */
};

struct check_damage {
        struct oid pack;
        uint64_t size;
        int64_t store_id;  /* 0: the local copy */
        enum check_state state;
        bool repaired;
        bool repairable;   /* local damage some store holds a copy of */
        char message[160];
};

struct check_affected {
        struct oid snapshot;
        struct oid pack;   /* the damaged pack (zero: object not indexed at all) */
        char *path;        /* root path + "/" + path inside the snapshot */
};

/* A store borrowed for the job (cmd-verify.c borrows them on the loop). */
struct check_store {
        int64_t id;
        char *name;
        struct store *store;
        void *token;
};

struct check_job {
        struct daemon *daemon;
        bool read_data;
        struct check_subset subset; /* which packs read_data reads */
        bool repair;
        struct check_store *stores;
        size_t n_stores;
        bool cancel;                /* atomic: the client went away */
        /* progress (atomic) */
        const char *phase;
        uint64_t done, total;
        /* results */
        uint64_t packs, packs_read, packs_proved, snapshots, missing_objects, orphans;
        uint64_t repaired_packs, affected_paths, affected_snapshots, unanswered;
        struct check_damage *damaged;
        size_t n_damaged, cap_damaged;
        uint64_t damaged_total;
        /* affected paths on their way to the client: the walk appends
         * (waiting while CHECK_QUEUE_MAX wait), the loop takes them */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct check_affected *affected;
        size_t n_affected;
        struct idset bad_packs;     /* local copies unusable after repair */
        int error;
        char error_text[256];
};

/* A new job for d (the options are the caller's to set), or NULL. */
struct check_job *check_job_new(struct daemon *d);
/* Take the oldest affected paths queued, about max_bytes of them but at
 * least one (loop thread): *ret (free each path and the array, NULL when
 * none), their number; the walk may go on. */
size_t check_take_affected(struct check_job *job, size_t max_bytes, struct check_affected **ret);
/* Run the check (worker thread). */
void check_run(struct check_job *job);
/* Free a job and what it found (NULL is fine); stores are not returned. */
void check_job_free(struct check_job *job);
/* Damage that remains (not repaired): the exit status of check. */
bool check_job_failed(const struct check_job *job);
/* "missing", "damaged" or "unanswered". */
const char *check_state_name(enum check_state s);

/* check-walk.c: walk every snapshot's trees, count objects that are not
 * indexed and record the paths whose objects lie in job->bad_packs. */
int check_walk_snapshots(struct check_job *job);
