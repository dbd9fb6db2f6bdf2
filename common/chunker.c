/* SPDX-License-Identifier: MIT */
/* Content-defined chunker (docs/chunker.md): gear rolling hash over a public
 * table, candidates where the top bits of the state are zero, a keyed PRF of
 * the state against a size-dependent threshold picks the cuts. Owns only the
 * cut decision; reading, hashing and storing chunks belong to the caller. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunker.h"
#include "cleanup.h"
#include "crypto.h"

#define CHUNKER_WINDOW 64     /* bytes that influence the 64-bit gear state */
#define CHUNKER_LANES 4       /* independent hash chains per block */
#define CHUNKER_LANE_BYTES 4096
#define CHUNKER_BLOCK (CHUNKER_LANES * CHUNKER_LANE_BYTES)
#define CHUNKER_NORMALIZATION 16 /* cut probability after avg / before avg */
#define CHUNKER_SIZE_LIMIT ((size_t)1 << 30)
#define CHUNKER_GEAR_SEED UINT64_C(0x6368757465636463) /* "chutecdc" */

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct chunker {
        uint64_t gear[256];
        uint64_t mask;            /* candidate when (h & mask) == 0 */
        uint64_t threshold_small; /* cut when prf(h) < threshold, chunk <= avg */
        uint64_t threshold_large; /* the same once the chunk is past avg */
        struct chunker_params params;
        size_t hash_start; /* min_size - window: hashing starts here */
        size_t n;          /* bytes of the current chunk seen so far */
        uint64_t h;        /* gear state after the last byte seen */
        struct crypto_prf *prf;
};

