/* SPDX-License-Identifier: MIT */
/* What the files of the index (common/index*.c) share, included by them and
 * their unit tests only: struct index, the slots of its statement cache and
 * the row mapper of index-row.c. A query is its SQL, its parameters (struct
 * index_value) and a row description (struct index_row: one typed column per
 * field of a row struct), so the table files hold SQL, not SQLite calls. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cleanup.h"
#include "index.h"

/* ---- the connection (index.c) -------------------------------------------- */

/* Slots of the per-connection statement cache: transaction control and the
 * hot queries. Each slot has one SQL text, written where it is used. */
enum index_statement {
        STMT_NONE, /* not cached: prepared and finalized per call (listings, rare queries) */
        STMT_BEGIN,
        STMT_BEGIN_READ,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_SAVEPOINT,
        STMT_RELEASE,
        STMT_ROLLBACK_TO,
        STMT_OBJECT_EXISTS,
        STMT_OBJECT_LOOKUP,
        STMT_OBJECT_STORED,
        STMT_OBJECT_INSERT,
        STMT_PACK_UPSERT,
        STMT_PACK_LOOKUP,
        STMT_REINDEX_SEEN,
        STMT_FILE_GET,
        STMT_FILE_PUT,
        STMT_FILE_DELETE_ONE,
        STMT_FILE_DELETE_RANGE,
        STMT_FILE_DELETE_ROOT,
        STMT_FILE_CHILDREN,
        STMT_FILE_CHILDREN_ROOT,
        STMT_REPLICA_SET,
        STMT_REPLICA_GET,
        STMT_KV_GET,
        STMT_KV_SET,
        STMT_FINGERPRINT_GET,
        STMT_FINGERPRINT_PUT,
        _STMT_MAX,
};

struct index {
        sqlite3 *db;
        unsigned flags;
        int version;
        unsigned depth;   /* transaction nesting level */
        int aborted;      /* SQLite rolled the transaction back under us */
        int reindexing;   /* between index_reindex_begin and _end */
        int wal_frames;   /* frames in the write-ahead log after our last commit */
        char error[256];  /* last SQLite message */
        sqlite3_stmt *stmts[_STMT_MAX];
        const char *stmt_sql[_STMT_MAX]; /* the SQL each cached statement was prepared from */
};

/* Translate a SQLite result code to -errno (0 for OK, ROW, DONE), keeping
 * SQLite's message for index_last_error(). The only such translation. */
int index_error(struct index *idx, int rc);
/* Run one or more SQL statements that return nothing we read. */
int index_exec(struct index *idx, const char *sql);
/* End a level opened by an internal index_begin: commit if r >= 0, else roll
 * back and return r. */
int index_end(struct index *idx, int r);
/* CLOCK_REALTIME in nanoseconds (created_ns, updated_ns). */
int64_t index_now_ns(void);

/* ---- the row mapper (index-row.c) ---------------------------------------- */

/* How a field of a row struct maps to a column (and a value to a parameter). */
enum index_kind {
        INDEX_INT,    /* int */
        INDEX_INT64,  /* int64_t */
        INDEX_UINT32, /* uint32_t, stored as INTEGER */
        INDEX_UINT64, /* uint64_t, stored bit for bit in a signed INTEGER */
        INDEX_OID,    /* struct oid, a 32-byte BLOB; NULL reads as all-zero, other sizes fail -EBADMSG */
        INDEX_TEXT,   /* char *, TEXT; NULL binds and reads as "" */
        INDEX_PATH,   /* char *, a BLOB of its bytes without the NUL (memcmp order); NULL reads as "" */
        INDEX_BLOB,   /* void * and a size_t length, a BLOB */
};

enum index_column_flags {
        /* A zero value (id 0, all-zero oid, empty blob) binds NULL: a new
         * AUTOINCREMENT id, no parent, no content; an empty owned blob is
         * NULL (without the flag it is an allocated "", like every copy). */
        INDEX_ZERO_IS_NULL = 1 << 0,
        /* Reading a value that is not an INTEGER fails with -EINVAL. */
        INDEX_STRICT = 1 << 1,
};

struct index_column {
        enum index_kind kind;
        unsigned flags;      /* enum index_column_flags */
        unsigned offset;     /* of the field in the row struct */
        unsigned len_offset; /* INDEX_BLOB: of its size_t length */
};

/* offsetof(st, field), failing to compile unless field has type ctype. */
#define INDEX_FIELD_(st, field, ctype) \
        (offsetof(st, field) + 0 * sizeof(char[_Generic(((st *)0)->field, ctype: 1, default: -1)]))

