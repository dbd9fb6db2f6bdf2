/* SPDX-License-Identifier: MIT */
/* Tests for common/parse.c: sizes, durations and booleans as written by
 * people, including overflow, signs and trailing junk, and the formatters. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "parse.h"

static uint64_t size_ok(const char *s)
{
        uint64_t v = 0;
        int r = parse_size(s, &v);
        cr_assert_eq(r, 0, "parse_size(\"%s\") = %d", s, r);
        return v;
}

static void size_fails(const char *s, int error)
{
        uint64_t v = 12345;
        int r = parse_size(s, &v);
        cr_assert_eq(r, error, "parse_size(\"%s\") = %d, expected %d", s, r, error);
        cr_assert_eq(v, 12345, "parse_size(\"%s\") touched ret on failure", s);
}

static uint64_t duration_ok(const char *s)
{
        uint64_t v = 0;
        int r = parse_duration_ns(s, &v);
        cr_assert_eq(r, 0, "parse_duration_ns(\"%s\") = %d", s, r);
        return v;
}

static void duration_fails(const char *s, int error)
{
        uint64_t v = 12345;
        int r = parse_duration_ns(s, &v);
        cr_assert_eq(r, error, "parse_duration_ns(\"%s\") = %d, expected %d", s, r, error);
        cr_assert_eq(v, 12345);
}

Test(parse_size, plain_and_suffixes)
{
        cr_assert_eq(size_ok("0"), 0);
        cr_assert_eq(size_ok("4096"), 4096);
        cr_assert_eq(size_ok("10B"), 10);
        cr_assert_eq(size_ok("1K"), 1024);
        cr_assert_eq(size_ok("1k"), 1024);
        cr_assert_eq(size_ok("64KiB"), 64 * 1024);
        cr_assert_eq(size_ok("3M"), 3 * 1024 * 1024);
        cr_assert_eq(size_ok("3mb"), 3 * 1024 * 1024);
        cr_assert_eq(size_ok("2G"), UINT64_C(2) << 30);
        cr_assert_eq(size_ok("2 GiB"), UINT64_C(2) << 30);
        cr_assert_eq(size_ok("5T"), UINT64_C(5) << 40);
        cr_assert_eq(size_ok("5tib"), UINT64_C(5) << 40);
        cr_assert_eq(size_ok("  7K  "), 7 * 1024);
        cr_assert_eq(size_ok("1.5G"), UINT64_C(3) << 29);
        cr_assert_eq(size_ok("0.5K"), 512);
        cr_assert_eq(size_ok("1.0"), 1);
}

Test(parse_size, limits_and_overflow)
{
        cr_assert_eq(size_ok("18446744073709551615"), UINT64_MAX);
        size_fails("18446744073709551616", -ERANGE);
        size_fails("99999999999999999999999", -ERANGE);
        cr_assert_eq(size_ok("16777215T"), UINT64_C(16777215) << 40);
        size_fails("16777216T", -ERANGE);
        size_fails("17179869184G", -ERANGE);
}

Test(parse_size, junk)
{
        size_fails("", -EINVAL);
        size_fails("   ", -EINVAL);
        size_fails("K", -EINVAL);
        size_fails("-1", -EINVAL);
        size_fails("+1", -EINVAL);
        size_fails("1X", -EINVAL);
        size_fails("1KK", -EINVAL);
        size_fails("1 K B", -EINVAL);
        size_fails("1e3", -EINVAL);
        size_fails("0x10", -EINVAL);
        size_fails("1.", -EINVAL);
        size_fails(".5K", -EINVAL);
        size_fails("1.5", -EINVAL);  /* half a byte */
        size_fails("1.5B", -EINVAL);
        size_fails("12 34", -EINVAL);
        size_fails(NULL, -EINVAL);
}

Test(parse_duration, units)
{
        cr_assert_eq(duration_ok("0"), 0);
        cr_assert_eq(duration_ok("30"), 30 * NSEC_PER_SEC);
        cr_assert_eq(duration_ok("2s"), 2 * NSEC_PER_SEC);
        cr_assert_eq(duration_ok("1.5s"), 1500 * NSEC_PER_MSEC);
        cr_assert_eq(duration_ok("250ms"), 250 * NSEC_PER_MSEC);
        cr_assert_eq(duration_ok("10us"), 10 * NSEC_PER_USEC);
        cr_assert_eq(duration_ok("7ns"), 7);
        cr_assert_eq(duration_ok("10m"), 600 * NSEC_PER_SEC);
        cr_assert_eq(duration_ok("10min"), 600 * NSEC_PER_SEC);
        cr_assert_eq(duration_ok("1h"), 3600 * NSEC_PER_SEC);
        cr_assert_eq(duration_ok("0.5h"), 1800 * NSEC_PER_SEC);
        cr_assert_eq(duration_ok("7d"), 7 * 86400 * NSEC_PER_SEC);
        cr_assert_eq(duration_ok(" 60 s "), 60 * NSEC_PER_SEC);
        cr_assert_eq(duration_ok("0.001s"), NSEC_PER_MSEC);
        cr_assert_eq(duration_ok("1.000000001s"), NSEC_PER_SEC + 1);
}

