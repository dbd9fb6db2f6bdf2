/* SPDX-License-Identifier: MIT */
/* Tests for the control codec (proto/ctl.c over proto/msg.c): a round trip
 * for every message type of ctl.def, nested results, every strictness case
 * of the decoder with its status and sentence, the encoder's own checks,
 * error replies, a stream of good and bad frames, and 10,000 garbage and
 * mutated frames with no allocation over 64 MiB (tests/unit/alloc-limit.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-limit.h"
#include "cleanup.h"
#include "ctl.h"
#include "frame.h"

#define BIG_ALLOC ((size_t)64 * 1024 * 1024)

/* ---- helpers ---- */

/* Decode a whole frame as a receiver would: peek, then decode the body. */
static int decode_frame(const uint8_t *frame, size_t len, struct msg **ret, struct msg_error *e)
{
        size_t body;
        int r = frame_peek(frame, len, CTL_MAX_BODY, &body);

        cr_assert_eq(r, 1, "frame_peek on an encoded frame: %d", r);
        cr_assert_eq(body + FRAME_HEADER_SIZE, len);
        return ctl_msg_decode(frame + FRAME_HEADER_SIZE, body, ret, e);
}

static struct msg *round_trip(const struct msg *m)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct msg_error e;
        struct msg *d = NULL;
        size_t len;
        int r;

        r = ctl_msg_encode(m, &buf, &len);
        cr_assert_eq(r, 0, "encode %s: %d", ctl_type_name(msg_type(m)), r);
        r = decode_frame(buf, len, &d, &e);
        cr_assert_eq(r, 0, "decode %s: %d %s", ctl_type_name(msg_type(m)), r, e.text);
        cr_assert_eq(msg_type(d), msg_type(m));
        cr_assert_eq(msg_reqid(d), msg_reqid(m));
        cr_assert_eq(msg_version(d), CTL_PROTOCOL_VERSION);
        return d;
}

/* Decode raw CBOR bytes as a frame body; expects failure r with status. */
static void expect_bad(const uint8_t *cbor, size_t len, int want_r, uint32_t want_status,
                       const char *want_text)
{
        struct msg_error e;
        struct msg *m = NULL;
        int r = ctl_msg_decode(cbor, len, &m, &e);

        cr_assert_eq(r, want_r, "decode gave %d, wanted %d (%s)", r, want_r, e.text);
        cr_assert_null(m, "message returned on failure");
        cr_assert_eq(e.status, want_status, "status %u (%s), wanted %u: %s", e.status,
                     ctl_status_id(e.status), want_status, e.text);
        cr_assert_gt(strlen(e.text), 10, "no sentence");
        if (want_text)
                cr_assert_not_null(strstr(e.text, want_text), "'%s' not in '%s'", want_text,
                                   e.text);
}

#define BAD(want_r, want_status, want_text, ...)                                         \
        do {                                                                             \
                static const uint8_t _b[] = { __VA_ARGS__ };                             \
                expect_bad(_b, sizeof(_b), want_r, want_status, want_text);              \
        } while (0)

static struct msg *expect_good(const uint8_t *cbor, size_t len)
{
        struct msg_error e;
        struct msg *m = NULL;
        int r = ctl_msg_decode(cbor, len, &m, &e);

        cr_assert_eq(r, 0, "decode failed: %d %s", r, e.text);
        return m;
}

#define GOOD(...)                                                                        \
        ({                                                                               \
                static const uint8_t _b[] = { __VA_ARGS__ };                             \
                expect_good(_b, sizeof(_b));                                             \
        })

/* ---- sample values, one per key, from the key's definition ---- */

static uint64_t sample_uint(uint32_t key)
{
        return ((uint64_t)key << 40) | key;
}

static int64_t sample_int(uint32_t key)
{
        return -(int64_t)key * 1000000007LL;
}

static void sample_text(uint32_t key, char *buf, size_t size)
{
        snprintf(buf, size, "v\xc3\xa4lue-%u", key);
}

static void sample_bytes(uint32_t key, uint8_t *buf, size_t *len)
{
        *len = key % 40;
        for (size_t i = 0; i < *len; i++)
                buf[i] = (uint8_t)(key * 31 + i * 7 + (i % 2 ? 0xff : 0));
}

static void fill_nested(struct msg_map *child, uint32_t salt)
{
        uint8_t id[32];

        memset(id, (int)salt, sizeof(id));
        cr_assert_eq(msg_map_set_bytes(child, CTL_KEY_ID, id, sizeof(id)), 0);
        cr_assert_eq(msg_map_set_int(child, CTL_KEY_TIME, -5 - (int64_t)salt), 0);
        cr_assert_eq(msg_map_set_uint(child, CTL_KEY_FILES, salt), 0);
        cr_assert_eq(msg_map_append_text(child, CTL_KEY_TAGS, "daily"), 0);
}

