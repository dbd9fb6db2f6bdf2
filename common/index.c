/* SPDX-License-Identifier: MIT */
/* The SQLite index: connection setup (WAL, synchronous=FULL, busy timeout,
 * foreign keys), numbered migrations, a per-connection cache of prepared
 * statements for the hot queries, and the one place where SQLite result codes
 * become -errno. Listings prepare their own statement so that callbacks may
 * call back into the same connection. Schema and rationale: docs/index.md. */
#include "index.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <time.h>

#ifndef SQLITE_OPEN_EXRESCODE
#define SQLITE_OPEN_EXRESCODE 0 /* before 3.37: sqlite3_extended_result_codes() below */
#endif

/* Checkpoint after a commit that leaves this many frames in the log (64 MiB
 * of 4 KiB pages). */
#define INDEX_WAL_AUTOCHECKPOINT 16384

/* ---- schema ------------------------------------------------------------ */

/* Migration N (1-based) brings user_version N-1 to N inside one transaction.
 * Append only: never edit a migration that has shipped. */
static const char *const index_migrations[INDEX_SCHEMA_VERSION] = {
        /* 1: initial schema */
        "CREATE TABLE roots ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  path BLOB NOT NULL UNIQUE,"
        "  excludes TEXT NOT NULL DEFAULT '',"
        "  one_fs INTEGER NOT NULL DEFAULT 0,"
        "  state INTEGER NOT NULL DEFAULT 0,"
        "  created_ns INTEGER NOT NULL);"
        "CREATE TABLE file_cache ("
        "  root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,"
        "  path BLOB NOT NULL,"
        "  dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,"
        "  mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, mode INTEGER NOT NULL,"
        "  content BLOB,"
        "  PRIMARY KEY (root_id, path)) WITHOUT ROWID;"
        "CREATE TABLE packs ("
        "  id BLOB PRIMARY KEY CHECK (length(id) = 32),"
        "  size INTEGER NOT NULL, n_objects INTEGER NOT NULL,"
        "  created_ns INTEGER NOT NULL, local INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;"
        "CREATE TABLE objects ("
        "  id BLOB PRIMARY KEY CHECK (length(id) = 32),"
        "  type INTEGER NOT NULL,"
        "  pack_id BLOB NOT NULL REFERENCES packs(id) ON DELETE CASCADE,"
        "  offset INTEGER NOT NULL, length INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX objects_pack ON objects(pack_id, offset);"
        "CREATE TABLE stores ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, config TEXT NOT NULL DEFAULT '');"
        "CREATE TABLE replicas ("
        "  pack_id BLOB NOT NULL REFERENCES packs(id) ON DELETE CASCADE,"
        "  store_id INTEGER NOT NULL REFERENCES stores(id) ON DELETE CASCADE,"
        "  state INTEGER NOT NULL, updated_ns INTEGER NOT NULL,"
        "  PRIMARY KEY (pack_id, store_id)) WITHOUT ROWID;"
        "CREATE INDEX replicas_store ON replicas(store_id, state);"
        "CREATE TABLE snapshots ("
        "  id BLOB PRIMARY KEY CHECK (length(id) = 32),"
        "  root_id INTEGER NOT NULL, time_ns INTEGER NOT NULL,"
        "  tree_id BLOB NOT NULL, parent BLOB,"
        "  hostname TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '',"
        "  files INTEGER NOT NULL DEFAULT 0, dirs INTEGER NOT NULL DEFAULT 0,"
        "  bytes INTEGER NOT NULL DEFAULT 0, new_bytes INTEGER NOT NULL DEFAULT 0,"
        "  errors INTEGER NOT NULL DEFAULT 0, files_read INTEGER NOT NULL DEFAULT 0)"
        "  WITHOUT ROWID;"
        "CREATE INDEX snapshots_root_time ON snapshots(root_id, time_ns);"
        "CREATE TABLE hosted ("
        "  peer_id BLOB NOT NULL, pack_id BLOB NOT NULL,"
        "  size INTEGER NOT NULL, created_ns INTEGER NOT NULL,"
        "  PRIMARY KEY (peer_id, pack_id)) WITHOUT ROWID;"
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value) WITHOUT ROWID;",
};

/* ---- cached statements --------------------------------------------------- */

#define SNAPSHOT_COLUMNS                                                                  \
        "id, root_id, time_ns, tree_id, parent, hostname, tags, files, dirs, bytes, "     \
        "new_bytes, errors, files_read"
#define ROOT_COLUMNS "id, path, excludes, one_fs, state, created_ns"
#define PACK_COLUMNS "id, size, n_objects, created_ns, local"
#define FILE_COLUMNS "path, dev, ino, size, mtime_ns, ctime_ns, mode, content"

#define INDEX_STATEMENTS(X)                                                                     \
        X(BEGIN, "BEGIN IMMEDIATE")                                                             \
        X(BEGIN_READ, "BEGIN")                                                                  \
        X(COMMIT, "COMMIT")                                                                     \
        X(ROLLBACK, "ROLLBACK")                                                                 \
        X(SAVEPOINT, "SAVEPOINT sp")                                                            \
        X(RELEASE, "RELEASE sp")                                                                \
        X(ROLLBACK_TO, "ROLLBACK TO sp")                                                        \
        X(OBJECT_EXISTS, "SELECT 1 FROM objects WHERE id = ?1")                                 \
        X(OBJECT_LOOKUP, "SELECT type, pack_id, offset, length FROM objects WHERE id = ?1")     \
        X(OBJECT_INSERT, "INSERT INTO objects (id, type, pack_id, offset, length) "             \
                         "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING")             \
        X(PACK_UPSERT, "INSERT INTO packs (" PACK_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5) "      \
                       "ON CONFLICT (id) DO UPDATE SET size = excluded.size, "                  \
                       "n_objects = excluded.n_objects, local = excluded.local")                \
        X(PACK_LOOKUP, "SELECT " PACK_COLUMNS " FROM packs WHERE id = ?1")                      \
        X(REINDEX_SEEN, "INSERT OR IGNORE INTO temp.reindex_seen (id) VALUES (?1)")             \
        X(FILE_GET, "SELECT " FILE_COLUMNS " FROM file_cache WHERE root_id = ?1 AND path = ?2") \
        X(FILE_PUT, "INSERT OR REPLACE INTO file_cache (root_id, " FILE_COLUMNS ") "            \
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                              \
        X(FILE_DELETE_ONE, "DELETE FROM file_cache WHERE root_id = ?1 AND path = ?2")           \
        X(FILE_DELETE_RANGE, "DELETE FROM file_cache WHERE root_id = ?1 AND path >= ?2 "        \
                             "AND path < ?3")                                                   \
        X(FILE_DELETE_ROOT, "DELETE FROM file_cache WHERE root_id = ?1")                        \
        X(REPLICA_SET, "INSERT INTO replicas (pack_id, store_id, state, updated_ns) "           \
                       "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (pack_id, store_id) DO UPDATE "     \
                       "SET state = excluded.state, updated_ns = excluded.updated_ns")          \
        X(REPLICA_GET, "SELECT state FROM replicas WHERE pack_id = ?1 AND store_id = ?2")       \
        X(KV_GET, "SELECT value FROM kv WHERE key = ?1")                                        \
        X(KV_SET, "INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)")