static uint64_t splitmix64(uint64_t *s)
{
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static unsigned log2_floor(size_t x)
{
        unsigned r = 0;

        while (x >>= 1)
                r++;
        return r;
}

/* Expected chunk size above min, times 2^63, for a cut threshold t (2^64
 * scale) before avg and t * NORMALIZATION after it, stepping one candidate
 * spacing at a time. Integer arithmetic so every platform gets the same
 * thresholds (floating point could be contracted differently). */
static unsigned __int128 chunker_expected_excess(const struct chunker_params *p, size_t spacing,
                                                 uint64_t t_small, uint64_t t_large)
{
        uint64_t survive = UINT64_C(1) << 63;
        unsigned __int128 sum = 0;

        for (size_t n = p->min_size; n < p->max_size && survive; n += spacing) {
                uint64_t t = n < p->avg_size ? t_small : t_large;
                size_t step = MIN(spacing, p->max_size - n);

                sum += (unsigned __int128)survive * step;
                survive = (uint64_t)(((unsigned __int128)survive * (~t)) >> 64);
        }
        return sum;
}

/* The smallest small threshold whose expected chunk size is at most avg. */
static void chunker_tune(struct chunker *c, size_t spacing)
{
        const struct chunker_params *p = &c->params;
        unsigned __int128 target = (unsigned __int128)(p->avg_size - p->min_size) << 63;
        uint64_t lo = 0, hi = UINT64_MAX / CHUNKER_NORMALIZATION;

        /* Excess falls as the threshold grows: find the smallest t with excess <= target. */
        while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;

                if (chunker_expected_excess(p, spacing, mid, mid * CHUNKER_NORMALIZATION) > target)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        c->threshold_small = lo;
        c->threshold_large = lo * CHUNKER_NORMALIZATION;
}

int chunker_new(const uint8_t cdc_key[CHUNKER_KEY_SIZE], const struct chunker_params *p,
                struct chunker **ret)
{
        struct chunker_params params = p ? *p : CHUNKER_PARAMS_DEFAULT;
        struct chunker *c;
        uint64_t seed = CHUNKER_GEAR_SEED;
        unsigned bits;
        int r;

        if (params.min_size < CHUNKER_WINDOW || params.min_size >= params.avg_size ||
            params.avg_size >= params.max_size || params.max_size > CHUNKER_SIZE_LIMIT)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->params = params;
        c->hash_start = params.min_size - CHUNKER_WINDOW;
        for (size_t i = 0; i < ELEMENTSOF(c->gear); i++)
                c->gear[i] = splitmix64(&seed);

        /* Candidates on average every avg/256 bytes (4 KiB for 1 MiB), at least every 2. */
        bits = log2_floor(params.avg_size);
        bits = bits > 9 ? bits - 8 : 1;
        c->mask = ~UINT64_C(0) << (64 - bits);
        chunker_tune(c, (size_t)1 << bits);

        r = crypto_prf_new(cdc_key, &c->prf);
        if (r < 0) {
                free(c);
                return r;
        }
        *ret = c;
        return 0;
}

void chunker_free(struct chunker *c)
{
        if (!c)
                return;
        crypto_prf_free(c->prf);
        crypto_wipe(c, sizeof(*c));
        free(c);
}

void chunker_reset(struct chunker *c)
{
        c->n = 0;
        c->h = 0;
}

const struct chunker_params *chunker_get_params(const struct chunker *c)
{
        return &c->params;
}

static inline uint64_t gear_step(const uint64_t *gear, uint64_t h, uint8_t b)
{
        return (h << 1) + gear[b];
}

static uint64_t gear_warm(const uint64_t *gear, const uint8_t *p)
{
        uint64_t h = 0;

        for (size_t i = 0; i < CHUNKER_WINDOW; i++)
                h = gear_step(gear, h, p[i]);
        return h;
}

/* A candidate at state h: is it a cut? */
static inline int chunker_decide(struct chunker *c, uint64_t h, uint64_t threshold)
{
        return crypto_prf_eval(c->prf, h) < threshold;
}

/* One byte at a time over p[len]; return the index just past the first cut,
 * or 0, and leave the state after the last byte looked at in c->h. */
static size_t chunker_find_serial(struct chunker *c, const uint8_t *p, size_t len,
                                  uint64_t threshold)
{
        const uint64_t *gear = c->gear, mask = c->mask;
        uint64_t h = c->h;

        for (size_t i = 0; i < len; i++) {
                h = gear_step(gear, h, p[i]);
                if (unlikely(!(h & mask)) && chunker_decide(c, h, threshold)) {
                        c->h = h;
                        return i + 1;
                }
        }
        c->h = h;
        return 0;
}

/* Lane j of a block: note a cut at index i if it is a cut and earlier than best. */
static inline void chunker_lane_candidate(struct chunker *c, uint64_t h, uint64_t threshold,
                                          size_t pos, size_t *best)
{
        if (!(h & c->mask) && pos < *best && chunker_decide(c, h, threshold))
                *best = pos;
}

/* Like chunker_find_serial, but over whole blocks of CHUNKER_LANES
 * interleaved lanes: the gear state depends on the last 64 bytes only, so
 * lane j starts from 64 bytes of warm-up and the chains run in parallel. */
static size_t chunker_find(struct chunker *c, const uint8_t *p, size_t len, uint64_t threshold)
{
        const uint64_t *gear = c->gear, mask = c->mask;
        size_t off = 0, r;

        for (; len - off >= CHUNKER_BLOCK; off += CHUNKER_BLOCK) {
                const uint8_t *q0 = p + off, *q1 = q0 + CHUNKER_LANE_BYTES,
                              *q2 = q1 + CHUNKER_LANE_BYTES, *q3 = q2 + CHUNKER_LANE_BYTES;
                uint64_t h0 = c->h, h1 = gear_warm(gear, q1 - CHUNKER_WINDOW),
                         h2 = gear_warm(gear, q2 - CHUNKER_WINDOW),
                         h3 = gear_warm(gear, q3 - CHUNKER_WINDOW);
                size_t best = SIZE_MAX;

                for (size_t i = 0; i < CHUNKER_LANE_BYTES; i++) {
                        h0 = gear_step(gear, h0, q0[i]);
                        h1 = gear_step(gear, h1, q1[i]);
                        h2 = gear_step(gear, h2, q2[i]);
                        h3 = gear_step(gear, h3, q3[i]);
                        if (unlikely(!(h0 & mask) || !(h1 & mask) || !(h2 & mask) ||
                                     !(h3 & mask))) {
                                chunker_lane_candidate(c, h0, threshold, i, &best);
                                if (best == i)
                                        return off + i + 1; /* lane 0 is the earliest */
                                chunker_lane_candidate(c, h1, threshold,
                                                       i + CHUNKER_LANE_BYTES, &best);
                                chunker_lane_candidate(c, h2, threshold,
                                                       i + 2 * CHUNKER_LANE_BYTES, &best);
                                chunker_lane_candidate(c, h3, threshold,
                                                       i + 3 * CHUNKER_LANE_BYTES, &best);
                        }
                }
                if (best != SIZE_MAX)
                        return off + best + 1;
                c->h = h3;
        }

        r = chunker_find_serial(c, p + off, len - off, threshold);
        return r ? off + r : 0;
}

size_t chunker_scan(struct chunker *c, const void *buf, size_t len)
{
        const uint8_t *p = buf;
        size_t pos = 0;

        while (pos < len) {
                size_t left = len - pos, k, seg, cut;
                uint64_t threshold;

                if (c->n < c->hash_start) {
                        /* Nothing before the last window ahead of min can cut. */
                        k = MIN(c->hash_start - c->n, left);
                        c->n += k;
                        pos += k;
                        continue;
                }
                if (c->n < c->params.min_size) {
                        const uint64_t *gear = c->gear;
                        uint64_t h = c->h;

                        k = MIN(c->params.min_size - c->n, left);
                        for (size_t i = 0; i < k; i++)
                                h = gear_step(gear, h, p[pos + i]);
                        c->h = h;
                        c->n += k;
                        pos += k;
                        continue;
                }

                if (c->n < c->params.avg_size) {
                        seg = MIN(c->params.avg_size - c->n, left);
                        threshold = c->threshold_small;
                } else {
                        seg = MIN(c->params.max_size - c->n, left);
                        threshold = c->threshold_large;
                }
                cut = chunker_find(c, p + pos, seg, threshold);
                k = cut ?: seg;
                pos += k;
                c->n += k;
                if (cut || c->n == c->params.max_size) {
                        chunker_reset(c);
                        return pos;
                }
        }
        return CHUNKER_NEED_MORE;
}

uint64_t chunker_gear_only(const struct chunker *c, const void *buf, size_t len)
{
        const uint64_t *gear = c->gear, mask = c->mask;
        const uint8_t *p = buf;
        uint64_t h0 = 0, h1 = 0, h2 = 0, h3 = 0, candidates = 0;
        size_t off = 0;

        for (; len - off >= CHUNKER_BLOCK; off += CHUNKER_BLOCK) {
                const uint8_t *q0 = p + off, *q1 = q0 + CHUNKER_LANE_BYTES,
                              *q2 = q1 + CHUNKER_LANE_BYTES, *q3 = q2 + CHUNKER_LANE_BYTES;

                h1 = gear_warm(gear, q1 - CHUNKER_WINDOW);
                h2 = gear_warm(gear, q2 - CHUNKER_WINDOW);
                h3 = gear_warm(gear, q3 - CHUNKER_WINDOW);
                for (size_t i = 0; i < CHUNKER_LANE_BYTES; i++) {
                        h0 = gear_step(gear, h0, q0[i]);
                        h1 = gear_step(gear, h1, q1[i]);
                        h2 = gear_step(gear, h2, q2[i]);
                        h3 = gear_step(gear, h3, q3[i]);
                        if (unlikely(!(h0 & mask) || !(h1 & mask) || !(h2 & mask) ||
                                     !(h3 & mask)))
                                candidates++;
                }
                h0 = h3;
        }
        for (; off < len; off++)
                h0 = gear_step(gear, h0, p[off]);
        return h0 ^ candidates;
}