static void check_nested(const struct msg_map *child, uint32_t salt)
{
        const uint8_t *p;
        const char *t;
        size_t n;
        int64_t i;
        uint64_t u;

        cr_assert_eq(msg_map_get_bytes(child, CTL_KEY_ID, &p, &n), 0);
        cr_assert_eq(n, 32);
        cr_assert_eq(p[31], salt);
        cr_assert_eq(msg_map_get_int(child, CTL_KEY_TIME, &i), 0);
        cr_assert_eq(i, -5 - (int64_t)salt);
        cr_assert_eq(msg_map_get_uint(child, CTL_KEY_FILES, &u), 0);
        cr_assert_eq(u, salt);
        cr_assert_eq(msg_map_get_count(child, CTL_KEY_TAGS, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(msg_map_get_text_at(child, CTL_KEY_TAGS, 0, &t, &n), 0);
        cr_assert_eq(n, 5);
        cr_assert_eq(memcmp(t, "daily", 5), 0);
}

static void fill_key(struct msg_map *body, const struct msg_key_def *kd)
{
        char text[64];
        uint8_t bytes[64];
        size_t len;
        struct msg_map child;

        switch (kd->type) {
        case MSG_VALUE_UINT:
                cr_assert_eq(msg_map_set_uint(body, kd->number, sample_uint(kd->number)), 0);
                break;
        case MSG_VALUE_INT:
                cr_assert_eq(msg_map_set_int(body, kd->number, sample_int(kd->number)), 0);
                break;
        case MSG_VALUE_BOOL:
                cr_assert_eq(msg_map_set_bool(body, kd->number, kd->number % 2), 0);
                break;
        case MSG_VALUE_TEXT:
                sample_text(kd->number, text, sizeof(text));
                cr_assert_eq(msg_map_set_text(body, kd->number, text), 0);
                break;
        case MSG_VALUE_BYTES:
                sample_bytes(kd->number, bytes, &len);
                cr_assert_eq(msg_map_set_bytes(body, kd->number, bytes, len), 0);
                break;
        case MSG_VALUE_ARRAY:
                if (kd->element == MSG_VALUE_MAP) {
                        for (uint32_t i = 1; i <= 2; i++) {
                                cr_assert_eq(msg_map_append_map(body, kd->number, &child), 0);
                                fill_nested(&child, i);
                        }
                } else if (kd->element == MSG_VALUE_UINT) {
                        cr_assert_eq(msg_map_append_uint(body, kd->number, 3), 0);
                        cr_assert_eq(msg_map_append_uint(body, kd->number, sample_uint(kd->number)), 0);
                } else {
                        cr_assert_eq(kd->element, MSG_VALUE_TEXT, "add a sample for %s",
                                     kd->name);
                        cr_assert_eq(msg_map_append_text(body, kd->number, "a"), 0);
                        cr_assert_eq(msg_map_append_text(body, kd->number, "*.tmp"), 0);
                }
                break;
        default:
                cr_assert_fail("no sample for key %s", kd->name);
        }
}

static void check_key(const struct msg_map *body, const struct msg_key_def *kd)
{
        char text[64];
        uint8_t bytes[64];
        const uint8_t *p;
        const char *t;
        size_t len, n;
        uint64_t u;
        int64_t i;
        bool b;
        struct msg_map child;

        switch (kd->type) {
        case MSG_VALUE_UINT:
                cr_assert_eq(msg_map_get_uint(body, kd->number, &u), 0, "%s", kd->name);
                cr_assert_eq(u, sample_uint(kd->number));
                cr_assert_eq(msg_map_get_text(body, kd->number, &t, &n), -EBADMSG);
                break;
        case MSG_VALUE_INT:
                cr_assert_eq(msg_map_get_int(body, kd->number, &i), 0, "%s", kd->name);
                cr_assert_eq(i, sample_int(kd->number));
                break;
        case MSG_VALUE_BOOL:
                cr_assert_eq(msg_map_get_bool(body, kd->number, &b), 0, "%s", kd->name);
                cr_assert_eq(b, kd->number % 2);
                cr_assert_eq(msg_map_get_uint(body, kd->number, &u), -EBADMSG);
                break;
        case MSG_VALUE_TEXT:
                sample_text(kd->number, text, sizeof(text));
                cr_assert_eq(msg_map_get_text(body, kd->number, &t, &n), 0, "%s", kd->name);
                cr_assert_eq(n, strlen(text));
                cr_assert_eq(memcmp(t, text, n), 0);
                cr_assert_eq(msg_map_get_bytes(body, kd->number, &p, &n), -EBADMSG);
                break;
        case MSG_VALUE_BYTES:
                sample_bytes(kd->number, bytes, &len);
                cr_assert_eq(msg_map_get_bytes(body, kd->number, &p, &n), 0, "%s", kd->name);
                cr_assert_eq(n, len);
                cr_assert(len == 0 || memcmp(p, bytes, len) == 0);
                break;
        case MSG_VALUE_ARRAY:
                cr_assert_eq(msg_map_get_count(body, kd->number, &n), 0, "%s", kd->name);
                cr_assert_eq(n, 2);
                if (kd->element == MSG_VALUE_MAP) {
                        for (uint32_t k = 1; k <= 2; k++) {
                                cr_assert_eq(msg_map_get_map_at(body, kd->number, k - 1, &child),
                                             0);
                                check_nested(&child, k);
                        }
                        cr_assert_eq(msg_map_get_map_at(body, kd->number, 2, &child), -ENOENT);
                } else if (kd->element == MSG_VALUE_UINT) {
                        uint64_t u;
                        cr_assert_eq(msg_map_get_uint_at(body, kd->number, 0, &u), 0);
                        cr_assert_eq(u, 3);
                        cr_assert_eq(msg_map_get_uint_at(body, kd->number, 1, &u), 0);
                        cr_assert_eq(u, sample_uint(kd->number));
                } else {
                        cr_assert_eq(msg_map_get_text_at(body, kd->number, 1, &t, &n), 0);
                        cr_assert_eq(n, 5);
                        cr_assert_eq(memcmp(t, "*.tmp", 5), 0);
                }
                break;
        default:
                cr_assert_fail("no sample for key %s", kd->name);
        }
}

/* Keys a message of type t carries in the round trip: its declared fields,
 * or for RESULT every key some request returns. */
static bool carries(const struct msg_type_def *t, uint32_t key)
{
        for (size_t i = 0; i < ctl_schema.n_fields; i++) {
                const struct msg_field_def *f = &ctl_schema.fields[i];

                if (f->key != key)
                        continue;
                if (t->kind == MSG_KIND_RESULT ? f->presence == MSG_PRESENCE_REPLY
                                               : (f->type == t->number &&
                                                  f->presence != MSG_PRESENCE_REPLY))
                        return true;
        }
        return false;
}

/* ---- round trips ---- */

Test(ctl, secret_messages_are_wiped_on_free)
{
        static const char code[] = "ABCD-EFGH-IJKL-MNOP";
        static const uint8_t zero[sizeof(code) - 1];

        for (int secret = 0; secret <= 1; secret++) {
                struct msg *m = ctl_msg_new(CTL_TYPE_KEY_IMPORT, 9);
                cr_assert_not_null(m);
                cr_assert_eq(ctl_msg_set_text(m, CTL_KEY_CODE, code), 0);
                struct msg_map b = msg_body(m);
                cbor_item_t *item = msg_map_get_item(&b, CTL_KEY_CODE);
                cr_assert_not_null(item);
                cbor_incref(item); /* outlive the message to look at it */
                cr_assert_eq(msg_is_secret(m), false);
                if (secret)
                        msg_set_secret(m);
                cr_assert_eq(msg_is_secret(m), (bool)secret);
                msg_free(m);
                cr_assert_eq(cbor_string_length(item), sizeof(code) - 1);
                if (secret)
                        cr_assert(memcmp(cbor_string_handle(item), zero, sizeof(zero)) == 0,
                                  "a secret message kept its text after free");
                else
                        cr_assert(memcmp(cbor_string_handle(item), code, sizeof(code) - 1) == 0,
                                  "an ordinary message was wiped");
                cbor_decref(&item);
        }

        /* a decoded request, marked by its handler */
        struct msg *m = ctl_msg_new(CTL_TYPE_KEY_IMPORT, 10);
        uint8_t *buf = NULL;
        size_t len = 0;
        cr_assert_eq(ctl_msg_set_text(m, CTL_KEY_CODE, code), 0);
        cr_assert_eq(ctl_msg_encode(m, &buf, &len), 0);
        msg_free(m);
        struct msg_error e;
        struct msg *d = NULL;
        cr_assert_eq(ctl_msg_decode(buf + FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE, &d, &e), 0);
        free(buf);
        struct msg_map db = msg_body(d);
        cbor_item_t *item = msg_map_get_item(&db, CTL_KEY_CODE);
        cr_assert_not_null(item);
        cbor_incref(item);
        msg_set_secret(d);
        msg_free(d);
        cr_assert(memcmp(cbor_string_handle(item), zero, sizeof(zero)) == 0,
                  "a decoded secret message kept its text after free");
        cbor_decref(&item);
}

Test(ctl, every_message_type_round_trips)
{
        size_t requests = 0;

        for (size_t i = 0; i < ctl_schema.n_types; i++) {
                const struct msg_type_def *t = &ctl_schema.types[i];
                struct msg *m = ctl_msg_new(t->number, 1000 + i);
                struct msg *d;
                struct msg_map body, dbody;
                size_t filled = 0;

                cr_assert_not_null(m, "%s", t->name);
                body = msg_body(m);
                for (size_t k = 0; k < ctl_schema.n_keys; k++)
                        if (carries(t, ctl_schema.keys[k].number)) {
                                fill_key(&body, &ctl_schema.keys[k]);
                                filled++;
                        }
                d = round_trip(m);
                dbody = msg_body(d);
                for (size_t k = 0; k < ctl_schema.n_keys; k++)
                        if (carries(t, ctl_schema.keys[k].number))
                                check_key(&dbody, &ctl_schema.keys[k]);
                cr_assert_eq(cbor_map_size(dbody.item), filled, "%s: extra keys", t->name);
                requests += t->kind == MSG_KIND_REQUEST;
                ctl_msg_free(d);
                ctl_msg_free(m);
        }
        cr_assert_geq(requests, 22);
}

Test(ctl, requests_named_in_the_design_exist)
{
        static const char *const names[] = {
                "status", "add",     "remove",    "paths",   "snapshot", "snapshots",
                "ls",     "cat",     "restore",   "diff",    "id",       "key-export",
                "key-import", "version", "reload", "log-level", "verify", "forget",
                "prune",  "reindex", "peers",     "stores",  "peer-add", "peer-remove",
                "peer-approve", "peer-set",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                int t = ctl_type_from_name(names[i]);

                cr_assert_geq(t, 0, "no request '%s'", names[i]);
                cr_assert_str_eq(ctl_type_name(t), names[i]);
                cr_assert_eq(msg_schema_type(&ctl_schema, t)->kind, MSG_KIND_REQUEST);
        }
        cr_assert_eq(ctl_type_from_name("nope"), -ENOENT);
        cr_assert_str_eq(ctl_type_name(CTL_TYPE_KEY_EXPORT), "key-export");
        cr_assert_str_eq(ctl_type_name(CTL_TYPE_DATA), "data");
        cr_assert_null(ctl_type_name(9999));
}

Test(ctl, schema_tables_are_consistent)
{
        for (size_t i = 0; i < ctl_schema.n_fields; i++) {
                cr_assert_not_null(msg_schema_key(&ctl_schema, ctl_schema.fields[i].key));
                cr_assert_not_null(msg_schema_type(&ctl_schema, ctl_schema.fields[i].type));
        }
        for (size_t i = 0; i < ctl_schema.n_keys; i++) {
                const struct msg_key_def *k = &ctl_schema.keys[i];

                cr_assert_eq(k->element != MSG_VALUE_ANY, k->type == MSG_VALUE_ARRAY,
                             "%s: element type only on arrays", k->name);
                for (size_t j = i + 1; j < ctl_schema.n_keys; j++)
                        cr_assert_str_neq(k->name, ctl_schema.keys[j].name);
        }
        for (size_t i = 0; i < ctl_schema.n_types; i++)
                for (size_t j = i + 1; j < ctl_schema.n_types; j++)
                        cr_assert_str_neq(ctl_schema.types[i].name, ctl_schema.types[j].name);
}

Test(ctl, snapshots_reply_is_an_array_of_maps)
{
        struct msg *m = ctl_msg_new(CTL_TYPE_RESULT, 42), *d;
        struct msg_map snap, body;
        const uint8_t *p;
        const char *t;
        uint8_t id[32] = { 0xab };
        size_t n;
        uint64_t u;
        int64_t i;

        for (int k = 0; k < 3; k++) {
                cr_assert_eq(ctl_msg_append_map(m, CTL_KEY_SNAPSHOTS, &snap), 0);
                id[31] = (uint8_t)k;
                cr_assert_eq(msg_map_set_bytes(&snap, CTL_KEY_ID, id, sizeof(id)), 0);
                cr_assert_eq(msg_map_set_int(&snap, CTL_KEY_TIME, 1700000000000000000LL + k), 0);
                cr_assert_eq(msg_map_set_bytes(&snap, CTL_KEY_ROOT, "/home", 5), 0);
                cr_assert_eq(msg_map_set_uint(&snap, CTL_KEY_FILES, 10 + k), 0);
                cr_assert_eq(msg_map_set_uint(&snap, CTL_KEY_BYTES, 1ULL << 40), 0);
                cr_assert_eq(msg_map_set_uint(&snap, CTL_KEY_NEW_BYTES, 0), 0);
                /* nested maps are type-checked against the key space too */
                cr_assert_eq(msg_map_set_text(&snap, CTL_KEY_FILES, "ten"), -EINVAL);
                cr_assert_eq(msg_map_set_uint(&snap, 9999, 1), -EINVAL);
        }
        d = round_trip(m);
        body = msg_body(d);
        cr_assert_eq(msg_map_get_count(&body, CTL_KEY_SNAPSHOTS, &n), 0);
        cr_assert_eq(n, 3);
        cr_assert_eq(msg_map_get_map_at(&body, CTL_KEY_SNAPSHOTS, 2, &snap), 0);
        cr_assert_eq(msg_map_get_bytes(&snap, CTL_KEY_ID, &p, &n), 0);
        cr_assert_eq(n, 32);
        cr_assert_eq(p[31], 2);
        cr_assert_eq(msg_map_get_int(&snap, CTL_KEY_TIME, &i), 0);
        cr_assert_eq(i, 1700000000000000002LL);
        cr_assert_eq(msg_map_get_uint(&snap, CTL_KEY_FILES, &u), 0);
        cr_assert_eq(u, 12);
        cr_assert_eq(msg_map_get_uint(&snap, CTL_KEY_BYTES, &u), 0);
        cr_assert_eq(u, 1ULL << 40);
        cr_assert_eq(msg_map_get_bytes(&snap, CTL_KEY_ROOT, &p, &n), 0);
        cr_assert_eq(n, 5);
        cr_assert_eq(msg_map_get_text(&snap, CTL_KEY_HOSTNAME, &t, &n), -ENOENT);
        cr_assert_eq(msg_map_get_map_at(&body, CTL_KEY_SNAPSHOTS, 3, &snap), -ENOENT);
        cr_assert_eq(msg_map_get_map_at(&body, CTL_KEY_PEERS, 0, &snap), -ENOENT);
        ctl_msg_free(d);
        ctl_msg_free(m);
}

Test(ctl, int_extremes_round_trip)
{
        struct msg *m = ctl_msg_new(CTL_TYPE_RESULT, UINT64_MAX), *d;
        int64_t i;
        uint64_t u;

        cr_assert_eq(ctl_msg_set_int(m, CTL_KEY_TIME, INT64_MIN), 0);
        cr_assert_eq(ctl_msg_set_int(m, CTL_KEY_MTIME, INT64_MAX), 0);
        cr_assert_eq(ctl_msg_set_uint(m, CTL_KEY_SIZE, UINT64_MAX), 0);
        d = round_trip(m);
        cr_assert_eq(msg_reqid(d), UINT64_MAX);
        cr_assert_eq(ctl_msg_get_int(d, CTL_KEY_TIME, &i), 0);
        cr_assert_eq(i, INT64_MIN);
        cr_assert_eq(ctl_msg_get_int(d, CTL_KEY_MTIME, &i), 0);
        cr_assert_eq(i, INT64_MAX);
        cr_assert_eq(ctl_msg_get_uint(d, CTL_KEY_SIZE, &u), 0);
        cr_assert_eq(u, UINT64_MAX);
        ctl_msg_free(d);
        ctl_msg_free(m);
}

Test(ctl, encoding_is_minimal_and_definite)
{
        static const uint8_t want[] = { 0, 0, 0, 5, 0x84, CTL_PROTOCOL_VERSION, 0x01, 0x07, 0xa0 };
        static const uint8_t want_add[] = { 0,    0,    0,    8,    0x84, CTL_PROTOCOL_VERSION,
                                            0x02, 0x07, 0xa1, 0x03, 0x41, 'x' };
        _cleanup_free_ uint8_t *buf = NULL, *buf2 = NULL;
        struct msg *m = ctl_msg_new(CTL_TYPE_STATUS, 7);
        size_t len;

        cr_assert_eq(ctl_msg_encode(m, &buf, &len), 0);
        cr_assert_eq(len, sizeof(want));
        cr_assert_eq(memcmp(buf, want, len), 0);
        ctl_msg_free(m);

        m = ctl_msg_new(CTL_TYPE_ADD, 7);
        cr_assert_eq(ctl_msg_set_bytes(m, CTL_KEY_PATH, "y", 1), 0);
        cr_assert_eq(ctl_msg_set_bytes(m, CTL_KEY_PATH, "x", 1), 0); /* last one wins */
        cr_assert_eq(ctl_msg_encode(m, &buf2, &len), 0);
        cr_assert_eq(len, sizeof(want_add));
        cr_assert_eq(memcmp(buf2, want_add, len), 0);
        ctl_msg_free(m);
}

/* ---- encoder checks ---- */

Test(ctl, encoder_refuses_what_the_schema_does_not_allow)
{
        struct msg *m = ctl_msg_new(CTL_TYPE_ADD, 1);
        struct msg_map child;
        uint8_t *buf = NULL;
        size_t len = 0;

        cr_assert_null(ctl_msg_new(9999, 1), "unknown type built");
        cr_assert_eq(ctl_msg_set_text(m, CTL_KEY_PATH, "/home"), -EINVAL, "path is bytes");
        cr_assert_eq(ctl_msg_set_uint(m, CTL_KEY_SIZE, 1), -EINVAL, "add declares no size");
        cr_assert_eq(ctl_msg_set_uint(m, 9999, 1), -EINVAL, "unknown key");
        cr_assert_eq(ctl_msg_append_map(m, CTL_KEY_PATH, &child), -EINVAL, "path is no array");
        cr_assert_eq(ctl_msg_append_map(m, CTL_KEY_EXCLUDES, &child), -EINVAL,
                     "excludes holds text");
        cr_assert_eq(ctl_msg_encode(m, &buf, &len), -EINVAL, "encoded without its path");
        cr_assert_null(buf);
        cr_assert_eq(ctl_msg_append_text(m, CTL_KEY_EXCLUDES, "*.o"), 0);
        cr_assert_eq(ctl_msg_set_bytes(m, CTL_KEY_PATH, "/home", 5), 0);
        cr_assert_eq(ctl_msg_encode(m, &buf, &len), 0);
        free(buf);
        ctl_msg_free(m);

        /* RESULT takes any known key, with its type */
        m = ctl_msg_new(CTL_TYPE_RESULT, 1);
        cr_assert_eq(ctl_msg_set_uint(m, CTL_KEY_SIZE, 1), 0);
        cr_assert_eq(ctl_msg_set_text(m, CTL_KEY_SIZE, "1"), -EINVAL);
        cr_assert_eq(ctl_msg_set_uint(m, 9999, 1), -EINVAL);
        ctl_msg_free(m);
}

Test(ctl, encoder_refuses_frames_over_the_limit)
{
        struct msg *m = ctl_msg_new(CTL_TYPE_DATA, 1);
        _cleanup_free_ uint8_t *big = calloc(1, CTL_MAX_BODY);
        uint8_t *buf = NULL;
        size_t len = 0;

        cr_assert_eq(ctl_msg_set_bytes(m, CTL_KEY_DATA, big, CTL_MAX_BODY), 0);
        cr_assert_eq(ctl_msg_encode(m, &buf, &len), -EMSGSIZE);
        cr_assert_null(buf);
        cr_assert_eq(ctl_msg_set_bytes(m, CTL_KEY_DATA, big, CTL_MAX_BODY - 64), 0);
        cr_assert_eq(ctl_msg_encode(m, &buf, &len), 0);
        cr_assert_leq(len, FRAME_HEADER_SIZE + CTL_MAX_BODY);
        free(buf);
        ctl_msg_free(m);
}

/* ---- decoder strictness ---- */

Test(ctl, accepts_the_minimal_request)
{
        struct msg *m = GOOD(0x84, 0x01, 0x01, 0x07, 0xa0);

        cr_assert_eq(msg_type(m), CTL_TYPE_STATUS);
        cr_assert_eq(msg_reqid(m), 7);
        ctl_msg_free(m);
}

Test(ctl, rejects_unsupported_versions_with_the_request_id)
{
        struct msg_error e;
        struct msg *m = NULL, *reply, *d;
        static const uint8_t newer[] = { 0x84, CTL_PROTOCOL_VERSION + 1, 0x01, 0x07, 0xa0 };
        uint64_t u;

        BAD(-EPROTONOSUPPORT, CTL_STATUS_UNSUPPORTED_VERSION, "version 0", 0x84, 0x00, 0x01,
            0x07, 0xa0);
        cr_assert_eq(ctl_msg_decode(newer, sizeof(newer), &m, &e), -EPROTONOSUPPORT);
        cr_assert(e.have_reqid);
        cr_assert_eq(e.reqid, 7);
        /* the error reply carries the request id and the version we speak */
        reply = msg_new_decode_error(&ctl_schema, &e);
        cr_assert_not_null(reply);
        d = round_trip(reply);
        cr_assert_eq(msg_type(d), CTL_TYPE_ERROR);
        cr_assert_eq(msg_reqid(d), 7);
        cr_assert_eq(ctl_msg_get_uint(d, CTL_KEY_STATUS, &u), 0);
        cr_assert_eq(u, CTL_STATUS_UNSUPPORTED_VERSION);
        cr_assert_eq(ctl_msg_get_uint(d, CTL_KEY_PROTOCOL, &u), 0);
        cr_assert_eq(u, CTL_PROTOCOL_VERSION);
        ctl_msg_free(d);
        ctl_msg_free(reply);
        /* version not a uint */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "version", 0x84, 0x20, 0x01, 0x07, 0xa0);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "version", 0x84, 0x61, '1', 0x01, 0x07, 0xa0);
}

