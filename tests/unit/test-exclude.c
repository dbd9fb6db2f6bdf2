/* SPDX-License-Identifier: MIT */
/* Tests for common/exclude.c: a table of gitignore(5) cases (patterns, path,
 * directory or not, expected), bad lines, .chuteignore layering, non-UTF-8
 * names, reference counting and the CACHEDIR.TAG signature. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exclude.h"

struct match_case {
        const char *patterns;
        const char *path;
        bool is_dir;
        bool excluded;
};

#define F false
#define D true

static const struct match_case cases[] = {
        /* nothing at all */
        { "", "a", F, false },
        { "", "a", D, false },
        /* blank lines and comments */
        { "\n\n   \n# foo\nbar", "foo", F, false },
        { "# foo\nbar", "# foo", F, false },
        { "# foo\nbar", "bar", F, true },
        { "\\#foo", "#foo", F, true },
        { "\\#foo", "foo", F, false },
        /* trailing spaces: dropped unless escaped */
        { "foo   ", "foo", F, true },
        { "foo   ", "foo   ", F, false },
        { "foo\\ ", "foo ", F, true },
        { "foo\\ ", "foo", F, false },
        { "foo\\  ", "foo ", F, true },
        { " foo", " foo", F, true }, /* leading spaces count */
        { " foo", "foo", F, false },
        /* CRLF line ends */
        { "a\r\nb\r\n", "a", F, true },
        { "a\r\nb\r\n", "b", F, true },
        /* negation, last match wins */
        { "*.html\n!foo.html", "a.html", F, true },
        { "*.html\n!foo.html", "foo.html", F, false },
        { "*.html\n!foo.html", "d/foo.html", F, false },
        { "*.html\n!foo.html", "d/bar.html", F, true },
        { "!foo.html\n*.html", "foo.html", F, true },
        { "foo\n!foo", "foo", F, false },
        { "!foo", "foo", F, false },
        { "\\!important", "!important", F, true },
        { "\\!important", "important", F, false },
        /* trailing '/': directories only */
        { "doc/frotz/", "doc/frotz", D, true },
        { "doc/frotz/", "doc/frotz", F, false },
        { "doc/frotz/", "a/doc/frotz", D, false },
        { "frotz/", "frotz", D, true },
        { "frotz/", "a/frotz", D, true },
        { "frotz/", "a/b/frotz", D, true },
        { "frotz/", "frotz", F, false },
        { "frotz", "a/frotz", F, true },
        { "frotz", "a/frotz", D, true },
        { "build/\n!build", "build", D, false },
        { "build\n!build/", "build", F, true }, /* the negation needs a directory */
        /* a '/' at the start or in the middle anchors */
        { "/*.c", "cat-file.c", F, true },
        { "/*.c", "mozilla-sha1/sha1.c", F, false },
        { "doc/frotz", "doc/frotz", D, true },
        { "doc/frotz", "x/doc/frotz", D, false },
        { "/doc/frotz", "doc/frotz", F, true },
        { "foo/*", "foo/test.json", F, true },
        { "foo/*", "foo/bar", D, true },
        { "foo/*", "foo/bar/hello.c", F, false },
        { "foo/*", "foo", D, false },
        { "/foo", "foo", F, true },
        { "/foo", "a/foo", F, false },
        { "a/b", "a/b/c", F, false }, /* the walker never gets there */
        /* '*' and '?' never cross '/' */
        { "a/*.c", "a/b/c.c", F, false },
        { "a/*.c", "a/.c", F, true },
        { "a*c", "a/c", F, false },
        { "a?c", "abc", F, true },
        { "a?c", "ac", F, false },
        { "a?c", "abbc", F, false },
        { "x/a?c", "x/a/c", F, false },
        { "*", ".hidden", F, true }, /* no special leading dot */
        { "*.o", "main.o", F, true },
        { "*.o", "main.oo", F, false },
        { "*.o", ".o", F, true },
        { "lib*", "libfoo.so", F, true },
        { "lib*", "xlib", F, false },
        { "*cache*", "my-cache-dir", D, true },
        { "*cache*", "cach", D, false },
        { "a*b*c", "aXXbYYc", F, true },
        { "a*b*c", "aXXbYY", F, false },
        { "*a*b", "xaybab", F, true },
        { "foo**bar", "fooxbar", F, true }, /* "**" inside a name is '*' */
        { "x/foo**bar", "x/foo/bar", F, false },
        /* "**" leading, trailing, middle */
        { "**/foo", "foo", F, true },
        { "**/foo", "a/b/foo", D, true },
        { "**/foo", "a/foox", F, false },
        { "**/foo/bar", "foo/bar", F, true },
        { "**/foo/bar", "x/y/foo/bar", F, true },
        { "**/foo/bar", "x/foo/baz", F, false },
        { "/**/foo", "a/foo", F, true },
        { "abc/**", "abc/x", F, true },
        { "abc/**", "abc/x/y", F, true },
        { "abc/**", "abc", D, false },
        { "abc/**", "x/abc/y", F, false },
        { "abc/**/", "abc/x", F, false },
        { "abc/**/", "abc/x/y", D, true },
        { "a/**/b", "a/b", F, true },
        { "a/**/b", "a/x/b", F, true },
        { "a/**/b", "a/x/y/b", F, true },
        { "a/**/b", "a/x/y/c", F, false },
        { "a/**/b", "a/b/c", F, false },
        { "a/**/b", "b", F, false },
        { "a/**/b", "x/a/b", F, false },
        { "a/**/**/b", "a/b", F, true },
        { "a/**/b/**/c", "a/x/b/y/b/z/c", F, true },
        { "a/**/b/**/c", "a/b/c", F, true },
        { "a/**/b/**/c", "a/c/b", F, false },
        { "**", "anything", F, true },
        { "**", "a/b", D, true },
        { "/**", "a/b", F, true },
        { "**/", "a", D, true },
        { "**/", "a", F, false },
        { "**/*.tmp", "x/y/z.tmp", F, true },
        { "***/foo", "a/foo", F, true }, /* a run of stars as a whole name is "**" */
        { "a/***/b", "a/b", F, true },
        { "a/***", "a/x/y", F, true },
        /* a '/' inside brackets does not split, but anchors; it never matches */
        { "[/a]*", "ab", F, true },
        { "[/a]*", "x/ab", F, false },
        { "x[/]y", "x/y", F, false },
        { "x[/]y", "x", D, false },
        /* character classes */
        { "[a-c]x", "bx", F, true },
        { "[a-c]x", "dx", F, false },
        { "[!a]x", "bx", F, true },
        { "[!a]x", "ax", F, false },
        { "[^a]x", "ax", F, false },
        { "[^a]x", "zx", F, true },
        { "[]]", "]", F, true },
        { "[]a]", "a", F, true },
        { "[!]]", "]", F, false },
        { "[!]]", "x", F, true },
        { "[a-]", "-", F, true },
        { "[-a]", "-", F, true },
        { "[a-c-e]", "-", F, true },
        { "[a-c-e]", "d", F, false },
        { "[c-a]", "b", F, false },
        { "*.[oa]", "lib.a", F, true },
        { "*.[oa]", "lib.so", F, false },
        { "[[:digit:]]*", "1abc", F, true },
        { "[[:digit:]]*", "abc", F, false },
        { "[[:upper:][:digit:]]", "Q", F, true },
        { "[[:upper:][:digit:]]", "q", F, false },
        { "[[:space:]]", " ", F, true },
        { "[[:alpha:]]", "\xe9", F, false }, /* ASCII classes only */
        { "[[:x]", ":", F, true },           /* no ":]": a plain set */
        { "[\\]]", "]", F, true },
        { "[a\\-c]", "b", F, false },
        { "[a\\-c]", "-", F, true },
        /* escapes */
        { "\\*", "*", F, true },
        { "\\*", "a", F, false },
        { "\\[a]", "[a]", F, true },
        { "\\[a]", "a", F, false },
        { "\\?", "?", F, true },
        { "\\?", "x", F, false },
        { "a\\b", "ab", F, true },
        /* raw bytes: names need not be UTF-8 */
        { "caf\xe9*", "caf\xe9.txt", F, true },
        { "caf\xe9*", "cafe.txt", F, false },
        { "*.txt", "\xff\xfe.txt", F, true },
        { "?", "\xff", F, true },
        { "??", "\xc3\xa9", F, true }, /* '?' is one byte, as in git */
        { "[\x80-\xff]*", "\x80name", F, true },
        { "[\x80-\xff]*", "name", F, false },
        { "[!a]", "\xfe", F, true },
        { "d\xfe/x", "d\xfe/x", F, true },
        { "d\xfe/x", "d\xfd/x", F, false },
        /* the root itself is never excluded */
        { "*", "", D, false },
};

