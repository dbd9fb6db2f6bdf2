/* SPDX-License-Identifier: MIT */
/* The daemon's clocks (daemon.h): the wall clock for what is recorded, the
 * monotonic one for waits and timeouts. Apart from main.c, so that the unit
 * tests of the code that reads them link the same ones. */
#include "daemon.h"

#include <time.h>

int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t monotonic_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
