/* SPDX-License-Identifier: MIT */
/* The SQLite index's connection: setup (WAL, synchronous=FULL, busy timeout,
 * foreign keys), the schema and its numbered migrations, transactions, and
 * the one place where SQLite result codes become -errno. Queries live in one
 * file per table (index-root.c, index-file.c, ...) and run through the row
 * mapper of index-row.c. Schema, rationale and code layout: docs/index.md. */
#include "index-private.h"

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
        /* 2: peers (approved and pending nodes), deferred deletes of hosted
         * packs, verification time of replicas, each snapshot's root path
         * (a recovered or removed root has no roots row) */
        "CREATE TABLE peers ("
        "  id BLOB PRIMARY KEY CHECK (length(id) = 32),"
        "  name TEXT UNIQUE, address TEXT,"
        "  approved INTEGER NOT NULL DEFAULT 0,"
        "  quota INTEGER NOT NULL DEFAULT 0,"
        "  delete_delay_ns INTEGER NOT NULL DEFAULT 2592000000000000,"
        "  first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL DEFAULT 0,"
        "  last_address TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
        "ALTER TABLE hosted ADD COLUMN deleted_ns INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE replicas ADD COLUMN verified_ns INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE snapshots ADD COLUMN root_path BLOB NOT NULL DEFAULT x'';"
        "UPDATE snapshots SET root_path = (SELECT path FROM roots WHERE roots.id = snapshots.root_id)"
        "  WHERE root_id IN (SELECT id FROM roots);",
        /* 3: each store's own upload and download limits (bytes/s, 0 = none) */
        "ALTER TABLE stores ADD COLUMN upload_limit INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE stores ADD COLUMN download_limit INTEGER NOT NULL DEFAULT 0;",
        /* 4: prune. A condemned pack (condemned_ns > 0) is marked for
         * deletion: its objects are out of the dedupe set and a new copy of
         * one takes over the object row. A retired pack's row is gone; what
         * is left to delete (store 0: the local file) is in pack_deletes. */
        "ALTER TABLE packs ADD COLUMN condemned_ns INTEGER NOT NULL DEFAULT 0;"
        "CREATE TABLE pack_deletes ("
        "  pack_id BLOB NOT NULL CHECK (length(pack_id) = 32),"
        "  store_id INTEGER NOT NULL,"
        "  size INTEGER NOT NULL, created_ns INTEGER NOT NULL,"
        "  PRIMARY KEY (pack_id, store_id)) WITHOUT ROWID;"
        "CREATE TRIGGER stores_gone_pack_deletes AFTER DELETE ON stores BEGIN"
        "  DELETE FROM pack_deletes WHERE store_id = OLD.id; END;",
        /* 5: the bytes of a pack's records (from its header), for the
         * padding overhead status reports; packs indexed before, from the
         * object rows that still point into them. */
        "ALTER TABLE packs ADD COLUMN record_bytes INTEGER NOT NULL DEFAULT 0;"
        "UPDATE packs SET record_bytes = (SELECT coalesce(sum(o.length), 0) FROM objects o"
        "  WHERE o.pack_id = packs.id);",
        /* 6: chunk fingerprints (docs/fingerprints.md): a local cache from
         * a keyed GMAC of a big file's chunk to its object id. No foreign
         * key: a row is written before its object's pack is committed, and
         * prune drops the rows of objects gone. */
        "CREATE TABLE chunk_fingerprints ("
        "  fp BLOB PRIMARY KEY CHECK (length(fp) = 16),"
        "  id BLOB NOT NULL CHECK (length(id) = 32),"
        "  tag BLOB NOT NULL CHECK (length(tag) = 16)) WITHOUT ROWID;",
        /* 7: a store that refuses this node (a host that removed or never
         * approved it, an S3 bucket gone or closed to our key), since when;
         * 0 while it accepts us. Its copies count as no copy (docs/stores.md). */
        "ALTER TABLE stores ADD COLUMN refused_ns INTEGER NOT NULL DEFAULT 0;",
};

/* ---- errors: the SQLite boundary ----------------------------------------- */

/* Translate a SQLite result code (with the connection's extended code and OS
 * errno) to -errno, remembering SQLite's message for index_last_error(). */
int index_error(struct index *idx, int rc)
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

int64_t index_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- statements ---------------------------------------------------------- */

/* The SQL of the cached transaction statements. */
static const char *const index_transaction_sql[] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_BEGIN_READ] = "BEGIN",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_SAVEPOINT] = "SAVEPOINT sp",
        [STMT_RELEASE] = "RELEASE sp",
        [STMT_ROLLBACK_TO] = "ROLLBACK TO sp",
};

static int run_cached(struct index *idx, enum index_statement which)
{
        const struct index_query q = { .cache = which, .sql = index_transaction_sql[which] };

        return index_row_exec(idx, &q);
}

int index_exec(struct index *idx, const char *sql)
{
        char *msg = NULL;
        int rc = sqlite3_exec(idx->db, sql, NULL, NULL, &msg);

        sqlite3_free(msg);
        return rc == SQLITE_OK ? 0 : index_error(idx, rc);
}

static int pragma_int(struct index *idx, const char *sql, int *ret)
{
        int r = index_row_get(idx, INDEX_SQL(sql), &index_row_int, ret);

        return r == -ENOENT ? -EBADMSG : r;
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

                r = index_exec(idx, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                /* Another writer may have migrated while we waited. */
                r = pragma_int(idx, "PRAGMA user_version", &v);
                if (r < 0 || v >= INDEX_SCHEMA_VERSION)
                        goto end;
                r = index_exec(idx, index_migrations[v]);
                if (r < 0)
                        goto end;
                snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
                r = index_exec(idx, sql);
                if (r < 0)
                        goto end;
                r = index_exec(idx, "COMMIT");
                if (r < 0)
                        goto end;
                v++;
                continue;
        end:
                if (!sqlite3_get_autocommit(idx->db))
                        (void)index_exec(idx, "ROLLBACK");
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
        _cleanup_cursor_ struct index_cursor c = { 0 };
        const char *mode;
        int r;

        r = index_row_open(idx, INDEX_SQL("PRAGMA journal_mode = WAL"), &c);
        if (r < 0)
                return r;
        r = index_row_next(&c, &index_row_text, &mode);
        if (r < 0)
                return r;
        if (r == 0 || strcmp(mode, "wal") != 0)
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
                r = index_exec(idx, "PRAGMA synchronous = FULL;"
                                    "PRAGMA cache_size = -4096;"
                                    "PRAGMA journal_size_limit = 4194304;");
                if (r < 0)
                        goto fail;
                sqlite3_wal_hook(idx->db, index_wal_hook, idx);
                r = index_migrate(idx);
                if (r < 0)
                        goto fail;
        }
        r = index_exec(idx, "PRAGMA foreign_keys = ON");
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
                        (void)index_exec(idx, "ROLLBACK");
                sqlite3_close_v2(idx->db);
        }
        free(idx);
}

int index_schema_version(struct index *idx)
{
        return idx->version;
}

/* ---- transactions -------------------------------------------------------- */

/* If SQLite dropped the transaction by itself (some errors roll back
 * automatically), mark every open level as aborted. */
static void index_check_aborted(struct index *idx)
{
        if (idx->depth > 0 && sqlite3_get_autocommit(idx->db))
                idx->aborted = 1;
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

int index_end(struct index *idx, int r)
{
        if (r < 0) {
                (void)index_rollback(idx);
                return r;
        }
        return index_commit(idx);
}
