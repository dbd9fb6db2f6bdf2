/* SPDX-License-Identifier: MIT */
/* The index's row mapper (common/index-row.c), on a scratch table of a real
 * index: every column kind bound and read back bit for bit, what is stored
 * (SQLite's typeof), NULL and zero, strict integers, corrupt ids, out-params
 * untouched on failure, descriptions that do not match their SQL, the
 * statement cache's slots, foreach stopping and re-entering the connection. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index-private.h"

static char tmpdir[64];
static char dbpath[128];
static struct index *idx;

static void setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-test-index-row-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmpdir);
        cr_assert_eq(index_open(dbpath, 0, &idx), 0);
        cr_assert_eq(index_exec(idx, "CREATE TEMP TABLE t (k INTEGER PRIMARY KEY, i, i64, u32, u64, "
                                     "id, txt, path BLOB, bytes BLOB)"),
                     0);
}

static void teardown(void)
{
        char wal[160];

        index_close(idx);
        unlink(dbpath);
        snprintf(wal, sizeof(wal), "%s-wal", dbpath);
        unlink(wal);
        snprintf(wal, sizeof(wal), "%s-shm", dbpath);
        unlink(wal);
        rmdir(tmpdir);
}

TestSuite(index_row, .init = setup, .fini = teardown);

/* One field of every kind. */
struct every {
        int64_t k;
        int i;
        int64_t i64;
        uint32_t u32;
        uint64_t u64;
        struct oid id;
        char *txt;
        char *path;
        void *bytes;
        size_t bytes_len;
};

#define EVERY_COLUMNS "k, i, i64, u32, u64, id, txt, path, bytes"

static const struct index_column every_columns[] = {
        INDEX_COLUMN_INT64(struct every, k, INDEX_ZERO_IS_NULL),
        INDEX_COLUMN_INT(struct every, i, 0),
        INDEX_COLUMN_INT64(struct every, i64, 0),
        INDEX_COLUMN_UINT32(struct every, u32, 0),
        INDEX_COLUMN_UINT64(struct every, u64, 0),
        INDEX_COLUMN_OID(struct every, id, 0),
        INDEX_COLUMN_TEXT(struct every, txt, 0),
        INDEX_COLUMN_PATH(struct every, path, 0),
        INDEX_COLUMN_BLOB(struct every, bytes, bytes_len, 0),
};
static const struct index_row every_row = INDEX_ROW(struct every, every_columns, 0, NULL);

/* The same columns, where zero means NULL. */
static const struct index_column nullable_columns[] = {
        INDEX_COLUMN_INT64(struct every, k, INDEX_ZERO_IS_NULL),
        INDEX_COLUMN_INT(struct every, i, INDEX_ZERO_IS_NULL),
        INDEX_COLUMN_INT64(struct every, i64, INDEX_ZERO_IS_NULL),
        INDEX_COLUMN_UINT32(struct every, u32, INDEX_ZERO_IS_NULL),
        INDEX_COLUMN_UINT64(struct every, u64, INDEX_ZERO_IS_NULL),
        INDEX_COLUMN_OID(struct every, id, INDEX_ZERO_IS_NULL),
        INDEX_COLUMN_TEXT(struct every, txt, 0),
        INDEX_COLUMN_PATH(struct every, path, 0),
        INDEX_COLUMN_BLOB(struct every, bytes, bytes_len, INDEX_ZERO_IS_NULL),
};
static const struct index_row nullable_row = INDEX_ROW(struct every, nullable_columns, 0, NULL);

