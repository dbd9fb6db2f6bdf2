/* SPDX-License-Identifier: MIT */
/* common/path.c: joining paths relative to a root. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "path.h"

Test(path, join)
{
        char *p = path_join("", "a");
        cr_assert_str_eq(p, "a", "below the root: just the name");
        free(p);
        p = path_join("a/b", "c d");
        cr_assert_str_eq(p, "a/b/c d");
        free(p);
        p = path_join("a", "\xff\xfe");
        cr_assert_str_eq(p, "a/\xff\xfe", "names are bytes");
        free(p);
}
