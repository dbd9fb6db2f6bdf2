/* SPDX-License-Identifier: MIT */
/* Small named state (table kv): a value per key, bytes or an integer (e.g.
 * the time of the last full scan). Bytes come back NUL-terminated beyond
 * their length, so text values need no copy. */
#include "index-private.h"

#include <errno.h>

/* The SQL of the STMT_KV_* slots, each used for bytes and for integers. */
static const char kv_get_sql[] = "SELECT value FROM kv WHERE key = ?1";
static const char kv_set_sql[] = "INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)";

struct kv_value {
        void *value;
        size_t len;
};
static const struct index_column kv_value_columns[] = {
        INDEX_COLUMN_BLOB(struct kv_value, value, len, 0),
};
static const struct index_row kv_value_row = INDEX_ROW(struct kv_value, kv_value_columns, 0, NULL);

static const struct index_column kv_int_columns[] = {
        { INDEX_INT64, INDEX_STRICT, 0, 0 }, /* a value that is not an integer: -EINVAL */
};
static const struct index_row kv_int_row = INDEX_ROW(int64_t, kv_int_columns, 0, NULL);

int index_kv_get(struct index *idx, const char *key, void **ret_value, size_t *ret_len)
{
        struct kv_value v;
        int r;

        if (!key || !ret_value)
                return -EINVAL;
        r = index_row_get(idx, INDEX_CACHED(STMT_KV_GET, kv_get_sql, INDEX_VALUE_TEXT(key)),
                          &kv_value_row, &v);
        if (r < 0)
                return r;
        *ret_value = v.value;
        if (ret_len)
                *ret_len = v.len;
        return 0;
}

int index_kv_set(struct index *idx, const char *key, const void *value, size_t len)
{
        int r;

        if (!key || (len && !value) || len > INT32_MAX)
                return -EINVAL;
        r = index_row_exec(idx, INDEX_CACHED(STMT_KV_SET, kv_set_sql, INDEX_VALUE_TEXT(key),
                                             INDEX_VALUE_BYTES(value, len)));
        return r < 0 ? r : 0;
}

int index_kv_get_int(struct index *idx, const char *key, int64_t *ret)
{
        if (!key || !ret)
                return -EINVAL;
        return index_row_get(idx, INDEX_CACHED(STMT_KV_GET, kv_get_sql, INDEX_VALUE_TEXT(key)),
                             &kv_int_row, ret);
}

int index_kv_set_int(struct index *idx, const char *key, int64_t value)
{
        int r;

        if (!key)
                return -EINVAL;
        r = index_row_exec(idx, INDEX_CACHED(STMT_KV_SET, kv_set_sql, INDEX_VALUE_TEXT(key),
                                             INDEX_VALUE_INT64(value)));
        return r < 0 ? r : 0;
}

int index_kv_delete(struct index *idx, const char *key)
{
        if (!key)
                return -EINVAL;
        return index_row_exec_one(idx, INDEX_QUERY("DELETE FROM kv WHERE key = ?1",
                                                   INDEX_VALUE_TEXT(key)));
}
