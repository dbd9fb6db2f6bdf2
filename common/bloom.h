/* SPDX-License-Identifier: MIT */
/* A scalable Bloom filter of 32-byte ids (keyed hashes, so their bytes are
 * already uniform: the probes are taken from them, no hashing): a chain of
 * blocked filters, each twice the capacity of the one before and a little
 * stricter, about 1 % false positives overall however many ids it holds.
 * Ids are never removed. Not thread-safe: the owner locks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "oid.h"

struct bloom_stage;

struct bloom {
        struct bloom_stage *stages;
        size_t n_stages;
        size_t n; /* ids added (a maybe-present id is not added again) */
};

/* Empty filter (no allocation until the first add). */
void bloom_init(struct bloom *b);
/* Free the storage. */
void bloom_done(struct bloom *b);
/* Forget every id, back to the empty filter's size. */
void bloom_reset(struct bloom *b);
/* Add id: 1 added, 0 already maybe present, -ENOMEM. */
int bloom_add(struct bloom *b, const struct oid *id);
/* False when id was never added; true when it was (or, rarely, was not). */
bool bloom_maybe_has(const struct bloom *b, const struct oid *id);
/* Bytes of memory the filter uses. */
size_t bloom_memory(const struct bloom *b);