Test(ctl, rejects_unknown_types_as_unsupported)
{
        struct msg_error e;
        struct msg *m = NULL;
        static const uint8_t b[] = { 0x84, 0x01, 0x18, 0x63, 0x09, 0xa0 };

        cr_assert_eq(ctl_msg_decode(b, sizeof(b), &m, &e), -EOPNOTSUPP);
        cr_assert_eq(e.status, CTL_STATUS_UNSUPPORTED);
        cr_assert_eq(e.reqid, 9);
        cr_assert_not_null(strstr(e.text, "99"), "%s", e.text);
        BAD(-EOPNOTSUPP, CTL_STATUS_UNSUPPORTED, "type 0", 0x84, 0x01, 0x00, 0x07, 0xa0);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "type", 0x84, 0x01, 0x41, 0x01, 0x07, 0xa0);
}

Test(ctl, rejects_bad_request_ids)
{
        struct msg_error e;
        struct msg *m = NULL;
        static const uint8_t b[] = { 0x84, 0x01, 0x01, 0x20, 0xa0 };

        cr_assert_eq(ctl_msg_decode(b, sizeof(b), &m, &e), -EBADMSG);
        cr_assert_not(e.have_reqid);
        cr_assert_not_null(strstr(e.text, "request id"));
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "request id", 0x84, 0x01, 0x01, 0xf5, 0xa0);
}

