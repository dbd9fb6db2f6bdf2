/* SPDX-License-Identifier: MIT */
/* Tests for daemon/restore-links.c: the first name of a hard-link group is
 * restored and the others link to it (at once, or once its file is
 * written); a group is dropped once all of its names (its link count) were
 * met, so the table holds the open groups only, and the index still finds
 * every other group after the drops. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore-links.h"

static struct object_entry entry(enum object_kind kind, uint64_t group, uint64_t nlink)
{
        return (struct object_entry){ .kind = kind, .hardlink = group, .nlink = nlink, .size = group * 3 };
}

struct linked {
        char first[64], path[64];
        void *waiter;
        int calls;
};

static void on_linked(const char *first, const char *path, void *waiter, void *userdata)
{
        struct linked *ln = userdata;
        snprintf(ln->first, sizeof(ln->first), "%s", first);
        snprintf(ln->path, sizeof(ln->path), "%s", path);
        ln->waiter = waiter;
        ln->calls++;
}

Test(restore_links, a_group_waits_for_its_file_then_is_dropped)
{
        struct restore_links *l = restore_links_new();
        struct object_entry e = entry(OBJECT_KIND_FILE, 7, 3);
        enum restore_link_place place;
        const char *first = NULL;
        int waiter;

        cr_assert_eq(restore_links_place(l, &e, "/t/a", NULL, &place, &first), 0);
        cr_assert_eq(place, RESTORE_LINK_FIRST);
        cr_assert_eq(restore_links_place(l, &e, "/t/b", &waiter, &place, &first), 0);
        cr_assert_eq(place, RESTORE_LINK_WAIT);
        cr_assert_eq(restore_links_open(l), 1);

        struct linked ln = {0};
        restore_links_written(l, 7, on_linked, &ln);
        cr_assert_eq(ln.calls, 1);
        cr_assert_str_eq(ln.first, "/t/a");
        cr_assert_str_eq(ln.path, "/t/b");
        cr_assert_eq(ln.waiter, &waiter);
        cr_assert_eq(restore_links_open(l), 1, "two of its three names met: still open");

        cr_assert_eq(restore_links_place(l, &e, "/t/c", NULL, &place, &first), 0);
        cr_assert_eq(place, RESTORE_LINK_NOW);
        cr_assert_str_eq(first, "/t/a", "the first path stays valid after the drop");
        cr_assert_eq(restore_links_open(l), 0, "the third name was its last");
        restore_links_free(l);
}

Test(restore_links, groups_with_names_outside_or_no_count_stay)
{
        struct restore_links *l = restore_links_new();
        struct object_entry outside = entry(OBJECT_KIND_FILE, 1, 5), unknown = entry(OBJECT_KIND_FILE, 2, 0);
        enum restore_link_place place;
        const char *first;
        struct linked ln = {0};

        cr_assert_eq(restore_links_place(l, &outside, "/t/o1", NULL, &place, &first), 0);
        cr_assert_eq(restore_links_place(l, &unknown, "/t/u1", NULL, &place, &first), 0);
        restore_links_written(l, 1, on_linked, &ln);
        restore_links_written(l, 2, on_linked, &ln);
        cr_assert_eq(restore_links_place(l, &outside, "/t/o2", NULL, &place, &first), 0);
        cr_assert_eq(place, RESTORE_LINK_NOW);
        cr_assert_eq(restore_links_place(l, &unknown, "/t/u2", NULL, &place, &first), 0);
        cr_assert_eq(place, RESTORE_LINK_NOW);
        cr_assert_str_eq(first, "/t/u1");
        cr_assert_eq(restore_links_open(l), 2);
        cr_assert_eq(ln.calls, 0);
        restore_links_free(l);
}

Test(restore_links, a_symlink_group_is_never_pending)
{
        struct restore_links *l = restore_links_new();
        struct object_entry e = entry(OBJECT_KIND_SYMLINK, 9, 2);
        enum restore_link_place place;
        const char *first;

        cr_assert_eq(restore_links_place(l, &e, "/t/s1", NULL, &place, &first), 0);
        cr_assert_eq(place, RESTORE_LINK_FIRST);
        cr_assert_eq(restore_links_place(l, &e, "/t/s2", NULL, &place, &first), 0);
        cr_assert_eq(place, RESTORE_LINK_NOW);
        cr_assert_str_eq(first, "/t/s1");
        cr_assert_eq(restore_links_open(l), 0);
        restore_links_free(l);
}

/* 20,000 groups of two names: every first name, every file written, then
 * the second names in a shuffled order. Each finds its own group's first
 * path, whatever was dropped before it (the index's deletions keep every
 * probe run whole), and the table ends empty. */
Test(restore_links, many_groups_dropped_in_any_order)
{
        enum { N = 20000 };
        struct restore_links *l = restore_links_new();
        enum restore_link_place place;
        const char *first;
        char path[64], want[64];
        static uint64_t order[N];
        struct linked ln = {0};

        for (uint64_t g = 1; g <= N; g++) {
                struct object_entry e = entry(OBJECT_KIND_FILE, g * 1000003, 2);
                snprintf(path, sizeof(path), "/t/first-%llu", (unsigned long long)g);
                cr_assert_eq(restore_links_place(l, &e, path, NULL, &place, &first), 0);
                cr_assert_eq(place, RESTORE_LINK_FIRST);
                order[g - 1] = g;
        }
        for (uint64_t g = 1; g <= N; g++)
                restore_links_written(l, g * 1000003, on_linked, &ln);
        cr_assert_eq(restore_links_open(l), N);
        srand(42);
        for (size_t i = N - 1; i > 0; i--) {
                size_t j = (size_t)rand() % (i + 1);
                uint64_t t = order[i];
                order[i] = order[j];
                order[j] = t;
        }
        for (size_t i = 0; i < N; i++) {
                uint64_t g = order[i];
                struct object_entry e = entry(OBJECT_KIND_FILE, g * 1000003, 2);
                snprintf(path, sizeof(path), "/t/second-%llu", (unsigned long long)g);
                snprintf(want, sizeof(want), "/t/first-%llu", (unsigned long long)g);
                cr_assert_eq(restore_links_place(l, &e, path, NULL, &place, &first), 0);
                cr_assert_eq(place, RESTORE_LINK_NOW, "group %llu: place %d", (unsigned long long)g, place);
                cr_assert_str_eq(first, want);
                cr_assert_eq(restore_links_open(l), N - i - 1);
        }
        cr_assert_eq(ln.calls, 0);
        restore_links_free(l);
}
