/* SPDX-License-Identifier: MIT */
/* common/index.c on real SQLite files: what the row mapper stores and reads
 * back (paths as bytes, absent values, nested transactions), read-only and
 * concurrent (WAL) connections, and bulk insert speed. */
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