enum index_statement {
#define X(name, sql) STMT_##name,
        INDEX_STATEMENTS(X)
#undef X
        _STMT_MAX,
};

static const char *const index_statement_sql[_STMT_MAX] = {
#define X(name, sql) [STMT_##name] = sql,
        INDEX_STATEMENTS(X)
#undef X
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
};

/* ---- errors: the SQLite boundary ----------------------------------------- */

/* Translate a SQLite result code (with the connection's extended code and OS
 * errno) to -errno, remembering SQLite's message for index_last_error(). */
static int index_error(struct index *idx, int rc)
{
        int extended = rc, sys = 0;

        if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
                return 0;
        if (idx && idx->db) {
                extended = sqlite3_extended_errcode(idx->db);
                if ((extended & 0xff) != (rc & 0xff))
                        extended = rc;
                sys = sqlite3_system_errno(idx->db);
                snprintf(idx->error, sizeof(idx->error), "%s", sqlite3_errmsg(idx->db));
        }

        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
                return -EBADMSG;
        case SQLITE_CANTOPEN:
                return sys > 0 ? -sys : -ENOENT;
        case SQLITE_IOERR:
                return sys > 0 ? -sys : -EIO;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_INTERRUPT:
                return -EINTR;
        case SQLITE_PROTOCOL:
                return -EPROTO;
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
        case SQLITE_MISUSE:
                return -EINVAL;
        case SQLITE_CONSTRAINT:
                switch (extended) {
                case SQLITE_CONSTRAINT_FOREIGNKEY:
                        return -ENOENT; /* the referenced root/pack/store is missing */
                case SQLITE_CONSTRAINT_CHECK:
                case SQLITE_CONSTRAINT_NOTNULL:
                        return -EINVAL;
                default:
                        return -EEXIST;
                }
        default:
                return -EIO;
        }
}

const char *index_last_error(struct index *idx)
{
        return idx && idx->error[0] ? idx->error : "no error";
}

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- statements ---------------------------------------------------------- */

/* Reset a cached statement after use (keeps it prepared). */
static void stmt_resetp(sqlite3_stmt **s)
{
        if (*s) {
                sqlite3_reset(*s);
                sqlite3_clear_bindings(*s);
        }
}
#define _cleanup_reset_ _cleanup_(stmt_resetp)

static void stmt_finalizep(sqlite3_stmt **s)
{
        sqlite3_finalize(*s);
}
#define _cleanup_finalize_ _cleanup_(stmt_finalizep)

/* Get the cached statement which, preparing it on first use. */
static int index_stmt(struct index *idx, enum index_statement which, sqlite3_stmt **ret)
{
        if (!idx->stmts[which]) {
                int rc = sqlite3_prepare_v3(idx->db, index_statement_sql[which], -1,
                                            SQLITE_PREPARE_PERSISTENT, &idx->stmts[which], NULL);
                if (rc != SQLITE_OK)
                        return index_error(idx, rc);
        }
        *ret = idx->stmts[which];
        return 0;
}

/* Prepare a one-off statement (listings, rare queries). */
static int index_prepare(struct index *idx, const char *sql, sqlite3_stmt **ret)
{
        int rc = sqlite3_prepare_v2(idx->db, sql, -1, ret, NULL);

        return rc == SQLITE_OK ? 0 : index_error(idx, rc);
}

/* Step a statement that returns no rows; returns sqlite3_changes() or -errno. */
static int step_done(struct index *idx, sqlite3_stmt *s)
{
        int rc = sqlite3_step(s);

        if (rc == SQLITE_ROW) /* e.g. a PRAGMA answering */
                rc = SQLITE_DONE;
        if (rc != SQLITE_DONE)
                return index_error(idx, rc);
        return sqlite3_changes(idx->db);
}

/* Step once: 1 for a row, 0 for none, -errno on failure. */
static int step_row(struct index *idx, sqlite3_stmt *s)
{
        int rc = sqlite3_step(s);

        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return index_error(idx, rc);
}

static int run_cached(struct index *idx, enum index_statement which)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r = index_stmt(idx, which, &s);

        return r < 0 ? r : step_done(idx, s);
}

static int exec_sql(struct index *idx, const char *sql)
{
        char *msg = NULL;
        int rc = sqlite3_exec(idx->db, sql, NULL, NULL, &msg);

        sqlite3_free(msg);
        return rc == SQLITE_OK ? 0 : index_error(idx, rc);
}

static int pragma_int(struct index *idx, const char *sql, int *ret)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, sql, &s);
        if (r < 0)
                return r;
        r = step_row(idx, s);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;
        *ret = sqlite3_column_int(s, 0);
        return 0;
}

/* Binding helpers: SQLite copies (SQLITE_TRANSIENT) unless the value outlives
 * the step, which is true for every caller here, hence SQLITE_STATIC. */
static int bind_oid(sqlite3_stmt *s, int col, const struct oid *id)
{
        return sqlite3_bind_blob(s, col, id->bytes, OID_SIZE, SQLITE_STATIC);
}

static int bind_path(sqlite3_stmt *s, int col, const char *path, size_t len)
{
        /* zeroblob-free: a zero-length blob must not bind as NULL */
        return sqlite3_bind_blob(s, col, len ? path : "", (int)len, SQLITE_STATIC);
}

static int bind_text(sqlite3_stmt *s, int col, const char *text)
{
        return sqlite3_bind_text(s, col, text ? text : "", -1, SQLITE_STATIC);
}

/* Read a 32-byte id column; NULL reads as all-zero, other sizes are corrupt. */
static int column_oid(sqlite3_stmt *s, int col, struct oid *ret)
{
        const void *p;

        if (sqlite3_column_type(s, col) == SQLITE_NULL) {
                memset(ret, 0, sizeof(*ret));
                return 0;
        }
        p = sqlite3_column_blob(s, col);
        if (!p || sqlite3_column_bytes(s, col) != OID_SIZE)
                return -EBADMSG;
        memcpy(ret->bytes, p, OID_SIZE);
        return 0;
}

/* A text or blob column as a NUL-terminated string, "" for NULL. */
static const char *column_str(sqlite3_stmt *s, int col)
{
        const char *t = (const char *)sqlite3_column_text(s, col);

        return t ? t : "";
}

/* ---- connection ---------------------------------------------------------- */

