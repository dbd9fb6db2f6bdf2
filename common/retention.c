/* SPDX-License-Identifier: MIT */
/* Retention policies: restic forget's --keep-* rules over one root's
 * snapshots (see retention.h). Snapshots are visited newest first; each
 * bucket rule keeps the first (so newest) snapshot of every new bucket it
 * meets until its count is spent. Buckets are local-time calendar units. */
#include "retention.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"

#define NS_PER_SEC INT64_C(1000000000)

void retention_policy_default(struct retention_policy *ret)
{
        *ret = (struct retention_policy){
                .keep_within_ns = 3600 * NS_PER_SEC,
                .keep_last = 0,
                .keep_hourly = 48,
                .keep_daily = 30,
                .keep_weekly = 52,
                .keep_monthly = RETENTION_UNLIMITED,
                .keep_yearly = 0,
        };
}

int retention_policy_check(const struct retention_policy *p)
{
        const int counts[] = { p->keep_last,    p->keep_hourly,  p->keep_daily,
                               p->keep_weekly,  p->keep_monthly, p->keep_yearly };
        bool any = p->keep_within_ns > 0;

        if (p->keep_within_ns < 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                if (counts[i] < RETENTION_UNLIMITED)
                        return -EINVAL;
                if (counts[i] != 0)
                        any = true;
        }
        return any ? 0 : -EINVAL;
}

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
        /* Count years from March, so the leap day ends the year. */
        if (m <= 2)
                y--;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t year_of_era = y - era * 400;                          /* 0..399 */
        int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
        int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        return era * 146097 + day_of_era - 719468;
}

static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

enum { B_HOURLY, B_DAILY, B_WEEKLY, B_MONTHLY, B_YEARLY, N_BUCKETS };

/* The local-time bucket keys of t: equal keys = same bucket. */
static void bucket_keys(int64_t time_ns, int64_t keys[N_BUCKETS])
{
        time_t secs = (time_t)floor_div(time_ns, NS_PER_SEC);
        struct tm tm;

        if (!localtime_r(&secs, &tm)) {
                /* out of range for the calendar: every snapshot its own bucket */
                for (int i = 0; i < N_BUCKETS; i++)
                        keys[i] = time_ns;
                return;
        }
        int64_t year = (int64_t)tm.tm_year + 1900;
        int64_t days = days_from_civil(year, tm.tm_mon + 1, tm.tm_mday);
        keys[B_HOURLY] = days * 24 + tm.tm_hour;
        keys[B_DAILY] = days;
        /* 1970-01-01 was a Thursday: (days + 3) mod 7 is 0 on Mondays. */
        keys[B_WEEKLY] = days - (days + 3 - floor_div(days + 3, 7) * 7);
        keys[B_MONTHLY] = year * 12 + tm.tm_mon;
        keys[B_YEARLY] = year;
}

struct order {
        int64_t time_ns;
        size_t index;
};

/* Newest first; of equal times, the later in the input first. */
static int order_compare(const void *a, const void *b)
{
        const struct order *x = a, *y = b;
        if (x->time_ns != y->time_ns)
                return x->time_ns > y->time_ns ? -1 : 1;
        return x->index > y->index ? -1 : x->index < y->index ? 1 : 0;
}

int retention_select(const struct retention_policy *p, int64_t now_ns,
                     struct retention_snapshot *snapshots, size_t n)
{
        static const unsigned bucket_reason[N_BUCKETS] = {
                RETENTION_HOURLY, RETENTION_DAILY, RETENTION_WEEKLY, RETENTION_MONTHLY, RETENTION_YEARLY,
        };
        int k = retention_policy_check(p);
        if (k < 0)
                return k;
        if (n == 0)
                return 0;
        _cleanup_free_ struct order *order = calloc(n, sizeof(*order));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                order[i] = (struct order){ snapshots[i].time_ns, i };
        qsort(order, n, sizeof(*order), order_compare);

        int last_left = p->keep_last;
        int left[N_BUCKETS] = { p->keep_hourly, p->keep_daily, p->keep_weekly, p->keep_monthly,
                                p->keep_yearly };
        int64_t seen[N_BUCKETS];
        bool have_seen[N_BUCKETS] = { false };
        int64_t cutoff = now_ns - p->keep_within_ns; /* both are far from the int64 limits */
        size_t forgotten = 0;

        for (size_t i = 0; i < n; i++) {
                struct retention_snapshot *s = &snapshots[order[i].index];
                unsigned reasons = 0;

                if (i == 0)
                        reasons |= RETENTION_NEWEST;
                if (p->keep_within_ns > 0 && s->time_ns >= cutoff)
                        reasons |= RETENTION_WITHIN;
                if (last_left != 0) {
                        reasons |= RETENTION_LAST;
                        if (last_left > 0)
                                last_left--;
                }
                bool need_keys = false;
                for (int b = 0; b < N_BUCKETS; b++)
                        need_keys |= left[b] != 0;
                if (need_keys) {
                        int64_t keys[N_BUCKETS];
                        bucket_keys(s->time_ns, keys);
                        for (int b = 0; b < N_BUCKETS; b++) {
                                if (left[b] == 0 || (have_seen[b] && seen[b] == keys[b]))
                                        continue;
                                seen[b] = keys[b];
                                have_seen[b] = true;
                                reasons |= bucket_reason[b];
                                if (left[b] > 0)
                                        left[b]--;
                        }
                }
                s->reasons = reasons;
                if (!reasons)
                        forgotten++;
        }
        return forgotten > INT32_MAX ? INT32_MAX : (int)forgotten;
}

const char *retention_reasons_format(unsigned reasons, char buf[static RETENTION_REASONS_MAX])
{
        static const struct {
                unsigned bit;
                const char *name;
        } names[] = {
                { RETENTION_NEWEST, "newest" },   { RETENTION_WITHIN, "within" },
                { RETENTION_LAST, "last" },       { RETENTION_HOURLY, "hourly" },
                { RETENTION_DAILY, "daily" },     { RETENTION_WEEKLY, "weekly" },
                { RETENTION_MONTHLY, "monthly" }, { RETENTION_YEARLY, "yearly" },
        };
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                if (!(reasons & names[i].bit))
                        continue;
                int w = snprintf(buf + len, RETENTION_REASONS_MAX - len, "%s%s", len ? ", " : "",
                                 names[i].name);
                if (w < 0 || (size_t)w >= RETENTION_REASONS_MAX - len)
                        break;
                len += (size_t)w;
        }
        return buf;
}