#define INDEX_COLUMN_INT(st, f, flags) { INDEX_INT, (flags), INDEX_FIELD_(st, f, int), 0 }
#define INDEX_COLUMN_INT64(st, f, flags) { INDEX_INT64, (flags), INDEX_FIELD_(st, f, int64_t), 0 }
#define INDEX_COLUMN_UINT32(st, f, flags) { INDEX_UINT32, (flags), INDEX_FIELD_(st, f, uint32_t), 0 }
#define INDEX_COLUMN_UINT64(st, f, flags) { INDEX_UINT64, (flags), INDEX_FIELD_(st, f, uint64_t), 0 }
#define INDEX_COLUMN_OID(st, f, flags) { INDEX_OID, (flags), INDEX_FIELD_(st, f, struct oid), 0 }
#define INDEX_COLUMN_TEXT(st, f, flags) { INDEX_TEXT, (flags), INDEX_FIELD_(st, f, char *), 0 }
#define INDEX_COLUMN_PATH(st, f, flags) { INDEX_PATH, (flags), INDEX_FIELD_(st, f, char *), 0 }
#define INDEX_COLUMN_BLOB(st, f, len, flags) \
        { INDEX_BLOB, (flags), INDEX_FIELD_(st, f, void *), INDEX_FIELD_(st, len, size_t) }

/* The typed callback of a foreach function, handed through the mapper. */
union index_visitor {
        index_root_cb root;
        index_file_cb file;
        index_object_cb object;
        index_pack_cb pack;
        index_store_cb store;
        index_snapshot_cb snapshot;
        index_hosted_cb hosted;
        index_peer_cb peer;
};

/* The largest row struct (struct index_snapshot is 176 bytes). */
#define INDEX_ROW_MAX 256

/* A row struct described column by column, in SELECT (and INSERT) order. */
struct index_row {
        const struct index_column *columns;
        unsigned n_columns;
        unsigned size; /* sizeof the row struct */
        /* Call visitor's callback with one (borrowed) row; foreach only. */
        int (*visit)(union index_visitor visitor, const void *row, void *userdata);
};

/* Describe struct st by the columns array cols from index first on. */
#define INDEX_ROW(st, cols, first, visit_)                                               \
        { (cols) + (first), ELEMENTSOF(cols) - (first),                                  \
          sizeof(st) + 0 * sizeof(char[sizeof(st) <= INDEX_ROW_MAX ? 1 : -1]), (visit_) }

/* One statement parameter. */
struct index_value {
        enum index_kind kind; /* INDEX_INT64, INDEX_OID, INDEX_TEXT or INDEX_BLOB */
        union {
                int64_t i;
                const struct oid *oid;
                const char *text;
                struct {
                        const void *bytes;
                        size_t len;
                } blob;
        };
};

#define INDEX_VALUE_INT64(v) { .kind = INDEX_INT64, .i = (v) }
#define INDEX_VALUE_OID(id) { .kind = INDEX_OID, .oid = (id) }
#define INDEX_VALUE_TEXT(s) { .kind = INDEX_TEXT, .text = (s) }
/* A path as a BLOB of its bytes (the path columns compare as memcmp). */
#define INDEX_VALUE_PATH(s) { .kind = INDEX_BLOB, .blob = { (s), strlen(s) } }
#define INDEX_VALUE_BYTES(p, n) { .kind = INDEX_BLOB, .blob = { (p), (n) } }

/* A statement: its SQL (cached in slot cache unless STMT_NONE) and the values
 * for ?1, ?2, ... (a row bound by index_row_put() follows them). */
struct index_query {
        enum index_statement cache;
        const char *sql;
        const struct index_value *params;
        size_t n_params;
};

#define INDEX_PARAMS_(...)                                            \
        .params = (const struct index_value[]){ __VA_ARGS__ },        \
        .n_params = sizeof((const struct index_value[]){ __VA_ARGS__ }) / sizeof(struct index_value)
/* A one-off statement without parameters. */
#define INDEX_SQL(sql_) (&(const struct index_query){ .cache = STMT_NONE, .sql = (sql_) })
/* A one-off statement with parameters (at least one). */
#define INDEX_QUERY(sql_, ...) \
        (&(const struct index_query){ .cache = STMT_NONE, .sql = (sql_), INDEX_PARAMS_(__VA_ARGS__) })
/* A cached statement without parameters (a row follows). */
#define INDEX_CACHED_SQL(slot, sql_) (&(const struct index_query){ .cache = (slot), .sql = (sql_) })
/* A cached statement with parameters (at least one). */
#define INDEX_CACHED(slot, sql_, ...) \
        (&(const struct index_query){ .cache = (slot), .sql = (sql_), INDEX_PARAMS_(__VA_ARGS__) })

