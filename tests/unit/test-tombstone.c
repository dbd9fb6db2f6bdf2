/* SPDX-License-Identifier: MIT */
/* Tests for common/tombstone.c: round trips, splitting with tombstone_fit,
 * and every malformed input the decoder must refuse: truncations, wrong
 * types, huge declared lengths and counts, too many ids, bad versions. */
#include <criterion/criterion.h>
#include <cbor.h>
#include <errno.h>
#include <string.h>

#include "object.h"
#include "tombstone.h"

static struct oid mkoid(uint8_t b)
{
        struct oid id;

        memset(id.bytes, b, OID_SIZE);
        return id;
}

/* A hand-built CBOR buffer, for inputs the encoder would never write. */
struct b {
        uint8_t buf[1 << 16];
        size_t len;
};

static void b_raw(struct b *b, const void *p, size_t n)
{
        cr_assert_leq(b->len + n, sizeof(b->buf));
        memcpy(b->buf + b->len, p, n);
        b->len += n;
}
static void b_uint(struct b *b, uint64_t v) { b->len += cbor_encode_uint(v, b->buf + b->len, sizeof(b->buf) - b->len); }
static void b_map(struct b *b, size_t n) { b->len += cbor_encode_map_start(n, b->buf + b->len, sizeof(b->buf) - b->len); }
static void b_array(struct b *b, size_t n) { b->len += cbor_encode_array_start(n, b->buf + b->len, sizeof(b->buf) - b->len); }
static void b_bytes(struct b *b, const void *p, size_t n)
{
        b->len += cbor_encode_bytestring_start(n, b->buf + b->len, sizeof(b->buf) - b->len);
        b_raw(b, p, n);
}
static void b_text(struct b *b, const char *s)
{
        b->len += cbor_encode_string_start(strlen(s), b->buf + b->len, sizeof(b->buf) - b->len);
        b_raw(b, s, strlen(s));
}
static void b_entry(struct b *b, uint8_t id, const char *root)
{
        struct oid o = mkoid(id);

        b_array(b, 3);
        b_bytes(b, o.bytes, OID_SIZE);
        b_uint(b, 42);
        b_bytes(b, root, strlen(root));
}
/* The head of a valid tombstone up to and including key 3, with version v. */
static void b_head(struct b *b, uint64_t version)
{
        b_map(b, 4);
        b_uint(b, 0);
        b_uint(b, version);
        b_uint(b, 1);
        b_uint(b, 1000);
        b_uint(b, 2);
        b_text(b, "host");
        b_uint(b, 3);
}

static int decode(const struct b *b)
{
        struct tombstone *t = NULL;
        int k = tombstone_decode(b->buf, b->len, &t);

        if (k == 0)
                cr_assert_not_null(t);
        else
                cr_assert_null(t, "nothing handed out on failure");
        tombstone_free(t);
        return k;
}

static struct tombstone_entry entry(uint8_t id, const char *root)
{
        return (struct tombstone_entry){ .id = mkoid(id), .time_ns = -7 * id, .root = (uint8_t *)root,
                                         .root_len = strlen(root) };
}

Test(tombstone, round_trip)
{
        struct tombstone_entry e[3] = { entry(1, "/home/a"), entry(2, "/srv/b"), entry(3, "/x") };
        struct tombstone t = { .time_ns = 1234567890123, .hostname = "node-a", .entries = e, .n_entries = 3 };
        struct tombstone *d = NULL;
        uint8_t *buf, *again;
        size_t len, again_len;

        cr_assert_eq(tombstone_encode(&t, &buf, &len), 0);
        cr_assert_eq(tombstone_decode(buf, len, &d), 0);
        cr_assert_eq(d->time_ns, t.time_ns);
        cr_assert_str_eq(d->hostname, "node-a");
        cr_assert_eq(d->n_entries, 3);
        for (size_t i = 0; i < 3; i++) {
                cr_assert_eq(oid_cmp(&d->entries[i].id, &e[i].id), 0);
                cr_assert_eq(d->entries[i].time_ns, e[i].time_ns);
                cr_assert_eq(d->entries[i].root_len, e[i].root_len);
                cr_assert_str_eq((char *)d->entries[i].root, (char *)e[i].root);
        }
        cr_assert_eq(tombstone_encode(d, &again, &again_len), 0);
        cr_assert_eq(again_len, len);
        cr_assert_eq(memcmp(again, buf, len), 0, "the encoding is deterministic");
        tombstone_free(d);
        free(buf);
        free(again);
}

