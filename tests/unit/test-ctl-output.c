/* SPDX-License-Identifier: MIT */
/* Tests for chutectl's pure parts: ctl/args.c (option iteration, lexical
 * path normalisation, ~ expansion, SNAP:PATH splitting) and ctl/output.c
 * (sizes, RFC 3339 and local times, durations, modes, JSON escaping of
 * paths that are not UTF-8, tables, the progress line). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "output.h"

static void norm_is(const char *base, const char *path, const char *want)
{
        char *got = NULL;

        cr_assert_eq(args_normalize_path(base, path, &got), 0, "%s + %s", base, path);
        cr_assert_str_eq(got, want, "%s + %s", base, path);
        free(got);
}

Test(args, normalize_lexically)
{
        norm_is("/home/a", "x/./y/../z", "/home/a/x/z");
        norm_is("/home/a", ".", "/home/a");
        norm_is("/home/a", "..", "/home");
        norm_is("/home/a", "../../../..", "/");
        norm_is("/", "..", "/");
        norm_is("/home/a", "/etc//passwd/", "/etc/passwd");
        norm_is("/home/a/", "b/", "/home/a/b");
        norm_is("//x//", "./y/.", "/x/y");
        norm_is("/a", "...", "/a/...");
        norm_is("/a", "b/..c/..", "/a/b");
        norm_is("/", "/", "/");
        /* bytes that are not UTF-8 go through untouched */
        norm_is("/d\xff", "n\xfe\x01", "/d\xff/n\xfe\x01");
}

Test(args, normalize_refuses_empty_and_relative_base)
{
        char *got = (char *)"untouched";

        cr_assert_eq(args_normalize_path("/a", "", &got), -EINVAL);
        cr_assert_eq(args_normalize_path("rel", "x", &got), -EINVAL);
        cr_assert_eq(args_normalize_path(NULL, "x", &got), -EINVAL);
        cr_assert_str_eq(got, "untouched");
        cr_assert_eq(args_normalize_path(NULL, "/x", &got), 0);
        cr_assert_str_eq(got, "/x");
        free(got);
}

static void abs_is(const char *arg, const char *cwd, const char *home, const char *want)
{
        char *got = NULL;

        cr_assert_eq(args_absolute_path_with(arg, cwd, home, &got), 0, "%s", arg);
        cr_assert_str_eq(got, want, "%s", arg);
        free(got);
}

Test(args, tilde_and_cwd)
{
        abs_is("~", "/w", "/home/u", "/home/u");
        abs_is("~/", "/w", "/home/u", "/home/u");
        abs_is("~/docs/../pics", "/w", "/home/u", "/home/u/pics");
        abs_is("~x", "/w", "/home/u", "/w/~x");  /* not ours to expand here */
        abs_is("a/~/b", "/w", "/home/u", "/w/a/~/b");
        abs_is("sub/file", "/w/x", NULL, "/w/x/sub/file");
        abs_is("/abs", NULL, NULL, "/abs");

        char *got = NULL;
        cr_assert_eq(args_absolute_path_with("~/x", "/w", NULL, &got), -EINVAL);
        cr_assert_eq(args_absolute_path_with("", "/w", "/h", &got), -EINVAL);
        cr_assert_null(got);
}

Test(args, absolute_path_uses_home_and_cwd)
{
        char *got = NULL, *cwd = getcwd(NULL, 0);
        char want[8192];

        cr_assert_not_null(cwd);
        setenv("HOME", "/home/tester", 1);
        cr_assert_eq(args_absolute_path("~/a", &got), 0);
        cr_assert_str_eq(got, "/home/tester/a");
        free(got);
        cr_assert_eq(args_absolute_path("x/../y", &got), 0);
        snprintf(want, sizeof(want), "%s/y", strcmp(cwd, "/") ? cwd : "");
        cr_assert_str_eq(got, want);
        free(got);
        cr_assert_eq(args_absolute_path("~no-such-user-here/x", &got), -ENOENT);
        free(cwd);
}

