/* SPDX-License-Identifier: MIT */
/* Tests for common/bloom.c: no false negatives over millions of ids, the
 * false-positive rate measured at several fillings stays under 1 %, the
 * filter grows in stages (small while empty, a few MiB at a million ids),
 * and reset empties it. Ids are uniform, as keyed hashes are. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "bloom.h"

/* splitmix64: uniform ids from a seed, reproducible. */
static uint64_t next(uint64_t *s)
{
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static struct oid id_of(uint64_t seed, uint64_t n)
{
        struct oid id;
        uint64_t s = seed * UINT64_C(0x100000001b3) + n * 4;
        for (size_t i = 0; i < 4; i++) {
                uint64_t w = next(&s);
                memcpy(id.bytes + 8 * i, &w, sizeof(w));
        }
        return id;
}

static void add_range(struct bloom *b, uint64_t from, uint64_t to)
{
        for (uint64_t i = from; i < to; i++) {
                struct oid id = id_of(1, i);
                cr_assert_geq(bloom_add(b, &id), 0);
        }
}

/* The fraction of n ids never added that the filter says it may have. */
static double fp_rate(const struct bloom *b, uint64_t n)
{
        uint64_t fp = 0;
        for (uint64_t i = 0; i < n; i++) {
                struct oid id = id_of(2, i);
                fp += bloom_maybe_has(b, &id);
        }
        return (double)fp / (double)n;
}

Test(bloom, no_false_negatives_over_millions_of_ids, .timeout = 120)
{
        struct bloom b;
        bloom_init(&b);
        add_range(&b, 0, 4000000);
        for (uint64_t i = 0; i < 4000000; i++) {
                struct oid id = id_of(1, i);
                cr_assert(bloom_maybe_has(&b, &id), "id %llu added but not found", (unsigned long long)i);
        }
        /* adding again adds nothing (each is maybe present) */
        struct oid again = id_of(1, 12345);
        cr_assert_eq(bloom_add(&b, &again), 0);
        cr_assert_leq(b.n, 4000000);
        cr_assert_geq(b.n, 4000000 - 4000000 / 100, "nearly every id was new to the filter");
        bloom_done(&b);
}

Test(bloom, false_positives_stay_under_one_percent, .timeout = 120)
{
        static const uint64_t fillings[] = { 1000, 65536, 65537, 200000, 1000000, 1048576 * 2 - 65536,
                                             3000000 };
        struct bloom b;
        uint64_t have = 0;

        bloom_init(&b);
        for (size_t i = 0; i < sizeof(fillings) / sizeof(fillings[0]); i++) {
                add_range(&b, have, fillings[i]);
                have = fillings[i];
                double rate = fp_rate(&b, 400000);
                cr_log_info("%llu ids: %.4f %% false positives, %zu stages, %zu KiB",
                            (unsigned long long)have, rate * 100, b.n_stages, bloom_memory(&b) / 1024);
                cr_assert_lt(rate, 0.01, "%llu ids: %.4f %% false positives", (unsigned long long)have,
                             rate * 100);
        }
        /* it is a filter, not a set: some ids never added are reported */
        cr_assert_gt(fp_rate(&b, 400000), 0.0005);
        bloom_done(&b);
}

Test(bloom, grows_in_stages_from_small)
{
        struct bloom b;
        bloom_init(&b);
        cr_assert_eq(bloom_memory(&b), 0);
        struct oid one = id_of(3, 0);
        cr_assert(!bloom_maybe_has(&b, &one));
        cr_assert_eq(bloom_add(&b, &one), 1);
        cr_assert(bloom_maybe_has(&b, &one));
        size_t first = bloom_memory(&b);
        cr_assert_eq(b.n_stages, 1);
        cr_assert_leq(first, 128 * 1024, "an almost empty filter costs little (%zu bytes)", first);

        add_range(&b, 0, 1000000);
        size_t at_million = bloom_memory(&b);
        cr_log_info("1,000,000 ids: %zu stages, %zu bytes", b.n_stages, at_million);
        cr_assert_eq(b.n_stages, 5, "64 Ki, 128 Ki, 256 Ki, 512 Ki, 1 Mi");
        cr_assert_leq(at_million, 5 * 1024 * 1024, "%zu bytes at a million ids", at_million);

        bloom_reset(&b);
        cr_assert_eq(bloom_memory(&b), 0);
        cr_assert_eq(b.n, 0);
        cr_assert(!bloom_maybe_has(&b, &one));
        cr_assert_eq(bloom_add(&b, &one), 1);
        cr_assert(bloom_maybe_has(&b, &one));
        bloom_done(&b);
}
