/* SPDX-License-Identifier: MIT */
/* Tests for proto/ctl-json.c: every ctl.def key type (and the HEX and TIME
 * forms) survives message -> JSON -> message, requests built from JSON are
 * checked strictly (unknown keys, wrong types, missing required keys,
 * hostile documents), and the writer keeps non-UTF-8 bytes as \udcXX. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-json.h"

/* msg -> JSON text -> JSON -> msg of the same request type. */
static struct msg *round_trip(struct msg *m, uint32_t type, char **ret_text)
{
        json_t *doc = ctl_json_from_msg(m);
        char *text = NULL, err[256] = "";
        size_t len;
        json_error_t e;
        struct msg *back = NULL;

        cr_assert_not_null(doc);
        cr_assert_eq(ctl_json_dump(doc, &text, &len), 0);
        json_decref(doc);
        doc = json_loadb(text, len, 0, &e);
        cr_assert_not_null(doc, "%s: %s", text, e.text);
        cr_assert_eq(ctl_json_to_msg(doc, type, 7, &back, err, sizeof(err)), 0, "%s: %s", text, err);
        json_decref(doc);
        *ret_text = text;
        return back;
}

Test(ctl_json, every_scalar_type_round_trips)
{
        /* FORGET: TEXT, UINT, BOOL, BYTES (path); KEEP_WITHIN text */
        struct msg *m = ctl_msg_new(CTL_TYPE_FORGET, 1), *back;
        char *text;
        uint64_t u;
        bool b;
        const char *t;
        const uint8_t *p;
        size_t len;

        cr_assert_eq(ctl_msg_set_text(m, CTL_KEY_SNAPSHOT, "abc123"), 0);
        cr_assert_eq(ctl_msg_set_uint(m, CTL_KEY_KEEP_LAST, 12345678901ULL), 0);
        cr_assert_eq(ctl_msg_set_bool(m, CTL_KEY_DRY_RUN, true), 0);
        cr_assert_eq(ctl_msg_set_bytes(m, CTL_KEY_PATH, "/r/\xc3\xa9t\xc3\xa9", 8), 0);
        cr_assert_eq(ctl_msg_set_text(m, CTL_KEY_KEEP_WITHIN, "7d"), 0);
        back = round_trip(m, CTL_TYPE_FORGET, &text);
        cr_assert(strstr(text, "\"keep_last\":12345678901"), "%s", text);
        cr_assert(strstr(text, "\"dry_run\":true"), "%s", text);
        cr_assert_eq(ctl_msg_get_text(back, CTL_KEY_SNAPSHOT, &t, &len), 0);
        cr_assert(len == 6 && !memcmp(t, "abc123", 6));
        cr_assert_eq(ctl_msg_get_uint(back, CTL_KEY_KEEP_LAST, &u), 0);
        cr_assert_eq(u, 12345678901ULL);
        cr_assert_eq(ctl_msg_get_bool(back, CTL_KEY_DRY_RUN, &b), 0);
        cr_assert(b);
        cr_assert_eq(ctl_msg_get_bytes(back, CTL_KEY_PATH, &p, &len), 0);
        cr_assert(len == 8 && !memcmp(p, "/r/\xc3\xa9t\xc3\xa9", 8));
        free(text);
        msg_free(m);
        msg_free(back);
}