static int index_migrate(struct index *idx)
{
        int r, v;

        r = pragma_int(idx, "PRAGMA user_version", &v);
        if (r < 0)
                return r;
        if (v > INDEX_SCHEMA_VERSION)
                return -EPROTONOSUPPORT;
        if (v < 0)
                return -EBADMSG;

        while (v < INDEX_SCHEMA_VERSION) {
                char sql[64];

                r = exec_sql(idx, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                /* Another writer may have migrated while we waited. */
                r = pragma_int(idx, "PRAGMA user_version", &v);
                if (r < 0 || v >= INDEX_SCHEMA_VERSION)
                        goto end;
                r = exec_sql(idx, index_migrations[v]);
                if (r < 0)
                        goto end;
                snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
                r = exec_sql(idx, sql);
                if (r < 0)
                        goto end;
                r = exec_sql(idx, "COMMIT");
                if (r < 0)
                        goto end;
                v++;
                continue;
        end:
                if (!sqlite3_get_autocommit(idx->db))
                        (void)exec_sql(idx, "ROLLBACK");
                if (r < 0)
                        return r;
        }
        idx->version = v;
        return 0;
}

/* Switch to WAL (persistent in the file); the statement must be finalized
 * before any transaction can commit. */
static int index_set_wal(struct index *idx)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "PRAGMA journal_mode = WAL", &s);
        if (r < 0)
                return r;
        r = step_row(idx, s);
        if (r < 0)
                return r;
        if (r == 0 || strcmp(column_str(s, 0), "wal") != 0)
                return -EIO;
        return 0;
}

/* Replaces SQLite's auto-checkpoint (same rule, a passive checkpoint once
 * the log holds INDEX_WAL_AUTOCHECKPOINT frames) and remembers the log's
 * length for index_checkpoint. */
