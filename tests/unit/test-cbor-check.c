/* SPDX-License-Identifier: MIT */
/* Tests for common/cbor-check.c: hostile lengths and counts rejected before
 * any large allocation, depth bombs, trailing bytes, indefinite items, tags,
 * typed accessors, the pull reader, and 10,000 garbage/mutated inputs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc-limit.h"
#include "cbor-check.h"

static const struct cbor_check_limits small = {
        .max_depth = 8,
        .max_items = 100,
        .max_string = 64,
        .max_total = 1000,
};

static void assert_no_big_alloc(void)
{
        if (!alloc_limit_active())
                return;
        cr_assert_eq(alloc_limit_violations(), 0, "an allocation exceeded 64 MiB");
}

static int load(const uint8_t *buf, size_t len, const struct cbor_check_limits *lim)
{
        cbor_item_t *item = NULL;
        int r = cbor_check_load(buf, len, lim, &item);

        if (r == 0) {
                cr_assert_not_null(item);
                cbor_decref(&item);
        } else {
                cr_assert_null(item, "ret must be untouched on failure");
        }
        return r;
}

#define LOAD(lim, ...)                                                   \
        ({                                                               \
                static const uint8_t _b[] = { __VA_ARGS__ };             \
                load(_b, sizeof(_b), lim);                               \
        })

Test(cbor_check, alloc_guard_works)
{
        void *volatile p;

        if (!alloc_limit_active())
                cr_skip_test("sanitizer build: allocator not replaced");
        p = malloc(ALLOC_LIMIT_MAX + 1);
        cr_assert_null(p);
        cr_assert_eq(alloc_limit_violations(), 1);
}

Test(cbor_check, hostile_lengths_rejected_without_allocation)
{
        /* byte string of 2^64-1 bytes, text of 2^32-1, array and map of 2^32-1 */
        cr_assert_eq(LOAD(NULL, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x7a, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x9a, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0xba, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00), -EBADMSG);
        /* map of 2 pairs needs at least 4 bytes, 3 present */
        cr_assert_eq(LOAD(NULL, 0xa2, 0x01, 0x02, 0x03), -EBADMSG);
        /* array of 2^32 items nested in an array */
        cr_assert_eq(LOAD(NULL, 0x81, 0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00),
                     -EBADMSG);
        assert_no_big_alloc();
        if (alloc_limit_active())
                cr_assert_lt(alloc_limit_largest(), ALLOC_LIMIT_MAX);
}

Test(cbor_check, limits)
{
        uint8_t buf[300];

        /* string of 65 bytes, limit 64 */
        memset(buf, 'a', sizeof(buf));
        buf[0] = 0x58;
        buf[1] = 65;
        cr_assert_eq(load(buf, 67, &small), -E2BIG);
        buf[1] = 64;
        cr_assert_eq(load(buf, 66, &small), 0);
        /* array of 101 zeros, limit 100 */
        memset(buf, 0, sizeof(buf));
        buf[0] = 0x98;
        buf[1] = 101;
        cr_assert_eq(load(buf, 103, &small), -E2BIG);
        buf[1] = 100;
        cr_assert_eq(load(buf, 102, &small), 0);
        /* total items: 11 arrays of 100 → 1112 items, limit 1000 */
        {
                struct cbor_check_limits lim = small;
                uint8_t big[2000];
                size_t n = 0;

                big[n++] = 0x8b;
                for (int i = 0; i < 11; i++) {
                        big[n++] = 0x98;
                        big[n++] = 100;
                        memset(big + n, 0, 100);
                        n += 100;
                }
                cr_assert_eq(load(big, n, &lim), -E2BIG);
                lim.max_total = 1112;
                cr_assert_eq(load(big, n, &lim), 0);
                lim.max_total = 1111;
                cr_assert_eq(load(big, n, &lim), -E2BIG);
        }
}

Test(cbor_check, depth)
{
        static uint8_t bomb[100001];
        struct cbor_check_limits lim = small;

        memset(bomb, 0x81, sizeof(bomb) - 1);
        bomb[sizeof(bomb) - 1] = 0x00;
        cr_assert_eq(load(bomb, sizeof(bomb), NULL), -E2BIG);
        lim.max_total = SIZE_MAX;
        lim.max_depth = SIZE_MAX; /* clamped to CBOR_CHECK_DEPTH_MAX */
        cr_assert_eq(load(bomb, sizeof(bomb), &lim), -E2BIG);
        /* maps nest too: {0: {0: ... }} */
        for (size_t i = 0; i + 1 < sizeof(bomb); i += 2) {
                bomb[i] = 0xa1;
                bomb[i + 1] = 0x00;
        }
        bomb[sizeof(bomb) - 1] = 0x00;
        cr_assert_eq(load(bomb, sizeof(bomb), NULL), -E2BIG);

        /* exactly max_depth nested arrays pass, one more fails */
        lim = small;
        memset(bomb, 0x81, 8);
        bomb[8] = 0x00;
        cr_assert_eq(load(bomb, 9, &lim), 0);
        bomb[8] = 0x81;
        bomb[9] = 0x00;
        cr_assert_eq(load(bomb, 10, &lim), -E2BIG);
        lim.max_depth = 0;
        cr_assert_eq(LOAD(&lim, 0x05), 0);
        cr_assert_eq(LOAD(&lim, 0x80), -E2BIG);
}