Test(ctl_json, arrays_of_text_round_trip)
{
        struct msg *m = ctl_msg_new(CTL_TYPE_ADD, 1), *back;
        char *text;
        const char *t;
        size_t n, len;

        cr_assert_eq(ctl_msg_set_bytes(m, CTL_KEY_PATH, "/x", 2), 0);
        cr_assert_eq(ctl_msg_append_text(m, CTL_KEY_EXCLUDES, "*.tmp"), 0);
        cr_assert_eq(ctl_msg_append_text(m, CTL_KEY_EXCLUDES, "cache/"), 0);
        back = round_trip(m, CTL_TYPE_ADD, &text);
        cr_assert(strstr(text, "\"excludes\":[\"*.tmp\",\"cache/\"]"), "%s", text);
        struct msg_map b = msg_body(back);
        cr_assert_eq(msg_map_get_count(&b, CTL_KEY_EXCLUDES, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(msg_map_get_text_at(&b, CTL_KEY_EXCLUDES, 1, &t, &len), 0);
        cr_assert(len == 6 && !memcmp(t, "cache/", 6));
        free(text);
        msg_free(m);
        msg_free(back);
}

Test(ctl_json, nested_maps_hex_ids_and_times)
{
        struct msg *m = ctl_msg_new(CTL_TYPE_RESULT, 1);
        struct msg_map child;
        uint8_t id[32];
        json_t *doc;

        for (size_t i = 0; i < sizeof(id); i++)
                id[i] = (uint8_t)(i * 7);
        cr_assert_eq(ctl_msg_append_map(m, CTL_KEY_SNAPSHOTS, &child), 0);
        cr_assert_eq(msg_map_set_bytes(&child, CTL_KEY_ID, id, sizeof(id)), 0);
        cr_assert_eq(msg_map_set_int(&child, CTL_KEY_TIME, INT64_C(1764974401123456789)), 0);
        cr_assert_eq(msg_map_set_int(&child, CTL_KEY_MTIME, INT64_C(-1500000000)), 0);
        cr_assert_eq(msg_map_append_text(&child, CTL_KEY_TAGS, "daily"), 0);
        doc = ctl_json_from_msg(m);
        json_t *s = json_array_get(json_object_get(doc, "snapshots"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(s, "id")),
                         "00070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9");
        cr_assert_str_eq(json_string_value(json_object_get(s, "time")), "2025-12-05T22:40:01.123456789Z");
        cr_assert_str_eq(json_string_value(json_object_get(s, "mtime")), "1969-12-31T23:59:58.500000000Z");
        cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "tags"), 0)), "daily");
        json_decref(doc);

        int64_t ns;
        cr_assert_eq(ctl_json_parse_time("2025-12-05T22:40:01.123456789Z", &ns), 0);
        cr_assert_eq(ns, INT64_C(1764974401123456789));
        cr_assert_eq(ctl_json_parse_time("1969-12-31T23:59:58.5Z", &ns), 0);
        cr_assert_eq(ns, INT64_C(-1500000000));
        cr_assert_eq(ctl_json_parse_time("2025-12-06T00:40:01+02:00", &ns), 0);
        cr_assert_eq(ns, INT64_C(1764974401000000000));
        cr_assert_eq(ctl_json_parse_time("2025-12-05 22:40:01", &ns), -EINVAL);
        cr_assert_eq(ctl_json_parse_time("2025-12-05T22:40:01.Z", &ns), -EINVAL);
        cr_assert_eq(ctl_json_parse_time("2025-12-05T22:40:01Zjunk", &ns), -EINVAL);
        msg_free(m);
}

Test(ctl_json, errors_become_code_and_message)
{
        struct msg *m = ctl_msg_error(3, CTL_STATUS_NOT_FOUND, "no such snapshot");
        json_t *doc = ctl_json_from_msg(m);

        cr_assert_str_eq(json_string_value(json_object_get(doc, "error")), "not-found");
        cr_assert_str_eq(json_string_value(json_object_get(doc, "message")), "no such snapshot");
        json_decref(doc);
        msg_free(m);
}

Test(ctl_json, empty_reply_lists_are_present)
{
        struct msg *m = ctl_msg_new(CTL_TYPE_RESULT, 1);
        json_t *doc = ctl_json_from_result(m, CTL_TYPE_STORES);

        cr_assert(json_is_array(json_object_get(doc, "stores")));
        cr_assert_eq(json_array_size(json_object_get(doc, "stores")), 0);
        json_decref(doc);
        msg_free(m);
}

/* A request from the JSON text, expected refused with a message containing want. */
static void refused(uint32_t type, const char *text, const char *want)
{
        json_error_t e;
        json_t *doc = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        struct msg *m = NULL;
        char err[256] = "";

        cr_assert_not_null(doc, "%s: %s", text, e.text);
        cr_assert_eq(ctl_json_to_msg(doc, type, 1, &m, err, sizeof(err)), -EINVAL, "%s accepted", text);
        cr_assert_null(m);
        cr_assert(strstr(err, want), "%s: \"%s\" lacks \"%s\"", text, err, want);
        json_decref(doc);
}

