/* SPDX-License-Identifier: MIT */
/* Crash safety of common/index.c around a pack commit: child processes
 * that _exit or are SIGKILLed mid-transaction, and reindex reproducing the
 * objects table, on real SQLite files. */
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
