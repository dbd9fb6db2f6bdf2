/* SPDX-License-Identifier: MIT */
/* Tests for common/retention.c: exact counts per rule on synthetic
 * histories (every 10 s for 3 days, hourly for 2 years, daily for 3 years),
 * the newest always kept, unlimited counts, refused policies, and local-time
 * buckets across DST changes and week boundaries (TZ set per test). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retention.h"

#define SEC INT64_C(1000000000)
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

static void set_tz(const char *tz)
{
        setenv("TZ", tz, 1);
        tzset();
}

/* n snapshots start_s, start_s + step, ... with ids numbered from 1. */
static struct retention_snapshot *history(int64_t start_s, int64_t step_ns, size_t n)
{
        struct retention_snapshot *s = calloc(n, sizeof(*s));
        cr_assert_not_null(s);
        for (size_t i = 0; i < n; i++) {
                s[i].time_ns = start_s * SEC + (int64_t)i * step_ns;
                memcpy(s[i].id.bytes, &i, sizeof(i));
                s[i].reasons = 0xdead; /* must be overwritten */
        }
        return s;
}

static size_t count_reason(const struct retention_snapshot *s, size_t n, unsigned reason)
{
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
                c += (s[i].reasons & reason) != 0;
        return c;
}

static size_t count_kept(const struct retention_snapshot *s, size_t n)
{
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
                c += s[i].reasons != 0;
        return c;
}

Test(retention, default_policy_every_10s_for_3_days)
{
        set_tz("UTC");
        size_t n = 3 * 8640;
        struct retention_snapshot *s = history(1772409600 /* Mon 2026-03-02 */, 10 * SEC, n);
        struct retention_policy p;
        retention_policy_default(&p);

        int r = retention_select(&p, s[n - 1].time_ns, s, n);
        cr_assert_eq(r, (int)(n - 408), "forgot %d", r);
        cr_assert_eq(count_kept(s, n), 408);
        cr_assert_eq(count_reason(s, n, RETENTION_WITHIN), 361); /* the last hour, both ends */
        cr_assert_eq(count_reason(s, n, RETENTION_HOURLY), 48);
        cr_assert_eq(count_reason(s, n, RETENTION_DAILY), 3);
        cr_assert_eq(count_reason(s, n, RETENTION_WEEKLY), 1);
        cr_assert_eq(count_reason(s, n, RETENTION_MONTHLY), 1);
        cr_assert_eq(count_reason(s, n, RETENTION_YEARLY), 0);
        cr_assert_eq(count_reason(s, n, RETENTION_NEWEST), 1);
        cr_assert(s[n - 1].reasons & RETENTION_NEWEST);
        /* hourly keeps the newest of the hour (xx:59:50), not the first */
        cr_assert(s[n - 1 - 360 - 360].reasons & RETENTION_HOURLY);
        cr_assert_eq(s[n - 1 - 360 - 361].reasons, 0);
        /* the oldest day is kept only by its last snapshot (daily) */
        cr_assert_eq(s[8639].reasons, RETENTION_DAILY);
        cr_assert_eq(count_kept(s, 8640), 1);
        free(s);
}

Test(retention, default_policy_hourly_for_2_years)
{
        set_tz("UTC");
        size_t n = 731 * 24; /* 2024 (leap) and 2025 */
        struct retention_snapshot *s = history(1704067200 /* 2024-01-01 */, HOUR, n);
        struct retention_policy p;
        retention_policy_default(&p);

        int r = retention_select(&p, s[n - 1].time_ns, s, n);
        cr_assert_eq(r, (int)(n - 144), "forgot %d", r);
        cr_assert_eq(count_reason(s, n, RETENTION_WITHIN), 2);
        cr_assert_eq(count_reason(s, n, RETENTION_HOURLY), 48);
        cr_assert_eq(count_reason(s, n, RETENTION_DAILY), 30);
        cr_assert_eq(count_reason(s, n, RETENTION_WEEKLY), 52);
        cr_assert_eq(count_reason(s, n, RETENTION_MONTHLY), 24); /* unlimited: every month */
        cr_assert(s[n - 1].reasons & RETENTION_NEWEST);
        /* the first month is kept by its last snapshot, 2024-01-31 23:00 */
        cr_assert_eq(s[31 * 24 - 1].reasons, RETENTION_MONTHLY);
        cr_assert_eq(count_kept(s, 31 * 24), 1);
        free(s);
}

