/* SPDX-License-Identifier: MIT */
/* Tests for common/index-snapshot.c on real SQLite files: the root path each
 * snapshot row keeps, and finding the latest snapshot by root path for roots
 * that are not watched (recovered from a store, or removed). */

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"

static char tmpdir[64];
static char dbpath[128];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

static void setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-index-snap-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmpdir);
}

static void teardown(void)
{
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(index_snapshot, .init = setup, .fini = teardown);

static void add(struct index *idx, uint8_t n, int64_t time_ns, const char *root_path)
{
        struct index_snapshot s = { .id = { .bytes = { n } }, .time_ns = time_ns,
                                    .hostname = (char *)"h", .tags = (char *)"",
                                    .root_path = (char *)root_path };
        cr_assert_eq(index_snapshot_add(idx, &s), 0);
}

static uint8_t latest(struct index *idx, const char *path, int *ret)
{
        struct index_snapshot s;
        uint8_t n;

        *ret = index_snapshot_latest_containing(idx, path, &s);
        if (*ret < 0)
                return 0;
        n = s.id.bytes[0];
        index_snapshot_done(&s);
        return n;
}

Test(index_snapshot, root_path_round_trips_as_bytes)
{
        struct index *idx;
        struct index_snapshot s;
        static const char *const odd = "/mnt/\xff\xfe disk";

        cr_assert_eq(index_open(dbpath, 0, &idx), 0);
        add(idx, 1, 10, odd);
        cr_assert_eq(index_snapshot_get(idx, &(struct oid){ .bytes = { 1 } }, &s), 0);
        cr_assert_str_eq(s.root_path, odd);
        index_snapshot_done(&s);
        index_close(idx);
}

Test(index_snapshot, latest_by_root_path)
{
        struct index *idx;
        int r;

        cr_assert_eq(index_open(dbpath, 0, &idx), 0);
        cr_assert_eq(latest(idx, NULL, &r), 0);
        cr_assert_eq(r, -ENOENT);
        add(idx, 1, 10, "/home/ann");
        add(idx, 2, 30, "/home/ann");
        add(idx, 3, 20, "/home/ann");
        cr_assert_eq(latest(idx, NULL, &r), 2, "one root path: the newest");
        cr_assert_eq(r, 0);
        add(idx, 4, 40, "/home/ann/music");
        add(idx, 5, 5, "/home/annex");
        latest(idx, NULL, &r);
        cr_assert_eq(r, -ENOTUNIQ, "several root paths need a path");
        cr_assert_eq(latest(idx, "/home/ann", &r), 2);
        cr_assert_eq(latest(idx, "/home/ann/docs/letter", &r), 2);
        cr_assert_eq(latest(idx, "/home/ann/music/a.flac", &r), 4, "the deepest root wins");
        cr_assert_eq(latest(idx, "/home/annex/x", &r), 5, "/home/ann is no parent of /home/annex");
        latest(idx, "/home", &r);
        cr_assert_eq(r, -ENOENT);
        latest(idx, "/srv", &r);
        cr_assert_eq(r, -ENOENT);
        /* a snapshot of / holds every absolute path; a deeper root still wins */
        add(idx, 6, 50, "/");
        cr_assert_eq(latest(idx, "/srv/x", &r), 6, "/ is a parent of /srv/x");
        cr_assert_eq(latest(idx, "/", &r), 6);
        cr_assert_eq(latest(idx, "/home/ann/docs", &r), 2, "the deepest root wins");
        index_close(idx);
}