static int index_wal_hook(void *userdata, sqlite3 *db, const char *name, int frames)
{
        struct index *idx = userdata;
        idx->wal_frames = frames;
        if (frames >= INDEX_WAL_AUTOCHECKPOINT)
                (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
}

int index_open(const char *path, unsigned flags, struct index **ret)
{
        struct index *idx;
        int r, rc, v, oflags;

        if (!path || !ret || (flags & ~(unsigned)INDEX_READONLY))
                return -EINVAL;

        idx = calloc(1, sizeof(*idx));
        if (!idx)
                return -ENOMEM;
        idx->flags = flags;

        oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
        oflags |= (flags & INDEX_READONLY) ? SQLITE_OPEN_READONLY
                                           : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        rc = sqlite3_open_v2(path, &idx->db, oflags, NULL);
        if (rc != SQLITE_OK) {
                r = index_error(idx, rc);
                goto fail;
        }
        sqlite3_extended_result_codes(idx->db, 1);
        sqlite3_busy_timeout(idx->db, 10000);
        (void)sqlite3_db_config(idx->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        (void)sqlite3_db_config(idx->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

        /* First read: a non-SQLite file fails here with -EBADMSG. */
        r = pragma_int(idx, "PRAGMA user_version", &v);
        if (r < 0)
                goto fail;
        if (v > INDEX_SCHEMA_VERSION) {
                r = -EPROTONOSUPPORT;
                goto fail;
        }

        if (flags & INDEX_READONLY) {
                if (v < INDEX_SCHEMA_VERSION) {
                        r = -EROFS;
                        goto fail;
                }
                idx->version = v;
        } else {
                r = index_set_wal(idx);
                if (r < 0)
                        goto fail;
                /* FULL: a commit is durable before the daemon acts on it (see
                 * docs/index.md). The larger cache and checkpoint interval
                 * cut write amplification of random-id inserts ~2x; the log
                 * file shrinks back to 4 MiB once a checkpoint completed. */
                r = exec_sql(idx, "PRAGMA synchronous = FULL;"
                                  "PRAGMA cache_size = -4096;"
                                  "PRAGMA journal_size_limit = 4194304;");
                if (r < 0)
                        goto fail;
                sqlite3_wal_hook(idx->db, index_wal_hook, idx);
                r = index_migrate(idx);
                if (r < 0)
                        goto fail;
        }
        r = exec_sql(idx, "PRAGMA foreign_keys = ON");
        if (r < 0)
                goto fail;

        *ret = idx;
        return 0;
fail:
        index_close(idx);
        return r;
}

void index_close(struct index *idx)
{
        if (!idx)
                return;
        for (size_t i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(idx->stmts[i]);
        if (idx->db) {
                if (!sqlite3_get_autocommit(idx->db))
                        (void)exec_sql(idx, "ROLLBACK");
                sqlite3_close_v2(idx->db);
        }
        free(idx);
}

int index_schema_version(struct index *idx)
{
        return idx->version;
}

int index_checkpoint(struct index *idx, int min_frames)
{
        int log = 0, done = 0;

        if (idx->flags & INDEX_READONLY)
                return -EROFS;
        if (idx->depth > 0)
                return -EBUSY;
        if (idx->wal_frames < min_frames)
                return 0;
        int rc = sqlite3_wal_checkpoint_v2(idx->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (rc != SQLITE_OK)
                return index_error(idx, rc);
        if (log >= 0 && done < log)
                return 0; /* a reader still needs part of the log: next time */
        idx->wal_frames = 0;
        return 1;
}

/* ---- transactions -------------------------------------------------------- */

/* If SQLite dropped the transaction by itself (some errors roll back
 * automatically), mark every open level as aborted. */
static void index_check_aborted(struct index *idx)
{
        if (idx->depth > 0 && sqlite3_get_autocommit(idx->db))
                idx->aborted = 1;
}

int index_begin(struct index *idx)
{
        int r;

        index_check_aborted(idx);
        if (idx->aborted)
                return -ECANCELED;
        if (idx->depth == 0)
                r = run_cached(idx, (idx->flags & INDEX_READONLY) ? STMT_BEGIN_READ : STMT_BEGIN);
        else
                r = run_cached(idx, STMT_SAVEPOINT);
        if (r < 0)
                return r;
        idx->depth++;
        return 0;
}

int index_commit(struct index *idx)
{
        int r;

        if (idx->depth == 0)
                return -EINVAL;
        index_check_aborted(idx);
        if (idx->aborted) {
                if (--idx->depth == 0)
                        idx->aborted = 0;
                return -ECANCELED;
        }
        if (idx->depth > 1) {
                r = run_cached(idx, STMT_RELEASE);
                if (r < 0)
                        return r;
                idx->depth--;
                return 0;
        }
        r = run_cached(idx, STMT_COMMIT);
        if (r < 0 && !sqlite3_get_autocommit(idx->db))
                (void)run_cached(idx, STMT_ROLLBACK);
        idx->depth = 0;
        return r < 0 ? r : 0;
}

int index_rollback(struct index *idx)
{
        int r;

        if (idx->depth == 0)
                return -EINVAL;
        index_check_aborted(idx);
        if (idx->aborted) {
                if (--idx->depth == 0)
                        idx->aborted = 0;
                return 0;
        }
        if (idx->depth > 1) {
                r = run_cached(idx, STMT_ROLLBACK_TO);
                if (r >= 0)
                        r = run_cached(idx, STMT_RELEASE);
                idx->depth--;
                return r < 0 ? r : 0;
        }
        r = run_cached(idx, STMT_ROLLBACK);
        idx->depth = 0;
        return r < 0 ? r : 0;
}

/* End a level opened by an internal index_begin: commit if r >= 0, else roll
 * back and keep r. */
static int index_end(struct index *idx, int r)
{
        if (r < 0) {
                (void)index_rollback(idx);
                return r;
        }
        return index_commit(idx);
}

/* ---- roots --------------------------------------------------------------- */

static void read_root(sqlite3_stmt *s, struct index_root *r)
{
        r->id = sqlite3_column_int64(s, 0);
        r->path = (char *)column_str(s, 1);
        r->excludes = (char *)column_str(s, 2);
        r->one_fs = sqlite3_column_int(s, 3);
        r->state = sqlite3_column_int(s, 4);
        r->created_ns = sqlite3_column_int64(s, 5);
}

static int copy_root(sqlite3_stmt *s, struct index_root *ret)
{
        struct index_root r;
        char *path, *excludes;

        read_root(s, &r);
        path = strdup(r.path);
        excludes = strdup(r.excludes);
        if (!path || !excludes) {
                free(path);
                free(excludes);
                return -ENOMEM;
        }
        r.path = path;
        r.excludes = excludes;
        *ret = r;
        return 0;
}

void index_root_done(struct index_root *root)
{
        if (!root)
                return;
        free(root->path);
        free(root->excludes);
        root->path = root->excludes = NULL;
}

int index_root_add(struct index *idx, const char *path, const char *excludes, int one_fs,
                   int64_t *ret_id)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        if (!path || !*path)
                return -EINVAL;
        r = index_prepare(idx,
                          "INSERT INTO roots (path, excludes, one_fs, state, created_ns) "
                          "VALUES (?1, ?2, ?3, 0, ?4)",
                          &s);
        if (r < 0)
                return r;
        bind_path(s, 1, path, strlen(path));
        bind_text(s, 2, excludes);
        sqlite3_bind_int(s, 3, !!one_fs);
        sqlite3_bind_int64(s, 4, now_ns());
        r = step_done(idx, s);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(idx->db);
        return 0;
}

static int root_get_by(struct index *idx, const char *where, int64_t id, const char *path,
                       struct index_root *ret)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        char sql[128];
        int r;

        snprintf(sql, sizeof(sql), "SELECT " ROOT_COLUMNS " FROM roots WHERE %s", where);
        r = index_prepare(idx, sql, &s);
        if (r < 0)
                return r;
        if (path)
                bind_path(s, 1, path, strlen(path));
        else
                sqlite3_bind_int64(s, 1, id);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        return copy_root(s, ret);
}

int index_root_get(struct index *idx, int64_t id, struct index_root *ret)
{
        return root_get_by(idx, "id = ?1", id, NULL, ret);
}

int index_root_find(struct index *idx, const char *path, struct index_root *ret)
{
        if (!path)
                return -EINVAL;
        return root_get_by(idx, "path = ?1", 0, path, ret);
}

int index_root_update(struct index *idx, int64_t id, const char *excludes, int one_fs, int state)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "UPDATE roots SET excludes = ?2, one_fs = ?3, state = ?4 "
                               "WHERE id = ?1",
                          &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        bind_text(s, 2, excludes);
        sqlite3_bind_int(s, 3, !!one_fs);
        sqlite3_bind_int(s, 4, state);
        r = step_done(idx, s);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

/* Run a statement whose only parameter is a row id: -ENOENT when it changed no row. */
static int exec_on_id(struct index *idx, const char *sql, int64_t id)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r = index_prepare(idx, sql, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        r = step_done(idx, s);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int index_root_remove(struct index *idx, int64_t id)
{
        /* The file cache goes with it (ON DELETE CASCADE). */
        return exec_on_id(idx, "DELETE FROM roots WHERE id = ?1", id);
}

int index_root_foreach(struct index *idx, index_root_cb cb, void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT " ROOT_COLUMNS " FROM roots ORDER BY id", &s);
        if (r < 0)
                return r;
        while ((r = step_row(idx, s)) > 0) {
                struct index_root root;

                read_root(s, &root);
                r = cb(&root, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

/* ---- file cache ---------------------------------------------------------- */

/* Column layout of FILE_COLUMNS: path, dev, ino, size, mtime, ctime, mode, content. */
static void read_file(sqlite3_stmt *s, struct index_file *f)
{
        f->dev = (uint64_t)sqlite3_column_int64(s, 1);
        f->ino = (uint64_t)sqlite3_column_int64(s, 2);
        f->size = (uint64_t)sqlite3_column_int64(s, 3);
        f->mtime_ns = sqlite3_column_int64(s, 4);
        f->ctime_ns = sqlite3_column_int64(s, 5);
        f->mode = (uint32_t)sqlite3_column_int64(s, 6);
        f->content = (void *)sqlite3_column_blob(s, 7);
        f->content_len = (size_t)sqlite3_column_bytes(s, 7);
}

void index_file_done(struct index_file *file)
{
        if (!file)
                return;
        free(file->content);
        file->content = NULL;
        file->content_len = 0;
}

int index_file_get(struct index *idx, int64_t root_id, const char *path, struct index_file *ret)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        struct index_file f;
        void *content = NULL;
        int r;

        if (!path)
                return -EINVAL;
        r = index_stmt(idx, STMT_FILE_GET, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, root_id);
        bind_path(s, 2, path, strlen(path));
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        read_file(s, &f);
        if (f.content_len > 0) {
                content = malloc(f.content_len);
                if (!content)
                        return -ENOMEM;
                memcpy(content, f.content, f.content_len);
        }
        f.content = content;
        *ret = f;
        return 0;
}

int index_file_put(struct index *idx, int64_t root_id, const char *path,
                   const struct index_file *file)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        if (!path || !file || (file->content_len && !file->content) || file->content_len > INT32_MAX)
                return -EINVAL;
        r = index_stmt(idx, STMT_FILE_PUT, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, root_id);
        bind_path(s, 2, path, strlen(path));
        sqlite3_bind_int64(s, 3, (int64_t)file->dev);
        sqlite3_bind_int64(s, 4, (int64_t)file->ino);
        sqlite3_bind_int64(s, 5, (int64_t)file->size);
        sqlite3_bind_int64(s, 6, file->mtime_ns);
        sqlite3_bind_int64(s, 7, file->ctime_ns);
        sqlite3_bind_int64(s, 8, file->mode);
        if (file->content_len)
                sqlite3_bind_blob(s, 9, file->content, (int)file->content_len, SQLITE_STATIC);
        r = step_done(idx, s);
        return r < 0 ? r : 0;
}

int index_file_put_batch(struct index *idx, int64_t root_id, const char *const *paths,
                         const struct index_file *files, size_t n)
{
        int r;

        r = index_begin(idx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = index_file_put(idx, root_id, paths[i], &files[i]);
        return index_end(idx, r);
}

/* Strip trailing slashes: "a/b/" and "a/b" name the same directory. */
static size_t prefix_length(const char *prefix)
{
        size_t n = strlen(prefix);

        while (n > 0 && prefix[n - 1] == '/')
                n--;
        return n;
}

/* Build the half-open range [prefix "/", prefix "0") of paths under prefix
 * ('0' is '/' + 1), in one buffer: lo at buf, hi at buf + n + 1. */
static char *prefix_range(const char *prefix, size_t n)
{
        char *buf = malloc(2 * (n + 1));

        if (!buf)
                return NULL;
        memcpy(buf, prefix, n);
        buf[n] = '/';
        memcpy(buf + n + 1, prefix, n);
        buf[2 * n + 1] = '0';
        return buf;
}

int index_file_delete_prefix(struct index *idx, int64_t root_id, const char *prefix)
{
        _cleanup_free_ char *range = NULL;
        size_t n;
        int r, total;

        if (!prefix)
                return -EINVAL;
        n = prefix_length(prefix);
        if (n == 0)
                return index_file_delete_root(idx, root_id);
        range = prefix_range(prefix, n);
        if (!range)
                return -ENOMEM;

        r = index_begin(idx);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *s = NULL;

                r = index_stmt(idx, STMT_FILE_DELETE_ONE, &s);
                if (r >= 0) {
                        sqlite3_bind_int64(s, 1, root_id);
                        bind_path(s, 2, prefix, n);
                        r = step_done(idx, s);
                }
        }
        total = r;
        if (r >= 0) {
                _cleanup_reset_ sqlite3_stmt *s = NULL;

                r = index_stmt(idx, STMT_FILE_DELETE_RANGE, &s);
                if (r >= 0) {
                        sqlite3_bind_int64(s, 1, root_id);
                        bind_path(s, 2, range, n + 1);
                        bind_path(s, 3, range + n + 1, n + 1);
                        r = step_done(idx, s);
                }
        }
        if (r >= 0)
                total += r;
        r = index_end(idx, r);
        return r < 0 ? r : total;
}

int index_file_delete_root(struct index *idx, int64_t root_id)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        r = index_stmt(idx, STMT_FILE_DELETE_ROOT, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, root_id);
        return step_done(idx, s);
}

static int file_foreach_stmt(struct index *idx, sqlite3_stmt *s, index_file_cb cb, void *userdata)
{
        int r;

        while ((r = step_row(idx, s)) > 0) {
                struct index_file f;

                read_file(s, &f);
                r = cb(column_str(s, 0), &f, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

int index_file_foreach(struct index *idx, int64_t root_id, const char *prefix, index_file_cb cb,
                       void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *one = NULL, *range_stmt = NULL;
        _cleanup_free_ char *range = NULL;
        size_t n;
        int r;

        if (!prefix)
                prefix = "";
        n = prefix_length(prefix);
        if (n == 0) {
                r = index_prepare(idx, "SELECT " FILE_COLUMNS " FROM file_cache "
                                       "WHERE root_id = ?1 ORDER BY path",
                                  &one);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(one, 1, root_id);
                return file_foreach_stmt(idx, one, cb, userdata);
        }

        range = prefix_range(prefix, n);
        if (!range)
                return -ENOMEM;
        r = index_prepare(idx, "SELECT " FILE_COLUMNS " FROM file_cache "
                               "WHERE root_id = ?1 AND path = ?2",
                          &one);
        if (r < 0)
                return r;
        sqlite3_bind_int64(one, 1, root_id);
        bind_path(one, 2, prefix, n);
        r = file_foreach_stmt(idx, one, cb, userdata);
        if (r != 0)
                return r;

        r = index_prepare(idx, "SELECT " FILE_COLUMNS " FROM file_cache "
                               "WHERE root_id = ?1 AND path >= ?2 AND path < ?3 ORDER BY path",
                          &range_stmt);
        if (r < 0)
                return r;
        sqlite3_bind_int64(range_stmt, 1, root_id);
        bind_path(range_stmt, 2, range, n + 1);
        bind_path(range_stmt, 3, range + n + 1, n + 1);
        return file_foreach_stmt(idx, range_stmt, cb, userdata);
}

/* ---- objects ------------------------------------------------------------- */

int index_object_exists(struct index *idx, const struct oid *id)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        r = index_stmt(idx, STMT_OBJECT_EXISTS, &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, id);
        return step_row(idx, s);
}

int index_object_lookup(struct index *idx, const struct oid *id, struct index_object *ret)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        struct index_object o;
        int r;

        r = index_stmt(idx, STMT_OBJECT_LOOKUP, &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, id);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        o.id = *id;
        o.type = sqlite3_column_int(s, 0);
        r = column_oid(s, 1, &o.pack);
        if (r < 0)
                return r;
        o.offset = (uint64_t)sqlite3_column_int64(s, 2);
        o.length = (uint32_t)sqlite3_column_int64(s, 3);
        *ret = o;
        return 0;
}

static int object_insert(struct index *idx, const struct oid *id, int type, const struct oid *pack,
                         uint64_t offset, uint32_t length)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        if (offset > INT64_MAX)
                return -EINVAL;
        r = index_stmt(idx, STMT_OBJECT_INSERT, &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, id);
        sqlite3_bind_int(s, 2, type);
        bind_oid(s, 3, pack);
        sqlite3_bind_int64(s, 4, (int64_t)offset);
        sqlite3_bind_int64(s, 5, length);
        r = step_done(idx, s);
        return r < 0 ? r : 0;
}

int index_object_add_batch(struct index *idx, const struct index_object *objects, size_t n)
{
        int r;

        r = index_begin(idx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = object_insert(idx, &objects[i].id, objects[i].type, &objects[i].pack,
                                  objects[i].offset, objects[i].length);
        return index_end(idx, r);
}

static int object_foreach_stmt(struct index *idx, sqlite3_stmt *s, index_object_cb cb,
                               void *userdata)
{
        int r;

        while ((r = step_row(idx, s)) > 0) {
                struct index_object o;

                r = column_oid(s, 0, &o.id);
                if (r >= 0)
                        r = column_oid(s, 2, &o.pack);
                if (r < 0)
                        return r;
                o.type = sqlite3_column_int(s, 1);
                o.offset = (uint64_t)sqlite3_column_int64(s, 3);
                o.length = (uint32_t)sqlite3_column_int64(s, 4);
                r = cb(&o, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

int index_object_foreach(struct index *idx, index_object_cb cb, void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT id, type, pack_id, offset, length FROM objects ORDER BY id",
                          &s);
        if (r < 0)
                return r;
        return object_foreach_stmt(idx, s, cb, userdata);
}

int index_object_foreach_type(struct index *idx, int type, index_object_cb cb, void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT id, type, pack_id, offset, length FROM objects "
                               "WHERE type = ?1 ORDER BY id",
                          &s);
        if (r < 0)
                return r;
        sqlite3_bind_int(s, 1, type);
        return object_foreach_stmt(idx, s, cb, userdata);
}

int index_object_foreach_in_pack(struct index *idx, const struct oid *pack, index_object_cb cb,
                                 void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT id, type, pack_id, offset, length FROM objects "
                               "WHERE pack_id = ?1 ORDER BY offset",
                          &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, pack);
        return object_foreach_stmt(idx, s, cb, userdata);
}

/* ---- packs --------------------------------------------------------------- */

int index_pack_add(struct index *idx, const struct oid *pack_id, uint64_t size, int64_t created_ns,
                   int local, const struct index_pack_entry *entries, size_t n)
{
        int r;

        if (!pack_id || (n && !entries) || size > INT64_MAX || n > UINT32_MAX)
                return -EINVAL;
        r = index_begin(idx);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *s = NULL;

                r = index_stmt(idx, STMT_PACK_UPSERT, &s);
                if (r >= 0) {
                        bind_oid(s, 1, pack_id);
                        sqlite3_bind_int64(s, 2, (int64_t)size);
                        sqlite3_bind_int64(s, 3, (int64_t)n);
                        sqlite3_bind_int64(s, 4, created_ns ? created_ns : now_ns());
                        sqlite3_bind_int(s, 5, !!local);
                        r = step_done(idx, s);
                }
        }
        if (r >= 0 && idx->reindexing) {
                _cleanup_reset_ sqlite3_stmt *s = NULL;

                r = index_stmt(idx, STMT_REINDEX_SEEN, &s);
                if (r >= 0) {
                        bind_oid(s, 1, pack_id);
                        r = step_done(idx, s);
                }
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                r = object_insert(idx, &entries[i].id, entries[i].type, pack_id, entries[i].offset,
                                  entries[i].length);
        return index_end(idx, r);
}

int index_pack_commit(struct index *idx, const struct oid *pack_id, uint64_t size,
                      const struct index_pack_entry *entries, size_t n)
{
        return index_pack_add(idx, pack_id, size, 0, 1, entries, n);
}

static int read_pack(sqlite3_stmt *s, struct index_pack *p)
{
        int r = column_oid(s, 0, &p->id);

        if (r < 0)
                return r;
        p->size = (uint64_t)sqlite3_column_int64(s, 1);
        p->n_objects = (uint32_t)sqlite3_column_int64(s, 2);
        p->created_ns = sqlite3_column_int64(s, 3);
        p->local = sqlite3_column_int(s, 4);
        return 0;
}

int index_pack_lookup(struct index *idx, const struct oid *id, struct index_pack *ret)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        struct index_pack p;
        int r;

        r = index_stmt(idx, STMT_PACK_LOOKUP, &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, id);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = read_pack(s, &p);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

static int exec_oid(struct index *idx, const char *sql, const struct oid *id)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, sql, &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, id);
        return step_done(idx, s);
}

int index_pack_set_local(struct index *idx, const struct oid *id, int local)
{
        int r = exec_oid(idx, local ? "UPDATE packs SET local = 1 WHERE id = ?1"
                                    : "UPDATE packs SET local = 0 WHERE id = ?1",
                         id);

        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int index_pack_delete(struct index *idx, const struct oid *id)
{
        /* objects and replicas go with it (ON DELETE CASCADE) */
        int r = exec_oid(idx, "DELETE FROM packs WHERE id = ?1", id);

        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static int pack_foreach_stmt(struct index *idx, sqlite3_stmt *s, index_pack_cb cb, void *userdata)
{
        int r;

        while ((r = step_row(idx, s)) > 0) {
                struct index_pack p;

                r = read_pack(s, &p);
                if (r < 0)
                        return r;
                r = cb(&p, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

int index_pack_foreach(struct index *idx, index_pack_cb cb, void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT " PACK_COLUMNS " FROM packs ORDER BY id", &s);
        if (r < 0)
                return r;
        return pack_foreach_stmt(idx, s, cb, userdata);
}

/* ---- stores and replicas ------------------------------------------------- */

void index_store_done(struct index_store *store)
{
        if (!store)
                return;
        free(store->name);
        free(store->kind);
        free(store->config);
        store->name = store->kind = store->config = NULL;
}

static void read_store(sqlite3_stmt *s, struct index_store *st)
{
        st->id = sqlite3_column_int64(s, 0);
        st->name = (char *)column_str(s, 1);
        st->kind = (char *)column_str(s, 2);
        st->config = (char *)column_str(s, 3);
}

int index_store_add(struct index *idx, const char *name, const char *kind, const char *config,
                    int64_t *ret_id)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        if (!name || !*name || !kind)
                return -EINVAL;
        r = index_prepare(idx, "INSERT INTO stores (name, kind, config) VALUES (?1, ?2, ?3)", &s);
        if (r < 0)
                return r;
        bind_text(s, 1, name);
        bind_text(s, 2, kind);
        bind_text(s, 3, config);
        r = step_done(idx, s);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(idx->db);
        return 0;
}

int index_store_find(struct index *idx, const char *name, struct index_store *ret)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        struct index_store st;
        int r;

        if (!name)
                return -EINVAL;
        r = index_prepare(idx, "SELECT id, name, kind, config FROM stores WHERE name = ?1", &s);
        if (r < 0)
                return r;
        bind_text(s, 1, name);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        read_store(s, &st);
        st.name = strdup(st.name);
        st.kind = strdup(st.kind);
        st.config = strdup(st.config);
        if (!st.name || !st.kind || !st.config) {
                index_store_done(&st);
                return -ENOMEM;
        }
        *ret = st;
        return 0;
}

int index_store_remove(struct index *idx, int64_t id)
{
        return exec_on_id(idx, "DELETE FROM stores WHERE id = ?1", id);
}

int index_store_foreach(struct index *idx, index_store_cb cb, void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT id, name, kind, config FROM stores ORDER BY id", &s);
        if (r < 0)
                return r;
        while ((r = step_row(idx, s)) > 0) {
                struct index_store st;

                read_store(s, &st);
                r = cb(&st, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

int index_replica_set(struct index *idx, const struct oid *pack, int64_t store_id, int state)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        if (state < INDEX_REPLICA_PENDING || state > INDEX_REPLICA_VERIFIED)
                return -EINVAL;
        r = index_stmt(idx, STMT_REPLICA_SET, &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, pack);
        sqlite3_bind_int64(s, 2, store_id);
        sqlite3_bind_int(s, 3, state);
        sqlite3_bind_int64(s, 4, now_ns());
        r = step_done(idx, s);
        return r < 0 ? r : 0;
}

int index_replica_get(struct index *idx, const struct oid *pack, int64_t store_id)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        r = index_stmt(idx, STMT_REPLICA_GET, &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, pack);
        sqlite3_bind_int64(s, 2, store_id);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : INDEX_REPLICA_PENDING;
        return sqlite3_column_int(s, 0);
}

int index_replica_count(struct index *idx, const struct oid *pack, int min_state)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT count(*) FROM replicas WHERE pack_id = ?1 AND state >= ?2",
                          &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, pack);
        sqlite3_bind_int(s, 2, min_state);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        return sqlite3_column_int(s, 0);
}

int index_replica_foreach_pending(struct index *idx, int64_t store_id, index_pack_cb cb,
                                  void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx,
                          "SELECT " PACK_COLUMNS " FROM packs p WHERE NOT EXISTS "
                          "(SELECT 1 FROM replicas r WHERE r.pack_id = p.id AND r.store_id = ?1 "
                          "AND r.state >= 1) ORDER BY id",
                          &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, store_id);
        return pack_foreach_stmt(idx, s, cb, userdata);
}

/* ---- snapshots ----------------------------------------------------------- */

void index_snapshot_done(struct index_snapshot *snapshot)
{
        if (!snapshot)
                return;
        free(snapshot->hostname);
        free(snapshot->tags);
        snapshot->hostname = snapshot->tags = NULL;
}

/* Read a SNAPSHOT_COLUMNS row with borrowed strings. */
static int read_snapshot(sqlite3_stmt *s, struct index_snapshot *sn)
{
        int r;

        r = column_oid(s, 0, &sn->id);
        if (r >= 0)
                r = column_oid(s, 3, &sn->tree);
        if (r >= 0)
                r = column_oid(s, 4, &sn->parent);
        if (r < 0)
                return r;
        sn->root_id = sqlite3_column_int64(s, 1);
        sn->time_ns = sqlite3_column_int64(s, 2);
        sn->hostname = (char *)column_str(s, 5);
        sn->tags = (char *)column_str(s, 6);
        sn->files = (uint64_t)sqlite3_column_int64(s, 7);
        sn->dirs = (uint64_t)sqlite3_column_int64(s, 8);
        sn->bytes = (uint64_t)sqlite3_column_int64(s, 9);
        sn->new_bytes = (uint64_t)sqlite3_column_int64(s, 10);
        sn->errors = (uint64_t)sqlite3_column_int64(s, 11);
        sn->files_read = (uint64_t)sqlite3_column_int64(s, 12);
        return 0;
}

static int copy_snapshot(sqlite3_stmt *s, struct index_snapshot *ret)
{
        struct index_snapshot sn;
        int r;

        r = read_snapshot(s, &sn);
        if (r < 0)
                return r;
        sn.hostname = strdup(sn.hostname);
        sn.tags = strdup(sn.tags);
        if (!sn.hostname || !sn.tags) {
                index_snapshot_done(&sn);
                return -ENOMEM;
        }
        *ret = sn;
        return 0;
}

int index_snapshot_add(struct index *idx, const struct index_snapshot *sn)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        if (!sn)
                return -EINVAL;
        r = index_prepare(idx, "INSERT INTO snapshots (" SNAPSHOT_COLUMNS ") VALUES "
                               "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                          &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, &sn->id);
        sqlite3_bind_int64(s, 2, sn->root_id);
        sqlite3_bind_int64(s, 3, sn->time_ns);
        bind_oid(s, 4, &sn->tree);
        if (!oid_is_null(&sn->parent))
                bind_oid(s, 5, &sn->parent);
        bind_text(s, 6, sn->hostname);
        bind_text(s, 7, sn->tags);
        sqlite3_bind_int64(s, 8, (int64_t)sn->files);
        sqlite3_bind_int64(s, 9, (int64_t)sn->dirs);
        sqlite3_bind_int64(s, 10, (int64_t)sn->bytes);
        sqlite3_bind_int64(s, 11, (int64_t)sn->new_bytes);
        sqlite3_bind_int64(s, 12, (int64_t)sn->errors);
        sqlite3_bind_int64(s, 13, (int64_t)sn->files_read);
        r = step_done(idx, s);
        return r < 0 ? r : 0;
}

int index_snapshot_get(struct index *idx, const struct oid *id, struct index_snapshot *ret)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT " SNAPSHOT_COLUMNS " FROM snapshots WHERE id = ?1", &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, id);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        return copy_snapshot(s, ret);
}

static int hex_nibble(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int index_snapshot_find_prefix(struct index *idx, const char *prefix, struct index_snapshot *ret)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        uint8_t lo[OID_SIZE] = { 0 }, hi[OID_SIZE + 1];
        size_t len, nbytes;
        int r, carry = 1;

        if (!prefix)
                return -EINVAL;
        len = strlen(prefix);
        if (len == 0 || len > 2 * OID_SIZE)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                int v = hex_nibble(prefix[i]);

                if (v < 0)
                        return -EINVAL;
                lo[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
        }
        /* Ids in [lo, hi) start with the prefix: lo is the prefix bytes (an odd
         * last nibble padded with 0), hi is lo plus one unit in the last
         * prefix nibble. BLOBs compare as memcmp, then shorter first. */
        nbytes = (len + 1) / 2;
        memcpy(hi, lo, nbytes);
        for (size_t i = nbytes; i-- > 0 && carry;) {
                unsigned add = (i == nbytes - 1 && len % 2) ? 0x10 : 1;
                unsigned v = hi[i] + add;

                hi[i] = (uint8_t)v;
                carry = v > 0xff;
        }

        if (carry) {
                /* prefix of all f: 33 bytes of 0xff sort after every id */
                memset(hi, 0xff, sizeof(hi));
        }

        r = index_prepare(idx, "SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                               "WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 2",
                          &s);
        if (r < 0)
                return r;
        sqlite3_bind_blob(s, 1, lo, (int)nbytes, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, hi, carry ? (int)sizeof(hi) : (int)nbytes, SQLITE_STATIC);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        {
                struct index_snapshot first;

                r = copy_snapshot(s, &first);
                if (r < 0)
                        return r;
                r = step_row(idx, s);
                if (r != 0) {
                        index_snapshot_done(&first);
                        return r < 0 ? r : -ENOTUNIQ;
                }
                *ret = first;
        }
        return 0;
}

int index_snapshot_latest(struct index *idx, int64_t root_id, struct index_snapshot *ret)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT " SNAPSHOT_COLUMNS " FROM snapshots WHERE root_id = ?1 "
                               "ORDER BY time_ns DESC, id DESC LIMIT 1",
                          &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, root_id);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        return copy_snapshot(s, ret);
}

int index_snapshot_delete(struct index *idx, const struct oid *id)
{
        int r = exec_oid(idx, "DELETE FROM snapshots WHERE id = ?1", id);

        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int index_snapshot_foreach(struct index *idx, int64_t root_id, index_snapshot_cb cb,
                           void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, root_id < 0 ? "SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                             "ORDER BY time_ns, id"
                                           : "SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                             "WHERE root_id = ?1 ORDER BY time_ns, id",
                          &s);
        if (r < 0)
                return r;
        if (root_id >= 0)
                sqlite3_bind_int64(s, 1, root_id);
        while ((r = step_row(idx, s)) > 0) {
                struct index_snapshot sn;

                r = read_snapshot(s, &sn);
                if (r < 0)
                        return r;
                r = cb(&sn, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

/* ---- hosted packs -------------------------------------------------------- */

int index_hosted_add(struct index *idx, const struct oid *peer, const struct oid *pack,
                     uint64_t size)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        if (size > INT64_MAX)
                return -EINVAL;
        r = index_prepare(idx, "INSERT INTO hosted (peer_id, pack_id, size, created_ns) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (peer_id, pack_id) "
                               "DO UPDATE SET size = excluded.size",
                          &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, peer);
        bind_oid(s, 2, pack);
        sqlite3_bind_int64(s, 3, (int64_t)size);
        sqlite3_bind_int64(s, 4, now_ns());
        r = step_done(idx, s);
        return r < 0 ? r : 0;
}

static int read_hosted(sqlite3_stmt *s, struct index_hosted *h)
{
        int r = column_oid(s, 0, &h->peer);

        if (r >= 0)
                r = column_oid(s, 1, &h->pack);
        if (r < 0)
                return r;
        h->size = (uint64_t)sqlite3_column_int64(s, 2);
        h->created_ns = sqlite3_column_int64(s, 3);
        return 0;
}

int index_hosted_get(struct index *idx, const struct oid *peer, const struct oid *pack,
                     struct index_hosted *ret)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        struct index_hosted h;
        int r;

        r = index_prepare(idx, "SELECT peer_id, pack_id, size, created_ns FROM hosted "
                               "WHERE peer_id = ?1 AND pack_id = ?2",
                          &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, peer);
        bind_oid(s, 2, pack);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = read_hosted(s, &h);
        if (r < 0)
                return r;
        *ret = h;
        return 0;
}

int index_hosted_remove(struct index *idx, const struct oid *peer, const struct oid *pack)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "DELETE FROM hosted WHERE peer_id = ?1 AND pack_id = ?2", &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, peer);
        bind_oid(s, 2, pack);
        r = step_done(idx, s);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int index_hosted_usage(struct index *idx, const struct oid *peer, uint64_t *ret_bytes,
                       uint64_t *ret_count)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT coalesce(sum(size), 0), count(*) FROM hosted "
                               "WHERE peer_id = ?1",
                          &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, peer);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        if (ret_bytes)
                *ret_bytes = (uint64_t)sqlite3_column_int64(s, 0);
        if (ret_count)
                *ret_count = (uint64_t)sqlite3_column_int64(s, 1);
        return 0;
}