Test(exclude, table)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct match_case *c = &cases[i];
                struct exclude *ex = NULL;
                struct exclude_error error = {};
                int r = exclude_new(c->patterns, &error, &ex);

                cr_assert_eq(r, 0, "case %zu: exclude_new(\"%s\") = %d (line %u: %s)", i, c->patterns, r,
                             error.line, error.reason);
                cr_expect_eq(exclude_match(ex, c->path, c->is_dir), c->excluded,
                             "case %zu: patterns \"%s\", %s \"%s\": expected %s", i, c->patterns,
                             c->is_dir ? "directory" : "file", c->path, c->excluded ? "excluded" : "kept");
                exclude_free(ex);
        }
}

static void bad(const char *patterns, unsigned line, const char *reason)
{
        struct exclude *ex = (struct exclude *)0x1;
        struct exclude_error error = {};
        int r = exclude_new(patterns, &error, &ex);

        cr_assert_eq(r, -EINVAL, "exclude_new(\"%s\") = %d", patterns, r);
        cr_assert_eq(ex, (struct exclude *)0x1, "ret touched on failure");
        cr_assert_eq(error.line, line, "\"%s\": line %u, expected %u", patterns, error.line, line);
        cr_assert_str_eq(error.reason, reason, "\"%s\"", patterns);
}

