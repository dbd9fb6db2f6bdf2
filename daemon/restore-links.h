/* SPDX-License-Identifier: MIT */
/* The hard-link groups of one restore: the first path restored of each
 * group, what its content was recorded as, whether its file is still being
 * written, and the other paths of the group waiting for it. Making the
 * links is the caller's (restore.c): it knows the target's directory fds. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "object.h"

struct restore_links;

enum restore_link_place {
        RESTORE_LINK_FIRST, /* the first of its group: restore it; the others link to it */
        RESTORE_LINK_NOW,   /* link to *ret_first now (its file is written, or it is no file) */
        RESTORE_LINK_WAIT,  /* waits for the first's file: restore_links_written hands it back */
        RESTORE_LINK_OWN,   /* recorded with other content than the first: restore it on its own */
        RESTORE_LINK_SKIP,  /* the first's file could not be restored: a link would pass for it */
};

/* An empty table, or NULL (out of memory). */
struct restore_links *restore_links_new(void);
void restore_links_free(struct restore_links *l);

/* Where entry e (a non-directory with e->hardlink set), restored at path,
 * goes. waiter is kept with a RESTORE_LINK_WAIT entry and handed back
 * with it; *ret_first is the first path of the group for NOW, OWN and SKIP.
 * -ENOMEM, or an error from hashing the entry. */
int restore_links_place(struct restore_links *l, const struct object_entry *e, const char *path, void *waiter,
                        enum restore_link_place *ret, const char **ret_first);

typedef void (*restore_link_fn)(const char *first, const char *path, void *waiter, void *userdata);

/* The file of group's first entry is written (failed: not whole, or not at
 * all): fn for each path waiting for it, in no particular order; later
 * entries of the group are placed NOW, or SKIP when it failed. */
void restore_links_written(struct restore_links *l, uint64_t group, bool failed, restore_link_fn fn,
                           void *userdata);
