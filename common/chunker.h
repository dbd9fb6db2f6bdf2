/* SPDX-License-Identifier: MIT */
/* Content-defined chunker: a gear rolling hash with a public table proposes
 * candidate cut points, a PRF keyed with K_cdc decides which become cuts
 * (DESIGN.md §3, docs/chunker.md). Pure code in the casync style: no I/O, no
 * logging, no allocation while scanning. Reading files is the caller's job. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CHUNKER_KEY_SIZE 16
#define CHUNKER_MIN_SIZE_DEFAULT (256u * 1024u)
#define CHUNKER_AVG_SIZE_DEFAULT (1024u * 1024u)
#define CHUNKER_MAX_SIZE_DEFAULT (4u * 1024u * 1024u)

/* Returned by chunker_scan when buf holds no cut yet. */
#define CHUNKER_NEED_MORE ((size_t)-1)

/* Chunk sizes; 64 <= min_size < avg_size < max_size <= 1 GiB. */
struct chunker_params {
        size_t min_size;
        size_t avg_size;
        size_t max_size;
};

#define CHUNKER_PARAMS_DEFAULT                                                                 \
        ((struct chunker_params){ .min_size = CHUNKER_MIN_SIZE_DEFAULT,                       \
                                  .avg_size = CHUNKER_AVG_SIZE_DEFAULT,                       \
                                  .max_size = CHUNKER_MAX_SIZE_DEFAULT })

struct chunker;

/* Create a chunker keyed with K_cdc; p NULL means the defaults. -EINVAL on bad sizes. */
int chunker_new(const uint8_t cdc_key[CHUNKER_KEY_SIZE], const struct chunker_params *p,
                struct chunker **ret);
/* Free a chunker (NULL is fine). */
void chunker_free(struct chunker *c);
/* Forget the current chunk: call before the first byte of each new file. */
void chunker_reset(struct chunker *c);
/* Feed buf[len]; return the offset in buf just past the next cut (1..len), or
 * CHUNKER_NEED_MORE when buf ends without one (state carries over to the next
 * call). After a cut, call again with the rest of buf. At EOF the bytes fed
 * since the last cut are the final chunk. */
size_t chunker_scan(struct chunker *c, const void *buf, size_t len);
/* The parameters the chunker runs with. */
const struct chunker_params *chunker_get_params(const struct chunker *c);

/* The gear loop alone (no PRF, no cuts) over buf: a benchmark helper that
 * returns the final gear state so the work cannot be optimised away. */
uint64_t chunker_gear_only(const struct chunker *c, const void *buf, size_t len);