Test(ctl, rejects_missing_required_keys)
{
        /* add without path; restore with a snapshot but no target */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "'add' requires key 3 (path)", 0x84, 0x01, 0x02,
            0x07, 0xa0);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "(target)", 0x84, 0x01, 0x09, 0x07, 0xa1, 0x05,
            0x61, 'x');
        /* error replies need status and message */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "(message)", 0x84, 0x01, 0x18, 0x41, 0x07, 0xa1,
            0x01, 0x02);
}

Test(ctl, rejects_wrong_types)
{
        /* add {path: "a"}: path is bytes */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "key 3 (path) must be bytes", 0x84, 0x01, 0x02,
            0x07, 0xa1, 0x03, 0x61, 'a');
        /* a known key is type-checked even where its message does not declare it */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "(path)", 0x84, 0x01, 0x01, 0x07, 0xa1, 0x03,
            0x01);
        /* uint key given a negative int */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "(files) must be uint", 0x84, 0x01, 0x18, 0x40,
            0x07, 0xa1, 0x0d, 0x20);
        /* int key given a value beyond int64 */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "(time) must be int", 0x84, 0x01, 0x18, 0x40,
            0x07, 0xa1, 0x08, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
        /* bool key given 1 */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "(recursive) must be bool", 0x84, 0x01, 0x07,
            0x07, 0xa2, 0x05, 0x61, 'x', 0x18, 0x1e, 0x01);
        /* array key given a map */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "(snapshots) must be array", 0x84, 0x01, 0x18,
            0x40, 0x07, 0xa1, 0x11, 0xa0);
        /* array items of the wrong type */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "items of key 16 (tags) must be text", 0x84, 0x01,
            0x18, 0x40, 0x07, 0xa1, 0x10, 0x82, 0x61, 'a', 0x01);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "items of key 17 (snapshots) must be map", 0x84,
            0x01, 0x18, 0x40, 0x07, 0xa1, 0x11, 0x81, 0x80);
        /* a wrong type inside a nested map */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "(files) must be uint", 0x84, 0x01, 0x18, 0x40,
            0x07, 0xa1, 0x11, 0x81, 0xa1, 0x0d, 0x61, 'x');
        /* text that is not UTF-8 */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "UTF-8", 0x84, 0x01, 0x18, 0x41, 0x07, 0xa2, 0x01,
            0x02, 0x02, 0x62, 0xc0, 0xaf);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "UTF-8", 0x84, 0x01, 0x18, 0x41, 0x07, 0xa2, 0x01,
            0x02, 0x02, 0x63, 0xed, 0xa0, 0x80);
}

