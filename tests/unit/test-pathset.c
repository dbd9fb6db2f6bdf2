/* SPDX-License-Identifier: MIT */
/* common/pathset.c: membership and "anything below" queries on relative paths. */
#include <criterion/criterion.h>

#include "pathset.h"

Test(pathset, has_and_below)
{
        struct pathset s;
        pathset_init(&s);
        cr_assert(!pathset_has_below(&s, ""));
        cr_assert_eq(pathset_add(&s, "a/b"), 0);
        cr_assert_eq(pathset_add(&s, "a-b"), 0);
        cr_assert_eq(pathset_add(&s, "a/b"), 0);
        cr_assert_eq(pathset_add(&s, "c"), 0);
        pathset_freeze(&s);
        cr_assert_eq(s.n, 3, "duplicates are dropped");
        cr_assert(pathset_has(&s, "a/b"));
        cr_assert(!pathset_has(&s, "a"));
        cr_assert(pathset_has_below(&s, "a"), "a/b is below a");
        cr_assert(!pathset_has_below(&s, "a/b"));
        cr_assert(!pathset_has_below(&s, "a-"), "a-b is not below a-");
        cr_assert(!pathset_has_below(&s, "c"));
        cr_assert(pathset_has_below(&s, ""), "everything is below the root");
        pathset_done(&s);
}

Test(pathset, root_alone_is_not_below_root)
{
        struct pathset s;
        pathset_init(&s);
        pathset_add(&s, "");
        pathset_freeze(&s);
        cr_assert(pathset_has(&s, ""));
        cr_assert(!pathset_has_below(&s, ""));
        pathset_done(&s);
}

Test(pathset, prefix_siblings_sorting_before_slash)
{
        /* '!' '-' '.' sort before '/', '0' after: "x/y" must still be found */
        struct pathset s;
        pathset_init(&s);
        const char *names[] = {"x!", "x-1", "x.d", "x0", "x/y/z", "xa"};
        for (size_t i = 0; i < 6; i++)
                pathset_add(&s, names[i]);
        pathset_freeze(&s);
        cr_assert(pathset_has_below(&s, "x"));
        cr_assert(pathset_has_below(&s, "x/y"));
        cr_assert(!pathset_has_below(&s, "x/y/z"));
        cr_assert(!pathset_has_below(&s, "x0"));
        pathset_done(&s);
}

Test(pathset, merge_moves_everything)
{
        struct pathset a, b;
        pathset_init(&a);
        pathset_init(&b);
        pathset_add(&a, "one");
        pathset_add(&b, "two");
        pathset_add(&b, "one");
        cr_assert_eq(pathset_merge(&a, &b), 0);
        cr_assert_eq(b.n, 0);
        pathset_freeze(&a);
        cr_assert_eq(a.n, 2);
        cr_assert(pathset_has(&a, "two"));
        pathset_done(&a);
        pathset_done(&b);
}