Test(args, dotted_and_inside)
{
        cr_assert(args_path_is_dotted("."));
        cr_assert(args_path_is_dotted(".."));
        cr_assert(args_path_is_dotted("./a"));
        cr_assert(args_path_is_dotted("../a"));
        cr_assert_not(args_path_is_dotted(".hidden"));
        cr_assert_not(args_path_is_dotted("a/./b"));

        cr_assert(args_path_inside("/a", "/a"));
        cr_assert(args_path_inside("/a", "/a/b"));
        cr_assert_not(args_path_inside("/a", "/ab"));
        cr_assert_not(args_path_inside("/a/b", "/a"));
        cr_assert(args_path_inside("/", "/anything"));
}

static void split_is(const char *arg, const char *snap, const char *path)
{
        char *s = NULL, *p = NULL;

        cr_assert_eq(args_split_snap(arg, &s, &p), 0, "%s", arg);
        cr_assert_str_eq(s, snap, "%s", arg);
        if (path)
                cr_assert_str_eq(p, path, "%s", arg);
        else
                cr_assert_null(p, "%s", arg);
        free(s);
        free(p);
}

Test(args, split_snap_path)
{
        split_is("latest", "latest", NULL);
        split_is("latest:", "latest", NULL);
        split_is("latest:sub/file", "latest", "sub/file");
        split_is("latest:/abs/a:b", "latest", "/abs/a:b"); /* only the first colon splits */
        split_is("ABCdef12:x", "abcdef12", "x");
        split_is("0", "0", NULL);

        char *s = NULL, *p = NULL;
        cr_assert_eq(args_split_snap(":x", &s, &p), -EINVAL);
        cr_assert_eq(args_split_snap("", &s, &p), -EINVAL);
        cr_assert_eq(args_split_snap("LATEST:x", &s, &p), -EINVAL);
        cr_assert_eq(args_split_snap("abcg:x", &s, &p), -EINVAL);
        cr_assert_eq(args_split_snap("/home/a", &s, &p), -EINVAL);
        char long_hex[66];
        memset(long_hex, 'a', 65);
        long_hex[65] = '\0';
        cr_assert_eq(args_split_snap(long_hex, &s, &p), -EINVAL);
        long_hex[64] = '\0';
        cr_assert_eq(args_split_snap(long_hex, &s, &p), 0);
        free(s);
        free(p);
}

enum { OPT_X = 1, OPT_FLAG };

Test(args, options_anywhere_until_double_dash)
{
        static const struct args_option opts[] = {
                { "exclude", 'e', true, OPT_X },
                { "overwrite", 0, false, OPT_FLAG },
                { 0 },
        };
        char *argv[] = { "add", "p1", "--exclude", "*.tmp", "-e", "b", "--exclude=c=d",
                         "--overwrite", "-", "--", "--overwrite", NULL };
        struct args a;

        args_init(&a, 11, argv, 1);
        cr_assert_eq(args_next(&a, opts), ARGS_POSITIONAL);
        cr_assert_str_eq(a.value, "p1");
        cr_assert_eq(args_next(&a, opts), OPT_X);
        cr_assert_str_eq(a.value, "*.tmp");
        cr_assert_eq(args_next(&a, opts), OPT_X);
        cr_assert_str_eq(a.value, "b");
        cr_assert_eq(args_next(&a, opts), OPT_X);
        cr_assert_str_eq(a.value, "c=d");
        cr_assert_eq(args_next(&a, opts), OPT_FLAG);
        cr_assert_eq(args_next(&a, opts), ARGS_POSITIONAL);
        cr_assert_str_eq(a.value, "-");
        cr_assert_eq(args_next(&a, opts), ARGS_POSITIONAL);
        cr_assert_str_eq(a.value, "--overwrite");
        cr_assert_eq(args_next(&a, opts), ARGS_END);
}

Test(args, option_errors)
{
        static const struct args_option opts[] = {
                { "exclude", 'e', true, OPT_X },
                { "overwrite", 0, false, OPT_FLAG },
                { 0 },
        };
        char *a1[] = { "v", "--nope" }, *a2[] = { "v", "--exclude" }, *a3[] = { "v", "--overwrite=1" },
             *a4[] = { "v", "-ex" }, *a5[] = { "v", "--exclud" };
        char **all[] = { a1, a2, a3, a4, a5 };
        struct args a;

        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
                args_init(&a, 2, all[i], 1);
                cr_assert_eq(args_next(&a, opts), ARGS_ERROR, "%s", all[i][1]);
                cr_assert(strlen(a.error) > 0);
        }
}

