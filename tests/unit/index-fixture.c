/* SPDX-License-Identifier: MIT */
/* The index tests' fixture (index-fixture.h). */
#include "index-fixture.h"

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

char tmpdir[64];
char dbpath[128];

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

struct index *open_rw(void)
{
        struct index *idx = NULL;
        int r = index_open(dbpath, 0, &idx);

        cr_assert_eq(r, 0, "index_open: %s", strerror(-r));
        return idx;
}

/* A deterministic id: byte i = seed + i * 7, with the first 4 bytes = n. */
struct oid make_oid(uint32_t n, uint8_t seed)
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

int sql_int(const char *sql)
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

void sql_exec(const char *sql)
{
        sqlite3 *db;

        cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
        sqlite3_close(db);
}

void make_entries(struct index_pack_entry *e, size_t n, uint32_t first, uint8_t seed)
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


struct index_file make_file(uint64_t n)
{
        static char content[] = "\x01\x02\x00\xff content ref";
        return (struct index_file){ .dev = 0xfd01, .ino = n | (1ull << 63), .size = n * 100,
                                    .mtime_ns = (int64_t)n * 1000 + 1, .ctime_ns = -5,
                                    .mode = 0100644, .content = content,
                                    .content_len = sizeof(content) - 1 };
}


struct oid oid_hex(const char *hex)
{
        struct oid id;

        cr_assert_eq(oid_from_hex(hex, &id), 0, "%s", hex);
        return id;
}


struct index_snapshot make_snapshot(const char *hex, int64_t root, int64_t t)
{
        return (struct index_snapshot){ .id = oid_hex(hex), .root_id = root, .time_ns = t,
                                        .tree = make_oid((uint32_t)t, 3), .hostname = "box",
                                        .tags = "daily", .files = 10, .dirs = 2, .bytes = 1ull << 40,
                                        .new_bytes = 5, .errors = 1, .files_read = 3 };
}

int count_roots(const struct index_root *root, void *userdata)
{
        (*(int *)userdata)++;
        cr_assert_not_null(root->path);
        return 0;
}

int collect_path(const char *path, const struct index_file *f, void *userdata)
{
        struct paths *p = userdata;

        cr_assert_lt(p->n, 16);
        snprintf(p->seen[p->n++], sizeof(p->seen[0]), "%s", path);
        return 0;
}

int count_cb(const void *x, void *userdata)
{
        (*(int *)userdata)++;
        return 0;
}

void write_file(const char *path, const void *buf, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, buf, len), (ssize_t)len);
        cr_assert_eq(fsync(fd), 0);
        close(fd);
}
