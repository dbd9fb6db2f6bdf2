/* SPDX-License-Identifier: MIT */
/* Prune (DESIGN §5, §9; docs/prune.md): delete the packs no kept snapshot
 * needs and repack those mostly unused, in two phases: mark (condemn the
 * packs, take their unused objects out of the dedupe set, copy the live
 * records verbatim into new packs), then, once every job that began before
 * the mark is over and a grace period has passed, check again what is live
 * and retire the packs (their deletes queued for the local file and every
 * store). Backups, restores and replication run meanwhile. A worker job. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "idset.h"

struct daemon;

struct prune_options {
        bool dry_run;
        unsigned max_unused;  /* percent of the stored bytes left unused */
        uint64_t max_repack;  /* bytes of packs repacked per run, 0: no limit */
        int64_t grace_ns;     /* at least this long between mark and delete */
};

struct prune_stats {
        uint64_t packs, bytes;              /* before */
        uint64_t used_bytes, unused_bytes;  /* records kept / not reachable */
        uint64_t delete_packs, delete_bytes; /* no live object: deleted */
        uint64_t repack_packs, repack_bytes; /* rewritten */
        uint64_t repack_written;            /* live record bytes copied */
        uint64_t repack_remote;             /* repacked packs read from stores (evicted) */
        uint64_t removed_objects;
        uint64_t kept_packs;                /* condemned but needed again: kept */
        uint64_t retired_packs, retired_bytes; /* deleted in the end */
        uint64_t packs_after, bytes_after;
        uint64_t unused_after;              /* unused bytes left (estimate) */
        uint64_t snapshots;
};

struct prune_job {
        struct daemon *daemon;
        struct prune_options opt;
        struct prune_stats st;
        int cancel;
        const char *phase;           /* atomic: for progress */
        uint64_t progress_done, progress_total;
        int error;
        char error_text[256];
};

/* Run a prune; sets job->error / error_text on failure. Blocking. */
void prune_run(struct prune_job *job);

/* Everything to keep (prune-live.c): snapshots, file cache, tombstones, the
 * parents of running jobs; *ret_snapshots (if not NULL): the snapshot rows. */
int prune_live(struct prune_job *job, struct idset *set, uint64_t *ret_snapshots);

/* Index kv key: when the last prune finished (ns). */
#define PRUNE_KV_LAST "prune.last_ns"

/* After retention (cmd-prune.c, loop thread): start an automatic prune when
 * snapshots were forgotten (or packs are condemned) and the last prune is
 * older than [prune] interval. */
void prune_auto(struct daemon *d);

/* Carry out the queued deletes of local pack files; how many (or -errno). */
int prune_delete_local(struct daemon *d);