int index_hosted_foreach(struct index *idx, const struct oid *peer, index_hosted_cb cb,
                         void *userdata)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx, "SELECT peer_id, pack_id, size, created_ns FROM hosted "
                               "WHERE peer_id = ?1 ORDER BY pack_id",
                          &s);
        if (r < 0)
                return r;
        bind_oid(s, 1, peer);
        while ((r = step_row(idx, s)) > 0) {
                struct index_hosted h;

                r = read_hosted(s, &h);
                if (r < 0)
                        return r;
                r = cb(&h, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

/* ---- kv ------------------------------------------------------------------ */

int index_kv_get(struct index *idx, const char *key, void **ret_value, size_t *ret_len)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        const void *p;
        size_t n;
        char *v;
        int r;

        if (!key || !ret_value)
                return -EINVAL;
        r = index_stmt(idx, STMT_KV_GET, &s);
        if (r < 0)
                return r;
        bind_text(s, 1, key);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        p = sqlite3_column_blob(s, 0);
        n = (size_t)sqlite3_column_bytes(s, 0);
        v = malloc(n + 1);
        if (!v)
                return -ENOMEM;
        if (n)
                memcpy(v, p, n);
        v[n] = '\0';
        *ret_value = v;
        if (ret_len)
                *ret_len = n;
        return 0;
}

int index_kv_set(struct index *idx, const char *key, const void *value, size_t len)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        if (!key || (len && !value) || len > INT32_MAX)
                return -EINVAL;
        r = index_stmt(idx, STMT_KV_SET, &s);
        if (r < 0)
                return r;
        bind_text(s, 1, key);
        sqlite3_bind_blob(s, 2, len ? value : "", (int)len, SQLITE_STATIC);
        r = step_done(idx, s);
        return r < 0 ? r : 0;
}