Test(tombstone, encoder_refuses_bad_fields)
{
        struct tombstone_entry e[2] = { entry(1, "/a"), entry(0, "/b") };
        struct tombstone t = { .hostname = "h", .entries = e, .n_entries = 1 };
        char host[OBJECT_HOSTNAME_MAX + 2];
        uint8_t *buf = NULL;
        size_t len;

        t.n_entries = 0;
        cr_assert_eq(tombstone_encode(&t, &buf, &len), -EINVAL, "no entries");
        t.n_entries = 2;
        cr_assert_eq(tombstone_encode(&t, &buf, &len), -EINVAL, "a null id");
        t.n_entries = 1;
        t.hostname = "";
        cr_assert_eq(tombstone_encode(&t, &buf, &len), -EINVAL, "an empty hostname");
        memset(host, 'h', sizeof(host) - 1);
        host[sizeof(host) - 1] = 0;
        t.hostname = host;
        cr_assert_eq(tombstone_encode(&t, &buf, &len), -EINVAL, "a hostname over 255 bytes");
        t.hostname = "\xff\xfe";
        cr_assert_eq(tombstone_encode(&t, &buf, &len), -EINVAL, "a hostname not UTF-8");
        t.hostname = "h";
        e[0].root_len = 0;
        cr_assert_eq(tombstone_encode(&t, &buf, &len), -EINVAL, "an empty root");
        cr_assert_null(buf);
}

Test(tombstone, too_many_ids_split)
{
        size_t n = TOMBSTONE_ENTRIES_MAX + 5;
        struct tombstone_entry *e = calloc(n, sizeof(*e));
        struct tombstone t = { .hostname = "h", .entries = e, .n_entries = n };
        struct tombstone *d = NULL;
        uint8_t *buf = NULL;
        size_t len;

        cr_assert_not_null(e);
        for (size_t i = 0; i < n; i++) {
                e[i] = entry((uint8_t)(i % 250 + 1), "/home/user/data");
                e[i].id.bytes[1] = (uint8_t)(i >> 8);
        }
        cr_assert_eq(tombstone_encode(&t, &buf, &len), -EINVAL, "more than TOMBSTONE_ENTRIES_MAX");
        cr_assert_eq(tombstone_fit("h", e, n), TOMBSTONE_ENTRIES_MAX);
        cr_assert_eq(tombstone_fit("h", e + TOMBSTONE_ENTRIES_MAX, 5), 5);
        t.n_entries = TOMBSTONE_ENTRIES_MAX;
        cr_assert_eq(tombstone_encode(&t, &buf, &len), 0);
        cr_assert_leq(len, TOMBSTONE_SIZE_MAX);
        cr_assert_eq(tombstone_decode(buf, len, &d), 0);
        cr_assert_eq(d->n_entries, TOMBSTONE_ENTRIES_MAX);
        tombstone_free(d);
        d = NULL;
        free(buf);

        /* long roots: the size bound splits first, and what fits encodes */
        static char root[OBJECT_ROOT_MAX + 1];
        memset(root, 'r', OBJECT_ROOT_MAX);
        root[0] = '/';
        for (size_t i = 0; i < 1000; i++) {
                e[i].root = (uint8_t *)root;
                e[i].root_len = OBJECT_ROOT_MAX;
        }
        size_t fit = tombstone_fit("h", e, 1000);
        cr_assert_gt(fit, 100);
        cr_assert_lt(fit, 1000);
        t.n_entries = fit;
        cr_assert_eq(tombstone_encode(&t, &buf, &len), 0);
        cr_assert_leq(len, TOMBSTONE_SIZE_MAX);
        free(buf);
        t.n_entries = 1000;
        cr_assert_eq(tombstone_encode(&t, &buf, &len), -EINVAL, "4 MiB of roots is over 1 MiB");

        /* a decoder sees 10,001 valid entries: refused as too many */
        struct b *b = calloc(1, sizeof(*b));
        cr_assert_not_null(b);
        b_head(b, 1);
        b_array(b, TOMBSTONE_ENTRIES_MAX + 1);
        size_t at = b->len;
        b_entry(b, 1, "/");
        size_t one = b->len - at;
        uint8_t *big = malloc(at + one * (TOMBSTONE_ENTRIES_MAX + 1));
        cr_assert_not_null(big);
        memcpy(big, b->buf, b->len);
        for (size_t i = 1; i <= TOMBSTONE_ENTRIES_MAX; i++)
                memcpy(big + at + i * one, b->buf + at, one);
        cr_assert_eq(tombstone_decode(big, at + one * (TOMBSTONE_ENTRIES_MAX + 1), &d), -E2BIG);
        cr_assert_null(d);
        free(big);
        free(b);
        free(e);
}