Test(cbor_check, trailing_and_empty)
{
        cr_assert_eq(load(NULL, 0, NULL), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x01), 0);
        cr_assert_eq(LOAD(NULL, 0x01, 0x02), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x80, 0x00), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x41, 0xaa, 0xbb), -EBADMSG);
        /* truncated integer argument */
        cr_assert_eq(LOAD(NULL, 0x1b, 0x00, 0x00), -EBADMSG);
        /* reserved additional information */
        cr_assert_eq(LOAD(NULL, 0x1c), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x5e), -EBADMSG);
}

Test(cbor_check, indefinite_rejected)
{
        cr_assert_eq(LOAD(NULL, 0x5f, 0x41, 0x00, 0xff), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x7f, 0x61, 0x61, 0xff), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x9f, 0x01, 0xff), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0xbf, 0x01, 0x02, 0xff), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x81, 0x9f, 0xff), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0xff), -EBADMSG);
        cr_assert_eq(LOAD(NULL, 0x1f), -EBADMSG);
}

Test(cbor_check, tags_floats_simple)
{
        struct cbor_check_limits lim = small;

        cr_assert_eq(LOAD(&lim, 0xc1, 0x00), -EBADMSG);
        cr_assert_eq(LOAD(&lim, 0xf9, 0x3c, 0x00), -EBADMSG);
        cr_assert_eq(LOAD(&lim, 0xfb, 0, 0, 0, 0, 0, 0, 0, 0), -EBADMSG);
        lim.allow_tags = true;
        lim.allow_floats = true;
        cr_assert_eq(LOAD(&lim, 0xc1, 0x00), 0);
        cr_assert_eq(LOAD(&lim, 0xc1), -EBADMSG);
        cr_assert_eq(LOAD(&lim, 0xf9, 0x3c, 0x00), 0);
        cr_assert_eq(LOAD(&lim, 0xfb, 0, 0, 0, 0, 0, 0, 0, 0), 0);
        /* false, true, null pass; undefined and other simple values do not */
        cr_assert_eq(LOAD(&lim, 0x83, 0xf4, 0xf5, 0xf6), 0);
        cr_assert_eq(LOAD(&lim, 0xf7), -EBADMSG);
        cr_assert_eq(LOAD(&lim, 0xf0), -EBADMSG);
        cr_assert_eq(LOAD(&lim, 0xf8, 0x20), -EBADMSG);
}