Test(retention, monthly_and_unlimited_yearly)
{
        set_tz("UTC");
        size_t n = 3 * 365 + 1; /* 2020-01-01 .. 2022-12-31, daily */
        struct retention_snapshot *s = history(1577836800, DAY, n);
        struct retention_policy p = { .keep_monthly = 5, .keep_yearly = RETENTION_UNLIMITED };

        int r = retention_select(&p, s[n - 1].time_ns, s, n);
        cr_assert_eq(r, (int)(n - 7));
        cr_assert_eq(count_reason(s, n, RETENTION_MONTHLY), 5);
        cr_assert_eq(count_reason(s, n, RETENTION_YEARLY), 3);
        cr_assert_eq(s[365].reasons, RETENTION_YEARLY); /* 2020-12-31 (leap year) */
        cr_assert_eq(s[0].reasons, 0);
        free(s);
}

Test(retention, keep_last_and_unlimited)
{
        set_tz("UTC");
        size_t n = 3 * 8640;
        struct retention_snapshot *s = history(1772409600, 10 * SEC, n);
        struct retention_policy p = { .keep_last = 3 };

        cr_assert_eq(retention_select(&p, s[n - 1].time_ns, s, n), (int)(n - 3));
        cr_assert_eq(count_reason(s, n, RETENTION_LAST), 3);
        for (size_t i = n - 3; i < n; i++)
                cr_assert(s[i].reasons & RETENTION_LAST);

        p = (struct retention_policy){ .keep_hourly = RETENTION_UNLIMITED };
        cr_assert_eq(retention_select(&p, s[n - 1].time_ns, s, n), (int)(n - 72));
        p = (struct retention_policy){ .keep_daily = RETENTION_UNLIMITED };
        cr_assert_eq(retention_select(&p, s[n - 1].time_ns, s, n), (int)(n - 3));
        p = (struct retention_policy){ .keep_last = RETENTION_UNLIMITED };
        cr_assert_eq(retention_select(&p, s[n - 1].time_ns, s, n), 0);
        cr_assert_eq(count_kept(s, n), n);
        free(s);
}

Test(retention, newest_always_kept)
{
        set_tz("UTC");
        size_t n = 100;
        struct retention_snapshot *s = history(1772409600, MINUTE, n);
        struct retention_policy p = { .keep_within_ns = HOUR };

        /* now is a day after the newest: nothing is within, the newest stays */
        cr_assert_eq(retention_select(&p, s[n - 1].time_ns + DAY, s, n), (int)(n - 1));
        cr_assert_eq(s[n - 1].reasons, RETENTION_NEWEST);
        cr_assert_eq(count_kept(s, n), 1);
        free(s);
}

Test(retention, within_counts_from_now)
{
        set_tz("UTC");
        size_t n = 120;
        struct retention_snapshot *s = history(1772409600, MINUTE, n);
        struct retention_policy p = { .keep_within_ns = HOUR };

        /* now = 30 min after the newest: the newest 31 are within the hour */
        cr_assert_eq(retention_select(&p, s[n - 1].time_ns + 30 * MINUTE, s, n), (int)(n - 31));
        cr_assert_eq(count_reason(s, n, RETENTION_WITHIN), 31);
        free(s);
}

Test(retention, input_order_does_not_matter)
{
        set_tz("UTC");
        size_t n = 50;
        struct retention_snapshot *s = history(1772409600, 17 * MINUTE, n);
        /* reverse the array */
        for (size_t i = 0; i < n / 2; i++) {
                struct retention_snapshot t = s[i];
                s[i] = s[n - 1 - i];
                s[n - 1 - i] = t;
        }
        struct retention_policy p = { .keep_last = 2 };
        cr_assert_eq(retention_select(&p, 0, s, n), (int)(n - 2));
        cr_assert_eq(s[0].reasons, RETENTION_NEWEST | RETENTION_LAST);
        cr_assert_eq(s[1].reasons, RETENTION_LAST);
        free(s);
}

Test(retention, refused_policies)
{
        struct retention_snapshot s[1] = { { .time_ns = 1 } };
        struct retention_policy p = { 0 };

        cr_assert_eq(retention_policy_check(&p), -EINVAL);
        cr_assert_eq(retention_select(&p, 0, s, 1), -EINVAL);
        p.keep_daily = -2;
        cr_assert_eq(retention_select(&p, 0, s, 1), -EINVAL);
        p = (struct retention_policy){ .keep_within_ns = -1 };
        cr_assert_eq(retention_policy_check(&p), -EINVAL);
        p = (struct retention_policy){ .keep_yearly = 1 };
        cr_assert_eq(retention_policy_check(&p), 0);
        cr_assert_eq(retention_select(&p, 0, s, 0), 0);
        retention_policy_default(&p);
        cr_assert_eq(retention_policy_check(&p), 0);
}