Test(exclude, bad_lines)
{
        bad("[abc", 1, "unterminated '['");
        bad("ok\n# comment\n\n*.[ch", 4, "unterminated '['");
        bad("[]", 1, "unterminated '['");
        bad("[!]", 1, "unterminated '['");
        bad("a[\\", 1, "unterminated '['");
        bad("foo\\", 1, "trailing backslash");
        bad("[[:foo:]]", 1, "unknown character class");
        bad("!", 1, "nothing after '!'");
        bad("/", 1, "empty pattern");
        bad("a\n!/", 2, "empty pattern");
        bad("a\\/b", 1, "escaped '/'");
        bad("**\\/b", 1, "escaped '/'");
        /* NULL error pointer is fine */
        struct exclude *ex = NULL;
        cr_assert_eq(exclude_new("[", NULL, &ex), -EINVAL);
        cr_assert_null(ex);
}

Test(exclude, empty_and_null)
{
        struct exclude *ex = NULL;

        cr_assert_eq(exclude_new(NULL, NULL, &ex), 0);
        cr_assert(exclude_is_empty(ex));
        cr_assert_not(exclude_match(ex, "a", false));
        exclude_free(ex);
        cr_assert_eq(exclude_new("# only a comment\n\n", NULL, &ex), 0);
        cr_assert(exclude_is_empty(ex));
        exclude_free(ex);
        cr_assert_eq(exclude_new("x", NULL, &ex), 0);
        cr_assert_not(exclude_is_empty(ex));
        exclude_free(ex);
        exclude_free(NULL);
        cr_assert(exclude_is_empty(NULL));
        cr_assert_not(exclude_match(NULL, "a", false));
}

Test(exclude, too_big)
{
        size_t n = EXCLUDE_TEXT_MAX + 1;
        char *text = malloc(n + 1);
        struct exclude *root = NULL, *ex = (struct exclude *)0x1;

        cr_assert_not_null(text);
        memset(text, 'a', n);
        text[n] = '\0';
        cr_assert_eq(exclude_new(text, NULL, &ex), -EFBIG);
        cr_assert_eq(exclude_new(NULL, NULL, &root), 0);
        cr_assert_eq(exclude_child(root, "d", text, n, NULL, &ex), -EFBIG);
        cr_assert_eq(ex, (struct exclude *)0x1);
        exclude_free(root);
        free(text);
}

