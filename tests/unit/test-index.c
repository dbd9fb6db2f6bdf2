/* SPDX-License-Identifier: MIT */
/* Tests for common/index.c on real SQLite files in a temporary directory:
 * migrations and reopen, every API round trip, snapshot prefix lookup, crash
 * points around a pack commit (child processes that _exit mid-transaction),
 * reindex reproducing the objects table, read-only and concurrent (WAL)
 * connections, hostile files, and bulk insert speed. */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "index.h"

static char tmpdir[64];
static char dbpath[128];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static void setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-index-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmpdir);
}

static void teardown(void)
{
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(index, .init = setup, .fini = teardown);

static struct index *open_rw(void)
{
        struct index *idx = NULL;
        int r = index_open(dbpath, 0, &idx);

        cr_assert_eq(r, 0, "index_open: %s", strerror(-r));
        return idx;
}

/* A deterministic id: byte i = seed + i * 7, with the first 4 bytes = n. */
static struct oid make_oid(uint32_t n, uint8_t seed)
{
        struct oid id;

        for (size_t i = 0; i < OID_SIZE; i++)
                id.bytes[i] = (uint8_t)(seed + i * 7);
        id.bytes[0] = (uint8_t)(n >> 24);
        id.bytes[1] = (uint8_t)(n >> 16);
        id.bytes[2] = (uint8_t)(n >> 8);
        id.bytes[3] = (uint8_t)n;
        return id;
}

static int sql_int(const char *sql)
{
        sqlite3 *db;
        sqlite3_stmt *s;
        int v = -1;

        cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
        if (sqlite3_step(s) == SQLITE_ROW)
                v = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return v;
}

static void sql_exec(const char *sql)
{
        sqlite3 *db;

        cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
        sqlite3_close(db);
}

/* ---- open, migrations, hostile files ------------------------------------ */

Test(index, migrates_from_empty_and_reopens)
{
        struct index *idx = open_rw();
        int64_t id;

        cr_assert_eq(index_schema_version(idx), INDEX_SCHEMA_VERSION);
        cr_assert_eq(index_root_add(idx, "/home/a", "", 0, &id), 0);
        index_close(idx);

        cr_assert_eq(sql_int("PRAGMA user_version"), INDEX_SCHEMA_VERSION);
        cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'objects'"), 1);

        idx = open_rw();
        struct index_root root;
        cr_assert_eq(index_root_find(idx, "/home/a", &root), 0);
        cr_assert_eq(root.id, id);
        index_root_done(&root);
        /* WAL mode is persistent in the file */
        index_close(idx);
        sqlite3 *db;
        sqlite3_stmt *s;
        cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
        cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(s);
        sqlite3_close(db);
}

Test(index, migrates_version_1_keeping_rows)
{
        struct index *idx = open_rw();
        struct oid peer = { .bytes = { 1 } }, pack = { .bytes = { 2 } };
        int64_t id;

        cr_assert_eq(index_root_add(idx, "/home/a", "", 0, &id), 0);
        cr_assert_eq(index_hosted_add(idx, &peer, &pack, 1234), 0);
        struct index_snapshot sn = { .id = { .bytes = { 3 } }, .root_id = id, .time_ns = 5,
                                     .hostname = (char *)"h", .tags = (char *)"" };
        cr_assert_eq(index_snapshot_add(idx, &sn), 0);
        index_close(idx);
        /* back to what version 1 wrote */
        sql_exec("DROP TABLE peers; ALTER TABLE hosted DROP COLUMN deleted_ns;"
                 "ALTER TABLE replicas DROP COLUMN verified_ns;"
                 "ALTER TABLE snapshots DROP COLUMN root_path;"
                 "ALTER TABLE stores DROP COLUMN upload_limit; ALTER TABLE stores DROP COLUMN download_limit;"
                 "PRAGMA user_version = 1");

        idx = open_rw();
        cr_assert_eq(index_schema_version(idx), INDEX_SCHEMA_VERSION);
        struct index_snapshot got;
        cr_assert_eq(index_snapshot_get(idx, &sn.id, &got), 0);
        cr_assert_str_eq(got.root_path, "/home/a", "root path filled in from roots");
        index_snapshot_done(&got);
        index_close(idx);
        cr_assert_eq(sql_int("SELECT count(*) FROM roots WHERE CAST(path AS TEXT) = '/home/a'"), 1);
        cr_assert_eq(sql_int("SELECT deleted_ns FROM hosted WHERE size = 1234"), 0);
        cr_assert_eq(sql_int("SELECT count(*) FROM peers"), 0);
        cr_assert_eq(sql_int("SELECT count(*) FROM pragma_table_info('replicas') "
                             "WHERE name = 'verified_ns'"), 1);
}

Test(index, newer_schema_is_refused)
{
        index_close(open_rw());
        sql_exec("PRAGMA user_version = 99");
        struct index *idx = (void *)0x1;
        cr_assert_eq(index_open(dbpath, 0, &idx), -EPROTONOSUPPORT);
        cr_assert_eq(idx, (void *)0x1, "ret touched on failure");
        cr_assert_eq(index_open(dbpath, INDEX_READONLY, &idx), -EPROTONOSUPPORT);
}

Test(index, readonly_needs_existing_migrated_db)
{
        struct index *idx = NULL;

        cr_assert_eq(index_open(dbpath, INDEX_READONLY, &idx), -ENOENT);
        sql_exec("CREATE TABLE t (x)");
        cr_assert_eq(index_open(dbpath, INDEX_READONLY, &idx), -EROFS);
        cr_assert_eq(index_open("/nonexistent-dir/x/index.db", 0, &idx), -ENOENT);
        cr_assert_eq(index_open(dbpath, 0x80, &idx), -EINVAL);
}

static void write_file(const char *path, const void *buf, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, buf, len), (ssize_t)len);
        cr_assert_eq(fsync(fd), 0);
        close(fd);
}

Test(index, hostile_files_give_errors)
{
        struct index *idx = NULL;
        char junk[8192];

        /* plain text */
        memset(junk, 'x', sizeof(junk));
        write_file(dbpath, junk, sizeof(junk));
        cr_assert_eq(index_open(dbpath, 0, &idx), -EBADMSG);
        cr_assert_eq(index_open(dbpath, INDEX_READONLY, &idx), -EBADMSG);
        cr_assert_null(idx);

        /* a valid SQLite magic followed by garbage */
        memcpy(junk, "SQLite format 3", 16);
        for (size_t i = 16; i < sizeof(junk); i++)
                junk[i] = (char)(i * 131 + 7);
        write_file(dbpath, junk, sizeof(junk));
        int r = index_open(dbpath, 0, &idx);
        cr_assert_lt(r, 0);
        cr_assert_null(idx);

        /* a real index with its first table page overwritten */
        unlink(dbpath);
        idx = open_rw();
        index_close(idx);
        idx = NULL;
        int fd = open(dbpath, O_WRONLY);
        cr_assert_geq(fd, 0);
        memset(junk, 0xa5, 4096);
        /* keep the 100-byte file header, smash the schema page behind it */
        cr_assert_eq(pwrite(fd, junk, 3996, 100), 3996);
        close(fd);
        r = index_open(dbpath, 0, &idx);
        if (r == 0) {
                /* the damage may sit in a page the open did not read */
                struct index_stats st;
                r = index_stats(idx, &st);
                index_close(idx);
        }
        cr_assert_lt(r, 0);
}

/* ---- roots and the file cache -------------------------------------------- */

static int count_roots(const struct index_root *root, void *userdata)
{
        (*(int *)userdata)++;
        cr_assert_not_null(root->path);
        return 0;
}