Test(ctl, rejects_bad_envelopes)
{
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "array of 4", 0xa0);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "array of 4", 0x01);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "array of 4", 0x83, 0x01, 0x01, 0x07);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "array of 4", 0x85, 0x01, 0x01, 0x07, 0xa0, 0xa0);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "body must be a map", 0x84, 0x01, 0x01, 0x07,
            0x80);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "CBOR", 0x84, 0x01, 0x01, 0x07); /* truncated */
        expect_bad((const uint8_t *)"", 0, -EBADMSG, CTL_STATUS_BAD_REQUEST, "CBOR");
}

Test(ctl, rejects_trailing_bytes)
{
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "trailing", 0x84, 0x01, 0x01, 0x07, 0xa0, 0x00);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "trailing", 0x84, 0x01, 0x01, 0x07, 0xa0, 0x84,
            0x01, 0x01, 0x08, 0xa0);
}

Test(ctl, rejects_duplicate_and_non_uint_keys)
{
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "none repeated", 0x84, 0x01, 0x02, 0x07, 0xa2, 0x03,
            0x41, 'a', 0x03, 0x41, 'b');
        /* duplicates of an unknown key are refused too */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "none repeated", 0x84, 0x01, 0x01, 0x07, 0xa2,
            0x19, 0x03, 0xe8, 0x00, 0x19, 0x03, 0xe8, 0x00);
        /* and inside nested maps */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "none repeated", 0x84, 0x01, 0x18, 0x40, 0x07, 0xa1,
            0x11, 0x81, 0xa2, 0x0d, 0x01, 0x0d, 0x02);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "unsigned integer keys", 0x84, 0x01, 0x01, 0x07,
            0xa1, 0x61, 'a', 0x01);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "unsigned integer keys", 0x84, 0x01, 0x01, 0x07,
            0xa1, 0x20, 0x01);
}

