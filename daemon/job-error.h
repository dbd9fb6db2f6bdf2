/* SPDX-License-Identifier: MIT */
/* The error slot of a job run by several worker threads at once (snapshot,
 * restore): the first error wins, set atomically, and only its winner writes
 * the message, which the loop reads once the job is over. Plain data and
 * atomics, no locks, no logging. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Record error (0 counts as -EIO) in *slot unless one is there already; the
 * winner formats fmt into text. True for the winner. */
bool job_error_set(int *slot, char *text, size_t size, int error, const char *fmt, va_list ap)
        __attribute__((format(printf, 5, 0)));
/* The recorded error (0 while none), safe to read from any thread. */
int job_error_get(const int *slot);
