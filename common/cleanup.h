/* SPDX-License-Identifier: MIT */
/* Scope-bound cleanup helpers in the systemd style: _cleanup_free_,
 * _cleanup_close_, _cleanup_fclose_, TAKE_PTR/TAKE_FD to move ownership on.
 * Header only; knows nothing of any library beyond libc. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Return the pointer and forget it, so cleanup does not free it. */
#define TAKE_PTR(p)                          \
        ({                                   \
                __typeof__(p) _tp_ = (p);    \
                (p) = NULL;                  \
                _tp_;                        \
        })
/* Return the fd and forget it, so cleanup does not close it. */
#define TAKE_FD(fd)                          \
        ({                                   \
                int _tf_ = (fd);             \
                (fd) = -1;                   \
                _tf_;                        \
        })

/* Define a cleanup function xp(T **) calling x_free(*p) when non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p)     \
        {                                       \
                if (*p)                         \
                        func(*p);               \
        }

/* Make room for one more item in a growing array (arr, n items, cap slots):
 * doubles the capacity (first: the initial one). 1 on success, 0 when out of
 * memory (the array is left as it was). */
#define GROW(arr, n, cap, first)                                            \
        ({                                                                  \
                int _ok = 1;                                                \
                if ((n) == (cap)) {                                         \
                        size_t _c = (cap) ? 2 * (cap) : (first);            \
                        void *_p = realloc((arr), _c * sizeof(*(arr)));     \
                        if (_p) {                                           \
                                (arr) = _p;                                 \
                                (cap) = _c;                                 \
                        } else                                              \
                                _ok = 0;                                    \
                }                                                           \
                _ok;                                                        \
        })

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
