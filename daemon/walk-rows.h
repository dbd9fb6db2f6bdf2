/* SPDX-License-Identifier: MIT */
/* The file-cache rows of one directory's children, for a full walk's join
 * of a listing with the cache: loaded in batches (index_file_foreach_child),
 * sorted by name, found by name. The listing ahead loads them on the pool
 * with its own connection; the walk marks the rows it uses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"

/* One row: a file directly in the directory, or a subdirectory that has
 * rows below it (subdir, no file). */
struct walk_row {
        char *name; /* one allocation with file.content */
        size_t name_len;
        bool subdir;
        bool seen;  /* matched by the walk */
        struct index_file file;
};

struct walk_rows {
        struct walk_row *v;
        size_t n, cap;
        size_t skip; /* the directory's prefix in the rows' paths */
};

/* Load the rows of relpath's children (root root_id) through idx, sorted by
 * name; -errno. Any thread, with its own connection. */
int walk_rows_load(struct index *idx, int64_t root_id, const char *relpath, struct walk_rows *c);
/* The row of name (a file, or with subdir the rows below a directory), or NULL. */
struct walk_row *walk_rows_find(struct walk_rows *c, const uint8_t *name, size_t len, bool subdir);
/* Free the rows. */
void walk_rows_done(struct walk_rows *c);
