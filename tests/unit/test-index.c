/* SPDX-License-Identifier: MIT */
/* Tests for common/index.c on real SQLite files in a temporary directory:
 * migrations and reopen, hostile files, every API round trip (roots, file
 * cache, objects and packs, stores and replicas, snapshots and prefix
 * lookup, hosted packs, kv). Also test-index-rows.c and test-index-crash.c. */
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
#include "index-fixture.h"
#include "pack.h"

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
        struct index_pack_entry e[5];
        make_entries(e, 5, 0, 7);
        cr_assert_eq(index_pack_commit(idx, &pack, 5000, e, 5), 0);
        index_close(idx);
        /* back to what version 1 wrote */
        sql_exec("ALTER TABLE stores DROP COLUMN refused_ns;"
                 "DROP TABLE chunk_fingerprints; ALTER TABLE packs DROP COLUMN record_bytes;"
                 "DROP TABLE peers; ALTER TABLE hosted DROP COLUMN deleted_ns;"
                 "ALTER TABLE replicas DROP COLUMN verified_ns;"
                 "ALTER TABLE snapshots DROP COLUMN root_path;"
                 "ALTER TABLE stores DROP COLUMN upload_limit; ALTER TABLE stores DROP COLUMN download_limit;"
                 "ALTER TABLE packs DROP COLUMN condemned_ns; DROP TRIGGER stores_gone_pack_deletes;"
                 "DROP TABLE pack_deletes; PRAGMA user_version = 1");

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
        cr_assert_eq(sql_int("SELECT count(*) FROM pragma_table_info('packs') WHERE name = 'condemned_ns'"), 1);
        cr_assert_eq(sql_int("SELECT count(*) FROM pack_deletes"), 0);
        cr_assert_eq(sql_int("SELECT record_bytes FROM packs"), 100 + 101 + 102 + 103 + 104,
                     "a pack's record bytes filled in from its objects");
        cr_assert_eq(sql_int("SELECT count(*) FROM chunk_fingerprints"), 0);
        cr_assert_eq(sql_int("SELECT count(*) FROM pragma_table_info('stores') WHERE name = 'refused_ns'"), 1);
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




struct children {
        char (*seen)[64];
        bool *dir;
        size_t n, cap;
};

static int collect_child(const char *path, const struct index_file *f, void *userdata)
{
        struct children *c = userdata;
        cr_assert_lt(c->n, c->cap);
        snprintf(c->seen[c->n], 64, "%s", path);
        c->dir[c->n++] = f == NULL;
        return 0;
}