Test(tombstone, truncations_refused)
{
        struct tombstone_entry e[2] = { entry(1, "/home/a"), entry(2, "/b") };
        struct tombstone t = { .time_ns = 99, .hostname = "node", .entries = e, .n_entries = 2 };
        struct tombstone *d = NULL;
        uint8_t *buf;
        size_t len;

        cr_assert_eq(tombstone_encode(&t, &buf, &len), 0);
        for (size_t cut = 0; cut < len; cut++) {
                cr_assert_lt(tombstone_decode(buf, cut, &d), 0, "cut at %zu", cut);
                cr_assert_null(d);
        }
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, buf, len);
        longer[len] = 0;
        cr_assert_eq(tombstone_decode(longer, len + 1, &d), -EBADMSG, "a trailing byte");
        free(longer);
        free(buf);
}

Test(tombstone, wrong_types_and_values_refused)
{
        struct oid id = mkoid(1), null = { 0 };
        struct b b;

        /* the valid reference */
        b = (struct b){ 0 };
        b_head(&b, 1);
        b_array(&b, 1);
        b_entry(&b, 1, "/r");
        cr_assert_eq(decode(&b), 0);

        b = (struct b){ 0 };
        b_head(&b, 2);
        b_array(&b, 1);
        b_entry(&b, 1, "/r");
        cr_assert_eq(decode(&b), -EPROTONOSUPPORT, "format version 2");

        b = (struct b){ 0 };
        b_head(&b, 1);
        b_array(&b, 0);
        cr_assert_eq(decode(&b), -EBADMSG, "no snapshots");

        b = (struct b){ 0 };
        b_head(&b, 1);
        b_map(&b, 0);
        cr_assert_eq(decode(&b), -EBADMSG, "snapshots not an array");

        b = (struct b){ 0 };
        b_head(&b, 1);
        b_array(&b, 1);
        b_array(&b, 3);
        b_bytes(&b, id.bytes, OID_SIZE - 1);
        b_uint(&b, 1);
        b_bytes(&b, "/r", 2);
        cr_assert_eq(decode(&b), -EBADMSG, "a 31-byte id");

        b = (struct b){ 0 };
        b_head(&b, 1);
        b_array(&b, 1);
        b_array(&b, 3);
        b_bytes(&b, null.bytes, OID_SIZE);
        b_uint(&b, 1);
        b_bytes(&b, "/r", 2);
        cr_assert_eq(decode(&b), -EBADMSG, "a null id");

        b = (struct b){ 0 };
        b_head(&b, 1);
        b_array(&b, 1);
        b_array(&b, 3);
        b_bytes(&b, id.bytes, OID_SIZE);
        b_text(&b, "1");
        b_bytes(&b, "/r", 2);
        cr_assert_eq(decode(&b), -EBADMSG, "a time as text");

        b = (struct b){ 0 };
        b_head(&b, 1);
        b_array(&b, 1);
        b_array(&b, 3);
        b_bytes(&b, id.bytes, OID_SIZE);
        b_uint(&b, 1);
        b_bytes(&b, "/\0r", 3);
        cr_assert_eq(decode(&b), -EBADMSG, "a root with NUL");

        b = (struct b){ 0 };
        b_head(&b, 1);
        b_array(&b, 1);
        b_array(&b, 2);
        b_bytes(&b, id.bytes, OID_SIZE);
        b_uint(&b, 1);
        cr_assert_eq(decode(&b), -EBADMSG, "an entry of 2");

        b = (struct b){ 0 };
        b_map(&b, 4);
        b_uint(&b, 0);
        b_uint(&b, 1);
        b_uint(&b, 1);
        b_uint(&b, 1000);
        b_uint(&b, 2);
        b_bytes(&b, "host", 4);
        b_uint(&b, 3);
        b_array(&b, 1);
        b_entry(&b, 1, "/r");
        cr_assert_eq(decode(&b), -EBADMSG, "a hostname as bytes");

        b = (struct b){ 0 };
        b_map(&b, 3);
        b_uint(&b, 0);
        b_uint(&b, 1);
        b_uint(&b, 2);
        b_text(&b, "host");
        b_uint(&b, 3);
        b_array(&b, 1);
        b_entry(&b, 1, "/r");
        cr_assert_eq(decode(&b), -EBADMSG, "no time");

        b = (struct b){ 0 };
        b_map(&b, 4);
        b_uint(&b, 1);
        b_uint(&b, 1000);
        b_uint(&b, 0);
        b_uint(&b, 1);
        b_uint(&b, 2);
        b_text(&b, "host");
        b_uint(&b, 3);
        b_array(&b, 1);
        b_entry(&b, 1, "/r");
        cr_assert_eq(decode(&b), -EBADMSG, "keys out of order");

        b = (struct b){ 0 };
        b_map(&b, 5);
        b_uint(&b, 0);
        b_uint(&b, 1);
        b_uint(&b, 1);
        b_uint(&b, 1000);
        b_uint(&b, 2);
        b_text(&b, "host");
        b_uint(&b, 3);
        b_array(&b, 1);
        b_entry(&b, 1, "/r");
        b_uint(&b, 9);
        b_text(&b, "a later field");
        cr_assert_eq(decode(&b), 0, "an unknown later key is skipped");

        b = (struct b){ 0 };
        b_array(&b, 4);
        cr_assert_eq(decode(&b), -EBADMSG, "not a map");

        /* a float for the time */
        b = (struct b){ 0 };
        b_map(&b, 4);
        b_uint(&b, 0);
        b_uint(&b, 1);
        b_uint(&b, 1);
        b.len += cbor_encode_double(1.5, b.buf + b.len, sizeof(b.buf) - b.len);
        b_uint(&b, 2);
        b_text(&b, "host");
        b_uint(&b, 3);
        b_array(&b, 1);
        b_entry(&b, 1, "/r");
        cr_assert_eq(decode(&b), -EBADMSG, "a float");
}

