/* SPDX-License-Identifier: MIT */
/* Control messages <-> JSON by the names and types of proto/ctl.def, and
 * the JSON text writer (see ctl-json.h). The one place that decides how a
 * control key looks in JSON: chutectl --json and the HTTP API both call it. */
#include "ctl-json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "hex.h"

#define NSEC_PER_SEC INT64_C(1000000000)
#define CTL_JSON_DEPTH_MAX 4

enum ctl_json_form { FORM_PLAIN, FORM_HEX, FORM_TIME };

static enum ctl_json_form key_form(uint32_t key)
{
        switch (key) {
#define CTL_JSON(k, form) case CTL_KEY_##k: return FORM_##form;
#include "ctl.def"
        default:
                return FORM_PLAIN;
        }
}

bool ctl_json_key_is_time(uint32_t key)
{
        return key_form(key) == FORM_TIME;
}

static const struct msg_key_def *key_by_name(const char *name)
{
        for (size_t i = 0; i < ctl_schema.n_keys; i++)
                if (!strcmp(ctl_schema.keys[i].name, name))
                        return &ctl_schema.keys[i];
        return NULL;
}

/* ---- times and hex ---- */

static void format_time(int64_t ns, char buf[48])
{
        int64_t sec = ns / NSEC_PER_SEC, rem = ns % NSEC_PER_SEC;
        struct tm tm;
        char base[32];

        if (rem < 0) {
                rem += NSEC_PER_SEC;
                sec--;
        }
        time_t t = (time_t)sec;
        if (!gmtime_r(&t, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
                snprintf(base, sizeof(base), "1970-01-01T00:00:00");
        snprintf(buf, 48, "%s.%09ldZ", base, (long)rem);
}

int ctl_json_parse_time(const char *s, int64_t *ret)
{
        struct tm tm = {0};
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        int64_t frac = 0, offset = 0;

        if (!p)
                return -EINVAL;
        if (*p == '.') {
                int digits = 0;
                for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                        if (digits < 9)
                                frac = frac * 10 + (*p - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 9; digits++)
                        frac *= 10;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '2' && p[3] == ':') {
                int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');
                if (p[2] < '0' || p[2] > '9' || p[4] < '0' || p[4] > '5' || p[5] < '0' || p[5] > '9' || h > 23)
                        return -EINVAL;
                offset = (int64_t)(h * 3600 + m * 60) * (*p == '+' ? 1 : -1);
                p += 6;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        time_t t = timegm(&tm);
        *ret = ((int64_t)t - offset) * NSEC_PER_SEC + frac;
        return 0;
}

static json_t *hex_string(const uint8_t *p, size_t len)
{
        _cleanup_free_ char *s = malloc(len * 2 + 1);

        if (!s)
                return NULL;
        hex_encode(p, len, s);
        return json_string(s);
}

/* ---- messages to JSON ---- */

static json_t *scalar_json(const struct msg_key_def *kd, enum msg_value type, const struct msg_map *map,
                           size_t index, bool item)
{
        uint64_t u;
        int64_t i;
        bool b;
        const char *t;
        const uint8_t *p;
        size_t len;
        char buf[48];
        int k;

        switch (type) {
        case MSG_VALUE_UINT:
                k = item ? msg_map_get_uint_at(map, kd->number, index, &u) : msg_map_get_uint(map, kd->number, &u);
                return k < 0 ? NULL : json_integer(u > INT64_MAX ? INT64_MAX : (json_int_t)u);
        case MSG_VALUE_INT:
                if (item || msg_map_get_int(map, kd->number, &i) < 0)
                        return NULL;
                if (key_form(kd->number) == FORM_TIME) {
                        format_time(i, buf);
                        return json_string(buf);
                }
                return json_integer((json_int_t)i);
        case MSG_VALUE_BOOL:
                if (item || msg_map_get_bool(map, kd->number, &b) < 0)
                        return NULL;
                return json_boolean(b);
        case MSG_VALUE_TEXT:
                k = item ? msg_map_get_text_at(map, kd->number, index, &t, &len)
                         : msg_map_get_text(map, kd->number, &t, &len);
                return k < 0 ? NULL : json_stringn_nocheck(len ? t : "", len);
        case MSG_VALUE_BYTES:
                k = item ? msg_map_get_bytes_at(map, kd->number, index, &p, &len)
                         : msg_map_get_bytes(map, kd->number, &p, &len);
                if (k < 0)
                        return NULL;
                if (key_form(kd->number) == FORM_HEX)
                        return hex_string(p, len);
                return json_stringn_nocheck(len ? (const char *)p : "", len);
        default:
                return NULL;
        }
}

static json_t *from_map(const struct msg_map *map, int depth);

static json_t *key_json(const struct msg_map *map, const struct msg_key_def *kd, int depth)
{
        if (kd->type != MSG_VALUE_ARRAY && kd->type != MSG_VALUE_MAP)
                return scalar_json(kd, kd->type, map, 0, false);
        if (depth >= CTL_JSON_DEPTH_MAX)
                return NULL;
        if (kd->type == MSG_VALUE_MAP) {
                cbor_item_t *v = msg_map_get_item(map, kd->number);
                if (!v || !cbor_isa_map(v))
                        return NULL;
                struct msg_map child = { .schema = map->schema, .item = v };
                return from_map(&child, depth + 1);
        }
        size_t n;
        if (msg_map_get_count(map, kd->number, &n) < 0)
                return NULL;
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
                json_t *v = NULL;
                if (kd->element == MSG_VALUE_MAP) {
                        struct msg_map child;
                        if (msg_map_get_map_at(map, kd->number, i, &child) >= 0)
                                v = from_map(&child, depth + 1);
                } else
                        v = scalar_json(kd, kd->element, map, i, true);
                if (v && json_array_append_new(arr, v) < 0) {
                        json_decref(arr);
                        return NULL;
                }
        }
        return arr;
}

static json_t *from_map(const struct msg_map *map, int depth)
{
        json_t *o = json_object();

        if (!o || !map->item || !cbor_isa_map(map->item))
                return o;
        struct cbor_pair *pairs = cbor_map_handle(map->item);
        for (size_t i = 0; i < cbor_map_size(map->item); i++) {
                if (!cbor_isa_uint(pairs[i].key))
                        continue;
                const struct msg_key_def *kd = msg_schema_key(map->schema, cbor_get_int(pairs[i].key));
                if (!kd)
                        continue; /* a newer peer's key */
                json_t *v = key_json(map, kd, depth);
                if (v && json_object_set_new(o, kd->name, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

json_t *ctl_json_from_map(const struct msg_map *map)
{
        return from_map(map, 0);
}

int ctl_json_set_key(json_t *o, const struct msg_map *map, uint32_t key)
{
        const struct msg_key_def *kd = msg_schema_key(map->schema, key);

        if (!kd)
                return -EINVAL;
        if (!msg_map_get_item(map, key))
                return 0;
        json_t *v = key_json(map, kd, 0);
        if (!v)
                return -ENOMEM;
        return json_object_set_new(o, kd->name, v) < 0 ? -ENOMEM : 0;
}

json_t *ctl_json_from_msg(struct msg *m)
{
        struct msg_map body = msg_body(m);

        if (msg_type(m) == CTL_TYPE_ERROR) {
                uint64_t status = CTL_STATUS_INTERNAL;
                const char *text = "", *id;
                size_t len = 0;
                msg_map_get_uint(&body, CTL_KEY_STATUS, &status);
                msg_map_get_text(&body, CTL_KEY_MESSAGE, &text, &len);
                id = ctl_status_id((uint32_t)status);
                return json_pack("{s:s, s:s%}", "error", id ? id : "internal", "message", len ? text : "", len);
        }
        return from_map(&body, 0);
}

json_t *ctl_json_from_result(struct msg *m, uint32_t request)
{
        json_t *o = ctl_json_from_msg(m);

        if (!o || msg_type(m) == CTL_TYPE_ERROR)
                return o;
        for (size_t i = 0; i < ctl_schema.n_fields; i++) {
                const struct msg_field_def *f = &ctl_schema.fields[i];
                const struct msg_key_def *kd = msg_schema_key(&ctl_schema, f->key);
                if (f->type == request && f->presence == MSG_PRESENCE_REPLY && kd->type == MSG_VALUE_ARRAY &&
                    !json_object_get(o, kd->name))
                        json_object_set_new(o, kd->name, json_array());
        }
        return o;
}

/* ---- JSON to messages ---- */

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (err && errlen)
                vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static const char *json_type_name(const json_t *v)
{
        switch (json_typeof(v)) {
        case JSON_OBJECT: return "an object";
        case JSON_ARRAY: return "an array";
        case JSON_STRING: return "a string";
        case JSON_INTEGER: return "an integer";
        case JSON_REAL: return "a number with a fraction";
        case JSON_TRUE:
        case JSON_FALSE: return "a boolean";
        default: return "null";
        }
}

static const char *want_name(const struct msg_key_def *kd, enum msg_value type)
{
        switch (type) {
        case MSG_VALUE_UINT: return "a non-negative integer";
        case MSG_VALUE_INT: return key_form(kd->number) == FORM_TIME ? "an RFC 3339 time" : "an integer";
        case MSG_VALUE_BOOL: return "a boolean";
        case MSG_VALUE_TEXT: return "a string";
        case MSG_VALUE_BYTES: return key_form(kd->number) == FORM_HEX ? "a hex string" : "a string";
        case MSG_VALUE_ARRAY: return "an array";
        case MSG_VALUE_MAP: return "an object";
        default: return "a value";
        }
}

static int to_map(struct msg_map *map, const json_t *obj, uint32_t type, int depth, char *err, size_t errlen);

/* Set (or, with append, append to the array of) key from the JSON value v. */
static int set_value(struct msg_map *map, const struct msg_key_def *kd, enum msg_value type, bool append,
                     const json_t *v, int depth, char *err, size_t errlen)
{
        const char *name = kd->name;
        int k;

        switch (type) {
        case MSG_VALUE_UINT:
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        goto wrong;
                k = append ? msg_map_append_uint(map, kd->number, (uint64_t)json_integer_value(v))
                           : msg_map_set_uint(map, kd->number, (uint64_t)json_integer_value(v));
                break;
        case MSG_VALUE_INT:
                if (key_form(kd->number) == FORM_TIME) {
                        int64_t ns;
                        if (!json_is_string(v) || ctl_json_parse_time(json_string_value(v), &ns) < 0)
                                goto wrong;
                        k = msg_map_set_int(map, kd->number, ns);
                } else {
                        if (!json_is_integer(v))
                                goto wrong;
                        k = msg_map_set_int(map, kd->number, json_integer_value(v));
                }
                break;
        case MSG_VALUE_BOOL:
                if (!json_is_boolean(v))
                        goto wrong;
                k = msg_map_set_bool(map, kd->number, json_is_true(v));
                break;
        case MSG_VALUE_TEXT:
                if (!json_is_string(v))
                        goto wrong;
                if (strlen(json_string_value(v)) != json_string_length(v))
                        return bad(err, errlen, "\"%s\" must not hold a NUL character", name);
                k = append ? msg_map_append_text(map, kd->number, json_string_value(v))
                           : msg_map_set_textn(map, kd->number, json_string_value(v), json_string_length(v));
                break;
        case MSG_VALUE_BYTES: {
                if (!json_is_string(v))
                        goto wrong;
                const char *s = json_string_value(v);
                size_t len = json_string_length(v);
                if (key_form(kd->number) == FORM_HEX) {
                        if (len % 2)
                                goto wrong;
                        _cleanup_free_ uint8_t *buf = malloc(len / 2 + 1);
                        if (!buf)
                                return -ENOMEM;
                        if (hex_decode(s, len, buf) < 0)
                                goto wrong;
                        k = append ? msg_map_append_bytes(map, kd->number, buf, len / 2)
                                   : msg_map_set_bytes(map, kd->number, buf, len / 2);
                } else
                        k = append ? msg_map_append_bytes(map, kd->number, s, len)
                                   : msg_map_set_bytes(map, kd->number, s, len);
                break;
        }
        case MSG_VALUE_MAP: {
                if (!json_is_object(v))
                        goto wrong;
                if (!append)
                        return bad(err, errlen, "\"%s\": nested objects are not accepted in requests", name);
                struct msg_map child;
                k = msg_map_append_map(map, kd->number, &child);
                if (k >= 0)
                        k = to_map(&child, v, 0, depth + 1, err, errlen);
                return k;
        }
        case MSG_VALUE_ARRAY: {
                size_t i;
                json_t *item;
                if (!json_is_array(v))
                        goto wrong;
                if (depth >= CTL_JSON_DEPTH_MAX)
                        return bad(err, errlen, "\"%s\" is nested too deeply", name);
                /* an empty array is the key left out: the same to every handler */
                json_array_foreach(v, i, item) {
                        k = set_value(map, kd, kd->element, true, item, depth + 1, err, errlen);
                        if (k < 0)
                                return k;
                }
                return 0;
        }
        default:
                goto wrong;
        }
        if (k == -EINVAL)
                return bad(err, errlen, "\"%s\" is not accepted here", name);
        return k;
wrong:
        return bad(err, errlen, "\"%s\" must be %s%s, not %s", name, append ? "an array of " : "",
                   want_name(kd, type), json_type_name(v));
}

static bool declared(uint32_t type, uint32_t key)
{
        for (size_t i = 0; i < ctl_schema.n_fields; i++)
                if (ctl_schema.fields[i].type == type && ctl_schema.fields[i].key == key &&
                    ctl_schema.fields[i].presence != MSG_PRESENCE_REPLY)
                        return true;
        return false;
}

static int to_map(struct msg_map *map, const json_t *obj, uint32_t type, int depth, char *err, size_t errlen)
{
        const char *name;
        json_t *v;

        json_object_foreach((json_t *)obj, name, v) {
                const struct msg_key_def *kd = key_by_name(name);
                if (!kd || (depth == 0 && !declared(type, kd->number)))
                        return bad(err, errlen, "unknown key \"%s\" for %s", name,
                                   depth == 0 ? ctl_type_name(type) : "this object");
                int k = set_value(map, kd, kd->type, false, v, depth, err, errlen);
                if (k < 0)
                        return k;
        }
        return 0;
}

int ctl_json_to_msg(const json_t *body, uint32_t type, uint64_t reqid, struct msg **ret, char *err,
                    size_t errlen)
{
        const struct msg_type_def *td = msg_schema_type(&ctl_schema, type);

        if (!td || td->kind != MSG_KIND_REQUEST)
                return bad(err, errlen, "not a request type");
        if (body && !json_is_object(body))
                return bad(err, errlen, "the body must be a JSON object, not %s", json_type_name(body));
        _cleanup_(msg_freep) struct msg *m = ctl_msg_new(type, reqid);
        if (!m)
                return -ENOMEM;
        struct msg_map b = msg_body(m);
        if (body) {
                int k = to_map(&b, body, type, 0, err, errlen);
                if (k < 0)
                        return k;
        }
        for (size_t i = 0; i < ctl_schema.n_fields; i++) {
                const struct msg_field_def *f = &ctl_schema.fields[i];
                if (f->type == type && f->presence == MSG_PRESENCE_REQUIRED && !msg_map_get_item(&b, f->key))
                        return bad(err, errlen, "\"%s\" is required for %s", msg_schema_key(&ctl_schema, f->key)->name,
                                   td->name);
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- JSON text ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s[0] starts none. */
static size_t utf8_valid(const unsigned char *s, size_t len)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t need;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
                need = 2;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                need = 3;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else
                return 0;
        if (len < need + 1 || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i <= need; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return need + 1;
}

int ctl_json_write_string(FILE *f, const char *str, size_t len)
{
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0;

        fputc('"', f);
        while (i < len) {
                unsigned char c = s[i];
                size_t n = utf8_valid(s + i, len - i);

                if (n == 0) {
                        fprintf(f, "\\udc%02x", c);
                        i++;
                        continue;
                }
                if (n > 1) {
                        fwrite(s + i, 1, n, f);
                        i += n;
                        continue;
                }
                switch (c) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\b': fputs("\\b", f); break;
                case '\f': fputs("\\f", f); break;
                case '\n': fputs("\\n", f); break;
                case '\r': fputs("\\r", f); break;
                case '\t': fputs("\\t", f); break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                fprintf(f, "\\u%04x", c);
                        else
                                fputc(c, f);
                }
                i++;
        }
        fputc('"', f);
        return ferror(f) ? -EIO : 0;
}

static void newline(FILE *f, int depth, bool pretty)
{
        if (!pretty)
                return;
        fputc('\n', f);
        for (int i = 0; i < depth; i++)
                fputs("  ", f);
}

static void write_value(FILE *f, const json_t *v, int depth, bool pretty)
{
        size_t i, n;
        const char *key;
        json_t *item;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                if (json_object_size(v) == 0) {
                        fputs("{}", f);
                        break;
                }
                fputc('{', f);
                n = 0;
                json_object_foreach((json_t *)v, key, item) {
                        if (n++)
                                fputc(',', f);
                        newline(f, depth + 1, pretty);
                        ctl_json_write_string(f, key, strlen(key));
                        fputs(pretty ? ": " : ":", f);
                        write_value(f, item, depth + 1, pretty);
                }
                newline(f, depth, pretty);
                fputc('}', f);
                break;
        case JSON_ARRAY:
                if (json_array_size(v) == 0) {
                        fputs("[]", f);
                        break;
                }
                fputc('[', f);
                json_array_foreach(v, i, item) {
                        if (i)
                                fputc(',', f);
                        newline(f, depth + 1, pretty);
                        write_value(f, item, depth + 1, pretty);
                }
                newline(f, depth, pretty);
                fputc(']', f);
                break;
        case JSON_STRING:
                ctl_json_write_string(f, json_string_value(v), json_string_length(v));
                break;
        case JSON_INTEGER:
                fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                break;
        case JSON_REAL:
                fprintf(f, "%.17g", json_real_value(v));
                break;
        case JSON_TRUE:
                fputs("true", f);
                break;
        case JSON_FALSE:
                fputs("false", f);
                break;
        case JSON_NULL:
                fputs("null", f);
                break;
        }
}

int ctl_json_write(FILE *f, const json_t *doc, bool pretty)
{
        if (!doc)
                return -ENOMEM;
        write_value(f, doc, 0, pretty);
        fputc('\n', f);
        return ferror(f) ? -EIO : 0;
}

int ctl_json_dump(const json_t *doc, char **ret, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        int k = ctl_json_write(f, doc, false);
        if (fclose(f) != 0 && k >= 0)
                k = -ENOMEM;
        if (k < 0) {
                free(buf);
                return k;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