Test(parse_duration, overflow_and_junk)
{
        /* 2^64 ns is about 213503 days. */
        cr_assert_eq(duration_ok("213503d"), 213503 * NSEC_PER_DAY);
        duration_fails("213504d", -ERANGE);
        duration_fails("18446744074s", -ERANGE);
        duration_fails("99999999999999999999999", -ERANGE);
        duration_fails("", -EINVAL);
        duration_fails("s", -EINVAL);
        duration_fails("2 parsecs", -EINVAL);
        duration_fails("-1s", -EINVAL);
        duration_fails("1.5ns", -EINVAL);
        duration_fails("1h30m", -EINVAL);
        duration_fails("1.s", -EINVAL);
        duration_fails("1w", -EINVAL);
}

Test(parse_bool, words)
{
        const char *yes[] = { "1", "yes", "YES", "true", "True", "on", "ON" };
        const char *no[] = { "0", "no", "No", "false", "FALSE", "off", "Off" };
        const char *junk[] = { "", "2", "y", "n", "yess", "of", "enable", " yes" };

        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
                cr_assert_eq(parse_bool(yes[i]), 1, "%s", yes[i]);
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
                cr_assert_eq(parse_bool(no[i]), 0, "%s", no[i]);
        for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
                cr_assert_eq(parse_bool(junk[i]), -EINVAL, "%s", junk[i]);
        cr_assert_eq(parse_bool(NULL), -EINVAL);
}

Test(format_size, human)
{
        char buf[FORMAT_SIZE_MAX];

        cr_assert_str_eq(format_size(0, buf), "0 B");
        cr_assert_str_eq(format_size(1023, buf), "1023 B");
        cr_assert_str_eq(format_size(1024, buf), "1 KiB");
        cr_assert_str_eq(format_size(1536, buf), "1.5 KiB");
        cr_assert_str_eq(format_size(UINT64_C(3) << 29, buf), "1.5 GiB");
        cr_assert_str_eq(format_size(UINT64_C(1) << 40, buf), "1 TiB");
        /* 1023.99 KiB rounds to 1024.0: shown as 1 MiB, never "1024 KiB". */
        cr_assert_str_eq(format_size(1024 * 1024 - 1, buf), "1 MiB");
        cr_assert_str_eq(format_size(UINT64_MAX, buf), "16 EiB");
}

Test(format_duration, human_and_parsable)
{
        char buf[FORMAT_DURATION_MAX];
        uint64_t v;

        cr_assert_str_eq(format_duration_ns(0, buf), "0");
        cr_assert_str_eq(format_duration_ns(7, buf), "7ns");
        cr_assert_str_eq(format_duration_ns(250 * NSEC_PER_MSEC, buf), "250ms");
        cr_assert_str_eq(format_duration_ns(1500 * NSEC_PER_MSEC, buf), "1.5s");
        cr_assert_str_eq(format_duration_ns(2 * NSEC_PER_SEC, buf), "2s");
        cr_assert_str_eq(format_duration_ns(60 * NSEC_PER_SEC, buf), "1m");
        cr_assert_str_eq(format_duration_ns(NSEC_PER_HOUR, buf), "1h");
        cr_assert_str_eq(format_duration_ns(36 * NSEC_PER_HOUR, buf), "1.5d");
        cr_assert_str_eq(format_duration_ns(UINT64_MAX, buf), "213504d");

        const uint64_t samples[] = { 1, 999, 1500 * NSEC_PER_MSEC, 90 * NSEC_PER_SEC, NSEC_PER_DAY };
        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
                format_duration_ns(samples[i], buf);
                cr_assert_eq(parse_duration_ns(buf, &v), 0, "%s does not parse back", buf);
                cr_assert_eq(v, samples[i], "%s parsed back as %llu", buf, (unsigned long long)v);
        }
}

Test(format, rate)
{
        char buf[FORMAT_RATE_MAX];

        cr_assert_str_eq(format_rate(0, buf), "none", "0 is no limit");
        cr_assert_str_eq(format_rate(2 * 1024 * 1024, buf), "2 MiB/s");
        cr_assert_str_eq(format_rate(512 * 1024, buf), "512 KiB/s");
        cr_assert_str_eq(format_rate(UINT64_MAX, buf), "16 EiB/s", "the longest fits");
}
