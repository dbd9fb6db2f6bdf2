/* SPDX-License-Identifier: MIT */
/* Scalable blocked Bloom filter (see bloom.h). Each stage is an array of
 * 512-bit blocks: an id sets k bits of one block (one cache line), the
 * block chosen by its first 8 bytes, the bits by 9-bit fields of the next
 * 24. Stage i holds BLOOM_FIRST << i ids with 13 + i bits per id (at most
 * 0.27 % false positives, falling about a third per stage, so the sum over
 * the chain stays under 1 %). */
#include "bloom.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOOM_FIRST ((size_t)64 * 1024)
#define BLOOM_BLOCK_WORDS 8 /* 512 bits */
#define BLOOM_MAX_K 21      /* 9-bit fields in 24 bytes */

struct bloom_stage {
        uint64_t *blocks; /* n_blocks * BLOOM_BLOCK_WORDS */
        size_t n_blocks;
        size_t cap, n;
        unsigned k;
};

void bloom_init(struct bloom *b) { memset(b, 0, sizeof(*b)); }

void bloom_done(struct bloom *b)
{
        for (size_t i = 0; i < b->n_stages; i++)
                free(b->stages[i].blocks);
        free(b->stages);
        memset(b, 0, sizeof(*b));
}

void bloom_reset(struct bloom *b) { bloom_done(b); }

static uint64_t word(const struct oid *id, size_t i)
{
        uint64_t w;
        memcpy(&w, id->bytes + 8 * i, sizeof(w));
        return w;
}

/* The block of id in s. */
static uint64_t *block_of(const struct bloom_stage *s, const struct oid *id)
{
        uint64_t h = word(id, 0) >> 32;
        return s->blocks + ((h * s->n_blocks) >> 32) * BLOOM_BLOCK_WORDS;
}

/* The j-th bit of id within its block (0..511). */
static unsigned bit_of(const struct oid *id, unsigned j)
{
        unsigned w = 1 + j / 7, shift = (j % 7) * 9;
        return (unsigned)(word(id, w) >> shift) & 511;
}

static bool stage_has(const struct bloom_stage *s, const struct oid *id)
{
        const uint64_t *blk = block_of(s, id);
        for (unsigned j = 0; j < s->k; j++) {
                unsigned bit = bit_of(id, j);
                if (!(blk[bit / 64] & (UINT64_C(1) << (bit % 64))))
                        return false;
        }
        return true;
}

static void stage_add(struct bloom_stage *s, const struct oid *id)
{
        uint64_t *blk = block_of(s, id);
        for (unsigned j = 0; j < s->k; j++) {
                unsigned bit = bit_of(id, j);
                blk[bit / 64] |= UINT64_C(1) << (bit % 64);
        }
        s->n++;
}

static int stage_new(struct bloom *b)
{
        size_t i = b->n_stages;
        size_t cap = BLOOM_FIRST << (i < 32 ? i : 32);
        size_t bits_per_id = 13 + (i < 11 ? i : 11);
        size_t n_blocks = (cap * bits_per_id + 511) / 512;
        if (n_blocks > UINT32_MAX)
                return -ENOMEM;
        struct bloom_stage *v = realloc(b->stages, (i + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        b->stages = v;
        /* calloc: the pages of an untouched stage are not resident yet */
        uint64_t *blocks = calloc(n_blocks, BLOOM_BLOCK_WORDS * sizeof(uint64_t));
        if (!blocks)
                return -ENOMEM;
        /* about ln 2 bits per bit of id, a little fewer for the blocks */
        unsigned k = (unsigned)(bits_per_id * 5 / 8);
        v[i] = (struct bloom_stage){ .blocks = blocks, .n_blocks = n_blocks, .cap = cap,
                                     .k = k < BLOOM_MAX_K ? k : BLOOM_MAX_K };
        b->n_stages++;
        return 0;
}

bool bloom_maybe_has(const struct bloom *b, const struct oid *id)
{
        /* the newest stage first: the biggest, and recent ids repeat most */
        for (size_t i = b->n_stages; i > 0; i--)
                if (stage_has(&b->stages[i - 1], id))
                        return true;
        return false;
}

int bloom_add(struct bloom *b, const struct oid *id)
{
        if (bloom_maybe_has(b, id))
                return 0;
        if (b->n_stages == 0 || b->stages[b->n_stages - 1].n >= b->stages[b->n_stages - 1].cap) {
                int k = stage_new(b);
                if (k < 0)
                        return k;
        }
        stage_add(&b->stages[b->n_stages - 1], id);
        b->n++;
        return 1;
}

size_t bloom_memory(const struct bloom *b)
{
        size_t m = b->n_stages * sizeof(struct bloom_stage);
        for (size_t i = 0; i < b->n_stages; i++)
                m += b->stages[i].n_blocks * BLOOM_BLOCK_WORDS * sizeof(uint64_t);
        return m;
}