Test(ctl, rejects_indefinite_lengths)
{
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "indefinite", 0x9f, 0x01, 0x01, 0x07, 0xa0, 0xff);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "indefinite", 0x84, 0x01, 0x01, 0x07, 0xbf, 0xff);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "indefinite", 0x84, 0x01, 0x02, 0x07, 0xa1, 0x03,
            0x5f, 0x41, 'a', 0xff);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "indefinite", 0x84, 0x01, 0x18, 0x40, 0x07, 0xa1,
            0x10, 0x9f, 0x61, 'a', 0xff);
}

Test(ctl, rejects_floats_tags_and_hostile_lengths)
{
        /* floats and tags appear in no schema, even under unknown keys */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "CBOR", 0x84, 0x01, 0x01, 0x07, 0xa1, 0x19, 0x03,
            0xe8, 0xf9, 0x3c, 0x00);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, "CBOR", 0x84, 0x01, 0x01, 0x07, 0xa1, 0x19, 0x03,
            0xe8, 0xc1, 0x00);
        /* a byte string declaring 2^64-1 bytes, an array declaring 2^32-1 items */
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, NULL, 0x84, 0x01, 0x02, 0x07, 0xa1, 0x03, 0x5b,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, NULL, 0x84, 0x01, 0x01, 0x07, 0xa1, 0x19, 0x03,
            0xe8, 0x9a, 0xff, 0xff, 0xff, 0xff);
        BAD(-EBADMSG, CTL_STATUS_BAD_REQUEST, NULL, 0x84, 0x01, 0x01, 0x07, 0xbb, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
        if (alloc_limit_active())
                cr_assert_eq(alloc_limit_violations(), 0);
}

