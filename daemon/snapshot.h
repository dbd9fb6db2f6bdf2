/* SPDX-License-Identifier: MIT */
/* Taking a snapshot of one root: walk it (walk.c: stat only, using the file
 * cache to skip unchanged files), read changed files on the worker pool
 * (read.c: chunk, id, compress, encrypt into packs), then here encode the
 * trees bottom-up, store the snapshot object, and commit the file cache and
 * the snapshot row. Runs on a worker thread; owns no loop state. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "object.h"
#include "oid.h"
#include "own-files.h"
#include "pathset.h"

struct daemon;
struct root;

struct snapshot_job {
        /* inputs, copied from the root on the loop thread */
        struct daemon *daemon;
        int64_t root_id;
        char *path;
        char *excludes;
        int one_fs;
        struct own_files own;      /* chuted's own files: never part of a snapshot */
        bool full;                 /* walk everything (else reuse clean subtrees of the parent) */
        bool skip_if_unchanged;    /* automatic runs: no new snapshot when nothing changed */
        struct pathset dirty;      /* directories whose listing changed */
        struct pathset deep;       /* directories below which everything must be listed */
        const int *cancel;         /* stop early when it becomes non-zero */
        uint64_t *progress_files;  /* updated as files are done (racy counters, display only) */
        uint64_t *progress_bytes;
        /* outputs */
        int error;                 /* 0 or -errno; set once (snapshot_job_fail), atomically */
        char error_text[256];
        bool unchanged;            /* skip_if_unchanged and nothing changed: no snapshot */
        bool changed_link;         /* a partial walk read a file with other hard links: their
                                    * paths, in directories it did not walk, may be stale */
        struct pathset retry;      /* directories recorded short of what they hold (an error
                                    * left them empty, or left a file out): walked again next
                                    * time, not reused (snapshot_job_retry) */
        bool retry_full;           /* out of memory for that: the next run walks everything */
        struct oid id;             /* the new snapshot */
        struct oid tree;
        int64_t time_ns;
        struct object_snapshot_stats stats;
        uint64_t recognized_chunks; /* chunks of changed files known by fingerprint */
        uint64_t recognized_bytes;
        uint64_t unchunked_bytes;   /* of those, taken where the last version's chunk was: not chunked */
};

/* Run the whole snapshot (blocking, on a worker thread). */
void snapshot_run(struct snapshot_job *job);
/* Record the job's first error (later ones are dropped). */
void snapshot_job_fail(struct snapshot_job *job, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Directory relpath was recorded short of what it holds (any thread). */
void snapshot_job_retry(struct snapshot_job *job, const char *relpath);
/* True once the job failed or was cancelled: stop early. */
bool snapshot_cancelled(const struct snapshot_job *job);
/* The full path of relpath ("" = the root) under the job's root; NULL on ENOMEM. */
char *snapshot_full_path(const struct snapshot_job *job, const char *relpath);
/* Free the job's inputs. */
void snapshot_job_free(struct snapshot_job *job);
