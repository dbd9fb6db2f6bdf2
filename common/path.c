/* SPDX-License-Identifier: MIT */
/* Path helpers; see path.h. */

#include "path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool path_within(const char *path, const char *dir)
{
        size_t l = strlen(dir);
        return !strncmp(path, dir, l) && (path[l] == '\0' || path[l] == '/' || (l == 1 && dir[0] == '/'));
}

char *path_parent(const char *relpath)
{
        const char *slash = strrchr(relpath, '/');
        return strndup(relpath, slash ? (size_t)(slash - relpath) : 0);
}

char *path_join(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        if (!la)
                return strdup(b);
        char *p = malloc(la + lb + 2);
        if (!p)
                return NULL;
        memcpy(p, a, la);
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
        return p;
}
