/* SPDX-License-Identifier: MIT */
/* A set of 32-byte ids in memory (open addressing; the ids are keyed hashes,
 * so their first bytes are already uniform). Not thread-safe: the owner
 * locks. Used by the repository for the ids it is storing (pending commit,
 * in flight) and by prune for its live set; a set of every object of the
 * index would grow with it (bloom.h is the filter for that). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "oid.h"

struct idset {
        struct oid *slots;
        unsigned char *used; /* 0 empty, 1 used, 2 deleted */
        size_t cap;          /* power of two */
        size_t n;            /* used */
        size_t tomb;         /* deleted */
};

/* Empty set (no allocation until the first add). */
void idset_init(struct idset *s);
/* Free the storage. */
void idset_done(struct idset *s);
/* True when id is in the set. */
bool idset_has(const struct idset *s, const struct oid *id);
/* Add id: 1 added, 0 already there, -ENOMEM. */
int idset_add(struct idset *s, const struct oid *id);
/* Remove id: 1 removed, 0 absent. */
int idset_remove(struct idset *s, const struct oid *id);
