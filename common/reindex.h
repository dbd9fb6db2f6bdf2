/* SPDX-License-Identifier: MIT */
/* Rebuild the packs and objects of the index from the packs alone (DESIGN §5
 * disaster recovery, `chutectl reindex`): list each store, read every pack's
 * header (two range reads at the tail) and re-add it, in one transaction.
 * Snapshot rows are the daemon's job afterwards (docs/index.md). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "index.h"
#include "store.h"

struct reindex_source {
        struct store *store;
        int local; /* 1 for the node's own pack directory */
};

struct reindex_stats {
        uint64_t packs;     /* packs indexed */
        uint64_t objects;   /* header entries indexed */
        uint64_t bad_packs; /* listed but header unreadable (-EBADMSG), skipped */
        uint64_t bytes;     /* sum of indexed pack sizes */
};

/* Rebuild packs/objects from the packs of n sources (a pack in several is
 * indexed once, local if any local source has it). Packs whose header fails
 * to authenticate are skipped and counted; if every listed pack fails
 * (wrong key?) or any other error occurs, everything is rolled back and
 * -EBADMSG or that error is returned. ret_stats may be NULL. */
int reindex_run(struct index *idx, const struct reindex_source *sources, size_t n,
                const uint8_t pack_key[CRYPTO_KEY_SIZE], struct reindex_stats *ret_stats);
