/* SPDX-License-Identifier: MIT */
/* Restoring a snapshot (or a path inside it) to a target directory with all
 * recorded metadata. Entries are created relative to directory fds opened
 * without following symlinks, so nothing is written outside the target.
 * Runs on a worker thread; file contents are written in parallel. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "oid.h"

struct daemon;

struct restore_job {
        struct daemon *daemon;
        struct oid snapshot; /* the snapshot object */
        char *relpath;       /* path inside the snapshot, "" for all */
        char *target;
        bool overwrite;
        bool verify;         /* recompute every data object's id (the tag alone binds it) */
        bool gone;           /* set by the loop when the client vanished */
        /* progress and results */
        uint64_t files, bytes, dirs, errors;
        uint64_t total_files, total_bytes;
        int error;           /* 0 or -errno; set once, atomically (first error wins) */
        char error_text[256];
};

/* Run the restore (blocking). */
void restore_run(struct restore_job *job);
/* Free the job. */
void restore_job_free(struct restore_job *job);
