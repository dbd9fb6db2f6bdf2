/* SPDX-License-Identifier: MIT */
/* common/path.c: joining paths relative to a root, and one path below another. */
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

Test(path, parent)
{
        char *p = path_parent("a/b/c");
        cr_assert_str_eq(p, "a/b");
        free(p);
        p = path_parent("c");
        cr_assert_str_eq(p, "", "a name at the top: the root");
        free(p);
}

Test(path, within)
{
        cr_assert(path_within("/home/me", "/home/me"), "a directory holds itself");
        cr_assert(path_within("/home/me/docs", "/home/me"));
        cr_assert_not(path_within("/home/meow", "/home/me"), "a longer name is not below");
        cr_assert_not(path_within("/home", "/home/me"));
        cr_assert(path_within("/etc", "/"), "/ holds every absolute path");
        cr_assert(path_within("/", "/"));
}