Test(ctl_json, requests_are_strict)
{
        refused(CTL_TYPE_ADD, "{\"path\": \"/x\", \"bogus\": 1}", "unknown key \"bogus\" for add");
        refused(CTL_TYPE_ADD, "{\"path\": \"/x\", \"roots\": []}", "unknown key \"roots\""); /* a REPLY key */
        refused(CTL_TYPE_ADD, "{\"excludes\": []}", "\"path\" is required for add");
        refused(CTL_TYPE_ADD, "{\"path\": 5}", "\"path\" must be a string, not an integer");
        refused(CTL_TYPE_ADD, "{\"path\": \"/x\", \"excludes\": \"*.tmp\"}", "must be an array");
        refused(CTL_TYPE_ADD, "{\"path\": \"/x\", \"excludes\": [1]}", "must be an array of a string");
        refused(CTL_TYPE_FORGET, "{\"keep_last\": -1}", "non-negative integer");
        refused(CTL_TYPE_FORGET, "{\"keep_last\": 1.5}", "not a number with a fraction");
        refused(CTL_TYPE_FORGET, "{\"keep_last\": \"3\"}", "not a string");
        refused(CTL_TYPE_FORGET, "{\"dry_run\": 1}", "must be a boolean");
        refused(CTL_TYPE_FORGET, "{\"dry_run\": null}", "not null");
        refused(CTL_TYPE_FORGET, "{\"snapshot\": \"a\\u0000b\"}", "NUL");
        refused(CTL_TYPE_FORGET, "[1, 2]", "must be a JSON object");
        refused(CTL_TYPE_FORGET, "\"forget\"", "must be a JSON object");
        refused(CTL_TYPE_RESULT, "{}", "not a request");
}

Test(ctl_json, no_body_is_an_empty_request)
{
        struct msg *m = NULL;
        char err[64];

        cr_assert_eq(ctl_json_to_msg(NULL, CTL_TYPE_STATUS, 1, &m, err, sizeof(err)), 0);
        cr_assert_eq(msg_type(m), CTL_TYPE_STATUS);
        msg_free(m);
        cr_assert_eq(ctl_json_to_msg(NULL, CTL_TYPE_REMOVE, 1, &m, err, sizeof(err)), -EINVAL);
}

Test(ctl_json, deep_and_huge_documents_do_not_crash)
{
        /* 10000 nested arrays as a value of a known key */
        size_t n = 10000;
        char *text = malloc(2 * n + 64);
        strcpy(text, "{\"excludes\": ");
        size_t k = strlen(text);
        for (size_t i = 0; i < n; i++)
                text[k++] = '[';
        for (size_t i = 0; i < n; i++)
                text[k++] = ']';
        strcpy(text + k, ", \"path\": \"/x\"}");
        json_error_t e;
        json_t *doc = json_loads(text, 0, &e); /* jansson refuses nesting past its own depth */
        if (doc) {
                struct msg *m = NULL;
                char err[128];
                cr_assert_lt(ctl_json_to_msg(doc, CTL_TYPE_ADD, 1, &m, err, sizeof(err)), 0);
                json_decref(doc);
        }
        free(text);
        /* many keys, all unknown */
        json_t *o = json_object();
        char key[32];
        for (int i = 0; i < 5000; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                json_object_set_new(o, key, json_integer(i));
        }
        struct msg *m = NULL;
        char err[128];
        cr_assert_eq(ctl_json_to_msg(o, CTL_TYPE_STATUS, 1, &m, err, sizeof(err)), -EINVAL);
        json_decref(o);
}

Test(ctl_json, writer_escapes)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        json_t *doc = json_object();

        json_object_set_new(doc, "path", json_stringn_nocheck("a\xff\"\n\xc3\xa9", 6));

        cr_assert_eq(ctl_json_write(f, doc, false), 0);
        fclose(f);
        cr_assert_str_eq(buf, "{\"path\":\"a\\udcff\\\"\\n\xc3\xa9\"}\n");
        free(buf);
        json_decref(doc);
}
