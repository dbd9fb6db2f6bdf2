/* SPDX-License-Identifier: MIT */
/* The index's one way to run a query and map its rows: the per-connection
 * cache of prepared statements, binding parameters and row structs, and
 * reading result rows into row structs by their column tables (index_row).
 * The table files say what to run; this file says how. Errors go through
 * index_error() (index.c); the schema and the connection are index.c's. */
#include "index-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A row buffer for any row struct. */
union index_row_buffer {
        max_align_t align;
        unsigned char bytes[INDEX_ROW_MAX];
};

const struct index_row index_row_int = {
        (const struct index_column[]){ { INDEX_INT, 0, 0, 0 } }, 1, sizeof(int), NULL,
};
const struct index_row index_row_text = {
        (const struct index_column[]){ { INDEX_TEXT, 0, 0, 0 } }, 1, sizeof(char *), NULL,
};

/* ---- statements ---------------------------------------------------------- */

/* The cached statement of q's slot, prepared on first use. A slot used with
 * two different SQL texts is a bug: -EINVAL instead of the wrong statement. */
static int row_cached(struct index *idx, const struct index_query *q, sqlite3_stmt **ret)
{
        enum index_statement slot = q->cache;

        if (!idx->stmts[slot]) {
                int rc = sqlite3_prepare_v3(idx->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT,
                                            &idx->stmts[slot], NULL);
                if (rc != SQLITE_OK)
                        return index_error(idx, rc);
                idx->stmt_sql[slot] = q->sql;
        } else if (idx->stmt_sql[slot] != q->sql && strcmp(idx->stmt_sql[slot], q->sql) != 0)
                return -EINVAL;
        *ret = idx->stmts[slot];
        return 0;
}

void index_row_forget(struct index *idx, enum index_statement slot)
{
        sqlite3_finalize(idx->stmts[slot]);
        idx->stmts[slot] = NULL;
        idx->stmt_sql[slot] = NULL;
}

/* Bind one value of kind at parameter col; field points to the C value. */
static int row_bind_one(sqlite3_stmt *s, int col, const struct index_column *c, const void *field,
                        size_t len)
{
        int zero_null = c->flags & INDEX_ZERO_IS_NULL;
        int64_t v;

        /* SQLITE_STATIC: every value outlives the step it is bound for. */
        switch (c->kind) {
        case INDEX_INT:
                v = *(const int *)field;
                break;
        case INDEX_INT64:
                v = *(const int64_t *)field;
                break;
        case INDEX_UINT32:
                v = *(const uint32_t *)field;
                break;
        case INDEX_UINT64:
                v = (int64_t) * (const uint64_t *)field;
                break;
        case INDEX_OID:
                if (zero_null && oid_is_null(field))
                        return sqlite3_bind_null(s, col);
                return sqlite3_bind_blob(s, col, field, OID_SIZE, SQLITE_STATIC);
        case INDEX_TEXT: {
                const char *text = *(char *const *)field;

                return sqlite3_bind_text(s, col, text ? text : "", -1, SQLITE_STATIC);
        }
        case INDEX_PATH: {
                const char *path = *(char *const *)field;

                len = path ? strlen(path) : 0;
                return sqlite3_bind_blob(s, col, len ? path : "", (int)len, SQLITE_STATIC);
        }
        case INDEX_BLOB: {
                const void *p = *(void *const *)field;

                if (len > INT32_MAX)
                        return SQLITE_TOOBIG;
                if (len == 0 && zero_null)
                        return sqlite3_bind_null(s, col);
                /* a zero-length blob must not bind as NULL */
                return sqlite3_bind_blob(s, col, len ? p : "", (int)len, SQLITE_STATIC);
        }
        default:
                return SQLITE_MISUSE;
        }
        if (v == 0 && zero_null)
                return sqlite3_bind_null(s, col);
        return sqlite3_bind_int64(s, col, v);
}

static int row_bind_value(sqlite3_stmt *s, int col, const struct index_value *v)
{
        const struct index_column c = { .kind = v->kind };

        switch (v->kind) {
        case INDEX_INT64:
                return row_bind_one(s, col, &c, &v->i, 0);
        case INDEX_OID:
                return row_bind_one(s, col, &c, v->oid, 0);
        case INDEX_TEXT:
                return row_bind_one(s, col, &c, &v->text, 0);
        case INDEX_BLOB:
                return row_bind_one(s, col, &c, &v->blob.bytes, v->blob.len);
        default:
                return SQLITE_MISUSE;
        }
}

