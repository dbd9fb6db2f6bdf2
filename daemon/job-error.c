/* SPDX-License-Identifier: MIT */
/* First-error-wins slot for multi-threaded jobs (see job-error.h). The
 * compare-and-swap makes exactly one caller the winner; a check followed by
 * a plain store would let two workers both "win" and mix one error code
 * with the other's message. */

#include "job-error.h"

#include <errno.h>
#include <stdio.h>

bool job_error_set(int *slot, char *text, size_t size, int error, const char *fmt, va_list ap)
{
        int none = 0;
        if (!error)
                error = -EIO;
        if (!__atomic_compare_exchange_n(slot, &none, error, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return false;
        vsnprintf(text, size, fmt, ap);
        return true;
}

int job_error_get(const int *slot)
{
        return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}