/* Fall back in Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET, so the
 * local hour 02 happens twice and makes one bucket. */
Test(retention, dst_fall_back_merges_one_local_hour)
{
        set_tz("Europe/Berlin");
        size_t n = 7 * 6; /* every 10 min, 21:00 UTC (23:00 CEST) .. 03:50 UTC */
        struct retention_snapshot *s = history(1792875600, 10 * MINUTE, n);
        struct retention_policy p = { .keep_hourly = RETENTION_UNLIMITED };

        /* 7 real hours, 6 local hours: 23, 00, 01, 02 (twice), 03, 04 */
        cr_assert_eq(retention_select(&p, 0, s, n), (int)(n - 6));
        cr_assert_eq(s[3 * 6 + 5].reasons & RETENTION_HOURLY, 0);    /* 00:50 UTC = 02:50 CEST */
        cr_assert_neq(s[4 * 6 + 5].reasons & RETENTION_HOURLY, 0);   /* 01:50 UTC = 02:50 CET */

        /* local days: 23:00-23:50 CEST is Oct 24, the rest Oct 25 */
        p = (struct retention_policy){ .keep_daily = RETENTION_UNLIMITED };
        cr_assert_eq(retention_select(&p, 0, s, n), (int)(n - 2));
        cr_assert_neq(s[5].reasons & RETENTION_DAILY, 0);  /* 21:50 UTC = 23:50 local, Oct 24 */
        cr_assert_eq(s[17].reasons & RETENTION_DAILY, 0);  /* 23:50 UTC: Oct 25 local */

        set_tz("UTC"); /* the same history in UTC: 21-23 is Oct 24 */
        cr_assert_eq(retention_select(&p, 0, s, n), (int)(n - 2));
        cr_assert_eq(s[5].reasons & RETENTION_DAILY, 0);
        cr_assert_neq(s[17].reasons & RETENTION_DAILY, 0);
        free(s);
}

/* Spring forward in Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST; the
 * local hour 02 never happens, and no real hour is lost or merged. */
Test(retention, dst_spring_forward_skips_one_local_hour)
{
        set_tz("Europe/Berlin");
        size_t n = 5 * 6; /* 23:00 UTC (00:00 CET) .. 03:50 UTC (05:50 CEST) */
        struct retention_snapshot *s = history(1774738800, 10 * MINUTE, n);
        struct retention_policy p = { .keep_hourly = RETENTION_UNLIMITED };

        cr_assert_eq(retention_select(&p, 0, s, n), (int)(n - 5));
        for (size_t h = 0; h < 5; h++)
                cr_assert_neq(s[h * 6 + 5].reasons & RETENTION_HOURLY, 0, "hour %zu", h);
        free(s);
}

/* Weeks are ISO weeks in local time: Monday 00:00 local starts one. */
Test(retention, week_boundary_is_local_monday)
{
        struct retention_snapshot s[2] = {
                { .time_ns = 1768170600 * SEC },          /* Sun 2026-01-11 23:30 CET, 22:30 UTC */
                { .time_ns = 1768170600 * SEC + HOUR },   /* Mon 00:30 CET, still Sunday in UTC */
        };
        struct retention_policy p = { .keep_weekly = RETENTION_UNLIMITED };

        set_tz("Europe/Berlin");
        cr_assert_eq(retention_select(&p, 0, s, 2), 0);
        cr_assert_eq(s[0].reasons, RETENTION_WEEKLY);
        set_tz("UTC");
        cr_assert_eq(retention_select(&p, 0, s, 2), 1);
        cr_assert_eq(s[0].reasons, 0);
        /* weekly 1 keeps one week only */
        set_tz("Europe/Berlin");
        p.keep_weekly = 1;
        cr_assert_eq(retention_select(&p, 0, s, 2), 1);
}

Test(retention, reasons_format)
{
        char buf[RETENTION_REASONS_MAX];

        cr_assert_str_eq(retention_reasons_format(0, buf), "");
        cr_assert_str_eq(retention_reasons_format(RETENTION_DAILY, buf), "daily");
        cr_assert_str_eq(retention_reasons_format(RETENTION_NEWEST | RETENTION_WITHIN | RETENTION_MONTHLY, buf),
                         "newest, within, monthly");
        cr_assert_str_eq(retention_reasons_format(0xff, buf),
                         "newest, within, last, hourly, daily, weekly, monthly, yearly");
}
