/* SPDX-License-Identifier: MIT */
/* The file-cache rows of one directory's children (see walk-rows.h): one
 * allocation per row (its name, then its encoded content), sorted by name
 * with a file before a subdirectory of the same name. */

#include "walk-rows.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "object.h"

static int row_cmp(const void *a, const void *b)
{
        const struct walk_row *x = a, *y = b;
        int c = object_name_cmp((const uint8_t *)x->name, x->name_len, (const uint8_t *)y->name, y->name_len);
        return c ? c : (int)x->subdir - (int)y->subdir;
}

static int row_cb(const char *path, const struct index_file *file, void *userdata)
{
        struct walk_rows *c = userdata;
        if (!GROW(c->v, c->n, c->cap, 16))
                return -ENOMEM;
        struct walk_row *row = &c->v[c->n];
        memset(row, 0, sizeof(*row));
        const char *name = path + c->skip;
        size_t content_len = file ? file->content_len : 0;
        row->name_len = strlen(name);
        row->name = malloc(row->name_len + 1 + content_len);
        if (!row->name)
                return -ENOMEM;
        memcpy(row->name, name, row->name_len + 1);
        if (file) {
                row->file = *file;
                row->file.content = row->name + row->name_len + 1;
                if (content_len)
                        memcpy(row->file.content, file->content, content_len);
        } else {
                row->subdir = true;
        }
        c->n++;
        return 0;
}

int walk_rows_load(struct index *idx, int64_t root_id, const char *relpath, struct walk_rows *c)
{
        c->skip = *relpath ? strlen(relpath) + 1 : 0;
        int r = index_file_foreach_child(idx, root_id, relpath, row_cb, c);
        if (r < 0)
                return r;
        if (c->n > 1)
                qsort(c->v, c->n, sizeof(*c->v), row_cmp);
        return 0;
}

struct walk_row *walk_rows_find(struct walk_rows *c, const uint8_t *name, size_t len, bool subdir)
{
        struct walk_row key = {.name = (char *)name, .name_len = len, .subdir = subdir};
        return c->n ? bsearch(&key, c->v, c->n, sizeof(*c->v), row_cmp) : NULL;
}

void walk_rows_done(struct walk_rows *c)
{
        for (size_t i = 0; i < c->n; i++)
                free(c->v[i].name);
        free(c->v);
        memset(c, 0, sizeof(*c));
}
