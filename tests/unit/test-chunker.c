/* SPDX-License-Identifier: MIT */
/* Tests for common/chunker: size bounds and mean, streaming equivalence,
 * resistance to shifted content, and keying of the cut decision. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunker.h"
#include "cleanup.h"
#include "crypto.h"

#define MIB ((size_t)1024 * 1024)

static const uint8_t key_a[CHUNKER_KEY_SIZE] = "chute-test-key-A";
static const uint8_t key_b[CHUNKER_KEY_SIZE] = "chute-test-key-B";

/* xoshiro256**: fast, reproducible test data. */
struct rng {
        uint64_t s[4];
};

static uint64_t rotl(uint64_t x, int k)
{
        return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
        uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

static void rng_seed(struct rng *r, uint64_t seed)
{
        for (int i = 0; i < 4; i++) {
                uint64_t z = (seed += UINT64_C(0x9e3779b97f4a7c15));

                z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
                z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
                r->s[i] = z ^ (z >> 31);
        }
}

static uint8_t *random_data(size_t len, uint64_t seed)
{
        struct rng r;
        uint8_t *p = malloc(len);

        cr_assert_not_null(p);
        rng_seed(&r, seed);
        for (size_t i = 0; i < len; i += 8) {
                uint64_t v = rng_next(&r);

                memcpy(p + i, &v, MIN(8, len - i));
        }
        return p;
}

/* Chunk data[len] and return the chunk end offsets (the last is len). Feed
 * it in pieces of random size up to max_piece when max_piece > 0. */
static size_t *cuts_of(const uint8_t key[CHUNKER_KEY_SIZE], const struct chunker_params *p,
                       const uint8_t *data, size_t len, size_t max_piece, size_t *ret_n)
{
        struct chunker *c = NULL;
        struct rng r;
        size_t cap = 16, n = 0, *cuts = malloc(cap * sizeof(*cuts)), pos = 0;

        cr_assert_not_null(cuts);
        cr_assert_eq(chunker_new(key, p, &c), 0);
        rng_seed(&r, 42);
        while (pos < len) {
                size_t piece = len - pos, k;

                if (max_piece)
                        piece = MIN(piece, 1 + rng_next(&r) % max_piece);
                /* Consume this piece, cutting as often as the chunker says. */
                while (piece > 0) {
                        k = chunker_scan(c, data + pos, piece);
                        if (k == CHUNKER_NEED_MORE) {
                                pos += piece;
                                break;
                        }
                        cr_assert(k >= 1 && k <= piece, "cut offset %zu outside 1..%zu", k, piece);
                        pos += k;
                        piece -= k;
                        if (n == cap) {
                                cap *= 2;
                                cuts = realloc(cuts, cap * sizeof(*cuts));
                                cr_assert_not_null(cuts);
                        }
                        cuts[n++] = pos;
                }
        }
        if (n == 0 || cuts[n - 1] != len) {
                if (n == cap)
                        cuts = realloc(cuts, ++cap * sizeof(*cuts));
                cuts[n++] = len; /* the tail at EOF */
        }
        chunker_free(c);
        *ret_n = n;
        return cuts;
}

static void assert_bounds(const struct chunker_params *p, const size_t *cuts, size_t n)
{
        size_t prev = 0;

        for (size_t i = 0; i < n; i++) {
                size_t size = cuts[i] - prev;

                cr_assert(size <= p->max_size, "chunk %zu is %zu bytes, above max", i, size);
                if (i + 1 < n)
                        cr_assert(size >= p->min_size, "chunk %zu is %zu bytes, below min", i,
                                  size);
                prev = cuts[i];
        }
}

Test(chunker, rejects_bad_params)
{
        struct chunker *c = NULL;
        struct chunker_params p = { 1024, 1024, 8192 };

        cr_assert_eq(chunker_new(key_a, &p, &c), -EINVAL);
        p = (struct chunker_params){ 32, 1024, 8192 };
        cr_assert_eq(chunker_new(key_a, &p, &c), -EINVAL);
        p = (struct chunker_params){ 1024, 8192, 8192 };
        cr_assert_eq(chunker_new(key_a, &p, &c), -EINVAL);
        cr_assert_null(c);
        cr_assert_eq(chunker_new(key_a, NULL, &c), 0);
        cr_assert_eq(chunker_get_params(c)->avg_size, 1024 * 1024);
        chunker_free(c);
        chunker_free(NULL);
}

Test(chunker, sizes_and_mean_on_256_mib, .timeout = 120)
{
        struct chunker_params p = CHUNKER_PARAMS_DEFAULT;
        size_t len = 256 * MIB, n, *cuts;
        uint8_t *data = random_data(len, 1);
        double mean;

        cuts = cuts_of(key_a, &p, data, len, 0, &n);
        assert_bounds(&p, cuts, n);
        mean = (double)len / (double)n;
        cr_assert(mean > 0.8 * MIB && mean < 1.2 * MIB, "mean chunk size %.0f", mean);
        free(cuts);
        free(data);
}

Test(chunker, small_params_and_zeros)
{
        struct chunker_params p = { 2048, 8192, 32768 };
        size_t len = 8 * MIB, n, *cuts;
        uint8_t *data = random_data(len, 2);
        double mean;

        cuts = cuts_of(key_a, &p, data, len, 0, &n);
        assert_bounds(&p, cuts, n);
        mean = (double)len / (double)n;
        cr_assert(mean > 0.8 * 8192 && mean < 1.2 * 8192, "mean chunk size %.0f", mean);
        free(cuts);

        /* No candidates at all in constant data: every chunk is max sized. */
        memset(data, 0, len);
        cuts = cuts_of(key_a, &p, data, len, 0, &n);
        assert_bounds(&p, cuts, n);
        free(cuts);
        free(data);
}

Test(chunker, short_file_is_one_chunk)
{
        struct chunker *c = NULL;
        uint8_t *data = random_data(200 * 1024, 3);

        cr_assert_eq(chunker_new(key_a, NULL, &c), 0);
        cr_assert_eq(chunker_scan(c, data, 200 * 1024), CHUNKER_NEED_MORE);
        cr_assert_eq(chunker_scan(c, data, 0), CHUNKER_NEED_MORE);
        chunker_free(c);
        free(data);
}

Test(chunker, pieces_give_the_same_cuts, .timeout = 60)
{
        struct chunker_params small = { 4096, 16384, 65536 };
        size_t len = 48 * MIB, n1, n2, *c1, *c2;
        uint8_t *data = random_data(len, 4);
        size_t pieces[] = { 1, 100, 5000, 70000, 3 * MIB };

        c1 = cuts_of(key_a, NULL, data, len, 0, &n1);
        cr_assert_gt(n1, 20);
        for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
                /* Byte-sized pieces are slow: only on a prefix. */
                size_t l = pieces[i] < 1000 ? 6 * MIB : len, m = 0;

                c2 = cuts_of(key_a, NULL, data, l, pieces[i], &n2);
                while (m < n1 && c1[m] < l)
                        m++;
                cr_assert_eq(n2, m + 1, "piece %zu: %zu chunks, expected %zu", pieces[i], n2,
                             m + 1);
                cr_assert_arr_eq(c2, c1, m * sizeof(*c1), "piece %zu: cuts differ", pieces[i]);
                free(c2);
        }
        free(c1);

        /* Small chunks exercise many region switches inside one buffer. */
        c1 = cuts_of(key_a, &small, data, 8 * MIB, 0, &n1);
        c2 = cuts_of(key_a, &small, data, 8 * MIB, 777, &n2);
        cr_assert_eq(n1, n2);
        cr_assert_arr_eq(c1, c2, n1 * sizeof(*c1));
        free(c1);
        free(c2);
        free(data);
}

