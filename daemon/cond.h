/* SPDX-License-Identifier: MIT */
/* Condition variables whose timed waits run on CLOCK_MONOTONIC: a wall
 * clock set back (NTP, an admin) neither stretches a retry's sleep nor a
 * call's deadline, and one set forward does not cut them short. */
#pragma once

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* pthread_cond_init with the monotonic clock: 0 or a negative errno. */
int cond_init_monotonic(pthread_cond_t *cond);
/* The absolute time ns from now, for pthread_cond_timedwait on a condition
 * made by cond_init_monotonic. */
void cond_deadline(struct timespec *ts, uint64_t ns);