Test(exclude, long_lines)
{
        size_t n = 0, line = EXCLUDE_PATTERN_MAX - 1; /* "a/a/.../a" */
        char *text = malloc(EXCLUDE_TEXT_MAX + 1);
        struct exclude *root = NULL, *ex = NULL;
        struct exclude_error error = {};
        int r;

        cr_assert_not_null(text);
        /* one line just too long, then as many lines at the limit as fit */
        memset(text, 'x', EXCLUDE_PATTERN_MAX + 1);
        n = EXCLUDE_PATTERN_MAX + 1;
        text[n++] = '\n';
        while (n + line + 1 <= EXCLUDE_TEXT_MAX) {
                for (size_t i = 0; i < line; i++)
                        text[n + i] = i % 2 ? '/' : 'a';
                n += line;
                text[n++] = '\n';
        }
        text[n] = '\0';
        cr_assert_eq(exclude_new(NULL, NULL, &root), 0);
        r = exclude_child(root, "", text, n, &error, &ex);
        cr_assert_eq(r, 1);
        cr_assert_eq(error.line, 1);
        cr_assert_str_eq(error.reason, "pattern too long");
        cr_assert_not(exclude_match(ex, "a/a/a", false));
        /* the first long line, as a path, matches itself */
        text[EXCLUDE_PATTERN_MAX + 2 + line] = '\0';
        cr_assert(exclude_match(ex, text + EXCLUDE_PATTERN_MAX + 2, false));
        exclude_free(ex);
        cr_assert_eq(exclude_new(text, &error, &ex), -EINVAL);
        exclude_free(root);
        free(text);
}

static struct exclude *child(const struct exclude *parent, const char *dir, const char *text)
{
        struct exclude *ex = NULL;
        struct exclude_error error = {};
        int r = exclude_child(parent, dir, text, text ? strlen(text) : 0, &error, &ex);

        cr_assert_eq(r, 0, "exclude_child(\"%s\") = %d (line %u: %s)", dir, r, error.line, error.reason);
        return ex;
}

Test(exclude, layering)
{
        struct exclude *root = NULL, *sub, *deep, *top;

        cr_assert_eq(exclude_new("*.log\n/build/\n", NULL, &root), 0);
        /* a .chuteignore in the root itself sits above the root's patterns */
        top = child(root, "", "!/keep.log\n");
        cr_assert_not(exclude_match(top, "keep.log", false));
        cr_assert(exclude_match(top, "x.log", false));
        cr_assert(exclude_match(top, "d/keep.log", false));

        sub = child(top, "sub", "!keep.log\n/tmp\ncache/\ndoc/x\n");
        /* re-include below sub only */
        cr_assert_not(exclude_match(sub, "sub/keep.log", false));
        cr_assert_not(exclude_match(sub, "sub/a/keep.log", false));
        cr_assert(exclude_match(sub, "sub/other.log", false));
        /* anchored to sub: sub/tmp, not sub/a/tmp nor tmp */
        cr_assert(exclude_match(sub, "sub/tmp", false));
        cr_assert_not(exclude_match(sub, "sub/a/tmp", false));
        cr_assert_not(exclude_match(sub, "tmp", false));
        cr_assert(exclude_match(sub, "sub/doc/x", false));
        cr_assert_not(exclude_match(sub, "sub/a/doc/x", false));
        /* unanchored: any depth below sub */
        cr_assert(exclude_match(sub, "sub/a/b/cache", true));
        cr_assert_not(exclude_match(sub, "sub/a/b/cache", false));
        /* the root's anchored pattern still refers to the root */
        cr_assert(exclude_match(sub, "build", true));
        cr_assert_not(exclude_match(sub, "sub/build", true));
        /* a layer never judges its own directory */
        deep = child(root, "tmp", "*");
        cr_assert_not(exclude_match(deep, "tmp", true));
        cr_assert(exclude_match(deep, "tmp/x", false));
        exclude_free(deep);

        /* deeper overrides shallower, both ways */
        deep = child(sub, "sub/a", "*.log\n!tmp\n");
        cr_assert(exclude_match(deep, "sub/a/keep.log", false));
        cr_assert_not(exclude_match(deep, "sub/keep.log", false)); /* above sub/a: sub's rule */
        cr_assert_not(exclude_match(deep, "sub/a/tmp", false));
        exclude_free(deep);
        deep = child(sub, "sub/a", "!*.log\n");
        cr_assert_not(exclude_match(deep, "sub/a/other.log", false));

        /* parents may be freed first: children hold references */
        exclude_free(root);
        exclude_free(top);
        exclude_free(sub);
        cr_assert_not(exclude_match(deep, "sub/a/other.log", false));
        cr_assert(exclude_match(deep, "sub/a/cache", true));
        cr_assert(exclude_match(deep, "x.log", false));
        exclude_free(deep);
}

Test(exclude, child_without_patterns_is_shared)
{
        struct exclude *root = NULL, *a, *b;

        cr_assert_eq(exclude_new(NULL, NULL, &root), 0);
        a = child(root, "a", NULL);
        b = child(a, "a/b", "# nothing\n\n   \n");
        cr_assert_eq(a, root);
        cr_assert_eq(b, root);
        cr_assert(exclude_is_empty(b));
        exclude_free(b);
        exclude_free(a);
        exclude_free(root);
}