static int cmp_digest(const void *a, const void *b)
{
        return memcmp(a, b, CRYPTO_SHA256_SIZE);
}

/* SHA-256 of each chunk, sorted. */
static uint8_t (*chunk_ids(const uint8_t *data, size_t len, size_t *ret_n))[CRYPTO_SHA256_SIZE]
{
        size_t n, *cuts = cuts_of(key_a, NULL, data, len, 0, &n), prev = 0;
        uint8_t(*ids)[CRYPTO_SHA256_SIZE] = calloc(n, CRYPTO_SHA256_SIZE);

        cr_assert_not_null(ids);
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(crypto_sha256(data + prev, cuts[i] - prev, ids[i]), 0);
                prev = cuts[i];
        }
        qsort(ids, n, CRYPTO_SHA256_SIZE, cmp_digest);
        free(cuts);
        *ret_n = n;
        return ids;
}

Test(chunker, insertion_changes_few_chunks, .timeout = 60)
{
        size_t len = 64 * MIB, n1, n2, changed = 0;
        uint8_t *data = random_data(len + 100, 5), (*a)[CRYPTO_SHA256_SIZE], (*b)[CRYPTO_SHA256_SIZE];

        /* data + 100 is the original file, data the one with 100 bytes inserted in front. */
        a = chunk_ids(data + 100, len, &n1);
        b = chunk_ids(data, len + 100, &n2);
        cr_assert_gt(n1, 30);
        for (size_t i = 0; i < n2; i++)
                if (!bsearch(b[i], a, n1, CRYPTO_SHA256_SIZE, cmp_digest))
                        changed++;
        cr_assert_leq(changed, 2, "%zu of %zu chunks changed", changed, n2);
        cr_assert_geq(changed, 1);
        free(a);
        free(b);
        free(data);
}

Test(chunker, cuts_depend_on_the_key, .timeout = 60)
{
        size_t len = 32 * MIB, na, na2, nb, same = 0;
        uint8_t *data = random_data(len, 6);
        size_t *a = cuts_of(key_a, NULL, data, len, 0, &na);
        size_t *a2 = cuts_of(key_a, NULL, data, len, 0, &na2);
        size_t *b = cuts_of(key_b, NULL, data, len, 0, &nb);

        cr_assert_eq(na, na2);
        cr_assert_arr_eq(a, a2, na * sizeof(*a), "same key, different cuts");
        for (size_t i = 0, j = 0; i + 1 < na && j + 1 < nb;) {
                if (a[i] == b[j]) {
                        same++;
                        i++;
                        j++;
                } else if (a[i] < b[j])
                        i++;
                else
                        j++;
        }
        cr_assert_neq(a[0], b[0], "first cut the same under both keys");
        cr_assert_lt(same, na / 4, "%zu of %zu cuts shared between keys", same, na);
        free(a);
        free(a2);
        free(b);
        free(data);
}

Test(chunker, reset_starts_a_new_chunk)
{
        struct chunker_params p = { 2048, 8192, 32768 };
        struct chunker *c = NULL;
        uint8_t *data = random_data(MIB, 7);
        size_t first, again;

        cr_assert_eq(chunker_new(key_a, &p, &c), 0);
        first = chunker_scan(c, data, MIB);
        cr_assert_neq(first, CHUNKER_NEED_MORE);
        chunker_reset(c);
        cr_assert_eq(chunker_scan(c, data, 1000), CHUNKER_NEED_MORE);
        chunker_reset(c);
        again = chunker_scan(c, data, MIB);
        cr_assert_eq(first, again);
        chunker_free(c);
        free(data);
}