int index_row_open(struct index *idx, const struct index_query *q, struct index_cursor *ret)
{
        struct index_cursor c = { .idx = idx, .cached = q->cache != STMT_NONE };
        int r, rc;

        if (c.cached)
                r = row_cached(idx, q, &c.stmt);
        else {
                rc = sqlite3_prepare_v2(idx->db, q->sql, -1, &c.stmt, NULL);
                r = rc == SQLITE_OK ? 0 : index_error(idx, rc);
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < q->n_params; i++) {
                rc = row_bind_value(c.stmt, (int)i + 1, &q->params[i]);
                if (rc != SQLITE_OK) {
                        index_row_close(&c);
                        return index_error(idx, rc);
                }
        }
        c.n_bound = (unsigned)q->n_params;
        *ret = c;
        return 0;
}

/* Bind row's columns to the parameters after the query's. */
static int row_bind(struct index_cursor *c, const struct index_row *desc, const void *row)
{
        /* the row fills the parameters after the query's, to the last one */
        if (c->n_bound + desc->n_columns != (unsigned)sqlite3_bind_parameter_count(c->stmt))
                return -EINVAL;
        for (unsigned i = 0; i < desc->n_columns; i++) {
                const struct index_column *col = &desc->columns[i];
                const char *field = (const char *)row + col->offset;
                size_t len = 0;
                int rc;

                if (col->kind == INDEX_BLOB)
                        len = *(const size_t *)((const char *)row + col->len_offset);
                rc = row_bind_one(c->stmt, (int)(c->n_bound + i + 1), col, field, len);
                if (rc != SQLITE_OK)
                        return index_error(c->idx, rc);
        }
        c->n_bound += desc->n_columns;
        return 0;
}

void index_row_close(struct index_cursor *c)
{
        if (!c->stmt)
                return;
        if (c->cached) {
                sqlite3_reset(c->stmt);
                sqlite3_clear_bindings(c->stmt);
        } else
                sqlite3_finalize(c->stmt);
        c->stmt = NULL;
}

/* ---- rows ---------------------------------------------------------------- */

/* A copy of bytes with a NUL after them, or NULL when empty and
 * empty_is_null. Sets *ret; -ENOMEM. */
static int row_copy(const void *p, size_t len, int empty_is_null, void **ret)
{
        char *copy;

        if (len == 0 && empty_is_null) {
                *ret = NULL;
                return 0;
        }
        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        if (len)
                memcpy(copy, p, len);
        copy[len] = '\0';
        *ret = copy;
        return 0;
}

/* Read result column col into field (and len_field for a blob); own: copy
 * strings and blobs instead of borrowing them. */
static int row_read_one(sqlite3_stmt *s, int col, const struct index_column *c, void *field,
                        void *len_field, int own)
{
        switch (c->kind) {
        case INDEX_INT:
                *(int *)field = sqlite3_column_int(s, col);
                return 0;
        case INDEX_INT64:
                if ((c->flags & INDEX_STRICT) && sqlite3_column_type(s, col) != SQLITE_INTEGER)
                        return -EINVAL;
                *(int64_t *)field = sqlite3_column_int64(s, col);
                return 0;
        case INDEX_UINT32:
                *(uint32_t *)field = (uint32_t)sqlite3_column_int64(s, col);
                return 0;
        case INDEX_UINT64:
                *(uint64_t *)field = (uint64_t)sqlite3_column_int64(s, col);
                return 0;
        case INDEX_OID: {
                const void *p;

                if (sqlite3_column_type(s, col) == SQLITE_NULL) {
                        memset(field, 0, OID_SIZE);
                        return 0;
                }
                p = sqlite3_column_blob(s, col);
                if (!p || sqlite3_column_bytes(s, col) != OID_SIZE)
                        return -EBADMSG;
                memcpy(field, p, OID_SIZE);
                return 0;
        }
        case INDEX_TEXT:
        case INDEX_PATH: {
                /* a BLOB reads as its bytes and a NUL */
                const char *t = (const char *)sqlite3_column_text(s, col);

                if (!t)
                        t = "";
                if (!own) {
                        *(const char **)field = t;
                        return 0;
                }
                return row_copy(t, strlen(t), 0, field);
        }
        case INDEX_BLOB: {
                const void *p = sqlite3_column_blob(s, col);
                size_t len = (size_t)sqlite3_column_bytes(s, col);

                *(size_t *)len_field = len;
                if (!own) {
                        *(const void **)field = p;
                        return 0;
                }
                return row_copy(p, len, c->flags & INDEX_ZERO_IS_NULL, field);
        }
        default:
                return -EINVAL;
        }
}