Test(index, roots_round_trip)
{
        struct index *idx = open_rw();
        struct index_root root;
        int64_t a, b;
        int n = 0;

        cr_assert_eq(index_root_add(idx, "/home/a", "*.o\n.cache", 1, &a), 0);
        cr_assert_eq(index_root_add(idx, "/srv/b", NULL, 0, &b), 0);
        cr_assert_neq(a, b);
        cr_assert_eq(index_root_add(idx, "/home/a", "", 0, NULL), -EEXIST);
        cr_assert_eq(index_root_add(idx, "", "", 0, NULL), -EINVAL);

        cr_assert_eq(index_root_get(idx, a, &root), 0);
        cr_assert_str_eq(root.path, "/home/a");
        cr_assert_str_eq(root.excludes, "*.o\n.cache");
        cr_assert_eq(root.one_fs, 1);
        cr_assert_gt(root.created_ns, 0);
        index_root_done(&root);

        cr_assert_eq(index_root_update(idx, b, "tmp", 1, 3), 0);
        cr_assert_eq(index_root_find(idx, "/srv/b", &root), 0);
        cr_assert_eq(root.id, b);
        cr_assert_str_eq(root.excludes, "tmp");
        cr_assert_eq(root.state, 3);
        index_root_done(&root);

        cr_assert_eq(index_root_foreach(idx, count_roots, &n), 0);
        cr_assert_eq(n, 2);

        cr_assert_eq(index_root_remove(idx, a), 0);
        cr_assert_eq(index_root_remove(idx, a), -ENOENT);
        cr_assert_eq(index_root_get(idx, a, &root), -ENOENT);
        cr_assert_eq(index_root_update(idx, a, "", 0, 0), -ENOENT);
        cr_assert_eq(index_root_find(idx, "/home/a", &root), -ENOENT);
        /* ids are never reused */
        int64_t c;
        cr_assert_eq(index_root_add(idx, "/home/a", "", 0, &c), 0);
        cr_assert_gt(c, b);
        index_close(idx);
}

static struct index_file make_file(uint64_t n)
{
        static char content[] = "\x01\x02\x00\xff content ref";
        return (struct index_file){ .dev = 0xfd01, .ino = n | (1ull << 63), .size = n * 100,
                                    .mtime_ns = (int64_t)n * 1000 + 1, .ctime_ns = -5,
                                    .mode = 0100644, .content = content,
                                    .content_len = sizeof(content) - 1 };
}

struct paths {
        char seen[16][32];
        int n;
};

static int collect_path(const char *path, const struct index_file *f, void *userdata)
{
        struct paths *p = userdata;

        cr_assert_lt(p->n, 16);
        snprintf(p->seen[p->n++], sizeof(p->seen[0]), "%s", path);
        return 0;
}

Test(index, file_cache_round_trip_and_prefix_delete)
{
        struct index *idx = open_rw();
        struct index_file f, got;
        int64_t root, other;

        cr_assert_eq(index_root_add(idx, "/r", "", 0, &root), 0);
        cr_assert_eq(index_root_add(idx, "/o", "", 0, &other), 0);

        f = make_file(7);
        cr_assert_eq(index_file_put(idx, root, "a/b", &f), 0);
        cr_assert_eq(index_file_get(idx, root, "a/b", &got), 0);
        cr_assert_eq(got.dev, f.dev);
        cr_assert_eq(got.ino, f.ino);
        cr_assert_eq(got.size, f.size);
        cr_assert_eq(got.mtime_ns, f.mtime_ns);
        cr_assert_eq(got.ctime_ns, f.ctime_ns);
        cr_assert_eq(got.mode, f.mode);
        cr_assert_eq(got.content_len, f.content_len);
        cr_assert(memcmp(got.content, f.content, f.content_len) == 0);
        index_file_done(&got);

        /* replace */
        f = make_file(8);
        f.content_len = 0;
        cr_assert_eq(index_file_put(idx, root, "a/b", &f), 0);
        cr_assert_eq(index_file_get(idx, root, "a/b", &got), 0);
        cr_assert_eq(got.size, 800);
        cr_assert_eq(got.content_len, 0);
        cr_assert_null(got.content);
        index_file_done(&got);
        cr_assert_eq(index_file_get(idx, other, "a/b", &got), -ENOENT);
        cr_assert_eq(index_file_put(idx, 12345, "x", &f), -ENOENT, "unknown root");

        const char *paths[] = { "a", "a/b", "a/b/c", "a/c", "a-b", "a.txt", "ab", "b", "a0" };
        struct index_file files[ELEMENTSOF(paths)];
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                files[i] = make_file(i);
        cr_assert_eq(index_file_put_batch(idx, root, paths, files, ELEMENTSOF(paths)), 0);
        cr_assert_eq(index_file_put_batch(idx, other, paths, files, 2), 0);

        struct paths seen = { 0 };
        cr_assert_eq(index_file_foreach(idx, root, "a/", collect_path, &seen), 0);
        cr_assert_eq(seen.n, 4);
        cr_assert_str_eq(seen.seen[0], "a");
        cr_assert_str_eq(seen.seen[1], "a/b");
        cr_assert_str_eq(seen.seen[2], "a/b/c");
        cr_assert_str_eq(seen.seen[3], "a/c");

        /* "a" goes with everything under "a/", not "a-b", "a.txt", "ab", "a0" */
        cr_assert_eq(index_file_delete_prefix(idx, root, "a"), 4);
        memset(&seen, 0, sizeof(seen));
        cr_assert_eq(index_file_foreach(idx, root, "", collect_path, &seen), 0);
        cr_assert_eq(seen.n, 5);
        cr_assert_str_eq(seen.seen[0], "a-b");
        cr_assert_str_eq(seen.seen[1], "a.txt");
        cr_assert_str_eq(seen.seen[2], "a0");
        cr_assert_str_eq(seen.seen[3], "ab");
        cr_assert_str_eq(seen.seen[4], "b");
        cr_assert_eq(index_file_delete_prefix(idx, root, "nothing"), 0);
        /* the other root is untouched */
        cr_assert_eq(index_file_get(idx, other, "a/b", &got), 0);
        index_file_done(&got);

        cr_assert_eq(index_file_delete_root(idx, root), 5);
        cr_assert_eq(index_file_delete_prefix(idx, other, "/"), 2, "\"/\" means the whole root");

        /* removing a root drops its cache */
        cr_assert_eq(index_file_put(idx, other, "z", &f), 0);
        cr_assert_eq(index_root_remove(idx, other), 0);
        cr_assert_eq(sql_int("SELECT count(*) FROM file_cache"), 0);
        index_close(idx);
}

/* ---- objects and packs --------------------------------------------------- */

static void make_entries(struct index_pack_entry *e, size_t n, uint32_t first, uint8_t seed)
{
        uint64_t off = 0;

        for (size_t i = 0; i < n; i++) {
                e[i].id = make_oid(first + (uint32_t)i, seed);
                e[i].type = OBJECT_DATA + (int)(i % 4);
                e[i].offset = off;
                e[i].length = 100 + (uint32_t)i;
                off += e[i].length;
        }
}

static int count_cb(const void *x, void *userdata)
{
        (*(int *)userdata)++;
        return 0;
}