int index_kv_get_int(struct index *idx, const char *key, int64_t *ret)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        if (!key || !ret)
                return -EINVAL;
        r = index_stmt(idx, STMT_KV_GET, &s);
        if (r < 0)
                return r;
        bind_text(s, 1, key);
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        if (sqlite3_column_type(s, 0) != SQLITE_INTEGER)
                return -EINVAL;
        *ret = sqlite3_column_int64(s, 0);
        return 0;
}

int index_kv_set_int(struct index *idx, const char *key, int64_t value)
{
        _cleanup_reset_ sqlite3_stmt *s = NULL;
        int r;

        if (!key)
                return -EINVAL;
        r = index_stmt(idx, STMT_KV_SET, &s);
        if (r < 0)
                return r;
        bind_text(s, 1, key);
        sqlite3_bind_int64(s, 2, value);
        r = step_done(idx, s);
        return r < 0 ? r : 0;
}

int index_kv_delete(struct index *idx, const char *key)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        if (!key)
                return -EINVAL;
        r = index_prepare(idx, "DELETE FROM kv WHERE key = ?1", &s);
        if (r < 0)
                return r;
        bind_text(s, 1, key);
        r = step_done(idx, s);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

/* ---- status -------------------------------------------------------------- */

int index_stats(struct index *idx, struct index_stats *ret)
{
        _cleanup_finalize_ sqlite3_stmt *s = NULL;
        int r;

        r = index_prepare(idx,
                          "SELECT (SELECT count(*) FROM objects),"
                          " (SELECT count(*) FROM packs),"
                          " (SELECT coalesce(sum(size), 0) FROM packs),"
                          " (SELECT coalesce(sum(size), 0) FROM packs WHERE local),"
                          " (SELECT count(*) FROM snapshots),"
                          " (SELECT count(*) FROM roots),"
                          " (SELECT coalesce(sum(size), 0) FROM hosted)",
                          &s);
        if (r < 0)
                return r;
        r = step_row(idx, s);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        ret->n_objects = (uint64_t)sqlite3_column_int64(s, 0);
        ret->n_packs = (uint64_t)sqlite3_column_int64(s, 1);
        ret->pack_bytes = (uint64_t)sqlite3_column_int64(s, 2);
        ret->local_bytes = (uint64_t)sqlite3_column_int64(s, 3);
        ret->n_snapshots = (uint64_t)sqlite3_column_int64(s, 4);
        ret->n_roots = (uint64_t)sqlite3_column_int64(s, 5);
        ret->hosted_bytes = (uint64_t)sqlite3_column_int64(s, 6);
        return 0;
}