/* Free the owned strings and blobs of the first n columns of row. */
static void row_free_columns(const struct index_row *desc, unsigned n, void *row)
{
        for (unsigned i = 0; i < n; i++) {
                const struct index_column *col = &desc->columns[i];
                void **field = (void **)((char *)row + col->offset);

                switch (col->kind) {
                case INDEX_BLOB:
                        *(size_t *)((char *)row + col->len_offset) = 0;
                        /* fall through */
                case INDEX_TEXT:
                case INDEX_PATH:
                        free(*field);
                        *field = NULL;
                        break;
                default:
                        break;
                }
        }
}

static int row_next(struct index_cursor *c, const struct index_row *desc, void *row, int own)
{
        int rc = sqlite3_step(c->stmt);

        if (rc == SQLITE_DONE)
                return 0;
        if (rc != SQLITE_ROW)
                return index_error(c->idx, rc);
        if (!row)
                return 1;
        /* a description that does not match the SELECT is a bug */
        if (!c->checked) {
                if (sqlite3_column_count(c->stmt) != (int)desc->n_columns)
                        return -EINVAL;
                c->checked = 1;
        }
        for (unsigned i = 0; i < desc->n_columns; i++) {
                const struct index_column *col = &desc->columns[i];
                int r = row_read_one(c->stmt, (int)i, col, (char *)row + col->offset,
                                     (char *)row + col->len_offset, own);
                if (r < 0) {
                        if (own)
                                row_free_columns(desc, i, row);
                        return r;
                }
        }
        return 1;
}

int index_row_next(struct index_cursor *c, const struct index_row *desc, void *row)
{
        return row_next(c, desc, row, 0);
}

int index_row_next_owned(struct index_cursor *c, const struct index_row *desc, void *row)
{
        return row_next(c, desc, row, 1);
}

/* Step a statement that returns no row: sqlite3_changes() or -errno. */
static int row_step_done(struct index_cursor *c)
{
        int rc = sqlite3_step(c->stmt);

        if (rc == SQLITE_ROW) /* e.g. a PRAGMA answering */
                rc = SQLITE_DONE;
        if (rc != SQLITE_DONE)
                return index_error(c->idx, rc);
        return sqlite3_changes(c->idx->db);
}

void index_row_free(const struct index_row *desc, void *row)
{
        if (row)
                row_free_columns(desc, desc->n_columns, row);
}

/* ---- whole queries ------------------------------------------------------- */

int index_row_exec(struct index *idx, const struct index_query *q)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        int r = index_row_open(idx, q, &c);

        return r < 0 ? r : row_step_done(&c);
}

int index_row_exec_one(struct index *idx, const struct index_query *q)
{
        int r = index_row_exec(idx, q);

        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int index_row_put(struct index *idx, const struct index_query *q, const struct index_row *desc,
                  const void *row)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        int r = index_row_open(idx, q, &c);

        if (r >= 0)
                r = row_bind(&c, desc, row);
        return r < 0 ? r : row_step_done(&c);
}

int index_row_exists(struct index *idx, const struct index_query *q)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        int r = index_row_open(idx, q, &c);

        return r < 0 ? r : index_row_next(&c, NULL, NULL);
}

int index_row_get(struct index *idx, const struct index_query *q, const struct index_row *desc,
                  void *ret)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        union index_row_buffer row;
        int r;

        r = index_row_open(idx, q, &c);
        if (r < 0)
                return r;
        memset(&row, 0, desc->size);
        r = row_next(&c, desc, &row, 1);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        memcpy(ret, &row, desc->size);
        return 0;
}

int index_row_foreach(struct index *idx, const struct index_query *q, const struct index_row *desc,
                      union index_visitor visitor, void *userdata)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        union index_row_buffer row;
        int r;

        r = index_row_open(idx, q, &c);
        if (r < 0)
                return r;
        memset(&row, 0, desc->size);
        while ((r = index_row_next(&c, desc, &row)) > 0) {
                r = desc->visit(visitor, &row, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

int64_t index_row_last_id(struct index *idx)
{
        return sqlite3_last_insert_rowid(idx->db);
}
