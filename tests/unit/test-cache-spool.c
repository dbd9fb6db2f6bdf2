/* SPDX-License-Identifier: MIT */
/* daemon/cache-spool.c: rows come back in order, from memory and after
 * spilling to the anonymous file, with rows larger than the read buffer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache-spool.h"

struct seen {
        uint64_t n;
        size_t big_len;
};

static struct index_file row_for(uint64_t i, uint8_t *content, size_t len)
{
        for (size_t k = 0; k < len; k++)
                content[k] = (uint8_t)(i + k);
        return (struct index_file){ .dev = i, .ino = i * 3, .size = i * 7, .mtime_ns = (int64_t)i * 11,
                                    .ctime_ns = -(int64_t)i, .mode = 0100644, .content = len ? content : NULL,
                                    .content_len = len };
}

static size_t len_for(uint64_t i, size_t big) { return i == 777 ? big : (size_t)(i % 97); }

static int check_row(const char *path, const struct index_file *f, void *userdata)
{
        struct seen *s = userdata;
        char want[64];
        uint64_t i = s->n++;
        uint8_t *content = malloc(s->big_len + 100);
        size_t len = len_for(i, s->big_len);
        struct index_file w = row_for(i, content, len);

        snprintf(want, sizeof(want), "dir %llu/file", (unsigned long long)i);
        cr_assert_str_eq(path, want);
        cr_assert_eq(f->dev, w.dev);
        cr_assert_eq(f->ino, w.ino);
        cr_assert_eq(f->size, w.size);
        cr_assert_eq(f->mtime_ns, w.mtime_ns);
        cr_assert_eq(f->ctime_ns, w.ctime_ns);
        cr_assert_eq(f->mode, w.mode);
        cr_assert_eq(f->content_len, len);
        if (len)
                cr_assert(memcmp(f->content, content, len) == 0, "row %llu", (unsigned long long)i);
        free(content);
        return 0;
}

static void round_trip(uint64_t n, size_t big)
{
        char dir[] = "/tmp/spool-XXXXXX";
        struct cache_spool *s;
        uint8_t *content = malloc(big + 100);
        struct seen seen = { .big_len = big };
        char path[64];

        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(cache_spool_new(dir, &s), 0);
        for (uint64_t i = 0; i < n; i++) {
                struct index_file f = row_for(i, content, len_for(i, big));
                snprintf(path, sizeof(path), "dir %llu/file", (unsigned long long)i);
                cr_assert_eq(cache_spool_add(s, path, &f), 0);
        }
        cr_assert_eq(cache_spool_count(s), n);
        cr_assert_eq(cache_spool_foreach(s, check_row, &seen), 0);
        cr_assert_eq(seen.n, n);
        /* a second pass sees the same */
        seen.n = 0;
        cr_assert_eq(cache_spool_foreach(s, check_row, &seen), 0);
        cr_assert_eq(seen.n, n);
        cache_spool_free(s);
        cr_assert_eq(rmdir(dir), 0, "the spool left nothing in its directory");
        free(content);
}

Test(cache_spool, few_rows_stay_in_memory) { round_trip(10, 10); }

Test(cache_spool, many_rows_spill_and_come_back_in_order) { round_trip(100000, 10); }

Test(cache_spool, a_row_larger_than_the_read_buffer) { round_trip(5000, 3 * 1024 * 1024); }

static int stop_at_three(const char *path, const struct index_file *f, void *userdata)
{
        return ++*(int *)userdata == 3 ? 42 : 0;
}

Test(cache_spool, a_callback_stops_the_replay)
{
        struct cache_spool *s;
        struct index_file f = { .size = 1 };
        int calls = 0;

        cr_assert_eq(cache_spool_new("/tmp", &s), 0);
        for (int i = 0; i < 10; i++)
                cr_assert_eq(cache_spool_add(s, "p", &f), 0);
        cr_assert_eq(cache_spool_foreach(s, stop_at_three, &calls), 42);
        cr_assert_eq(calls, 3);
        cache_spool_free(s);
}

Test(cache_spool, a_directory_that_cannot_hold_the_file_is_an_error)
{
        struct cache_spool *s;
        uint8_t content[1000] = { 0 };
        struct index_file f = { .content = content, .content_len = sizeof(content) };
        int r = 0;

        cr_assert_eq(cache_spool_new("/nonexistent/spool", &s), 0);
        for (int i = 0; i < 5000 && r == 0; i++)
                r = cache_spool_add(s, "p", &f);
        cr_assert_eq(r, -ENOENT);
        cache_spool_free(s);
}