Test(ctl, rejects_nesting_bombs)
{
        size_t n = 100000;
        _cleanup_free_ uint8_t *b = malloc(n + 16);
        size_t len = 0;

        /* status {1000: [[[[...0...]]]]} */
        memcpy(b, (const uint8_t[]){ 0x84, 0x01, 0x01, 0x07, 0xa1, 0x19, 0x03, 0xe8 }, 8);
        len = 8;
        memset(b + len, 0x81, n);
        len += n;
        b[len++] = 0x00;
        expect_bad(b, len, -EBADMSG, CTL_STATUS_BAD_REQUEST, "nesting");
        /* nesting just over the limit (envelope, body, 7 arrays = depth 9) */
        len = 8;
        memset(b + len, 0x81, 7);
        len += 7;
        b[len++] = 0x00;
        expect_bad(b, len, -EBADMSG, CTL_STATUS_BAD_REQUEST, "nesting");
        /* ... and at it (6 arrays) is fine: unknown keys are ignored */
        len = 8;
        memset(b + len, 0x81, 6);
        len += 6;
        b[len++] = 0x00;
        ctl_msg_free(expect_good(b, len));
        /* the envelope itself nested */
        memset(b, 0x81, n);
        b[n] = 0x00;
        expect_bad(b, n + 1, -EBADMSG, CTL_STATUS_BAD_REQUEST, "nesting");
}

Test(ctl, rejects_bodies_over_the_limit)
{
        _cleanup_free_ uint8_t *b = calloc(1, CTL_MAX_BODY + 1);

        expect_bad(b, CTL_MAX_BODY + 1, -EMSGSIZE, CTL_STATUS_TOO_LARGE, "limit");
}