Test(index, objects_and_packs_round_trip)
{
        struct index *idx = open_rw();
        struct index_pack_entry e[10];
        struct oid pack = make_oid(1, 0xaa), pack2 = make_oid(2, 0xaa);
        struct index_object o;
        struct index_pack p;
        int n = 0;

        make_entries(e, 10, 0, 1);
        cr_assert_eq(index_object_exists(idx, &e[0].id), 0);
        cr_assert_eq(index_pack_commit(idx, &pack, 5000, e, 10), 0);
        cr_assert_eq(index_pack_commit(idx, &pack, 5000, e, 10), 0, "idempotent");
        for (int i = 0; i < 10; i++) {
                cr_assert_eq(index_object_exists(idx, &e[i].id), 1);
                cr_assert_eq(index_object_lookup(idx, &e[i].id, &o), 0);
                cr_assert(oid_cmp(&o.id, &e[i].id) == 0);
                cr_assert(oid_cmp(&o.pack, &pack) == 0);
                cr_assert_eq(o.type, e[i].type);
                cr_assert_eq(o.offset, e[i].offset);
                cr_assert_eq(o.length, e[i].length);
        }
        struct oid missing = make_oid(999, 1);
        cr_assert_eq(index_object_lookup(idx, &missing, &o), -ENOENT);

        cr_assert_eq(index_pack_lookup(idx, &pack, &p), 0);
        cr_assert_eq(p.size, 5000);
        cr_assert_eq(p.n_objects, 10);
        cr_assert_eq(p.local, 1);
        cr_assert_gt(p.created_ns, 0);
        cr_assert_eq(index_pack_set_local(idx, &pack, 0), 0);
        cr_assert_eq(index_pack_lookup(idx, &pack, &p), 0);
        cr_assert_eq(p.local, 0);
        cr_assert_eq(index_pack_set_local(idx, &pack2, 0), -ENOENT);
        cr_assert_eq(index_pack_lookup(idx, &pack2, &p), -ENOENT);

        /* object rows need their pack */
        struct index_object batch[3] = {
                { .id = make_oid(50, 2), .type = 1, .pack = pack2, .offset = 0, .length = 1 },
        };
        cr_assert_eq(index_object_add_batch(idx, batch, 1), -ENOENT);
        cr_assert_eq(index_object_exists(idx, &batch[0].id), 0, "batch rolled back");

        /* an id already known keeps its first location */
        cr_assert_eq(index_pack_add(idx, &pack2, 300, 42, 1, NULL, 0), 0);
        batch[0].pack = pack2;
        batch[1] = (struct index_object){ .id = e[0].id, .type = 1, .pack = pack2, .offset = 7,
                                          .length = 9 };
        batch[2] = (struct index_object){ .id = make_oid(51, 2), .type = 3, .pack = pack2,
                                          .offset = 1, .length = 2 };
        cr_assert_eq(index_object_add_batch(idx, batch, 3), 0);
        cr_assert_eq(index_object_lookup(idx, &e[0].id, &o), 0);
        cr_assert(oid_cmp(&o.pack, &pack) == 0);
        cr_assert_eq(index_pack_lookup(idx, &pack2, &p), 0);
        cr_assert_eq(p.created_ns, 42);

        cr_assert_eq(index_object_foreach_in_pack(idx, &pack2, (index_object_cb)count_cb, &n), 0);
        cr_assert_eq(n, 2);
        n = 0;
        cr_assert_eq(index_object_foreach(idx, (index_object_cb)count_cb, &n), 0);
        cr_assert_eq(n, 12);
        n = 0;
        cr_assert_eq(index_object_foreach_type(idx, OBJECT_TREE, (index_object_cb)count_cb, &n), 0);
        cr_assert_eq(n, 3); /* e[2], e[6] and batch[2] */
        n = 0;
        cr_assert_eq(index_pack_foreach(idx, (index_pack_cb)count_cb, &n), 0);
        cr_assert_eq(n, 2);

        struct index_stats st;
        cr_assert_eq(index_stats(idx, &st), 0);
        cr_assert_eq(st.n_objects, 12);
        cr_assert_eq(st.n_packs, 2);
        cr_assert_eq(st.pack_bytes, 5300);
        cr_assert_eq(st.local_bytes, 300);

        /* deleting a pack drops its objects */
        cr_assert_eq(index_pack_delete(idx, &pack), 0);
        cr_assert_eq(index_pack_delete(idx, &pack), -ENOENT);
        cr_assert_eq(index_object_exists(idx, &e[5].id), 0);
        cr_assert_eq(index_stats(idx, &st), 0);
        cr_assert_eq(st.n_objects, 2);
        index_close(idx);
}

static int stop_at_two(const struct index_object *o, void *userdata)
{
        return ++*(int *)userdata == 2 ? 77 : 0;
}

Test(index, foreach_stops_on_callback_value)
{
        struct index *idx = open_rw();
        struct index_pack_entry e[5];
        struct oid pack = make_oid(1, 0xaa);
        int n = 0;

        make_entries(e, 5, 0, 1);
        cr_assert_eq(index_pack_commit(idx, &pack, 1, e, 5), 0);
        cr_assert_eq(index_object_foreach(idx, stop_at_two, &n), 77);
        cr_assert_eq(n, 2);
        index_close(idx);
}

/* ---- stores and replicas ------------------------------------------------- */

struct oids {
        struct oid ids[8];
        int n;
};

static int collect_pack(const struct index_pack *p, void *userdata)
{
        struct oids *o = userdata;

        cr_assert_lt(o->n, 8);
        o->ids[o->n++] = p->id;
        return 0;
}

Test(index, stores_and_replicas)
{
        struct index *idx = open_rw();
        struct oid p1 = make_oid(1, 9), p2 = make_oid(2, 9);
        struct index_store st;
        int64_t s3, peer;
        struct oids pending = { 0 };

        cr_assert_eq(index_store_add(idx, "s3-main", "s3", "bucket=x", &s3), 0);
        cr_assert_eq(index_store_add(idx, "friend", "peer", NULL, &peer), 0);
        cr_assert_eq(index_store_add(idx, "friend", "peer", "", NULL), -EEXIST);
        cr_assert_eq(index_store_find(idx, "s3-main", &st), 0);
        cr_assert_eq(st.id, s3);
        cr_assert_str_eq(st.kind, "s3");
        cr_assert_str_eq(st.config, "bucket=x");
        cr_assert_eq(st.upload_limit + st.download_limit, 0, "no limits until set");
        index_store_done(&st);
        cr_assert_eq(index_store_set_limits(idx, peer, 2u << 20, UINT64_C(5) << 40), 0);
        cr_assert_eq(index_store_find(idx, "friend", &st), 0);
        cr_assert_eq(st.upload_limit, 2u << 20);
        cr_assert_eq(st.download_limit, UINT64_C(5) << 40);
        index_store_done(&st);
        cr_assert_eq(index_store_set_limits(idx, 999, 1, 1), -ENOENT);
        cr_assert_eq(index_store_set_limits(idx, peer, UINT64_MAX, 0), -EINVAL);
        cr_assert_eq(index_store_find(idx, "nope", &st), -ENOENT);
        int n = 0;
        cr_assert_eq(index_store_foreach(idx, (index_store_cb)count_cb, &n), 0);
        cr_assert_eq(n, 2);

        cr_assert_eq(index_pack_commit(idx, &p1, 10, NULL, 0), 0);
        cr_assert_eq(index_pack_commit(idx, &p2, 20, NULL, 0), 0);
        cr_assert_eq(index_replica_get(idx, &p1, s3), INDEX_REPLICA_PENDING);
        cr_assert_eq(index_replica_foreach_pending(idx, s3, collect_pack, &pending), 0);
        cr_assert_eq(pending.n, 2);

        cr_assert_eq(index_replica_set(idx, &p1, s3, INDEX_REPLICA_UPLOADED), 0);
        cr_assert_eq(index_replica_get(idx, &p1, s3), INDEX_REPLICA_UPLOADED);
        cr_assert_eq(index_replica_set(idx, &p1, s3, INDEX_REPLICA_VERIFIED), 0);
        cr_assert_eq(index_replica_set(idx, &p1, peer, INDEX_REPLICA_PENDING), 0);
        cr_assert_eq(index_replica_set(idx, &p1, peer, 9), -EINVAL);
        cr_assert_eq(index_replica_set(idx, &p1, 999, INDEX_REPLICA_UPLOADED), -ENOENT);
        cr_assert_eq(index_replica_count(idx, &p1, INDEX_REPLICA_VERIFIED), 1);
        cr_assert_eq(index_replica_count(idx, &p1, INDEX_REPLICA_PENDING), 2);

        memset(&pending, 0, sizeof(pending));
        cr_assert_eq(index_replica_foreach_pending(idx, s3, collect_pack, &pending), 0);
        cr_assert_eq(pending.n, 1);
        cr_assert(oid_cmp(&pending.ids[0], &p2) == 0);
        memset(&pending, 0, sizeof(pending));
        cr_assert_eq(index_replica_foreach_pending(idx, peer, collect_pack, &pending), 0);
        cr_assert_eq(pending.n, 2);

        cr_assert_eq(index_store_remove(idx, s3), 0);
        cr_assert_eq(index_store_remove(idx, s3), -ENOENT);
        cr_assert_eq(index_replica_count(idx, &p1, INDEX_REPLICA_PENDING), 1);
        cr_assert_eq(index_pack_delete(idx, &p1), 0);
        cr_assert_eq(sql_int("SELECT count(*) FROM replicas"), 0);
        index_close(idx);
}

