/* SPDX-License-Identifier: MIT */
/* common/check-subset.c: parsing N/T and P%, slices that cover every pack
 * exactly once, and percentages that take exactly ceil(count * P / 100). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "check-subset.h"

static struct oid make(uint32_t i)
{
        struct oid id;
        uint64_t h = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
        memset(&id, 0, sizeof(id));
        memcpy(id.bytes, &h, sizeof(h));
        memcpy(id.bytes + 8, &i, sizeof(i));
        return id;
}

Test(check_subset, parse_good)
{
        struct check_subset s;
        char buf[32];

        cr_assert_eq(check_subset_parse("1/5", &s), 0);
        cr_assert(s.kind == CHECK_SUBSET_SLICE && s.n == 1 && s.t == 5);
        check_subset_format(&s, buf, sizeof(buf));
        cr_assert_str_eq(buf, "1/5");
        cr_assert_eq(check_subset_parse("5/5", &s), 0);
        cr_assert_eq(check_subset_parse("10%", &s), 0);
        cr_assert(s.kind == CHECK_SUBSET_PERCENT && s.permille == 10000);
        check_subset_format(&s, buf, sizeof(buf));
        cr_assert_str_eq(buf, "10%");
        cr_assert_eq(check_subset_parse("2.5%", &s), 0);
        cr_assert_eq(s.permille, 2500);
        check_subset_format(&s, buf, sizeof(buf));
        cr_assert_str_eq(buf, "2.500%");
        cr_assert_eq(check_subset_parse("100%", &s), 0);
        cr_assert_eq(check_subset_parse("0.001%", &s), 0);
        cr_assert_eq(s.permille, 1);
}

Test(check_subset, parse_bad)
{
        static const char *const bad[] = { "", "0/5", "6/5", "1/0", "/5", "1/", "1/5/2", "a/5", "1/b",
                                           "0%", "101%", "100.001%", "%", "5", "-1/5", "1.2345%", "1.%",
                                           ".5%", "99999999999/1", "1/2000000", " 1/5", "10 %" };
        struct check_subset s = { .kind = CHECK_SUBSET_SLICE, .n = 7, .t = 9 };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_lt(check_subset_parse(bad[i], &s), 0, "\"%s\" accepted", bad[i]);
        cr_assert(s.kind == CHECK_SUBSET_SLICE && s.n == 7 && s.t == 9, "untouched on failure");
}

Test(check_subset, slices_cover_every_pack_once)
{
        enum { PACKS = 5000 };
        static unsigned hits[PACKS];

        for (uint32_t t = 1; t <= 13; t++) {
                memset(hits, 0, sizeof(hits));
                for (uint32_t n = 1; n <= t; n++) {
                        struct check_subset s = { .kind = CHECK_SUBSET_SLICE, .n = n, .t = t };
                        struct check_sample st;
                        unsigned taken = 0;

                        check_sample_init(&st, &s, PACKS);
                        for (uint32_t i = 0; i < PACKS; i++) {
                                struct oid id = make(i);
                                if (check_subset_take(&s, &st, &id, 0)) {
                                        hits[i]++;
                                        taken++;
                                }
                        }
                        /* roughly even: no slice is empty or holds twice its share */
                        cr_assert(taken > PACKS / t / 2 && taken < 2 * PACKS / t + 1, "t=%u n=%u took %u", t,
                                  n, taken);
                }
                for (uint32_t i = 0; i < PACKS; i++)
                        cr_assert_eq(hits[i], 1, "t=%u: pack %u read %u times", t, i, hits[i]);
        }
}

Test(check_subset, slice_depends_on_the_id_alone)
{
        struct oid id = make(42);
        uint32_t slice = check_subset_slice_of(&id, 7);

        cr_assert(slice >= 1 && slice <= 7);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(check_subset_slice_of(&id, 7), slice);
}

Test(check_subset, percent_takes_exactly_the_share)
{
        static const struct {
                const char *spec;
                uint64_t count, want;
        } cases[] = { { "10%", 1000, 100 }, { "10%", 7, 1 }, { "50%", 3, 2 }, { "100%", 17, 17 },
                      { "0.001%", 5, 1 },  { "33.3%", 1000, 333 }, { "1%", 0, 0 } };
        uint64_t rng = 88172645463325252ull;

        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                struct check_subset s;
                struct check_sample st;
                uint64_t taken = 0;

                cr_assert_eq(check_subset_parse(cases[c].spec, &s), 0);
                check_sample_init(&st, &s, cases[c].count);
                for (uint64_t i = 0; i < cases[c].count; i++) {
                        struct oid id = make((uint32_t)i);
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        taken += check_subset_take(&s, &st, &id, rng);
                }
                cr_assert_eq(taken, cases[c].want, "%s of %llu took %llu", cases[c].spec,
                             (unsigned long long)cases[c].count, (unsigned long long)taken);
        }
}

Test(check_subset, all_takes_everything)
{
        struct check_subset s = { 0 };
        struct check_sample st;
        struct oid id = make(1);

        check_sample_init(&st, &s, 3);
        cr_assert(check_subset_take(&s, &st, &id, 0));
        cr_assert(check_subset_take(&s, &st, &id, 12345));
}
