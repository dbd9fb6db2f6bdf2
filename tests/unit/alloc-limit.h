/* SPDX-License-Identifier: MIT */
/* Test helper: replaces malloc/calloc/realloc in a test binary so that any
 * single request above ALLOC_LIMIT_MAX fails and is counted. Decoders fed
 * hostile input must never ask for that much. Disabled under sanitizers,
 * which own the allocator; alloc_limit_active() says which case holds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define ALLOC_LIMIT_MAX ((size_t)64 * 1024 * 1024)

/* Number of requests above ALLOC_LIMIT_MAX since the process started. */
size_t alloc_limit_violations(void);
/* Size of the largest request seen (including refused ones). */
size_t alloc_limit_largest(void);
/* True when the replacement allocator is in use. */
bool alloc_limit_active(void);