Test(output, sizes)
{
        char b[OUTPUT_SIZE_MAX];

        cr_assert_str_eq(output_size(0, b), "0 B");
        cr_assert_str_eq(output_size(1023, b), "1023 B");
        cr_assert_str_eq(output_size(1024, b), "1.0 KiB");
        cr_assert_str_eq(output_size(1536, b), "1.5 KiB");
        cr_assert_str_eq(output_size(10 * 1024 * 1024, b), "10.0 MiB");
        cr_assert_str_eq(output_size(150ull << 20, b), "150 MiB");
        cr_assert_str_eq(output_size(3ull << 40, b), "3.0 TiB");
        cr_assert_str_eq(output_size(UINT64_MAX, b), "16.0 EiB");
}

Test(output, rfc3339_utc_with_nanoseconds)
{
        char b[OUTPUT_TIME_MAX];

        cr_assert_str_eq(output_time_rfc3339(0, b), "1970-01-01T00:00:00.000000000Z");
        cr_assert_str_eq(output_time_rfc3339(1795300201123456789LL, b),
                         "2026-11-21T22:30:01.123456789Z");
        cr_assert_str_eq(output_time_rfc3339(-1, b), "1969-12-31T23:59:59.999999999Z");
}

Test(output, local_time)
{
        char b[OUTPUT_TIME_MAX];

        setenv("TZ", "UTC", 1);
        tzset();
        cr_assert_str_eq(output_time_local(1795300201999999999LL, b), "2026-11-21 22:30:01");
        setenv("TZ", "Europe/Berlin", 1);
        tzset();
        cr_assert_str_eq(output_time_local(1795300201000000000LL, b), "2026-11-21 23:30:01");
}

Test(output, durations)
{
        char b[OUTPUT_TIME_MAX];

        cr_assert_str_eq(output_duration(0, b), "0s");
        cr_assert_str_eq(output_duration(59, b), "59s");
        cr_assert_str_eq(output_duration(185, b), "3m 05s");
        cr_assert_str_eq(output_duration(7620, b), "2h 07m");
        cr_assert_str_eq(output_duration(3 * 86400 + 4 * 3600 + 5, b), "3d 04h");
}

Test(output, modes)
{
        char b[11];

        cr_assert_str_eq(output_mode("dir", 0755, b), "drwxr-xr-x");
        cr_assert_str_eq(output_mode("file", 0640, b), "-rw-r-----");
        cr_assert_str_eq(output_mode("file", 04755, b), "-rwsr-xr-x");
        cr_assert_str_eq(output_mode("file", 02644, b), "-rw-r-Sr--");
        cr_assert_str_eq(output_mode("dir", 01777, b), "drwxrwxrwt");
        cr_assert_str_eq(output_mode("symlink", 0777, b), "lrwxrwxrwx");
        cr_assert_str_eq(output_mode("whatever", 0, b), "?---------");
        cr_assert_str_eq(output_mode(NULL, 0100644, b), "?rw-r--r--");
}

/* What output_json_string writes for len bytes of s. */
static char *json_of(const char *s, size_t len)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        cr_assert_not_null(f);
        cr_assert_eq(output_json_string(f, s, len), 0);
        fclose(f);
        return buf;
}

static void json_is(const char *s, size_t len, const char *want)
{
        char *got = json_of(s, len);

        cr_assert_str_eq(got, want);
        free(got);
}

