/* SPDX-License-Identifier: MIT */
/* Path helpers; see path.h. */

#include "path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *path_join(const char *a, const char *b)
{
        char *p = NULL;
        if (!*a)
                return strdup(b);
        return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}
