/* SPDX-License-Identifier: MIT */
/* Tests for daemon/cond.c: a deadline is on the monotonic clock, and a
 * condition made by cond_init_monotonic waits until it (a condition left
 * on the wall clock would take the deadline, seconds since boot, as long
 * past and return at once). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "cond.h"

static int64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

Test(cond, deadline_is_monotonic_now_plus_ns)
{
        const uint64_t steps[] = {0, 1, 999999999, 1000000000, 1500000000, UINT64_C(3600) * 1000000000};
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                struct timespec ts;
                int64_t before = mono_ns();
                cond_deadline(&ts, steps[i]);
                int64_t after = mono_ns();
                cr_assert(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000, "tv_nsec %ld out of range", ts.tv_nsec);
                int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                cr_assert(at >= before + (int64_t)steps[i] && at <= after + (int64_t)steps[i],
                          "step %zu: deadline %lld not in [%lld, %lld]", i, (long long)at,
                          (long long)(before + (int64_t)steps[i]), (long long)(after + (int64_t)steps[i]));
        }
}

Test(cond, timed_wait_waits_until_the_deadline)
{
        pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        pthread_cond_t cond;
        cr_assert_eq(cond_init_monotonic(&cond), 0);
        pthread_mutex_lock(&lock);
        for (int i = 0; i < 3; i++) {
                struct timespec until;
                int64_t start = mono_ns();
                cond_deadline(&until, 50 * 1000 * 1000);
                int k;
                do /* a spurious wake-up is allowed: wait again for the same deadline */
                        k = pthread_cond_timedwait(&cond, &lock, &until);
                while (k == 0);
                int64_t took = mono_ns() - start;
                cr_assert_eq(k, ETIMEDOUT);
                cr_assert(took >= 50 * 1000 * 1000, "returned after %lld ns, before the 50 ms deadline",
                          (long long)took);
        }
        pthread_mutex_unlock(&lock);
        pthread_cond_destroy(&cond);
}
