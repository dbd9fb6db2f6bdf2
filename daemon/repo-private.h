/* SPDX-License-Identifier: MIT */
/* The repository's state, shared by repo.c (façade, dedupe) and
 * repo-prune.c (what prune needs of it). */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "bloom.h"
#include "crypto.h"
#include "idset.h"
#include "keys.h"
#include "repo.h"

struct repo_gate_entry {
        uint64_t epoch;
        int64_t start_ns; /* CLOCK_REALTIME, as packs' created_ns */
        bool used;
        bool has_parent;
        struct oid parent;
};

struct repo {
        struct daemon *daemon;
        const struct keys *keys;
        enum crypto_cipher cipher;
        char *pack_dir;
        char *staging_dir; /* the packer's anonymous files: pack_dir/tmp */
        char *index_path;
        struct index *index; /* loop thread */
        struct store *local;
        struct committer *committer;
        struct packer *packer;
        struct repo_read *read;

        /* Dedupe (repo.c): known holds every id stored or claimed since
         * open (never removed: a miss means "new", a hit is checked in the
         * index, where condemned packs do not count); pending the ids
         * claimed by a put and not committed yet (their pack commits, or
         * is lost). A claim is in flight from the put that made it until
         * its record is in an open pack: a put of the same id meanwhile
         * waits for it (put_done), so every put returns only once its
         * object is in a pack that the next flush commits. */
        pthread_mutex_t lock; /* known, pending, in_flight, stats, failures, epoch, gate */
        pthread_cond_t put_done;
        struct bloom known;
        struct idset pending;
        struct idset in_flight;
        struct repo_stats stats;
        uint64_t failures;

        /* prune's gate (repo-prune.c), under lock: the jobs running, each
         * with the prune epoch it began in and the snapshot it builds on */
        pthread_cond_t gate_cond;
        uint64_t epoch;
        struct repo_gate_entry *gate;
        size_t n_gate, cap_gate;
};