/* A statement being stepped. */
struct index_cursor {
        struct index *idx;
        sqlite3_stmt *stmt;
        int cached;       /* reset on close instead of finalized */
        unsigned n_bound; /* parameters bound so far */
        int checked;      /* the result columns were counted against the description */
};

/* Prepare q (or take it from the cache) and bind its parameters. */
int index_row_open(struct index *idx, const struct index_query *q, struct index_cursor *ret);
/* Step: 1 with the row read into row (strings borrowed until the next step;
 * row may be NULL), 0 at the end, -errno. */
int index_row_next(struct index_cursor *c, const struct index_row *desc, void *row);
/* As index_row_next() with copies of the strings and blobs, for the caller
 * to index_row_free(); on failure nothing is kept. */
int index_row_next_owned(struct index_cursor *c, const struct index_row *desc, void *row);
/* Reset (cached) or finalize the statement; accepts a cursor never opened. */
void index_row_close(struct index_cursor *c);
#define _cleanup_cursor_ _cleanup_(index_row_close)

/* Run q: the number of rows changed, or -errno. */
int index_row_exec(struct index *idx, const struct index_query *q);
/* Run q: 0, or -ENOENT when it changed no row. */
int index_row_exec_one(struct index *idx, const struct index_query *q);
/* Run q with row bound after its parameters: rows changed, or -errno. */
int index_row_put(struct index *idx, const struct index_query *q, const struct index_row *desc,
                  const void *row);
/* Run q: 1 if it returns a row, 0 if not, -errno. */
int index_row_exists(struct index *idx, const struct index_query *q);
/* Fill ret (desc->size bytes, strings and blobs owned) with q's first row;
 * -ENOENT if none; ret is untouched on failure. */
int index_row_get(struct index *idx, const struct index_query *q, const struct index_row *desc,
                  void *ret);
/* Call desc->visit(visitor) for each row of q (borrowed strings); stops at
 * the first nonzero return and returns it. */
int index_row_foreach(struct index *idx, const struct index_query *q, const struct index_row *desc,
                      union index_visitor visitor, void *userdata);
/* Free the owned strings and blobs of row (NULL, zero length); accepts NULL. */
void index_row_free(const struct index_row *desc, void *row);
/* The rowid of the last row inserted on this connection. */
int64_t index_row_last_id(struct index *idx);
/* Finalize the cached statement of slot (its table is going away). */
void index_row_forget(struct index *idx, enum index_statement slot);

/* One column: an int, a char * (counts, states, a PRAGMA's answer). */
extern const struct index_row index_row_int;
extern const struct index_row index_row_text;

/* ---- shared between the table files ---------------------------------------- */

#define INDEX_PACK_COLUMNS "id, size, n_objects, created_ns, local, record_bytes"
/* The same of a packs row named p (in a join). */
#define INDEX_PACK_COLUMNS_P "p.id, p.size, p.n_objects, p.created_ns, p.local, p.record_bytes"
/* struct index_pack as INDEX_PACK_COLUMNS (index-pack.c). */
extern const struct index_row index_pack_row;

/* Replica row "a" is a copy that counts: uploaded (or verified) to a store
 * that does not refuse this node (index_store_set_refused). */
#define REPLICA_HELD(a) \
        a ".state >= 1 AND " a ".store_id IN (SELECT s.id FROM stores s WHERE s.refused_ns = 0)"
/* "p" (a packs row) is pending for store ?1: not condemned by prune, the
 * store does not hold it and,
 * when ?2 (copies) is not 0, fewer than ?2 stores hold copies that count. */
#define PENDING_WHERE                                                                       \
        "p.condemned_ns = 0 AND "                                                           \
        "NOT EXISTS (SELECT 1 FROM replicas r WHERE r.pack_id = p.id AND r.store_id = ?1 " \
        "AND r.state >= 1) AND (?2 = 0 OR (SELECT count(*) FROM replicas r "                \
        "WHERE r.pack_id = p.id AND " REPLICA_HELD("r") ") < ?2)"

#define OBJECT_COLUMNS "id, type, pack_id, offset, length"
/* struct index_object as OBJECT_COLUMNS (index-object.c). */
extern const struct index_row index_object_row;

/* Insert one object row unless its id is present (index-object.c). */
int index_object_insert(struct index *idx, const struct index_object *object);
/* Mark pack as seen when a reindex is running, else nothing (index-reindex.c). */
int index_reindex_seen(struct index *idx, const struct oid *pack);