Test(index, file_cache_children_skip_subdirectories_in_batches)
{
        struct index *idx = open_rw();
        struct index_file f = make_file(1);
        int64_t root;
        char path[64];
        struct children c = { .cap = 2000 };

        c.seen = calloc(c.cap, 64);
        c.dir = calloc(c.cap, sizeof(bool));
        cr_assert_eq(index_root_add(idx, "/r", "", 0, &root), 0);
        const char *paths[] = { "a", "a/b", "a/b/c", "a/c", "a-b", "a.txt", "ab", "b", "a0", "d/e/f",
                                "big/sub/x", "big/sub/y", "big/sub0" };
        cr_assert_eq(index_begin(idx), 0);
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                cr_assert_eq(index_file_put(idx, root, paths[i], &f), 0);
        for (int i = 0; i < 1300; i++) { /* more than one batch */
                snprintf(path, sizeof(path), "big/f%04d", i);
                cr_assert_eq(index_file_put(idx, root, path, &f), 0);
        }
        cr_assert_eq(index_commit(idx), 0);

        cr_assert_eq(index_file_foreach_child(idx, root, "", collect_child, &c), 0);
        const char *want[] = { "a", "a-b", "a.txt", "a", "a0", "ab", "b", "big", "d" };
        const bool want_dir[] = { false, false, false, true, false, false, false, true, true };
        cr_assert_eq(c.n, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                cr_assert_str_eq(c.seen[i], want[i], "child %zu", i);
                cr_assert_eq(c.dir[i], want_dir[i], "child %zu", i);
        }

        c.n = 0;
        cr_assert_eq(index_file_foreach_child(idx, root, "big/", collect_child, &c), 0);
        cr_assert_eq(c.n, 1302);
        for (int i = 0; i < 1300; i++) {
                snprintf(path, sizeof(path), "big/f%04d", i);
                cr_assert_str_eq(c.seen[i], path);
                cr_assert(!c.dir[i]);
        }
        cr_assert_str_eq(c.seen[1300], "big/sub");
        cr_assert(c.dir[1300]);
        cr_assert_str_eq(c.seen[1301], "big/sub0");
        cr_assert(!c.dir[1301]);

        c.n = 0;
        cr_assert_eq(index_file_foreach_child(idx, root, "a", collect_child, &c), 0);
        cr_assert_eq(c.n, 3); /* a/b is a file row and has rows below it */
        cr_assert_str_eq(c.seen[0], "a/b");
        cr_assert(!c.dir[0]);
        cr_assert_str_eq(c.seen[1], "a/b");
        cr_assert(c.dir[1]);
        cr_assert_str_eq(c.seen[2], "a/c");
        cr_assert(!c.dir[2]);

        c.n = 0;
        cr_assert_eq(index_file_foreach_child(idx, root, "nothing", collect_child, &c), 0);
        cr_assert_eq(c.n, 0);
        free(c.seen);
        free(c.dir);
        index_close(idx);
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

/* status's padding: pack bytes less records, header and trailer, over the
 * packs whose record bytes are known (a pack added without entries is not) */
Test(index, stats_count_the_padding)
{
        struct index *idx = open_rw();
        struct index_pack_entry e[10];
        struct oid pack = make_oid(1, 0xab), pack2 = make_oid(2, 0xab);
        struct index_stats st;

        make_entries(e, 10, 0, 3);
        uint64_t records = 0;
        for (int i = 0; i < 10; i++)
                records += e[i].length;
        uint64_t sealed = pack_padded_size(records + pack_header_size(10) + PACK_TRAILER_SIZE);
        cr_assert_eq(index_pack_commit(idx, &pack, sealed, e, 10), 0);
        cr_assert_eq(index_pack_add(idx, &pack2, 300, 42, 1, NULL, 0), 0);
        cr_assert_eq(index_stats(idx, &st), 0);
        cr_assert_eq(st.pack_bytes, sealed + 300);
        cr_assert_eq(st.padding_bytes, sealed - records - pack_header_size(10) - PACK_TRAILER_SIZE);
        cr_assert_gt(st.padding_bytes, 0);
        struct index_pack p;
        cr_assert_eq(index_pack_lookup(idx, &pack, &p), 0);
        cr_assert_eq(p.record_bytes, records);
        index_close(idx);
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

Test(index, fingerprints)
{
        struct index *idx = open_rw();
        uint8_t fp1[16] = {1}, fp2[16] = {2}, t1[16] = {7}, t2[16] = {8}, tag[16];
        struct oid a = {{0xaa}}, b = {{0xbb}}, got;
        uint64_t n;

        cr_assert_eq(index_fingerprint_get(idx, fp1, &got, tag), 0);
        cr_assert_eq(index_fingerprint_put(idx, fp1, &a, t1), 0);
        cr_assert_eq(index_fingerprint_put(idx, fp2, &b, t2), 0);
        cr_assert_eq(index_fingerprint_get(idx, fp1, &got, tag), 1);
        cr_assert_eq(oid_cmp(&got, &a), 0);
        cr_assert_eq(index_fingerprint_put(idx, fp1, &b, t2), 0, "replaced");
        cr_assert_eq(index_fingerprint_get(idx, fp1, &got, tag), 1);
        cr_assert_eq(oid_cmp(&got, &b), 0);
        cr_assert(memcmp(tag, t2, 16) == 0, "the row's tag comes back");
        cr_assert_eq(index_fingerprint_count(idx, &n), 0);
        cr_assert_eq(n, 2);

        /* prune keeps the rows of objects the index has */
        struct index_pack_entry e = { .id = a, .type = OBJECT_DATA, .offset = 0, .length = 100 };
        struct oid pack = {{0x01}};
        cr_assert_eq(index_pack_commit(idx, &pack, 4096, &e, 1), 0);
        cr_assert_eq(index_fingerprint_put(idx, fp2, &a, t1), 0);
        cr_assert_eq(index_fingerprint_prune(idx), 1, "fp1 -> b dropped");
        cr_assert_eq(index_fingerprint_get(idx, fp1, &got, tag), 0);
        cr_assert_eq(index_fingerprint_get(idx, fp2, &got, tag), 1);
        cr_assert_eq(oid_cmp(&got, &a), 0);
        cr_assert_eq(index_fingerprint_count(idx, &n), 0);
        cr_assert_eq(n, 1);
        /* hostile rows cannot be written: the lengths are checked */
        index_close(idx);
        sqlite3 *db;
        cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        cr_assert_neq(sqlite3_exec(db, "INSERT INTO chunk_fingerprints (fp, id, tag) VALUES (x'01', x'02', x'03')", NULL, NULL,
                                   NULL), SQLITE_OK);
        sqlite3_close(db);
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