/* ---- snapshots ----------------------------------------------------------- */

static struct oid oid_hex(const char *hex)
{
        struct oid id;

        cr_assert_eq(oid_from_hex(hex, &id), 0, "%s", hex);
        return id;
}

static struct index_snapshot make_snapshot(const char *hex, int64_t root, int64_t t)
{
        return (struct index_snapshot){ .id = oid_hex(hex), .root_id = root, .time_ns = t,
                                        .tree = make_oid((uint32_t)t, 3), .hostname = "box",
                                        .tags = "daily", .files = 10, .dirs = 2, .bytes = 1ull << 40,
                                        .new_bytes = 5, .errors = 1, .files_read = 3 };
}

#define H1 "abc1000000000000000000000000000000000000000000000000000000000000"
#define H2 "abc2000000000000000000000000000000000000000000000000000000000000"
#define H3 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define H4 "0f00000000000000000000000000000000000000000000000000000000000000"

static int collect_time(const struct index_snapshot *sn, void *userdata)
{
        int64_t **t = userdata;

        *(*t)++ = sn->time_ns;
        return 0;
}

struct page {
        struct index_snapshot last;
        size_t n;
        int64_t times[16];
};

static int page_cb(const struct index_snapshot *sn, void *userdata)
{
        struct page *p = userdata;

        cr_assert_lt(p->n, 16);
        p->times[p->n++] = sn->time_ns;
        p->last = (struct index_snapshot){ .id = sn->id, .time_ns = sn->time_ns };
        return 0;
}

/* index_snapshot_page walks a root (or all) in pages by (time, id), ties
 * in time included, with no row twice or missed. */
Test(index, snapshots_in_pages)
{
        struct index *idx = open_rw();
        struct index_snapshot sn;
        const char *hex[] = { H1, H2, H3, H4 };
        const int64_t t[] = { 100, 100, 100, 50 }; /* three share a time */
        struct page p = { 0 };

        for (size_t i = 0; i < 4; i++) {
                sn = make_snapshot(hex[i], i == 2 ? 2 : 1, t[i]);
                cr_assert_eq(index_snapshot_add(idx, &sn), 0);
        }
        /* all roots, two at a time */
        cr_assert_eq(index_snapshot_page(idx, -1, NULL, 2, page_cb, &p), 0);
        cr_assert_eq(p.n, 2);
        struct index_snapshot after = p.last;
        cr_assert_eq(index_snapshot_page(idx, -1, &after, 2, page_cb, &p), 0);
        cr_assert_eq(p.n, 4);
        after = p.last;
        cr_assert_eq(index_snapshot_page(idx, -1, &after, 2, page_cb, &p), 0);
        cr_assert_eq(p.n, 4, "nothing after the last row");
        cr_assert_eq(p.times[0], 50);
        cr_assert_eq(p.times[1] + p.times[2] + p.times[3], 300);
        struct oid h3 = oid_hex(H3);
        cr_assert(oid_cmp(&p.last.id, &h3) == 0, "ties by id: ff.. is last");
        /* root 1, one at a time */
        p = (struct page){ 0 };
        cr_assert_eq(index_snapshot_page(idx, 1, NULL, 1, page_cb, &p), 0);
        for (size_t i = 0; i < 5 && p.n == i + 1; i++) {
                after = p.last;
                cr_assert_eq(index_snapshot_page(idx, 1, &after, 1, page_cb, &p), 0);
        }
        cr_assert_eq(p.n, 3);
        index_close(idx);
}

Test(index, snapshots_round_trip_and_prefix)
{
        struct index *idx = open_rw();
        struct index_snapshot sn, got;

        sn = make_snapshot(H1, 1, 100);
        cr_assert_eq(index_snapshot_add(idx, &sn), 0);
        cr_assert_eq(index_snapshot_add(idx, &sn), -EEXIST);
        sn = make_snapshot(H2, 1, 300);
        sn.parent = oid_hex(H1);
        cr_assert_eq(index_snapshot_add(idx, &sn), 0);
        sn = make_snapshot(H3, 2, 200);
        sn.tags = NULL;
        cr_assert_eq(index_snapshot_add(idx, &sn), 0);
        sn = make_snapshot(H4, 1, 50);
        cr_assert_eq(index_snapshot_add(idx, &sn), 0);

        cr_assert_eq(index_snapshot_get(idx, &sn.id, &got), 0);
        cr_assert(oid_cmp(&got.tree, &sn.tree) == 0);
        cr_assert(oid_is_null(&got.parent));
        cr_assert_str_eq(got.hostname, "box");
        cr_assert_str_eq(got.tags, "daily");
        cr_assert_eq(got.bytes, 1ull << 40);
        cr_assert_eq(got.files, 10);
        cr_assert_eq(got.dirs, 2);
        cr_assert_eq(got.new_bytes, 5);
        cr_assert_eq(got.errors, 1);
        cr_assert_eq(got.files_read, 3);
        index_snapshot_done(&got);

        /* prefix: unique, ambiguous, none, invalid, case, odd length, all-f */
        cr_assert_eq(index_snapshot_find_prefix(idx, "abc2", &got), 0);
        struct oid h2 = oid_hex(H2), h1 = oid_hex(H1);
        cr_assert(oid_cmp(&got.id, &h2) == 0);
        cr_assert(oid_cmp(&got.parent, &h1) == 0);
        index_snapshot_done(&got);
        cr_assert_eq(index_snapshot_find_prefix(idx, "ABC1", &got), 0);
        cr_assert(oid_cmp(&got.id, &h1) == 0);
        index_snapshot_done(&got);
        cr_assert_eq(index_snapshot_find_prefix(idx, "abc", &got), -ENOTUNIQ);
        cr_assert_eq(index_snapshot_find_prefix(idx, "a", &got), -ENOTUNIQ);
        cr_assert_eq(index_snapshot_find_prefix(idx, "abc3", &got), -ENOENT);
        cr_assert_eq(index_snapshot_find_prefix(idx, "0", &got), 0, "odd length, first nibble");
        index_snapshot_done(&got);
        cr_assert_eq(index_snapshot_find_prefix(idx, "f", &got), 0, "no upper bound");
        index_snapshot_done(&got);
        cr_assert_eq(index_snapshot_find_prefix(idx, "ffff", &got), 0);
        index_snapshot_done(&got);
        cr_assert_eq(index_snapshot_find_prefix(idx, "ab", &got), -ENOTUNIQ);
        cr_assert_eq(index_snapshot_find_prefix(idx, "b", &got), -ENOENT);
        cr_assert_eq(index_snapshot_find_prefix(idx, "0e", &got), -ENOENT);
        cr_assert_eq(index_snapshot_find_prefix(idx, H3, &got), 0, "full id");
        index_snapshot_done(&got);
        cr_assert_eq(index_snapshot_find_prefix(idx, H3 "0", &got), -EINVAL);
        cr_assert_eq(index_snapshot_find_prefix(idx, "", &got), -EINVAL);
        cr_assert_eq(index_snapshot_find_prefix(idx, "xyz", &got), -EINVAL);
        cr_assert_eq(index_snapshot_find_prefix(idx, "ab%", &got), -EINVAL);

        cr_assert_eq(index_snapshot_latest(idx, 1, &got), 0);
        cr_assert_eq(got.time_ns, 300);
        index_snapshot_done(&got);
        cr_assert_eq(index_snapshot_latest(idx, 7, &got), -ENOENT);

        int64_t times[8], *t = times;
        cr_assert_eq(index_snapshot_foreach(idx, 1, collect_time, &t), 0);
        cr_assert_eq(t - times, 3);
        cr_assert_eq(times[0], 50);
        cr_assert_eq(times[1], 100);
        cr_assert_eq(times[2], 300);
        t = times;
        cr_assert_eq(index_snapshot_foreach(idx, -1, collect_time, &t), 0);
        cr_assert_eq(t - times, 4);
        cr_assert_eq(times[2], 200);

        cr_assert_eq(index_snapshot_delete(idx, &h2), 0);
        cr_assert_eq(index_snapshot_delete(idx, &h2), -ENOENT);
        cr_assert_eq(index_snapshot_find_prefix(idx, "abc", &got), 0);
        index_snapshot_done(&got);
        index_close(idx);
}

