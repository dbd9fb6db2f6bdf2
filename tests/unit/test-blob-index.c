/* SPDX-License-Identifier: MIT */
/* daemon/blob-index.c: index.json is checked strictly (every key, type and
 * bound), blob ids, and the ranges of an upload: merged when they touch or
 * overlap, bounded in number, and read back only in their canonical form. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blob-index.h"

static int check(const char *text, json_t **ret, char *err)
{
        return blob_index_check(text, strlen(text), ret, err, 256);
}

Test(blob_index, accepts_and_normalises)
{
        json_t *doc = NULL;
        char err[256] = "";
        const char *text =
                "{\"size\": 12, \"name\": \"photo 1.jpg\", \"type\": \"image/jpeg\", "
                "\"sha256\": \"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789\"}";
        cr_assert_eq(check(text, &doc, err), 0, "%s", err);
        cr_assert_eq(json_integer_value(json_object_get(doc, "size")), 12);
        cr_assert_str_eq(json_string_value(json_object_get(doc, "sha256")),
                         "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
        cr_assert_str_eq(json_string_value(json_object_get(doc, "type")), "image/jpeg");
        cr_assert_eq(json_object_size(doc), 4);
        json_decref(doc);
        cr_assert_eq(check("{\"size\": 0}", &doc, err), 0, "%s", err);
        json_decref(doc);
        cr_assert_eq(check("{\"size\": 1099511627776}", &doc, err), 0, "2^40 is the largest size");
        json_decref(doc);
}

Test(blob_index, refuses)
{
        static const char *const bad[] = {
                "",
                "{\"size\": 1",
                "[1]",
                "\"size\"",
                "{}",
                "{\"size\": -1}",
                "{\"size\": 1.0}",
                "{\"size\": \"1\"}",
                "{\"size\": true}",
                "{\"size\": 1099511627777}",
                "{\"size\": 1, \"size\": 2}",
                "{\"size\": 1, \"extra\": 1}",
                "{\"size\": 1, \"id\": \"0123456789abcdef0123456789abcdef\"}",
                "{\"size\": 1, \"name\": \"\"}",
                "{\"size\": 1, \"name\": \"a/b\"}",
                "{\"size\": 1, \"name\": \"a\\u0000b\"}",
                "{\"size\": 1, \"name\": 5}",
                "{\"size\": 1, \"type\": \"text\"}",
                "{\"size\": 1, \"type\": \"text/\"}",
                "{\"size\": 1, \"type\": \"/plain\"}",
                "{\"size\": 1, \"type\": \"text/plain; charset=utf-8\"}",
                "{\"size\": 1, \"sha256\": \"abc\"}",
                "{\"size\": 1, \"sha256\": "
                "\"g000000000000000000000000000000000000000000000000000000000000000\"}",
                "{\"size\": 0, \"sha256\": "
                "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                json_t *doc = (json_t *)0x1;
                char err[256] = "";
                cr_assert_eq(check(bad[i], &doc, err), -EINVAL, "accepted: %s", bad[i]);
                cr_assert_eq(doc, (json_t *)0x1, "ret touched on failure: %s", bad[i]);
                cr_assert(strlen(err) > 0, "no message for %s", bad[i]);
        }
        char big[5000];
        memset(big, ' ', sizeof(big));
        memcpy(big, "{\"size\": 1}", 11);
        json_t *doc = NULL;
        char err[256] = "";
        cr_assert_eq(blob_index_check(big, sizeof(big), &doc, err, sizeof(err)), -E2BIG);
}

Test(blob_index, ids)
{
        cr_assert(blob_id_valid("0123456789abcdef0123456789abcdef", 32));
        cr_assert(!blob_id_valid("0123456789ABCDEF0123456789abcdef", 32), "upper case");
        cr_assert(!blob_id_valid("0123456789abcdef0123456789abcde", 31));
        cr_assert(!blob_id_valid("0123456789abcdef0123456789abcdeg", 32));
        cr_assert(!blob_id_valid("../../../../../../../../etc/pass", 32));
}

static void expect(const struct blob_range *v, size_t n, const char *want)
{
        char *text = NULL;
        size_t len = 0;
        cr_assert_eq(blob_ranges_format(v, n, &text, &len), 0);
        cr_assert_str_eq(text, want);
        cr_assert_eq(len, strlen(want));
        free(text);
}

Test(blob_ranges, merge)
{
        struct blob_range *v = NULL;
        size_t n = 0;
        cr_assert_eq(blob_ranges_add(&v, &n, 20, 30), 0);
        cr_assert_eq(blob_ranges_add(&v, &n, 0, 10), 0);
        expect(v, n, "0 10\n20 30\n");
        cr_assert_eq(blob_ranges_add(&v, &n, 40, 50), 0);
        cr_assert_eq(blob_ranges_add(&v, &n, 25, 27), 0, "inside one");
        expect(v, n, "0 10\n20 30\n40 50\n");
        cr_assert_eq(blob_ranges_add(&v, &n, 10, 20), 0, "touching both sides");
        expect(v, n, "0 30\n40 50\n");
        cr_assert_eq(blob_ranges_add(&v, &n, 5, 45), 0, "overlapping both");
        expect(v, n, "0 50\n");
        cr_assert_eq(blob_ranges_add(&v, &n, 0, 50), 0, "the same again");
        expect(v, n, "0 50\n");
        free(v);
}

Test(blob_ranges, bounded)
{
        struct blob_range *v = NULL;
        size_t n = 0;
        for (uint64_t i = 0; i < BLOB_MAX_RANGES; i++)
                cr_assert_eq(blob_ranges_add(&v, &n, 2 * i, 2 * i + 1), 0);
        cr_assert_eq(n, BLOB_MAX_RANGES);
        cr_assert_eq(blob_ranges_add(&v, &n, 2 * BLOB_MAX_RANGES, 2 * BLOB_MAX_RANGES + 1), -E2BIG);
        cr_assert_eq(n, BLOB_MAX_RANGES, "unchanged");
        cr_assert_eq(blob_ranges_add(&v, &n, 1, 2), 0, "filling a gap merges: fewer pieces");
        cr_assert_eq(n, BLOB_MAX_RANGES - 1);
        free(v);
}

Test(blob_ranges, parse)
{
        struct blob_range *v = NULL;
        size_t n = 0;
        cr_assert_eq(blob_ranges_parse("", 100, &v, &n), 0);
        cr_assert_eq(n, 0);
        cr_assert_eq(blob_ranges_parse("0 10\n20 100\n", 100, &v, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(v[1].start, 20);
        cr_assert_eq(v[1].end, 100);
        static const char *const bad[] = {
                "0 10",          /* no newline */
                "0 101\n",       /* past the size */
                "10 10\n",       /* empty */
                "10 5\n",        /* backwards */
                "20 30\n0 10\n", /* not sorted */
                "0 10\n10 20\n", /* touching: would have been merged */
                "0 10\n5 20\n",  /* overlapping */
                "-1 10\n",
                "0 +10\n",
                "0  10\n",
                "0 10\nx\n",
                "99999999999999999999 1\n",
                "0 100\n00002000 3000\n", /* leading zeros: not the canonical form */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cr_assert_eq(blob_ranges_parse(bad[i], 100, &v, &n), -EBADMSG, "accepted: %s", bad[i]);
                cr_assert_eq(n, 2, "ret touched on failure");
        }
        free(v);
}