Test(ctl, ignores_unknown_keys)
{
        /* add {3: h'2f', 999: "x", 1000: [1, {"k": -1}], 70000: {}} */
        struct msg *m = GOOD(0x84, 0x01, 0x02, 0x07, 0xa4, 0x03, 0x41, '/', 0x19, 0x03, 0xe7,
                             0x61, 'x', 0x19, 0x03, 0xe8, 0x82, 0x01, 0xa1, 0x61, 'k', 0x20,
                             0x1a, 0x00, 0x01, 0x11, 0x70, 0xa0);
        const uint8_t *p;
        const char *t;
        size_t n;
        uint64_t u;

        cr_assert_eq(ctl_msg_get_bytes(m, CTL_KEY_PATH, &p, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(p[0], '/');
        /* getters: absent and wrong type */
        cr_assert_eq(ctl_msg_get_text(m, CTL_KEY_NAME, &t, &n), -ENOENT);
        cr_assert_eq(ctl_msg_get_uint(m, 999, &u), -EBADMSG);
        cr_assert_eq(ctl_msg_get_text(m, CTL_KEY_PATH, &t, &n), -EBADMSG);
        ctl_msg_free(m);
}

/* ---- error replies and names ---- */

Test(ctl, error_reply_round_trips)
{
        struct msg *m = ctl_msg_error(77, CTL_STATUS_NOT_FOUND, "no snapshot matches 'ab12'");
        struct msg *d;
        _cleanup_free_ char *text = NULL;
        struct msg_map body;
        uint64_t u;

        cr_assert_not_null(m);
        d = round_trip(m);
        cr_assert_eq(msg_type(d), CTL_TYPE_ERROR);
        cr_assert_eq(msg_reqid(d), 77);
        cr_assert_eq(ctl_msg_get_uint(d, CTL_KEY_STATUS, &u), 0);
        cr_assert_eq(u, CTL_STATUS_NOT_FOUND);
        body = msg_body(d);
        cr_assert_eq(msg_map_get_text_dup(&body, CTL_KEY_MESSAGE, &text), 0);
        cr_assert_str_eq(text, "no snapshot matches 'ab12'");
        cr_assert_eq(ctl_msg_get_uint(d, CTL_KEY_PROTOCOL, &u), -ENOENT);
        ctl_msg_free(d);
        ctl_msg_free(m);
}

Test(ctl, error_reply_without_message_uses_the_status_name)
{
        _cleanup_(msg_freep) struct msg *m = ctl_msg_error(3, CTL_STATUS_BUSY, NULL);
        _cleanup_(msg_freep) struct msg *d = round_trip(m);
        const char *t;
        size_t n;

        cr_assert_eq(msg_kind(d), MSG_KIND_REPLY);
        cr_assert_eq(ctl_msg_get_text(d, CTL_KEY_MESSAGE, &t, &n), 0);
        cr_assert_eq(n, strlen(ctl_status_name(CTL_STATUS_BUSY)));
        cr_assert_eq(memcmp(t, ctl_status_name(CTL_STATUS_BUSY), n), 0);
}

Test(ctl, status_names)
{
        cr_assert_str_eq(ctl_status_name(CTL_STATUS_OK), "success");
        cr_assert_str_eq(ctl_status_name(CTL_STATUS_NOT_FOUND), "not found");
        cr_assert_str_eq(ctl_status_id(CTL_STATUS_NOT_FOUND), "not-found");
        cr_assert_str_eq(ctl_status_id(CTL_STATUS_UNSUPPORTED_VERSION), "unsupported-version");
        cr_assert_str_eq(ctl_status_id(CTL_STATUS_TOO_LARGE), "too-large");
        cr_assert_null(ctl_status_name(12345));
        for (size_t i = 0; i < ctl_schema.n_statuses; i++) {
                cr_assert_not_null(ctl_status_name(ctl_schema.statuses[i].number));
                cr_assert_not_null(ctl_status_id(ctl_schema.statuses[i].number));
        }
}

/* ---- a connection: good, bad and good frames back to back ---- */

static size_t append_frame(uint8_t *stream, size_t pos, const uint8_t *body, size_t len)
{
        frame_encode_header((uint32_t)len, stream + pos);
        memcpy(stream + pos + FRAME_HEADER_SIZE, body, len);
        return pos + FRAME_HEADER_SIZE + len;
}

Test(ctl, stream_survives_bad_requests)
{
        static const uint8_t good1[] = { 0x84, 0x01, 0x01, 0x01, 0xa0 };
        static const uint8_t bad[] = { 0x84, 0x01, 0x02, 0x02, 0xa1, 0x03, 0x61, 'x', 0x00 };
        static const uint8_t unknown[] = { 0x84, 0x01, 0x18, 0x3f, 0x03, 0xa0 };
        static const uint8_t good2[] = { 0x84, 0x01, 0x0e, 0x04, 0xa0 };
        uint8_t stream[256];
        size_t len = 0, pos = 0, body;
        uint64_t ok[4], failed[4];
        size_t n_ok = 0, n_failed = 0;
        int r;

        len = append_frame(stream, len, good1, sizeof(good1));
        len = append_frame(stream, len, bad, sizeof(bad));
        len = append_frame(stream, len, unknown, sizeof(unknown));
        len = append_frame(stream, len, good2, sizeof(good2));
        /* feed it as a reader would, never with more than what arrived */
        for (size_t arrived = 0; arrived <= len; arrived++) {
                while ((r = frame_peek(stream + pos, arrived - pos, CTL_MAX_BODY, &body)) == 1) {
                        struct msg *m = NULL;
                        struct msg_error e;

                        if (ctl_msg_decode(stream + pos + FRAME_HEADER_SIZE, body, &m, &e) == 0) {
                                ok[n_ok++] = msg_reqid(m);
                                ctl_msg_free(m);
                        } else {
                                cr_assert(e.have_reqid);
                                failed[n_failed++] = e.reqid;
                        }
                        pos += FRAME_HEADER_SIZE + body;
                }
                cr_assert_eq(r, 0);
        }
        cr_assert_eq(pos, len);
        cr_assert_eq(n_ok, 2);
        cr_assert_eq(ok[0], 1);
        cr_assert_eq(ok[1], 4);
        cr_assert_eq(n_failed, 2);
        cr_assert_eq(failed[0], 2);
        cr_assert_eq(failed[1], 3);
}

/* ---- garbage and mutations ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

/* Decode; when accepted, re-encoding and decoding again must succeed too. */
static int decode_any(const uint8_t *buf, size_t len)
{
        struct msg_error e;
        struct msg *m = NULL, *d;
        _cleanup_free_ uint8_t *out = NULL;
        size_t out_len;
        int r = ctl_msg_decode(buf, len, &m, &e);

        if (r < 0) {
                cr_assert(r == -EBADMSG || r == -EMSGSIZE || r == -EPROTONOSUPPORT ||
                                  r == -EOPNOTSUPP,
                          "unexpected error %d", r);
                cr_assert_gt(strlen(e.text), 0);
                cr_assert_not_null(ctl_status_name(e.status));
                return 0;
        }
        cr_assert_eq(msg_encode(m, &out, &out_len), 0, "accepted but not re-encodable");
        cr_assert_eq(decode_frame(out, out_len, &d, &e), 0, "re-encoded form refused: %s",
                     e.text);
        ctl_msg_free(d);
        ctl_msg_free(m);
        return 1;
}

static size_t sample_frames(uint8_t **bodies, size_t *lens, size_t max)
{
        size_t n = 0;

        for (size_t i = 0; i < ctl_schema.n_types && n < max; i++) {
                const struct msg_type_def *t = &ctl_schema.types[i];
                struct msg *m = ctl_msg_new(t->number, i);
                struct msg_map body = msg_body(m);
                uint8_t *buf;
                size_t len;

                for (size_t k = 0; k < ctl_schema.n_keys; k++)
                        if (carries(t, ctl_schema.keys[k].number))
                                fill_key(&body, &ctl_schema.keys[k]);
                cr_assert_eq(ctl_msg_encode(m, &buf, &len), 0);
                bodies[n] = malloc(len - FRAME_HEADER_SIZE);
                memcpy(bodies[n], buf + FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE);
                lens[n++] = len - FRAME_HEADER_SIZE;
                free(buf);
                ctl_msg_free(m);
        }
        return n;
}

Test(ctl, garbage_and_mutations_never_crash_or_allocate_wildly)
{
        uint8_t *bodies[64];
        size_t lens[64];
        size_t n = sample_frames(bodies, lens, 64);
        uint8_t buf[4096];
        size_t accepted = 0, accepted_garbage = 0;

        for (int iter = 0; iter < 10000; iter++) {
                size_t len;

                if (iter % 4 == 0) {
                        /* plain garbage, often with a plausible envelope start */
                        len = rng() % 300;
                        for (size_t i = 0; i < len; i++)
                                buf[i] = (uint8_t)rng();
                        if (len >= 2 && iter % 8 == 0) {
                                buf[0] = 0x84;
                                buf[1] = 0x01;
                        }
                        accepted_garbage += decode_any(buf, len);
                        continue;
                }
                /* a valid frame body with a few mutations */
                size_t k = rng() % n;

                len = lens[k];
                cr_assert_leq(len, sizeof(buf));
                memcpy(buf, bodies[k], len);
                for (int m = 1 + rng() % 4; m > 0; m--) {
                        size_t at = len ? rng() % len : 0;

                        switch (rng() % 5) {
                        case 0: /* flip bits */
                                if (len)
                                        buf[at] ^= (uint8_t)(1u << (rng() % 8));
                                break;
                        case 1: /* a random byte */
                                if (len)
                                        buf[at] = (uint8_t)rng();
                                break;
                        case 2: /* a hostile length head */
                                if (len)
                                        buf[at] = (uint8_t)((rng() % 8) << 5 | (24 + rng() % 4));
                                break;
                        case 3: /* truncate */
                                len = at;
                                break;
                        default: /* insert a byte */
                                if (len < sizeof(buf) - 1) {
                                        memmove(buf + at + 1, buf + at, len - at);
                                        buf[at] = (uint8_t)rng();
                                        len++;
                                }
                        }
                }
                accepted += decode_any(buf, len);
        }
        /* Debian's libcbor is built without cbor_set_allocs; alloc-limit.c
         * replaces malloc for the whole binary instead (not under ASan). */
        if (alloc_limit_active()) {
                cr_assert_eq(alloc_limit_violations(), 0);
                cr_assert_lt(alloc_limit_largest(), BIG_ALLOC);
        }
        /* the mutations must not all be trivially refused (or all accepted) */
        cr_assert_gt(accepted, 50, "only %zu mutated frames accepted", accepted);
        cr_assert_lt(accepted + accepted_garbage, 9000);
        for (size_t i = 0; i < n; i++)
                free(bodies[i]);
}