Test(exclude, child_skips_bad_lines)
{
        struct exclude *root = NULL, *ex = NULL;
        struct exclude_error error = {};
        const char *text = "\xef\xbb\xbf*.a\n[oops\nfoo\\\n*.b\n";
        int r;

        cr_assert_eq(exclude_new(NULL, NULL, &root), 0);
        r = exclude_child(root, "d", text, strlen(text), &error, &ex);
        cr_assert_eq(r, 2, "two bad lines skipped, got %d", r);
        cr_assert_eq(error.line, 2);
        cr_assert_str_eq(error.reason, "unterminated '['");
        cr_assert(exclude_match(ex, "d/x.a", false)); /* byte order mark skipped */
        cr_assert(exclude_match(ex, "d/x.b", false));
        cr_assert_not(exclude_match(ex, "d/[oops", false));
        exclude_free(ex);

        /* text with a NUL byte, and without a final newline */
        r = exclude_child(root, "d", "a\0b\nc", 5, &error, &ex);
        cr_assert_eq(r, 1);
        cr_assert_str_eq(error.reason, "NUL byte in pattern");
        cr_assert(exclude_match(ex, "d/c", false));
        cr_assert_not(exclude_match(ex, "d/a", false));
        exclude_free(ex);
        exclude_free(root);
}

Test(exclude, child_bad_dir)
{
        struct exclude *root = NULL, *ex = (struct exclude *)0x1;

        cr_assert_eq(exclude_new("x", NULL, &root), 0);
        cr_assert_eq(exclude_child(root, "/a", "y", 1, NULL, &ex), -EINVAL);
        cr_assert_eq(exclude_child(root, "a/", "y", 1, NULL, &ex), -EINVAL);
        cr_assert_eq(exclude_child(root, "a//b", "y", 1, NULL, &ex), -EINVAL);
        cr_assert_eq(exclude_child(root, NULL, "y", 1, NULL, &ex), -EINVAL);
        cr_assert_eq(exclude_child(NULL, "a", "y", 1, NULL, &ex), -EINVAL);
        cr_assert_eq(ex, (struct exclude *)0x1);
        exclude_free(root);
}

Test(exclude, match_path_checks_parents)
{
        struct exclude *root = NULL, *sub;

        cr_assert_eq(exclude_new("build/\n*.o\n!keep.o\n", NULL, &root), 0);
        cr_assert_not(exclude_match(root, "build/x/y.c", false));
        cr_assert(exclude_match_path(root, "build/x/y.c", false));
        cr_assert(exclude_match_path(root, "a/build/y.c", false));
        cr_assert(exclude_match_path(root, "build", true));
        cr_assert_not(exclude_match_path(root, "build", false));
        cr_assert_not(exclude_match_path(root, "src/main.c", false));
        cr_assert(exclude_match_path(root, "src/main.o", false));
        /* '!' cannot re-include below an excluded directory */
        cr_assert_not(exclude_match(root, "build/keep.o", false));
        cr_assert(exclude_match_path(root, "build/keep.o", false));
        sub = child(root, "src", "gen/\n");
        cr_assert(exclude_match_path(sub, "src/gen/a/b.c", false));
        cr_assert_not(exclude_match_path(sub, "gen/a/b.c", false));
        exclude_free(sub);
        exclude_free(root);
}

Test(exclude, cachedir_tag)
{
        const char *sig = "Signature: 8a477f597d28d172789f06886806bc55";
        char buf[128];

        cr_assert(exclude_cachedir_tag_valid(sig, 43));
        snprintf(buf, sizeof(buf), "%s\n# This file is a cache directory tag.\n", sig);
        cr_assert(exclude_cachedir_tag_valid(buf, strlen(buf)));
        cr_assert_not(exclude_cachedir_tag_valid(sig, 42));
        cr_assert_not(exclude_cachedir_tag_valid("signature: 8a477f597d28d172789f06886806bc55", 43));
        cr_assert_not(exclude_cachedir_tag_valid("Signature: 8a477f597d28d172789f06886806bc56", 43));
        cr_assert_not(exclude_cachedir_tag_valid(" Signature: 8a477f597d28d172789f06886806bc55", 44));
        cr_assert_not(exclude_cachedir_tag_valid("", 0));
        cr_assert_not(exclude_cachedir_tag_valid(NULL, 0));
}