Test(output, json_escapes)
{
        json_is("plain", 5, "\"plain\"");
        json_is("a\"b\\c\n\t\r\b\f", 10, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\"");
        json_is("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
        json_is("a\0b", 3, "\"a\\u0000b\"");
        json_is("/", 1, "\"/\"");
}

Test(output, json_keeps_valid_utf8)
{
        json_is("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
        json_is("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");             /* euro sign */
        json_is("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");     /* emoji */
        json_is("\xef\xbf\xbf", 3, "\"\xef\xbf\xbf\"");             /* U+FFFF */
        json_is("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");     /* U+10FFFF */
}

Test(output, json_escapes_invalid_bytes_as_surrogates)
{
        json_is("bad\xffname", 8, "\"bad\\udcffname\"");
        json_is("\xc3", 1, "\"\\udcc3\"");                         /* truncated */
        json_is("\xc3(", 2, "\"\\udcc3(\"");                       /* bad continuation */
        json_is("\xc0\xaf", 2, "\"\\udcc0\\udcaf\"");              /* overlong */
        json_is("\xe0\x80\xaf", 3, "\"\\udce0\\udc80\\udcaf\"");   /* overlong, 3 bytes */
        json_is("\xed\xa0\x80", 3, "\"\\udced\\udca0\\udc80\"");   /* an encoded surrogate */
        json_is("\xf4\x90\x80\x80", 4, "\"\\udcf4\\udc90\\udc80\\udc80\""); /* > U+10FFFF */
        json_is("\x80", 1, "\"\\udc80\"");                         /* lone continuation */
        json_is("\xe2\x82", 2, "\"\\udce2\\udc82\"");               /* cut short */
        json_is("\xe2\x82\xac\xff\xc3\xa9", 6, "\"\xe2\x82\xac\\udcff\xc3\xa9\"");
}

Test(output, json_document)
{
        json_t *o = json_object(), *arr = json_array();
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        json_object_set_new(o, "path", output_json_bytes("/d\xff", 3));
        json_object_set_new(o, "n", json_integer(42));
        json_object_set_new(o, "none", json_null());
        json_object_set_new(o, "list", arr);
        json_array_append_new(arr, json_true());
        json_array_append_new(arr, json_object());
        json_object_set_new(o, "empty", json_array());
        cr_assert_eq(output_json_print(f, o), 0);
        fclose(f);
        cr_assert_str_eq(buf, "{\n"
                              "  \"path\": \"/d\\udcff\",\n"
                              "  \"n\": 42,\n"
                              "  \"none\": null,\n"
                              "  \"list\": [\n"
                              "    true,\n"
                              "    {}\n"
                              "  ],\n"
                              "  \"empty\": []\n"
                              "}\n");
        free(buf);
        json_decref(o);
}

Test(output, table_aligns_columns)
{
        static const char *const headers[] = { "NAME", "SIZE", "NOTE" };
        static const enum output_align align[] = { OUTPUT_LEFT, OUTPUT_RIGHT, OUTPUT_LEFT };
        const char *r1[] = { "caf\xc3\xa9", "1 B", "x" }, *r2[] = { "a", "10.0 KiB", NULL };
        struct output_table t;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        output_table_init(&t, 3, headers, align);
        cr_assert_eq(output_table_add(&t, r1), 0);
        cr_assert_eq(output_table_add(&t, r2), 0);
        output_table_print(&t, f);
        output_table_done(&t);
        fclose(f);
        cr_assert_str_eq(buf, "NAME      SIZE  NOTE\n"
                              "caf\xc3\xa9       1 B  x\n"
                              "a     10.0 KiB  \n");
        free(buf);
        cr_assert_eq(output_width("caf\xc3\xa9"), 4);
}

Test(output, progress_line)
{
        char b[160];

        output_progress_format(b, sizeof(b), "restoring", 9, 3, 1 << 20, 4 << 20, 1 << 20,
                               1000000000);
        cr_assert_str_eq(b, "restoring: 3 files, 1.0 MiB of 4.0 MiB (25%), 1.0 MiB/s, ETA 3s");
        /* unknown total, too early for a rate */
        output_progress_format(b, sizeof(b), NULL, 0, 7, 2048, 0, 2048, 1000);
        cr_assert_str_eq(b, "7 files, 2.0 KiB");
        /* a tiny buffer is cut, never overrun */
        output_progress_format(b, 8, "restoring", 9, 3, 1, 2, 1, 0);
        cr_assert_eq(strlen(b), 7);
}