/* ---- reindex ------------------------------------------------------------- */

int index_reindex_begin(struct index *idx)
{
        int r;

        if (idx->reindexing || idx->depth > 0)
                return -EBUSY;
        r = index_begin(idx);
        if (r < 0)
                return r;
        r = exec_sql(idx, "CREATE TEMP TABLE IF NOT EXISTS reindex_seen (id BLOB PRIMARY KEY) "
                          "WITHOUT ROWID;"
                          "DELETE FROM temp.reindex_seen;"
                          "DELETE FROM objects;");
        if (r < 0) {
                (void)index_rollback(idx);
                return r;
        }
        idx->reindexing = 1;
        return 0;
}

int index_reindex_end(struct index *idx, int commit)
{
        int r = 0;

        if (!idx->reindexing)
                return -EINVAL;
        idx->reindexing = 0;
        /* The cached REINDEX_SEEN statement refers to the temp table. */
        sqlite3_finalize(idx->stmts[STMT_REINDEX_SEEN]);
        idx->stmts[STMT_REINDEX_SEEN] = NULL;
        if (commit)
                r = exec_sql(idx, "DELETE FROM packs WHERE id NOT IN (SELECT id FROM "
                                  "temp.reindex_seen);"
                                  "DROP TABLE temp.reindex_seen;");
        if (!commit || r < 0) {
                (void)index_rollback(idx);
                return r;
        }
        return index_commit(idx);
}
