/* SPDX-License-Identifier: MIT */
/* Watched roots (table roots): add, look up by id or path, update, remove
 * (the file cache goes with a root by ON DELETE CASCADE; its snapshots stay)
 * and list. Paths are BLOBs of their bytes; ids are AUTOINCREMENT, never
 * reused. SQL only: index-row.c runs it and maps struct index_root. */
#include "index-private.h"

#include <errno.h>
#include <string.h>

#define ROOT_COLUMNS "id, path, excludes, one_fs, state, created_ns"

static int root_visit(union index_visitor visitor, const void *row, void *userdata)
{
        return visitor.root(row, userdata);
}

static const struct index_column root_columns[] = {
        INDEX_COLUMN_INT64(struct index_root, id, INDEX_ZERO_IS_NULL), /* 0: a new id */
        INDEX_COLUMN_PATH(struct index_root, path, 0),
        INDEX_COLUMN_TEXT(struct index_root, excludes, 0),
        INDEX_COLUMN_INT(struct index_root, one_fs, 0),
        INDEX_COLUMN_INT(struct index_root, state, 0),
        INDEX_COLUMN_INT64(struct index_root, created_ns, 0),
};
static const struct index_row root_row = INDEX_ROW(struct index_root, root_columns, 0, root_visit);

void index_root_done(struct index_root *root)
{
        index_row_free(&root_row, root);
}

int index_root_add(struct index *idx, const char *path, const char *excludes, int one_fs,
                   int64_t *ret_id)
{
        const struct index_root root = {
                .path = (char *)path,
                .excludes = (char *)excludes,
                .one_fs = !!one_fs,
                .created_ns = index_now_ns(),
        };
        int r;

        if (!path || !*path)
                return -EINVAL;
        r = index_row_put(idx, INDEX_SQL("INSERT INTO roots (" ROOT_COLUMNS ") "
                                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                          &root_row, &root);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = index_row_last_id(idx);
        return 0;
}

int index_root_get(struct index *idx, int64_t id, struct index_root *ret)
{
        return index_row_get(idx,
                             INDEX_QUERY("SELECT " ROOT_COLUMNS " FROM roots WHERE id = ?1",
                                         INDEX_VALUE_INT64(id)),
                             &root_row, ret);
}

int index_root_find(struct index *idx, const char *path, struct index_root *ret)
{
        if (!path)
                return -EINVAL;
        return index_row_get(idx,
                             INDEX_QUERY("SELECT " ROOT_COLUMNS " FROM roots WHERE path = ?1",
                                         INDEX_VALUE_PATH(path)),
                             &root_row, ret);
}

int index_root_update(struct index *idx, int64_t id, const char *excludes, int one_fs, int state)
{
        return index_row_exec_one(
                idx, INDEX_QUERY("UPDATE roots SET excludes = ?2, one_fs = ?3, state = ?4 "
                                 "WHERE id = ?1",
                                 INDEX_VALUE_INT64(id), INDEX_VALUE_TEXT(excludes),
                                 INDEX_VALUE_INT64(!!one_fs), INDEX_VALUE_INT64(state)));
}

int index_root_remove(struct index *idx, int64_t id)
{
        /* The file cache goes with it (ON DELETE CASCADE). */
        return index_row_exec_one(
                idx, INDEX_QUERY("DELETE FROM roots WHERE id = ?1", INDEX_VALUE_INT64(id)));
}

int index_root_foreach(struct index *idx, index_root_cb cb, void *userdata)
{
        return index_row_foreach(idx, INDEX_SQL("SELECT " ROOT_COLUMNS " FROM roots ORDER BY id"),
                                 &root_row, (union index_visitor){ .root = cb }, userdata);
}