Test(tombstone, huge_declared_lengths_refused)
{
        static const uint8_t huge_array[] = { 0xa4, 0x00, 0x01, 0x01, 0x01, 0x02, 0x61, 'h', 0x03,
                                              0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t huge_map[] = { 0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
        static const uint8_t huge_text[] = { 0xa4, 0x00, 0x01, 0x01, 0x01, 0x02,
                                             0x7a, 0xff, 0xff, 0xff, 0xff, 'h' };
        static const uint8_t huge_bytes[] = { 0xa4, 0x00, 0x01, 0x01, 0x01, 0x02, 0x61, 'h', 0x03, 0x81, 0x83,
                                              0x5b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00 };
        static const uint8_t indefinite[] = { 0xa4, 0x00, 0x01, 0x01, 0x01, 0x02, 0x61, 'h', 0x03, 0x9f, 0xff };
        struct tombstone *t = NULL;

        cr_assert_lt(tombstone_decode(huge_array, sizeof(huge_array), &t), 0);
        cr_assert_lt(tombstone_decode(huge_map, sizeof(huge_map), &t), 0);
        cr_assert_lt(tombstone_decode(huge_text, sizeof(huge_text), &t), 0);
        cr_assert_lt(tombstone_decode(huge_bytes, sizeof(huge_bytes), &t), 0);
        cr_assert_eq(tombstone_decode(indefinite, sizeof(indefinite), &t), -EBADMSG);
        cr_assert_null(t);

        /* more than TOMBSTONE_SIZE_MAX of input is refused before reading */
        uint8_t *big = calloc(1, TOMBSTONE_SIZE_MAX + 1);
        cr_assert_not_null(big);
        cr_assert_eq(tombstone_decode(big, TOMBSTONE_SIZE_MAX + 1, &t), -E2BIG);
        free(big);
}

Test(tombstone, mutations_never_crash)
{
        struct tombstone_entry e[3] = { entry(1, "/home/a"), entry(2, "/srv/b"), entry(3, "/x") };
        struct tombstone t = { .time_ns = 5, .hostname = "node-a", .entries = e, .n_entries = 3 };
        struct tombstone *d;
        uint8_t *buf;
        size_t len;
        unsigned seed = 1;

        cr_assert_eq(tombstone_encode(&t, &buf, &len), 0);
        for (int round = 0; round < 20000; round++) {
                uint8_t *m = malloc(len);
                memcpy(m, buf, len);
                for (int flips = 1 + round % 4; flips > 0; flips--) {
                        seed = seed * 1103515245 + 12345;
                        m[(seed >> 8) % len] ^= (uint8_t)(seed >> 20 | 1);
                }
                d = NULL;
                if (tombstone_decode(m, len, &d) == 0) {
                        cr_assert_geq(d->n_entries, 1);
                        tombstone_free(d);
                } else {
                        cr_assert_null(d);
                }
                free(m);
        }
        free(buf);
}