static int put(const struct index_row *desc, const struct every *e)
{
        return index_row_put(idx, INDEX_SQL("INSERT INTO t (" EVERY_COLUMNS ") "
                                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                             desc, e);
}

static int get(const struct index_row *desc, int64_t k, struct every *ret)
{
        return index_row_get(idx, INDEX_QUERY("SELECT " EVERY_COLUMNS " FROM t WHERE k = ?1",
                                              INDEX_VALUE_INT64(k)),
                             desc, ret);
}

/* The answer of a one-text-column query on row k, copied. */
static char *sql_text(const char *sql, int64_t k)
{
        char *text = NULL;

        cr_assert_eq(index_row_get(idx, INDEX_QUERY(sql, INDEX_VALUE_INT64(k)), &index_row_text,
                                   &text),
                     0, "%s", sql);
        return text;
}

static void assert_types(int64_t k, const char *expected)
{
        char *types = sql_text("SELECT typeof(i) || ' ' || typeof(i64) || ' ' || typeof(u32) || ' ' "
                               "|| typeof(u64) || ' ' || typeof(id) || ' ' || typeof(txt) || ' ' "
                               "|| typeof(path) || ' ' || typeof(bytes) FROM t WHERE k = ?1",
                               k);

        cr_assert_str_eq(types, expected);
        free(types);
}

Test(index_row, every_kind_round_trips_bit_for_bit)
{
        static const char bytes[] = "\0\x01\xff middle\0end";
        struct every e = {
                .i = INT_MIN,
                .i64 = INT64_MIN,
                .u32 = UINT32_MAX,
                .u64 = UINT64_MAX - 1,
                .txt = "line\nline2 \xc3\xa9",
                .path = "/d/\xff\xfe\x01/\x80 x", /* not UTF-8 */
                .bytes = (void *)bytes,
                .bytes_len = sizeof(bytes) - 1,
        };
        struct every got;
        int64_t k;

        for (size_t i = 0; i < OID_SIZE; i++)
                e.id.bytes[i] = (uint8_t)(0xf0 + i);
        cr_assert_eq(put(&every_row, &e), 1, "one row changed");
        k = index_row_last_id(idx);
        cr_assert_gt(k, 0, "id 0 binds NULL: a new rowid");

        cr_assert_eq(get(&every_row, k, &got), 0);
        cr_assert_eq(got.k, k);
        cr_assert_eq(got.i, INT_MIN);
        cr_assert_eq(got.i64, INT64_MIN);
        cr_assert_eq(got.u32, UINT32_MAX);
        cr_assert_eq(got.u64, UINT64_MAX - 1);
        cr_assert(memcmp(&got.id, &e.id, sizeof(e.id)) == 0);
        cr_assert_str_eq(got.txt, e.txt);
        cr_assert_str_eq(got.path, e.path);
        cr_assert_eq(got.bytes_len, sizeof(bytes) - 1);
        cr_assert(memcmp(got.bytes, bytes, sizeof(bytes)) == 0, "copied with a NUL after it");
        cr_assert_neq(got.txt, e.txt, "owned copies");
        index_row_free(&every_row, &got);
        cr_assert_null(got.txt);
        cr_assert_null(got.path);
        cr_assert_null(got.bytes);
        cr_assert_eq(got.bytes_len, 0);

        /* stored as docs/index.md says: 64-bit unsigned as signed INTEGER,
         * paths as BLOBs of their bytes (no NUL), text as TEXT */
        assert_types(k, "integer integer integer integer blob text blob blob");
        char *s = sql_text("SELECT hex(path) || ' ' || u64 || ' ' || u32 FROM t WHERE k = ?1", k);
        cr_assert_str_eq(s, "2F642FFFFE012F802078 -2 4294967295");
        free(s);

        /* a path parameter finds the row by its bytes */
        cr_assert_eq(index_row_exists(idx, INDEX_QUERY("SELECT 1 FROM t WHERE path = ?1",
                                                       INDEX_VALUE_PATH(e.path))),
                     1);
        cr_assert_eq(index_row_exists(idx, INDEX_QUERY("SELECT 1 FROM t WHERE path = ?1",
                                                       INDEX_VALUE_TEXT(e.path))),
                     0, "a TEXT never equals a BLOB");
}

Test(index_row, zero_and_null)
{
        struct every e = { .txt = NULL, .path = NULL, .bytes = NULL, .bytes_len = 0 };
        struct every got;
        int64_t plain, nulls;

        /* without the flag, zero is stored as zero and NULL strings as "" */
        cr_assert_eq(put(&every_row, &e), 1);
        plain = index_row_last_id(idx);
        assert_types(plain, "integer integer integer integer blob text blob blob");
        char *s = sql_text("SELECT quote(txt) || quote(path) || quote(bytes) FROM t WHERE k = ?1",
                           plain);
        cr_assert_str_eq(s, "''X''X''");
        free(s);
        memset(&got, 0xaa, sizeof(got));
        cr_assert_eq(get(&every_row, plain, &got), 0);
        cr_assert(oid_is_null(&got.id));
        cr_assert_str_eq(got.txt, "");
        cr_assert_str_eq(got.path, "");
        cr_assert_not_null(got.bytes, "an empty blob is an allocated \"\"");
        cr_assert_eq(got.bytes_len, 0);
        cr_assert_eq(((char *)got.bytes)[0], '\0');
        index_row_free(&every_row, &got);

        /* with it, every zero is NULL, and NULL reads back as zero */
        cr_assert_eq(put(&nullable_row, &e), 1);
        nulls = index_row_last_id(idx);
        assert_types(nulls, "null null null null null text blob null");
        memset(&got, 0xaa, sizeof(got));
        cr_assert_eq(get(&nullable_row, nulls, &got), 0);
        cr_assert_eq(got.i, 0);
        cr_assert_eq(got.i64, 0);
        cr_assert_eq(got.u32, 0);
        cr_assert_eq(got.u64, 0);
        cr_assert(oid_is_null(&got.id));
        cr_assert_null(got.bytes, "an empty blob is NULL with INDEX_ZERO_IS_NULL");
        cr_assert_eq(got.bytes_len, 0);
        index_row_free(&nullable_row, &got);

        /* the plain description reads the NULL row the same way, except the
         * blob, which it copies as "" */
        cr_assert_eq(get(&every_row, nulls, &got), 0);
        cr_assert(oid_is_null(&got.id));
        cr_assert_not_null(got.bytes);
        cr_assert_eq(got.bytes_len, 0);
        index_row_free(&every_row, &got);
        index_row_free(&every_row, NULL);
}

Test(index_row, strict_integers)
{
        static const struct index_column strict[] = { { INDEX_INT64, INDEX_STRICT, 0, 0 } };
        static const struct index_row strict_row = INDEX_ROW(int64_t, strict, 0, NULL);
        int64_t v = 77;

        cr_assert_eq(index_exec(idx, "INSERT INTO t (k, i64) VALUES (1, 42), (2, '42'), (3, NULL)"), 0);
        cr_assert_eq(index_row_get(idx, INDEX_QUERY("SELECT i64 FROM t WHERE k = ?1", INDEX_VALUE_INT64(1)),
                                   &strict_row, &v),
                     0);
        cr_assert_eq(v, 42);
        v = 77;
        cr_assert_eq(index_row_get(idx, INDEX_QUERY("SELECT i64 FROM t WHERE k = ?1", INDEX_VALUE_INT64(2)),
                                   &strict_row, &v),
                     -EINVAL, "text is not an integer");
        cr_assert_eq(index_row_get(idx, INDEX_QUERY("SELECT i64 FROM t WHERE k = ?1", INDEX_VALUE_INT64(3)),
                                   &strict_row, &v),
                     -EINVAL, "NULL is not an integer");
        cr_assert_eq(v, 77, "untouched on failure");
        int converted = 0;
        cr_assert_eq(index_row_get(idx, INDEX_QUERY("SELECT i64 FROM t WHERE k = ?1", INDEX_VALUE_INT64(2)),
                                   &index_row_int, &converted),
                     0, "not strict: SQLite converts");
        cr_assert_eq(converted, 42);
}

Test(index_row, corrupt_ids_fail_and_leave_ret_untouched)
{
        struct every got, before;

        cr_assert_eq(index_exec(idx, "INSERT INTO t (k, id, txt, path, bytes) VALUES "
                                     "(1, x'0102', 'a', x'61', x''), (2, zeroblob(33), 'b', x'62', x'')"),
                     0);
        memset(&got, 0x5a, sizeof(got));
        before = got;
        cr_assert_eq(get(&every_row, 1, &got), -EBADMSG, "2-byte id");
        cr_assert_eq(get(&every_row, 2, &got), -EBADMSG, "33-byte id");
        cr_assert_eq(get(&every_row, 3, &got), -ENOENT);
        cr_assert(memcmp(&got, &before, sizeof(got)) == 0);
}

Test(index_row, descriptions_must_match_their_sql)
{
        struct every e = { .txt = "x" }, got;

        /* 9 columns described, 8 selected */
        cr_assert_eq(index_row_get(idx, INDEX_SQL("SELECT k, i, i64, u32, u64, id, txt, path FROM t"),
                                   &every_row, &got),
                     -ENOENT, "no row: nothing read");
        cr_assert_eq(put(&every_row, &e), 1);
        cr_assert_eq(index_row_get(idx, INDEX_SQL("SELECT k, i, i64, u32, u64, id, txt, path FROM t"),
                                   &every_row, &got),
                     -EINVAL);
        /* 9 columns for 8 parameters, and for 10 */
        cr_assert_eq(index_row_put(idx, INDEX_SQL("INSERT INTO t (i, i64, u32, u64, id, txt, path, bytes) "
                                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                                   &every_row, &e),
                     -EINVAL);
        cr_assert_eq(index_row_put(idx, INDEX_QUERY("INSERT INTO t (" EVERY_COLUMNS ") "
                                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                                                    INDEX_VALUE_INT64(1)),
                                   &every_row, &e),
                     -EINVAL, "the row follows the query's value: 10 parameters needed");
        cr_assert_eq(index_row_exec(idx, INDEX_QUERY("SELECT ?1", INDEX_VALUE_INT64(1),
                                                     INDEX_VALUE_INT64(2))),
                     -EINVAL, "more values than parameters");
        cr_assert_eq(index_row_exec(idx, INDEX_SQL("SELEKT 1")), -EIO, "SQL error");
        cr_assert_str_neq(index_last_error(idx), "no error");
}

Test(index_row, cache_slots_keep_one_sql_text)
{
        static const char sql[] = "SELECT count(*) FROM t WHERE k >= ?1";
        char copy[sizeof(sql)];
        int n = -1;

        memcpy(copy, sql, sizeof(sql));
        cr_assert_eq(index_exec(idx, "INSERT INTO t (k) VALUES (1), (2), (3)"), 0);
        /* STMT_KV_GET is free here: no kv call runs in this test */
        cr_assert_eq(index_row_get(idx, INDEX_CACHED(STMT_KV_GET, sql, INDEX_VALUE_INT64(2)),
                                   &index_row_int, &n),
                     0);
        cr_assert_eq(n, 2);
        cr_assert_eq(index_row_get(idx, INDEX_CACHED(STMT_KV_GET, copy, INDEX_VALUE_INT64(1)),
                                   &index_row_int, &n),
                     0, "the same text at another address");
        cr_assert_eq(n, 3, "bindings of the last use are gone");
        cr_assert_eq(index_row_get(idx, INDEX_CACHED(STMT_KV_GET, "SELECT 5 WHERE ?1",
                                                     INDEX_VALUE_INT64(1)),
                                   &index_row_int, &n),
                     -EINVAL, "another statement in a used slot");
        cr_assert_eq(n, 3);
        index_row_forget(idx, STMT_KV_GET);
        cr_assert_eq(index_row_get(idx, INDEX_CACHED(STMT_KV_GET, "SELECT 5 WHERE ?1",
                                                     INDEX_VALUE_INT64(1)),
                                   &index_row_int, &n),
                     0, "a forgotten slot takes a new text");
        cr_assert_eq(n, 5);
}

struct walk {
        int seen;
        int stop_at;
        int inner;
};

static int walk_visit(union index_visitor visitor, const void *row, void *userdata)
{
        const struct every *e = row;
        struct walk *w = userdata;

        w->seen++;
        /* a callback may use the same connection, even the same query */
        cr_assert_eq(index_row_get(idx, INDEX_QUERY("SELECT count(*) FROM t WHERE k > ?1",
                                                    INDEX_VALUE_INT64(e->k)),
                                   &index_row_int, &w->inner),
                     0);
        return e->k == w->stop_at ? 42 : 0;
}

static const struct index_row walk_row = INDEX_ROW(struct every, every_columns, 0, walk_visit);

Test(index_row, foreach_stops_and_reenters)
{
        struct walk w = { .stop_at = 3 };

        cr_assert_eq(index_exec(idx, "INSERT INTO t (k, i, i64, u32, u64, id, txt, path, bytes) "
                                     "VALUES (1, 0, 0, 0, 0, NULL, '', x'', x''), (2, 0, 0, 0, 0, "
                                     "NULL, '', x'', x''), (3, 0, 0, 0, 0, NULL, '', x'', x''), "
                                     "(4, 0, 0, 0, 0, NULL, '', x'', x'')"),
                     0);
        cr_assert_eq(index_row_foreach(idx, INDEX_SQL("SELECT " EVERY_COLUMNS " FROM t ORDER BY k"),
                                       &walk_row, (union index_visitor){ 0 }, &w),
                     42);
        cr_assert_eq(w.seen, 3);
        cr_assert_eq(w.inner, 1);
        w = (struct walk){ .stop_at = 0 };
        cr_assert_eq(index_row_foreach(idx, INDEX_SQL("SELECT " EVERY_COLUMNS " FROM t ORDER BY k"),
                                       &walk_row, (union index_visitor){ 0 }, &w),
                     0);
        cr_assert_eq(w.seen, 4);
        cr_assert_eq(index_row_exec(idx, INDEX_QUERY("DELETE FROM t WHERE k > ?1", INDEX_VALUE_INT64(2))),
                     2, "rows changed");
        cr_assert_eq(index_row_exec_one(idx, INDEX_QUERY("DELETE FROM t WHERE k > ?1",
                                                         INDEX_VALUE_INT64(2))),
                     -ENOENT);
}
