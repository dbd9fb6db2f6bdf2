/* SPDX-License-Identifier: MIT */
/* Monotonic condition variables (see cond.h). */

#include "cond.h"

#include <errno.h>

int cond_init_monotonic(pthread_cond_t *cond)
{
        pthread_condattr_t attr;
        int k = pthread_condattr_init(&attr);
        if (k)
                return -k;
        k = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (!k)
                k = pthread_cond_init(cond, &attr);
        pthread_condattr_destroy(&attr);
        return -k;
}

void cond_deadline(struct timespec *ts, uint64_t ns)
{
        clock_gettime(CLOCK_MONOTONIC, ts);
        ts->tv_sec += (time_t)(ns / 1000000000);
        ts->tv_nsec += (long)(ns % 1000000000);
        if (ts->tv_nsec >= 1000000000) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000;
        }
}
