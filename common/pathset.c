/* SPDX-License-Identifier: MIT */
/* Relative path sets; see pathset.h. Lookups are binary searches on the
 * sorted array: below(p) is the first member >= p + "/" sharing that prefix. */
#include "pathset.h"

#include "cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pathset_init(struct pathset *s) { memset(s, 0, sizeof(*s)); }

void pathset_done(struct pathset *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->paths[i]);
        free(s->paths);
        memset(s, 0, sizeof(*s));
}

int pathset_add(struct pathset *s, const char *path)
{
        if (!GROW(s->paths, s->n, s->cap, 16))
                return -ENOMEM;
        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        s->paths[s->n++] = p;
        s->frozen = false;
        return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void pathset_freeze(struct pathset *s)
{
        if (s->frozen)
                return;
        if (s->n > 1)
                qsort(s->paths, s->n, sizeof(*s->paths), cmp);
        size_t j = 0;
        for (size_t i = 0; i < s->n; i++) {
                if (j > 0 && !strcmp(s->paths[j - 1], s->paths[i])) {
                        free(s->paths[i]);
                        continue;
                }
                s->paths[j++] = s->paths[i];
        }
        s->n = j;
        s->frozen = true;
}

/* Index of the first member >= key. */
static size_t lower_bound(const struct pathset *s, const char *key)
{
        size_t lo = 0, hi = s->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(s->paths[mid], key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

bool pathset_has(const struct pathset *s, const char *path)
{
        size_t i = lower_bound(s, path);
        return i < s->n && !strcmp(s->paths[i], path);
}

bool pathset_has_below(const struct pathset *s, const char *path)
{
        if (!*path) /* below the root: any member but "" itself */
                return s->n > 1 || (s->n == 1 && *s->paths[0]);
        size_t len = strlen(path);
        /* members below path start with path + "/"; '/' sorts before every
         * other byte that can follow in a name except those < '/', so scan
         * from path's own position */
        for (size_t i = lower_bound(s, path); i < s->n; i++) {
                if (strncmp(s->paths[i], path, len))
                        return false;
                if (s->paths[i][len] == '/')
                        return true;
        }
        return false;
}

int pathset_merge(struct pathset *dst, struct pathset *src)
{
        for (size_t i = 0; i < src->n; i++) {
                if (!GROW(dst->paths, dst->n, dst->cap, 16))
                        return -ENOMEM;
                dst->paths[dst->n++] = src->paths[i];
                src->paths[i] = NULL;
        }
        dst->frozen = false;
        free(src->paths);
        memset(src, 0, sizeof(*src));
        return 0;
}
