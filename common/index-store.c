/* SPDX-License-Identifier: MIT */
/* Stores (table stores): where packs are replicated, by unique name, with a
 * kind, a configuration the index does not read, the store's own upload
 * and download limits, and since when it refuses this node. Removing a store drops
 * its replica rows (ON DELETE CASCADE); index-replica.c owns those rows. */
#include "index-private.h"

#include <errno.h>

#define STORE_COLUMNS "id, name, kind, config, upload_limit, download_limit, refused_ns"

static int store_visit(union index_visitor visitor, const void *row, void *userdata)
{
        return visitor.store(row, userdata);
}

static const struct index_column store_columns[] = {
        INDEX_COLUMN_INT64(struct index_store, id, INDEX_ZERO_IS_NULL), /* 0: a new id */
        INDEX_COLUMN_TEXT(struct index_store, name, 0),
        INDEX_COLUMN_TEXT(struct index_store, kind, 0),
        INDEX_COLUMN_TEXT(struct index_store, config, 0),
        INDEX_COLUMN_UINT64(struct index_store, upload_limit, 0),
        INDEX_COLUMN_UINT64(struct index_store, download_limit, 0),
        INDEX_COLUMN_INT64(struct index_store, refused_ns, 0),
};
static const struct index_row store_row =
        INDEX_ROW(struct index_store, store_columns, 0, store_visit);

void index_store_done(struct index_store *store)
{
        index_row_free(&store_row, store);
}

int index_store_add(struct index *idx, const char *name, const char *kind, const char *config,
                    int64_t *ret_id)
{
        const struct index_store store = {
                .name = (char *)name,
                .kind = (char *)kind,
                .config = (char *)config,
        };
        int r;

        if (!name || !*name || !kind)
                return -EINVAL;
        r = index_row_put(idx,
                          INDEX_SQL("INSERT INTO stores (" STORE_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                          &store_row, &store);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = index_row_last_id(idx);
        return 0;
}

int index_store_find(struct index *idx, const char *name, struct index_store *ret)
{
        if (!name)
                return -EINVAL;
        return index_row_get(idx,
                             INDEX_QUERY("SELECT " STORE_COLUMNS " FROM stores WHERE name = ?1",
                                         INDEX_VALUE_TEXT(name)),
                             &store_row, ret);
}

int index_store_set_limits(struct index *idx, int64_t id, uint64_t upload, uint64_t download)
{
        if (upload > INT64_MAX || download > INT64_MAX)
                return -EINVAL;
        return index_row_exec_one(idx, INDEX_QUERY("UPDATE stores SET upload_limit = ?2, download_limit = ?3 "
                                                   "WHERE id = ?1",
                                                   INDEX_VALUE_INT64(id), INDEX_VALUE_INT64((int64_t)upload),
                                                   INDEX_VALUE_INT64((int64_t)download)));
}

int index_store_remove(struct index *idx, int64_t id)
{
        return index_row_exec_one(
                idx, INDEX_QUERY("DELETE FROM stores WHERE id = ?1", INDEX_VALUE_INT64(id)));
}

int index_store_set_config(struct index *idx, int64_t id, const char *config)
{
        if (!config)
                return -EINVAL;
        return index_row_exec_one(idx, INDEX_QUERY("UPDATE stores SET config = ?2 WHERE id = ?1",
                                                   INDEX_VALUE_INT64(id), INDEX_VALUE_TEXT(config)));
}

int index_store_set_refused(struct index *idx, int64_t id, int64_t now_ns)
{
        int r;

        if (now_ns < 0)
                return -EINVAL;
        r = index_row_exec(idx, INDEX_QUERY("UPDATE stores SET refused_ns = ?2 WHERE id = ?1 AND "
                                            "(refused_ns = 0) <> (?2 = 0)",
                                            INDEX_VALUE_INT64(id), INDEX_VALUE_INT64(now_ns)));
        if (r < 0)
                return r;
        if (r > 0)
                return 1;
        /* nothing changed: the state was so already, or there is no such store */
        r = index_row_exists(idx, INDEX_QUERY("SELECT 1 FROM stores WHERE id = ?1", INDEX_VALUE_INT64(id)));
        return r < 0 ? r : r > 0 ? 0 : -ENOENT;
}

int index_store_foreach(struct index *idx, index_store_cb cb, void *userdata)
{
        return index_row_foreach(idx, INDEX_SQL("SELECT " STORE_COLUMNS " FROM stores ORDER BY id"),
                                 &store_row, (union index_visitor){ .store = cb }, userdata);
}