/* {1: 5, 2: h'abcd', 3: "hi", 4: -7, 5: true, 6: "a\0b", 7: 2^64-1, 8: -2^63-1} */
static const uint8_t sample[] = {
        0xa8, 0x01, 0x05, 0x02, 0x42, 0xab, 0xcd, 0x03, 0x62, 'h', 'i', 0x04, 0x26,
        0x05, 0xf5, 0x06, 0x63, 'a', 0x00, 'b',
        0x07, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x08, 0x3b, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

Test(cbor_check, accessors)
{
        cbor_item_t *m = NULL;
        const uint8_t *b;
        size_t n;
        uint64_t u;
        int64_t i;
        bool t;
        char *s = NULL;
        uint8_t two[2];

        cr_assert_eq(cbor_check_load(sample, sizeof(sample), NULL, &m), 0);
        cr_assert_eq(cbor_check_map_uint_keys_unique(m), 0);
        cr_assert_eq(cbor_check_map_get_uint(m, 1, &u), 0);
        cr_assert_eq(u, 5);
        cr_assert_eq(cbor_check_map_get_int(m, 1, &i), 0);
        cr_assert_eq(i, 5);
        cr_assert_eq(cbor_check_map_get_bytes(m, 2, 16, &b, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(b[0], 0xab);
        cr_assert_eq(cbor_check_map_get_bytes(m, 2, 1, &b, &n), -EBADMSG);
        cr_assert_eq(cbor_check_get_bytes_exact(cbor_check_map_find(m, 2), two, 2), 0);
        cr_assert_eq(two[1], 0xcd);
        cr_assert_eq(cbor_check_get_bytes_exact(cbor_check_map_find(m, 2), two, 1), -EBADMSG);
        cr_assert_eq(cbor_check_map_get_string(m, 3, 16, &s), 0);
        cr_assert_str_eq(s, "hi");
        free(s);
        s = NULL;
        cr_assert_eq(cbor_check_map_get_string(m, 3, 1, &s), -EBADMSG);
        cr_assert_eq(cbor_check_map_get_string(m, 6, 16, &s), -EBADMSG, "embedded NUL");
        cr_assert_null(s);
        cr_assert_eq(cbor_check_map_get_int(m, 4, &i), 0);
        cr_assert_eq(i, -7);
        cr_assert_eq(cbor_check_map_get_uint(m, 4, &u), -EBADMSG);
        cr_assert_eq(cbor_check_map_get_bool(m, 5, &t), 0);
        cr_assert(t);
        cr_assert_eq(cbor_check_map_get_uint(m, 7, &u), 0);
        cr_assert_eq(u, UINT64_MAX);
        cr_assert_eq(cbor_check_map_get_int(m, 7, &i), -EBADMSG, "does not fit int64");
        cr_assert_eq(cbor_check_map_get_int(m, 8, &i), -EBADMSG, "does not fit int64");
        /* wrong types */
        cr_assert_eq(cbor_check_map_get_uint(m, 2, &u), -EBADMSG);
        cr_assert_eq(cbor_check_map_get_bytes(m, 3, 16, &b, &n), -EBADMSG);
        cr_assert_eq(cbor_check_map_get_string(m, 2, 16, &s), -EBADMSG);
        cr_assert_eq(cbor_check_map_get_bool(m, 1, &t), -EBADMSG);
        /* missing */
        cr_assert_eq(cbor_check_map_get_uint(m, 99, &u), -ENOENT);
        cr_assert_null(cbor_check_map_find(m, 99));
        /* not a map */
        cr_assert_eq(cbor_check_map_get_uint(cbor_check_map_find(m, 1), 1, &u), -EBADMSG);
        cbor_decref(&m);
}

Test(cbor_check, duplicate_and_non_integer_keys)
{
        static const uint8_t dup[] = { 0xa3, 0x01, 0x01, 0x02, 0x02, 0x01, 0x03 };
        static const uint8_t text[] = { 0xa1, 0x61, 'k', 0x01 };
        cbor_item_t *m = NULL;

        cr_assert_eq(cbor_check_load(dup, sizeof(dup), NULL, &m), 0);
        cr_assert_eq(cbor_check_map_uint_keys_unique(m), -EBADMSG);
        cbor_decref(&m);
        cr_assert_eq(cbor_check_load(text, sizeof(text), NULL, &m), 0);
        cr_assert_eq(cbor_check_map_uint_keys_unique(m), -EBADMSG);
        cbor_decref(&m);
}

Test(cbor_check, reader)
{
        /* [7, -3, h'0102', "ok", false, {1: [2, 3]}, 9] */
        static const uint8_t buf[] = { 0x87, 0x07, 0x22, 0x42, 0x01, 0x02, 0x62, 'o', 'k',
                                       0xf4, 0xa1, 0x01, 0x82, 0x02, 0x03, 0x09 };
        struct cbor_check_reader r;
        const uint8_t *b;
        const char *s;
        size_t n;
        uint64_t u;
        int64_t i;
        bool t;

        cr_assert_eq(cbor_check_validate(buf, sizeof(buf), NULL), 0);
        cbor_check_reader_init(&r, buf, sizeof(buf));
        cr_assert_eq(cbor_check_peek_major(&r), 4);
        cr_assert_eq(cbor_check_read_map(&r, &u), -EBADMSG);
        cr_assert_eq(cbor_check_read_array(&r, &u), 0);
        cr_assert_eq(u, 7);
        cr_assert_eq(cbor_check_read_uint(&r, &u), 0);
        cr_assert_eq(u, 7);
        cr_assert_eq(cbor_check_read_uint(&r, &u), -EBADMSG);
        cr_assert_eq(cbor_check_read_int(&r, &i), 0);
        cr_assert_eq(i, -3);
        cr_assert_eq(cbor_check_read_bytes(&r, 1, &b, &n), -EBADMSG);
        cr_assert_eq(cbor_check_read_text(&r, 10, &s, &n), -EBADMSG);
        cr_assert_eq(cbor_check_read_bytes(&r, 2, &b, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(b[1], 0x02);
        cr_assert_eq(cbor_check_read_text(&r, 2, &s, &n), 0);
        cr_assert_eq(memcmp(s, "ok", 2), 0);
        cr_assert_eq(cbor_check_read_bool(&r, &t), 0);
        cr_assert_not(t);
        cr_assert_eq(cbor_check_skip(&r), 0);
        cr_assert_not(cbor_check_reader_done(&r));
        cr_assert_eq(cbor_check_read_uint(&r, &u), 0);
        cr_assert_eq(u, 9);
        cr_assert(cbor_check_reader_done(&r));
        cr_assert_eq(cbor_check_peek_major(&r), -EBADMSG);
        cr_assert_eq(cbor_check_skip(&r), -EBADMSG);

        /* skip refuses hostile counts and truncated strings */
        {
                static const uint8_t h1[] = { 0x9b, 0, 0, 0, 1, 0, 0, 0, 0 };
                static const uint8_t h2[] = { 0x5a, 0xff, 0xff, 0xff, 0xff };
                static const uint8_t h3[] = { 0x9f, 0x01 };

                cbor_check_reader_init(&r, h1, sizeof(h1));
                cr_assert_eq(cbor_check_skip(&r), -EBADMSG);
                cbor_check_reader_init(&r, h2, sizeof(h2));
                cr_assert_eq(cbor_check_skip(&r), -EBADMSG);
                cbor_check_reader_init(&r, h3, sizeof(h3));
                cr_assert_eq(cbor_check_skip(&r), -EBADMSG);
        }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
        uint64_t x = rng_state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return rng_state = x;
}

/* A byte biased toward CBOR heads that declare big or indefinite things. */
static uint8_t interesting_byte(void)
{
        static const uint8_t picks[] = { 0x1b, 0x3b, 0x5a, 0x5b, 0x5f, 0x7b, 0x7f, 0x9a, 0x9b,
                                         0x9f, 0xba, 0xbb, 0xbf, 0xc0, 0xd9, 0xf9, 0xfb, 0xff,
                                         0x00, 0x81, 0xa1, 0x18, 0x19 };

        if (rng() % 3)
                return (uint8_t)rng();
        return picks[rng() % sizeof(picks)];
}

static void check_one(const uint8_t *buf, size_t len)
{
        struct cbor_check_limits lim = cbor_check_default_limits;
        struct cbor_check_reader r;
        int k, v;

        lim.allow_tags = true;
        lim.allow_floats = true;
        v = cbor_check_validate(buf, len, &lim);
        k = load(buf, len, &lim);
        cr_assert(k == 0 || k == -EBADMSG || k == -E2BIG, "unexpected %d", k);
        cr_assert_eq(k, v, "load and validate disagree: %d %d", k, v);
        cbor_check_reader_init(&r, buf, len);
        if (v == 0) {
                /* a valid item is skipped exactly */
                cr_assert_eq(cbor_check_skip(&r), 0);
                cr_assert(cbor_check_reader_done(&r));
        } else {
                (void)cbor_check_skip(&r);
                cr_assert_leq(r.pos, len);
        }
}

Test(cbor_check, garbage_and_mutations)
{
        uint8_t buf[256];
        int accepted = 0;

        for (int iter = 0; iter < 5000; iter++) {
                size_t len = rng() % sizeof(buf);

                for (size_t i = 0; i < len; i++)
                        buf[i] = interesting_byte();
                check_one(buf, len);
        }
        for (int iter = 0; iter < 5000; iter++) {
                size_t len = sizeof(sample);
                int edits = 1 + rng() % 4;

                memcpy(buf, sample, len);
                for (int e = 0; e < edits; e++) {
                        switch (rng() % 4) {
                        case 0:
                                buf[rng() % len] = interesting_byte();
                                break;
                        case 1:
                                buf[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
                                break;
                        case 2:
                                len = rng() % len + 1;
                                break;
                        default:
                                if (len < sizeof(buf))
                                        buf[len++] = interesting_byte();
                                break;
                        }
                }
                check_one(buf, len);
                accepted += cbor_check_validate(buf, len, NULL) == 0;
        }
        cr_assert_gt(accepted, 0, "some mutations should still be valid");
        assert_no_big_alloc();
}

/* Text to send that may not be UTF-8 (a file name, a message cut short):
 * each stray byte becomes '?', well-formed characters stay. */
Test(cbor_check, utf8_repair_replaces_only_stray_bytes)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain ascii", "plain ascii" },
                { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82" },
                { "dir\xff/missing", "dir?/missing" },
                { "cut \xe2\x82", "cut ??" },                /* a character cut at the end */
                { "overlong \xc0\xaf", "overlong ??" },      /* '/' in two bytes */
                { "surrogate \xed\xa0\x80", "surrogate ???" },
                { "past U+10FFFF \xf4\x90\x80\x80", "past U+10FFFF ????" },
                { "\x80\x80", "??" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[64];
                snprintf(buf, sizeof(buf), "%s", cases[i].in);
                cbor_check_utf8_repair(buf);
                cr_assert_str_eq(buf, cases[i].out, "case %zu", i);
                cr_assert(cbor_check_utf8_valid((const uint8_t *)buf, strlen(buf)));
        }
}