/* ---- hosted, kv, transactions ------------------------------------------- */

Test(index, hosted_packs)
{
        struct index *idx = open_rw();
        struct oid peer = make_oid(1, 50), peer2 = make_oid(2, 50);
        struct oid a = make_oid(1, 60), b = make_oid(2, 60);
        struct index_hosted h;
        struct index_hosted_usage usage;
        int n = 0;

        cr_assert_eq(index_hosted_add(idx, &peer, &a, 1000), 0);
        cr_assert_eq(index_hosted_get(idx, &peer, &a, &h), 0);
        int64_t created = h.created_ns;
        cr_assert_eq(h.size, 1000);
        cr_assert_eq(index_hosted_add(idx, &peer, &a, 1000), 0, "re-put is fine");
        cr_assert_eq(index_hosted_get(idx, &peer, &a, &h), 0);
        cr_assert_eq(h.created_ns, created);
        cr_assert_eq(index_hosted_add(idx, &peer, &b, 24), 0);
        cr_assert_eq(index_hosted_add(idx, &peer2, &a, 5), 0);
        cr_assert_eq(index_hosted_get(idx, &peer2, &b, &h), -ENOENT);

        cr_assert_eq(index_hosted_usage(idx, &peer, &usage), 0);
        cr_assert_eq(usage.bytes, 1024);
        cr_assert_eq(usage.packs, 2);
        cr_assert_eq(index_hosted_foreach(idx, &peer, (index_hosted_cb)count_cb, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(index_hosted_remove(idx, &peer, &a), 0);
        cr_assert_eq(index_hosted_remove(idx, &peer, &a), -ENOENT);
        cr_assert_eq(index_hosted_usage(idx, &peer, &usage), 0);
        cr_assert_eq(usage.bytes, 24);
        struct index_stats st;
        cr_assert_eq(index_stats(idx, &st), 0);
        cr_assert_eq(st.hosted_bytes, 29);
        index_close(idx);
}

Test(index, kv)
{
        struct index *idx = open_rw();
        void *v;
        size_t len;
        int64_t i;

        cr_assert_eq(index_kv_get(idx, "k", &v, &len), -ENOENT);
        cr_assert_eq(index_kv_set(idx, "k", "a\0b", 3), 0);
        cr_assert_eq(index_kv_get(idx, "k", &v, &len), 0);
        cr_assert_eq(len, 3);
        cr_assert(memcmp(v, "a\0b", 4) == 0, "NUL-terminated");
        free(v);
        cr_assert_eq(index_kv_get_int(idx, "k", &i), -EINVAL);
        cr_assert_eq(index_kv_set_int(idx, "last_full_scan_ns", -1234567890123LL), 0);
        cr_assert_eq(index_kv_get_int(idx, "last_full_scan_ns", &i), 0);
        cr_assert_eq(i, -1234567890123LL);
        cr_assert_eq(index_kv_delete(idx, "k"), 0);
        cr_assert_eq(index_kv_delete(idx, "k"), -ENOENT);
        index_close(idx);
}

/* ---- what the row mapper stores and reads back ---------------------------- */

/* sql_int's text twin: the first column of the first row, "" if none. */
static void sql_text(const char *sql, char *ret, size_t size)
{
        sqlite3 *db;
        sqlite3_stmt *s;

        ret[0] = '\0';
        cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
                snprintf(ret, size, "%s", (const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        sqlite3_close(db);
}

/* Paths are bytes, not text: not UTF-8, control bytes, and ordered by memcmp
 * ("d/z" 0x7a < "d/\xc3\xa9" < "d/\xff"). */
Test(index, paths_are_bytes)
{
        static const char *const root_path = "/mnt/\xff\xfe\x01 disk";
        struct index *idx = open_rw();
        struct index_root root;
        struct index_file got;
        char hex[128];
        int64_t id;
        int n = 0;

        cr_assert_eq(index_root_add(idx, root_path, "\x80*", 0, &id), 0);
        cr_assert_eq(index_root_get(idx, id, &root), 0);
        cr_assert_str_eq(root.path, root_path);
        cr_assert_str_eq(root.excludes, "\x80*");
        index_root_done(&root);
        cr_assert_eq(index_root_find(idx, root_path, &root), 0);
        cr_assert_eq(root.id, id);
        index_root_done(&root);
        cr_assert_eq(index_root_find(idx, "/mnt/\xff\xfe", &root), -ENOENT);
        cr_assert_eq(index_root_foreach(idx, count_roots, &n), 0);
        cr_assert_eq(n, 1);
        sql_text("SELECT hex(path) || ' ' || typeof(path) FROM roots", hex, sizeof(hex));
        cr_assert_str_eq(hex, "2F6D6E742FFFFE01206469736B blob", "stored as its bytes, no NUL");

        const char *paths[] = { "d/\xff", "d/z", "d/\xc3\xa9", "d/\xff/x", "d\xff", "d" };
        struct index_file files[ELEMENTSOF(paths)];
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                files[i] = make_file(i);
        cr_assert_eq(index_file_put_batch(idx, id, paths, files, ELEMENTSOF(paths)), 0);
        cr_assert_eq(index_file_get(idx, id, "d/\xc3\xa9", &got), 0);
        cr_assert_eq(got.ino, files[2].ino);
        index_file_done(&got);

        struct paths seen = { 0 };
        cr_assert_eq(index_file_foreach(idx, id, "d", collect_path, &seen), 0);
        cr_assert_eq(seen.n, 5);
        cr_assert_str_eq(seen.seen[0], "d");
        cr_assert_str_eq(seen.seen[1], "d/z");
        cr_assert_str_eq(seen.seen[2], "d/\xc3\xa9");
        cr_assert_str_eq(seen.seen[3], "d/\xff");
        cr_assert_str_eq(seen.seen[4], "d/\xff/x");
        cr_assert_eq(index_file_delete_prefix(idx, id, "d/\xff"), 2);
        cr_assert_eq(index_file_get(idx, id, "d\xff", &got), 0, "a sibling, not below");
        index_file_done(&got);
        index_close(idx);
}

/* What reaches the table when a value is absent: NULL for no content and no
 * parent, '' for NULL strings, a zero-length BLOB (not NULL) for an empty kv
 * value; unsigned 64-bit values bit for bit. Out-parameters stay untouched
 * when a row is corrupt. */
Test(index, absent_values_and_untouched_results)
{
        struct index *idx = open_rw();
        struct index_file f = make_file(3), got;
        struct index_snapshot sn = make_snapshot(H1, 1, 100), sgot;
        struct index_object o, o_before;
        struct index_pack_entry e[1];
        struct oid pack = make_oid(1, 0xaa);
        char text[128];
        int64_t root, i = 5;
        void *v;
        size_t len;
        int n = 0;

        cr_assert_eq(index_root_add(idx, "/r", NULL, 0, &root), 0);
        f.content_len = 0;
        f.dev = UINT64_MAX;
        cr_assert_eq(index_file_put(idx, root, "a", &f), 0);
        sn.hostname = NULL;
        sn.tags = NULL;
        cr_assert_eq(index_snapshot_add(idx, &sn), 0);
        cr_assert_eq(index_kv_set(idx, "empty", NULL, 0), 0);
        cr_assert_eq(index_store_add(idx, "s", "local", NULL, NULL), 0);

        sql_text("SELECT quote(excludes) FROM roots", text, sizeof(text));
        cr_assert_str_eq(text, "''");
        sql_text("SELECT quote(content) || ' ' || dev FROM file_cache", text, sizeof(text));
        cr_assert_str_eq(text, "NULL -1");
        sql_text("SELECT quote(parent) || quote(hostname) || quote(tags) FROM snapshots", text,
                 sizeof(text));
        cr_assert_str_eq(text, "NULL''''");
        sql_text("SELECT quote(value) FROM kv WHERE key = 'empty'", text, sizeof(text));
        cr_assert_str_eq(text, "X''");
        sql_text("SELECT quote(config) FROM stores", text, sizeof(text));
        cr_assert_str_eq(text, "''");

        cr_assert_eq(index_file_get(idx, root, "a", &got), 0);
        cr_assert_null(got.content);
        cr_assert_eq(got.dev, UINT64_MAX);
        cr_assert_eq(index_kv_get(idx, "empty", &v, &len), 0);
        cr_assert_eq(len, 0);
        cr_assert_not_null(v, "an empty value is \"\", not NULL");
        cr_assert_eq(((char *)v)[0], '\0');
        free(v);
        cr_assert_eq(index_snapshot_get(idx, &sn.id, &sgot), 0);
        cr_assert(oid_is_null(&sgot.parent));
        cr_assert_str_eq(sgot.hostname, "");
        index_snapshot_done(&sgot);

        /* corrupt rows, written behind the index's back */
        make_entries(e, 1, 0, 1);
        cr_assert_eq(index_pack_commit(idx, &pack, 100, e, 1), 0);
        index_close(idx);
        sql_exec("UPDATE objects SET pack_id = x'0102';"
                 "UPDATE snapshots SET tree_id = zeroblob(31);"
                 "INSERT INTO kv (key, value) VALUES ('null', NULL);");
        idx = open_rw();
        memset(&o, 0x5a, sizeof(o));
        o_before = o;
        cr_assert_eq(index_object_lookup(idx, &e[0].id, &o), -EBADMSG);
        cr_assert(memcmp(&o, &o_before, sizeof(o)) == 0);
        cr_assert_eq(index_object_foreach(idx, (index_object_cb)count_cb, &n), -EBADMSG);
        cr_assert_eq(n, 0);
        cr_assert_eq(index_object_exists(idx, &e[0].id), 1, "the id itself is fine");
        memset(&sgot, 0x5a, sizeof(sgot));
        cr_assert_eq(index_snapshot_get(idx, &sn.id, &sgot), -EBADMSG);
        cr_assert_eq(index_snapshot_find_prefix(idx, "abc", &sgot), -EBADMSG);
        cr_assert_eq(index_snapshot_latest(idx, 1, &sgot), -EBADMSG);
        cr_assert_eq((uintptr_t)sgot.hostname, (uintptr_t)0x5a5a5a5a5a5a5a5aull);

        /* a NULL kv value reads as empty bytes, and is not an integer */
        cr_assert_eq(index_kv_get(idx, "null", &v, &len), 0);
        cr_assert_eq(len, 0);
        free(v);
        cr_assert_eq(index_kv_get_int(idx, "null", &i), -EINVAL);
        cr_assert_eq(i, 5);
        index_close(idx);
}

Test(index, nested_transactions)
{
        struct index *idx = open_rw();
        int64_t i;

        cr_assert_eq(index_commit(idx), -EINVAL);
        cr_assert_eq(index_rollback(idx), -EINVAL);

        cr_assert_eq(index_begin(idx), 0);
        cr_assert_eq(index_kv_set_int(idx, "outer", 1), 0);
        cr_assert_eq(index_begin(idx), 0);
        cr_assert_eq(index_kv_set_int(idx, "inner", 2), 0);
        cr_assert_eq(index_rollback(idx), 0);
        cr_assert_eq(index_begin(idx), 0);
        cr_assert_eq(index_kv_set_int(idx, "inner2", 3), 0);
        cr_assert_eq(index_commit(idx), 0);
        /* not visible to another connection before the outer commit */
        cr_assert_eq(sql_int("SELECT count(*) FROM kv"), 0);
        cr_assert_eq(index_commit(idx), 0);
        cr_assert_eq(sql_int("SELECT count(*) FROM kv"), 2);
        cr_assert_eq(index_kv_get_int(idx, "inner", &i), -ENOENT);
        cr_assert_eq(index_kv_get_int(idx, "inner2", &i), 0);

        cr_assert_eq(index_begin(idx), 0);
        cr_assert_eq(index_kv_set_int(idx, "gone", 1), 0);
        cr_assert_eq(index_rollback(idx), 0);
        cr_assert_eq(index_kv_get_int(idx, "gone", &i), -ENOENT);

        /* closing with an open transaction rolls it back */
        cr_assert_eq(index_begin(idx), 0);
        cr_assert_eq(index_kv_set_int(idx, "gone", 1), 0);
        index_close(idx);
        idx = open_rw();
        cr_assert_eq(index_kv_get_int(idx, "gone", &i), -ENOENT);
        index_close(idx);
}

/* ---- crash safety and reindex -------------------------------------------- */

/* A stand-in for packs on disk until common/reindex.c reads real ones: a file
 * named by the pack id holding its entries as raw structs. Written and
 * fsync'ed before the index transaction, as the pack writer does. */
static void fake_pack_write(const struct oid *pack, const struct index_pack_entry *e, size_t n)
{
        char hex[OID_HEX_SIZE], path[256];

        oid_to_hex(pack, hex);
        snprintf(path, sizeof(path), "%s/packs", tmpdir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/packs/%s", tmpdir, hex);
        write_file(path, e, n * sizeof(*e));
}

static int fake_reindex(struct index *idx)
{
        char dir[256];
        struct dirent *de;
        DIR *d;
        int r, n = 0;

        snprintf(dir, sizeof(dir), "%s/packs", tmpdir);
        d = opendir(dir);
        cr_assert_not_null(d);
        r = index_reindex_begin(idx);
        cr_assert_eq(r, 0, "reindex_begin: %s", strerror(-r));
        while ((de = readdir(d))) {
                struct index_pack_entry e[64];
                char path[600];
                struct oid id;
                ssize_t len;
                int fd;

                if (oid_from_hex(de->d_name, &id) < 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                fd = open(path, O_RDONLY);
                cr_assert_geq(fd, 0);
                len = read(fd, e, sizeof(e));
                close(fd);
                cr_assert_geq(len, 0);
                cr_assert_eq(index_pack_commit(idx, &id, 4096, e, (size_t)len / sizeof(e[0])), 0);
                n++;
        }
        closedir(d);
        cr_assert_eq(index_reindex_end(idx, 1), 0);
        return n;
}

/* Commit packs 0..n_committed-1 in the child, then write pack n_committed,
 * start its transaction and die before COMMIT. */
static void crash_child(int n_committed)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct index *idx = NULL;
                struct index_pack_entry e[20];

                if (index_open(dbpath, 0, &idx) < 0)
                        _exit(2);
                for (int i = 0; i <= n_committed; i++) {
                        struct oid pack = make_oid((uint32_t)i, 0xcc);

                        make_entries(e, 20, (uint32_t)i * 100, 4);
                        fake_pack_write(&pack, e, 20);
                        if (i == n_committed) {
                                if (index_begin(idx) < 0 || index_pack_commit(idx, &pack, 4096, e, 20) < 0)
                                        _exit(3);
                                _exit(0); /* the crash: no COMMIT, no close */
                        }
                        if (index_pack_commit(idx, &pack, 4096, e, 20) < 0)
                                _exit(4);
                }
                _exit(5);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

static void assert_consistent(struct index *idx)
{
        sqlite3 *db;
        sqlite3_stmt *s;

        cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
        cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
        sqlite3_finalize(s);
        cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(s), SQLITE_DONE, "dangling references");
        sqlite3_finalize(s);
        sqlite3_close(db);
        /* every pack has exactly its objects */
        cr_assert_eq(sql_int("SELECT count(*) FROM packs p WHERE n_objects != "
                             "(SELECT count(*) FROM objects o WHERE o.pack_id = p.id)"),
                     0);
}

Test(index, crash_before_commit_leaves_orphan_found_by_reindex)
{
        index_close(open_rw());
        crash_child(0);

        struct index *idx = open_rw();
        struct oid pack = make_oid(0, 0xcc);
        struct index_pack_entry e[20];
        struct index_pack p;
        struct index_object o;

        make_entries(e, 20, 0, 4);
        assert_consistent(idx);
        cr_assert_eq(index_pack_lookup(idx, &pack, &p), -ENOENT);
        cr_assert_eq(index_object_exists(idx, &e[0].id), 0);
        cr_assert_eq(sql_int("SELECT count(*) FROM objects"), 0);

        cr_assert_eq(fake_reindex(idx), 1);
        cr_assert_eq(index_pack_lookup(idx, &pack, &p), 0);
        cr_assert_eq(p.n_objects, 20);
        cr_assert_eq(index_object_lookup(idx, &e[19].id, &o), 0);
        cr_assert_eq(o.offset, e[19].offset);
        assert_consistent(idx);
        index_close(idx);
}

Test(index, crash_after_commit_keeps_committed_pack)
{
        index_close(open_rw());
        crash_child(3); /* packs 0..2 committed, pack 3 in flight */

        struct index *idx = open_rw();
        struct index_pack_entry e[20];
        struct index_pack p;

        assert_consistent(idx);
        for (uint32_t i = 0; i < 3; i++) {
                struct oid pack = make_oid(i, 0xcc);

                cr_assert_eq(index_pack_lookup(idx, &pack, &p), 0, "pack %u", i);
                make_entries(e, 20, i * 100, 4);
                for (int j = 0; j < 20; j++)
                        cr_assert_eq(index_object_exists(idx, &e[j].id), 1);
        }
        struct oid inflight = make_oid(3, 0xcc);
        cr_assert_eq(index_pack_lookup(idx, &inflight, &p), -ENOENT);
        cr_assert_eq(sql_int("SELECT count(*) FROM objects"), 60);
        cr_assert_eq(fake_reindex(idx), 4);
        cr_assert_eq(sql_int("SELECT count(*) FROM objects"), 80);
        assert_consistent(idx);
        index_close(idx);
}

/* A child commits packs as fast as it can and is SIGKILLed at a random
 * moment, five times over: every reopen finds a consistent index holding
 * whole packs only, and never fewer than before. */
Test(index, sigkill_during_commits_leaves_whole_packs)
{
        int64_t last = 0;

        index_close(open_rw());
        for (int round = 0; round < 5; round++) {
                pid_t pid = fork();
                cr_assert_geq(pid, 0);
                if (pid == 0) {
                        struct index *idx = NULL;
                        struct index_pack_entry e[20];

                        if (index_open(dbpath, 0, &idx) < 0)
                                _exit(2);
                        for (uint32_t i = (uint32_t)round * 100000;; i++) {
                                struct oid pack = make_oid(i, 0x5a);

                                make_entries(e, 20, i * 20, 6);
                                if (index_pack_commit(idx, &pack, 4096, e, 20) < 0)
                                        _exit(3);
                        }
                }
                usleep(20000 + (useconds_t)(rand() % 50000));
                cr_assert_eq(kill(pid, SIGKILL), 0);
                int status;
                cr_assert_eq(waitpid(pid, &status, 0), pid);
                cr_assert(WIFSIGNALED(status), "child exited early: %d", status);

                struct index *idx = open_rw();
                struct index_stats st;
                assert_consistent(idx);
                cr_assert_eq(index_stats(idx, &st), 0);
                cr_assert_eq(st.n_objects, st.n_packs * 20);
                cr_assert_geq((int64_t)st.n_packs, last);
                last = (int64_t)st.n_packs;
                index_close(idx);
        }
        cr_assert_gt(last, 0);
}

/* A full dump of the objects table as text, in id order. */
struct dump {
        char *buf;
        size_t len, cap;
};

static int dump_object(const struct index_object *o, void *userdata)
{
        struct dump *d = userdata;
        char id[OID_HEX_SIZE], pack[OID_HEX_SIZE];

        if (d->cap - d->len < 200) {
                d->cap = d->cap ? 2 * d->cap : 1 << 16;
                d->buf = realloc(d->buf, d->cap);
                cr_assert_not_null(d->buf);
        }
        oid_to_hex(&o->id, id);
        oid_to_hex(&o->pack, pack);
        d->len += (size_t)snprintf(d->buf + d->len, d->cap - d->len, "%s %d %s %llu %u\n", id,
                                   o->type, pack, (unsigned long long)o->offset, o->length);
        return 0;
}

Test(index, reindex_reproduces_objects_and_keeps_replica_state)
{
        struct index *idx = open_rw();
        struct index_pack_entry e[30];
        struct dump before = { 0 }, after = { 0 };
        int64_t store;

        cr_assert_eq(index_store_add(idx, "s", "local", "", &store), 0);
        for (uint32_t i = 0; i < 10; i++) {
                struct oid pack = make_oid(i, 0xdd);

                make_entries(e, 30, i * 1000, (uint8_t)i);
                fake_pack_write(&pack, e, 30);
                cr_assert_eq(index_pack_commit(idx, &pack, 4096, e, 30), 0);
        }
        struct oid p3 = make_oid(3, 0xdd), gone = make_oid(99, 0xdd);
        cr_assert_eq(index_replica_set(idx, &p3, store, INDEX_REPLICA_VERIFIED), 0);
        /* a pack the index knows but whose file is gone */
        cr_assert_eq(index_pack_commit(idx, &gone, 4096, NULL, 0), 0);

        cr_assert_eq(index_object_foreach(idx, dump_object, &before), 0);
        cr_assert_gt(before.len, 0);
        cr_assert_eq(fake_reindex(idx), 10);
        cr_assert_eq(index_object_foreach(idx, dump_object, &after), 0);
        cr_assert_eq(before.len, after.len);
        cr_assert(memcmp(before.buf, after.buf, before.len) == 0, "objects differ after reindex");
        cr_assert_eq(sql_int("SELECT count(*) FROM objects"), 300);

        struct index_pack p;
        cr_assert_eq(index_pack_lookup(idx, &gone, &p), -ENOENT);
        cr_assert_eq(index_replica_get(idx, &p3, store), INDEX_REPLICA_VERIFIED);
        assert_consistent(idx);

        /* an aborted reindex changes nothing */
        cr_assert_eq(index_reindex_begin(idx), 0);
        cr_assert_eq(index_reindex_begin(idx), -EBUSY);
        cr_assert_eq(index_reindex_end(idx, 0), 0);
        cr_assert_eq(sql_int("SELECT count(*) FROM objects"), 300);
        cr_assert_eq(sql_int("SELECT count(*) FROM packs"), 10);
        cr_assert_eq(index_reindex_end(idx, 1), -EINVAL);
        free(before.buf);
        free(after.buf);
        index_close(idx);
}

/* ---- read-only and concurrent connections ------------------------------- */

Test(index, readonly_sees_committed_data_and_cannot_write)
{
        struct index *rw = open_rw(), *ro = NULL;
        struct index_pack_entry e[4];
        struct oid pack = make_oid(1, 1);

        cr_assert_eq(index_open(dbpath, INDEX_READONLY, &ro), 0);
        make_entries(e, 4, 0, 1);
        cr_assert_eq(index_object_exists(ro, &e[0].id), 0);

        cr_assert_eq(index_begin(rw), 0);
        cr_assert_eq(index_pack_commit(rw, &pack, 10, e, 4), 0);
        cr_assert_eq(index_object_exists(ro, &e[0].id), 0, "uncommitted is invisible");
        cr_assert_eq(index_commit(rw), 0);
        cr_assert_eq(index_object_exists(ro, &e[0].id), 1);

        /* a read transaction keeps its snapshot while the writer commits */
        struct oid pack2 = make_oid(2, 1);
        struct index_pack_entry e2[4];
        make_entries(e2, 4, 100, 1);
        cr_assert_eq(index_begin(ro), 0);
        cr_assert_eq(index_object_exists(ro, &e[1].id), 1);
        cr_assert_eq(index_pack_commit(rw, &pack2, 10, e2, 4), 0, "writer not blocked by reader");
        cr_assert_eq(index_object_exists(ro, &e2[0].id), 0);
        cr_assert_eq(index_commit(ro), 0);
        cr_assert_eq(index_object_exists(ro, &e2[0].id), 1);

        cr_assert_eq(index_kv_set_int(ro, "x", 1), -EROFS);
        cr_assert_eq(index_root_add(ro, "/x", "", 0, NULL), -EROFS);
        cr_assert_str_neq(index_last_error(ro), "no error");
        index_close(ro);
        index_close(rw);
}

#define CONC_PACKS 200
#define CONC_OBJECTS 50

static void *writer_thread(void *arg)
{
        struct index *idx = NULL;
        struct index_pack_entry e[CONC_OBJECTS];
        intptr_t r = index_open(dbpath, 0, &idx);

        for (uint32_t i = 0; r >= 0 && i < CONC_PACKS; i++) {
                struct oid pack = make_oid(i, 0xee);

                make_entries(e, CONC_OBJECTS, i * CONC_OBJECTS, 5);
                r = index_pack_commit(idx, &pack, 1000, e, CONC_OBJECTS);
        }
        index_close(idx);
        return (void *)r;
}

Test(index, concurrent_writer_and_readers)
{
        struct index *ro = NULL;
        pthread_t t;
        void *result;
        uint64_t last = 0;
        int rounds = 0;

        index_close(open_rw());
        cr_assert_eq(index_open(dbpath, INDEX_READONLY, &ro), 0);
        cr_assert_eq(pthread_create(&t, NULL, writer_thread, NULL), 0);
        for (;;) {
                struct index_stats st;

                cr_assert_eq(index_begin(ro), 0);
                cr_assert_eq(index_stats(ro, &st), 0);
                cr_assert_eq(index_commit(ro), 0);
                /* never a partial pack, never going backwards */
                cr_assert_eq(st.n_objects, st.n_packs * CONC_OBJECTS);
                cr_assert_geq(st.n_objects, last);
                last = st.n_objects;
                rounds++;
                if (st.n_packs == CONC_PACKS)
                        break;
                usleep(1000);
        }
        cr_assert_eq(pthread_join(t, &result), 0);
        cr_assert_eq((intptr_t)result, 0);
        cr_assert_gt(rounds, 1);
        index_close(ro);
}

/* ---- bulk speed ---------------------------------------------------------- */

static double seconds_since(const struct timespec *t0)
{
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* 200,000 objects (CHUTE_INDEX_BENCH_OBJECTS overrides; the report's figure
 * is for 1,000,000) in batches of 10,000 (CHUTE_INDEX_BENCH_BATCH), one
 * pack_commit each; random-looking ids, as real HMAC ids are. */
Test(index, bulk_insert_speed, .timeout = 600)
{
        const char *env = getenv("CHUTE_INDEX_BENCH_OBJECTS");
        const char *batch = getenv("CHUTE_INDEX_BENCH_BATCH");
        size_t total = env ? strtoul(env, NULL, 10) : 200000;
        size_t per_pack = batch ? strtoul(batch, NULL, 10) : 10000;
        struct index_pack_entry *e = calloc(per_pack, sizeof(*e));
        struct index *idx = open_rw();
        struct timespec t0;
        uint64_t x = 0x9e3779b97f4a7c15ull;
        double secs;

        cr_assert_not_null(e);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t done = 0, p = 0; done < total; p++) {
                size_t n = MIN(per_pack, total - done);
                struct oid pack = make_oid((uint32_t)p, 0x77);

                for (size_t i = 0; i < n; i++) {
                        for (size_t k = 0; k < OID_SIZE; k += 8) {
                                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                                memcpy(e[i].id.bytes + k, &x, 8);
                        }
                        e[i].type = OBJECT_DATA;
                        e[i].offset = i * 1000000;
                        e[i].length = 1000000;
                }
                cr_assert_eq(index_pack_commit(idx, &pack, 1 << 30, e, n), 0);
                done += n;
        }
        secs = seconds_since(&t0);
        struct index_stats st;
        cr_assert_eq(index_stats(idx, &st), 0);
        cr_assert_eq(st.n_objects, total);

        /* lookups of present and absent ids */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 100000; i++) {
                struct oid id = make_oid((uint32_t)i, 0x13);
                cr_assert_eq(index_object_exists(idx, &id), 0);
        }
        double lookup = seconds_since(&t0);
        cr_log_info("index: %zu objects inserted in %.2f s (%.0f/s); 100000 exists-checks in %.2f s",
                    total, secs, total / secs, lookup);
        fprintf(stderr, "index bench: %zu objects inserted in %.2f s (%.0f/s); "
                        "100000 exists-checks in %.3f s\n",
                total, secs, total / secs, lookup);
        cr_assert_lt(secs, 120.0, "bulk insert too slow: %.1f s", secs);
        free(e);
        index_close(idx);
}
