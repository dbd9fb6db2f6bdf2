/* SPDX-License-Identifier: MIT */
/* Test helper: size-capped malloc/calloc/realloc, forwarding to glibc's
 * __libc_* entry points. Linked only into unit test binaries. */
#include "alloc-limit.h"

#include <errno.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_LIMIT_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_LIMIT_DISABLED 1
#endif
#endif

static size_t violations;
static size_t largest;

size_t alloc_limit_violations(void)
{
        return violations;
}

size_t alloc_limit_largest(void)
{
        return largest;
}

#ifdef ALLOC_LIMIT_DISABLED
bool alloc_limit_active(void)
{
        return false;
}
#else
bool alloc_limit_active(void)
{
        return true;
}

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);

static bool too_big(size_t size)
{
        if (size > largest)
                largest = size;
        if (size <= ALLOC_LIMIT_MAX)
                return false;
        violations++;
        errno = ENOMEM;
        return true;
}

void *malloc(size_t size)
{
        return too_big(size) ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
        if (size != 0 && n > SIZE_MAX / size) {
                too_big(SIZE_MAX);
                return NULL;
        }
        return too_big(n * size) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
        return too_big(size) ? NULL : __libc_realloc(p, size);
}
#endif
