/* SPDX-License-Identifier: MIT */
/* The schema-driven message codec: builds bodies as libcbor items, writes
 * them as definite-length CBOR frames, and reads fields back from a message
 * (decoding of untrusted bodies is msg-decode.c). Never logs: the caller gets
 * a status and a sentence to send back or to print. */
#include "msg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor-check.h"
#include "cleanup.h"
#include "frame.h"
#include "msg-private.h"


/* ---- schema look-ups ---- */

const struct msg_type_def *msg_schema_type(const struct msg_schema *s, uint64_t number)
{
        for (size_t i = 0; i < s->n_types; i++)
                if (s->types[i].number == number)
                        return &s->types[i];
        return NULL;
}

const struct msg_key_def *msg_schema_key(const struct msg_schema *s, uint64_t number)
{
        for (size_t i = 0; i < s->n_keys; i++)
                if (s->keys[i].number == number)
                        return &s->keys[i];
        return NULL;
}

const struct msg_status_def *msg_schema_status(const struct msg_schema *s, uint64_t number)
{
        for (size_t i = 0; i < s->n_statuses; i++)
                if (s->statuses[i].number == number)
                        return &s->statuses[i];
        return NULL;
}

const struct msg_type_def *msg_schema_type_by_name(const struct msg_schema *s, const char *name)
{
        for (size_t i = 0; i < s->n_types; i++)
                if (strcmp(s->types[i].name, name) == 0)
                        return &s->types[i];
        return NULL;
}

const char *msg_type_name(const struct msg_schema *s, uint64_t type)
{
        const struct msg_type_def *t = msg_schema_type(s, type);

        return t ? t->name : NULL;
}

const char *msg_status_name(const struct msg_schema *s, uint64_t status)
{
        const struct msg_status_def *st = msg_schema_status(s, status);

        return st ? st->name : NULL;
}

const char *msg_value_name(enum msg_value v)
{
        static const char *const names[] = {
                [MSG_VALUE_ANY] = "any",     [MSG_VALUE_UINT] = "uint",
                [MSG_VALUE_INT] = "int",     [MSG_VALUE_TEXT] = "text",
                [MSG_VALUE_BYTES] = "bytes", [MSG_VALUE_BOOL] = "bool",
                [MSG_VALUE_ARRAY] = "array", [MSG_VALUE_MAP] = "map",
        };

        if ((size_t)v >= ELEMENTSOF(names))
                return "?";
        return names[v];
}

/* Is key declared for message type t (REQUIRED or OPTIONAL)? */
static bool schema_field_declared(const struct msg_schema *s, uint32_t t, uint32_t key)
{
        for (size_t i = 0; i < s->n_fields; i++)
                if (s->fields[i].type == t && s->fields[i].key == key &&
                    s->fields[i].presence != MSG_PRESENCE_REPLY)
                        return true;
        return false;
}

/* ---- building ---- */

struct msg *msg_new(const struct msg_schema *s, uint32_t type, uint64_t reqid)
{
        const struct msg_type_def *t = msg_schema_type(s, type);
        struct msg *m;

        if (!t)
                return NULL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->body = cbor_new_indefinite_map();
        if (!m->body) {
                free(m);
                return NULL;
        }
        m->schema = s;
        m->type = t;
        m->version = s->version;
        m->reqid = reqid;
        m->built = true;
        return m;
}

/* Overwrite the bytes of every text and byte string under item (msg-private.h). */
void msg_wipe_item(cbor_item_t *item)
{
        switch (cbor_typeof(item)) {
        case CBOR_TYPE_BYTESTRING:
                if (cbor_bytestring_is_definite(item)) {
                        if (cbor_bytestring_handle(item))
                                explicit_bzero(cbor_bytestring_handle(item), cbor_bytestring_length(item));
                } else {
                        for (size_t i = 0; i < cbor_bytestring_chunk_count(item); i++)
                                msg_wipe_item(cbor_bytestring_chunks_handle(item)[i]);
                }
                break;
        case CBOR_TYPE_STRING:
                if (cbor_string_is_definite(item)) {
                        if (cbor_string_handle(item))
                                explicit_bzero(cbor_string_handle(item), cbor_string_length(item));
                } else {
                        for (size_t i = 0; i < cbor_string_chunk_count(item); i++)
                                msg_wipe_item(cbor_string_chunks_handle(item)[i]);
                }
                break;
        case CBOR_TYPE_ARRAY:
                for (size_t i = 0; i < cbor_array_size(item); i++)
                        msg_wipe_item(cbor_array_handle(item)[i]);
                break;
        case CBOR_TYPE_MAP:
                for (size_t i = 0; i < cbor_map_size(item); i++) {
                        msg_wipe_item(cbor_map_handle(item)[i].key);
                        msg_wipe_item(cbor_map_handle(item)[i].value);
                }
                break;
        default:
                break;
        }
}

void msg_set_secret(struct msg *m)
{
        if (m)
                m->secret = true;
}

bool msg_is_secret(const struct msg *m)
{
        return m && m->secret;
}

void msg_free(struct msg *m)
{
        if (!m)
                return;
        if (m->body && m->secret)
                msg_wipe_item(m->body);
        if (m->body)
                cbor_decref(&m->body);
        free(m);
}

struct msg_map msg_body(struct msg *m)
{
        return (struct msg_map){
                .schema = m->schema,
                .item = m->body,
                .type = m->type,
        };
}

uint32_t msg_type(const struct msg *m)
{
        return m->type->number;
}

enum msg_kind msg_kind(const struct msg *m)
{
        return m->type->kind;
}

uint64_t msg_reqid(const struct msg *m)
{
        return m->reqid;
}

uint64_t msg_version(const struct msg *m)
{
        return m->version;
}

const struct msg_schema *msg_schema(const struct msg *m)
{
        return m->schema;
}

/* May key be set on map with a value of type want (element: of an array item)? */
static int map_check_set(const struct msg_map *map, uint32_t key, enum msg_value want,
                         bool element, const struct msg_key_def **ret)
{
        const struct msg_key_def *kd;

        if (!map->item || !cbor_isa_map(map->item) || !cbor_map_is_indefinite(map->item))
                return -EINVAL; /* not a map being built */
        kd = msg_schema_key(map->schema, key);
        if (!kd)
                return -EINVAL;
        if (element) {
                if (kd->type != MSG_VALUE_ARRAY ||
                    (kd->element != want && kd->element != MSG_VALUE_ANY))
                        return -EINVAL;
        } else if (kd->type != want) {
                return -EINVAL;
        }
        if (map->type && map->type->kind != MSG_KIND_RESULT &&
            !schema_field_declared(map->schema, map->type->number, key))
                return -EINVAL;
        if (ret)
                *ret = kd;
        return 0;
}

static struct cbor_pair *map_find_pair(cbor_item_t *map, uint32_t key)
{
        struct cbor_pair *pairs = cbor_map_handle(map);
        size_t n = cbor_map_size(map);

        for (size_t i = 0; i < n; i++)
                if (cbor_isa_uint(pairs[i].key) && cbor_get_int(pairs[i].key) == key)
                        return &pairs[i];
        return NULL;
}

/* Put value (our reference is consumed, also on failure) under key. */
static int map_put(cbor_item_t *map, uint32_t key, cbor_item_t *value)
{
        struct cbor_pair *p;
        cbor_item_t *k;
        bool ok;

        if (!value)
                return -ENOMEM;
        p = map_find_pair(map, key);
        if (p) {
                cbor_decref(&p->value);
                p->value = value;
                return 0;
        }
        k = cbor_build_uint32(key);
        if (!k) {
                cbor_decref(&value);
                return -ENOMEM;
        }
        ok = cbor_map_add(map, (struct cbor_pair){ .key = k, .value = value });
        cbor_decref(&k);
        cbor_decref(&value);
        return ok ? 0 : -ENOMEM;
}

static int map_set(struct msg_map *map, uint32_t key, enum msg_value type, cbor_item_t *value)
{
        int r = map_check_set(map, key, type, false, NULL);

        if (r < 0) {
                if (value)
                        cbor_decref(&value);
                return r;
        }
        return map_put(map->item, key, value);
}

int msg_map_set_uint(struct msg_map *map, uint32_t key, uint64_t value)
{
        return map_set(map, key, MSG_VALUE_UINT, cbor_build_uint64(value));
}

int msg_map_set_int(struct msg_map *map, uint32_t key, int64_t value)
{
        cbor_item_t *v;

        if (value >= 0)
                v = cbor_build_uint64((uint64_t)value);
        else
                v = cbor_build_negint64((uint64_t)(-1 - value));
        return map_set(map, key, MSG_VALUE_INT, v);
}

int msg_map_set_bool(struct msg_map *map, uint32_t key, bool value)
{
        return map_set(map, key, MSG_VALUE_BOOL, cbor_build_bool(value));
}

int msg_map_set_text(struct msg_map *map, uint32_t key, const char *value)
{
        return msg_map_set_textn(map, key, value, strlen(value));
}

int msg_map_set_textn(struct msg_map *map, uint32_t key, const char *value, size_t len)
{
        return map_set(map, key, MSG_VALUE_TEXT, cbor_build_stringn(value, len));
}

int msg_map_set_bytes(struct msg_map *map, uint32_t key, const void *value, size_t len)
{
        return map_set(map, key, MSG_VALUE_BYTES, cbor_build_bytestring(value, len));
}

/* The array under key, created on first use; borrowed. */
static int map_array(struct msg_map *map, uint32_t key, enum msg_value element,
                     cbor_item_t **ret)
{
        struct cbor_pair *p;
        cbor_item_t *a;
        int r;

        r = map_check_set(map, key, element, true, NULL);
        if (r < 0)
                return r;
        p = map_find_pair(map->item, key);
        if (p) {
                if (!cbor_isa_array(p->value) || !cbor_array_is_indefinite(p->value))
                        return -EINVAL;
                *ret = p->value;
                return 0;
        }
        a = cbor_new_indefinite_array();
        if (!a)
                return -ENOMEM;
        r = map_put(map->item, key, cbor_incref(a));
        if (r >= 0)
                *ret = a;
        cbor_decref(&a); /* the map holds it now (or it is gone) */
        return r;
}

/* Push value (our reference consumed) onto the array under key. */
static int map_append(struct msg_map *map, uint32_t key, enum msg_value element,
                      cbor_item_t *value)
{
        cbor_item_t *a;
        bool ok;
        int r;

        if (!value)
                return -ENOMEM;
        r = map_array(map, key, element, &a);
        if (r < 0) {
                cbor_decref(&value);
                return r;
        }
        ok = cbor_array_push(a, value);
        cbor_decref(&value);
        return ok ? 0 : -ENOMEM;
}

int msg_map_append_map(struct msg_map *map, uint32_t key, struct msg_map *ret_child)
{
        cbor_item_t *child = cbor_new_indefinite_map();
        int r;

        if (!child)
                return -ENOMEM;
        r = map_append(map, key, MSG_VALUE_MAP, cbor_incref(child));
        if (r >= 0)
                *ret_child = (struct msg_map){ .schema = map->schema, .item = child };
        cbor_decref(&child); /* the array holds it now (or it is gone) */
        return r;
}

int msg_map_append_text(struct msg_map *map, uint32_t key, const char *value)
{
        return map_append(map, key, MSG_VALUE_TEXT, cbor_build_string(value));
}

int msg_map_append_bytes(struct msg_map *map, uint32_t key, const void *value, size_t len)
{
        return map_append(map, key, MSG_VALUE_BYTES, cbor_build_bytestring(value, len));
}

int msg_map_append_uint(struct msg_map *map, uint32_t key, uint64_t value)
{
        return map_append(map, key, MSG_VALUE_UINT, cbor_build_uint64(value));
}

struct msg *msg_new_error(const struct msg_schema *s, uint64_t reqid, uint32_t status,
                          const char *message)
{
        struct msg *m = msg_new(s, s->type_error, reqid);
        struct msg_map body;

        if (!m)
                return NULL;
        if (!message)
                message = msg_status_name(s, status) ?: "error";
        /* the text often names a path (any bytes) or was cut short: made
         * valid UTF-8, or the receiver's strict decoder refuses the frame */
        _cleanup_free_ char *text = strdup(message);
        if (!text) {
                msg_free(m);
                return NULL;
        }
        cbor_check_utf8_repair(text);
        body = msg_body(m);
        if (msg_map_set_uint(&body, s->key_status, status) < 0 ||
            msg_map_set_text(&body, s->key_message, text) < 0 ||
            (status == s->status_unsupported_version &&
             msg_map_set_uint(&body, s->key_protocol, s->version) < 0)) {
                msg_free(m);
                return NULL;
        }
        return m;
}

struct msg *msg_new_decode_error(const struct msg_schema *s, const struct msg_error *e)
{
        return msg_new_error(s, e->have_reqid ? e->reqid : 0, e->status, e->text);
}

/* ---- encoding ---- */

struct writer {
        uint8_t *buf;
        size_t len;
        size_t cap;
        size_t max; /* whole frame */
};

static int writer_reserve(struct writer *w, size_t n)
{
        size_t cap;
        uint8_t *p;

        if (n > w->max || w->len > w->max - n)
                return -EMSGSIZE;
        if (w->len + n <= w->cap)
                return 0;
        cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
                cap *= 2;
        if (cap > w->max)
                cap = w->max;
        p = realloc(w->buf, cap);
        if (!p)
                return -ENOMEM;
        w->buf = p;
        w->cap = cap;
        return 0;
}

/* Append a CBOR head of at most 9 bytes written by encode. */
#define WRITE_HEAD(w, encode, ...)                                                       \
        ({                                                                               \
                int _r = writer_reserve((w), 9);                                         \
                if (_r >= 0)                                                             \
                        (w)->len += encode(__VA_ARGS__, (w)->buf + (w)->len, 9);         \
                _r;                                                                      \
        })

static int writer_put_string(struct writer *w, const void *p, size_t n)
{
        int r = writer_reserve(w, n);

        if (r < 0)
                return r;
        if (n > 0)
                memcpy(w->buf + w->len, p, n);
        w->len += n;
        return 0;
}

/* Write item with definite lengths and shortest integer heads. */
static int writer_put_item(struct writer *w, const cbor_item_t *item)
{
        int r;

        switch (cbor_typeof(item)) {
        case CBOR_TYPE_UINT:
                return WRITE_HEAD(w, cbor_encode_uint, cbor_get_int(item));
        case CBOR_TYPE_NEGINT:
                return WRITE_HEAD(w, cbor_encode_negint, cbor_get_int(item));
        case CBOR_TYPE_BYTESTRING:
                if (!cbor_bytestring_is_definite(item))
                        return -EINVAL;
                r = WRITE_HEAD(w, cbor_encode_bytestring_start, cbor_bytestring_length(item));
                if (r < 0)
                        return r;
                return writer_put_string(w, cbor_bytestring_handle(item),
                                         cbor_bytestring_length(item));
        case CBOR_TYPE_STRING:
                if (!cbor_string_is_definite(item))
                        return -EINVAL;
                r = WRITE_HEAD(w, cbor_encode_string_start, cbor_string_length(item));
                if (r < 0)
                        return r;
                return writer_put_string(w, cbor_string_handle(item),
                                         cbor_string_length(item));
        case CBOR_TYPE_ARRAY: {
                cbor_item_t **items = cbor_array_handle(item);
                size_t n = cbor_array_size(item);

                r = WRITE_HEAD(w, cbor_encode_array_start, n);
                for (size_t i = 0; r >= 0 && i < n; i++)
                        r = writer_put_item(w, items[i]);
                return r;
        }
        case CBOR_TYPE_MAP: {
                struct cbor_pair *pairs = cbor_map_handle(item);
                size_t n = cbor_map_size(item);

                r = WRITE_HEAD(w, cbor_encode_map_start, n);
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        r = writer_put_item(w, pairs[i].key);
                        if (r >= 0)
                                r = writer_put_item(w, pairs[i].value);
                }
                return r;
        }
        case CBOR_TYPE_FLOAT_CTRL:
                if (!cbor_float_ctrl_is_ctrl(item))
                        return -EINVAL;
                return WRITE_HEAD(w, cbor_encode_ctrl, cbor_ctrl_value(item));
        default:
                return -EINVAL; /* tags: no schema uses them */
        }
}

int msg_encode(const struct msg *m, uint8_t **ret_buf, size_t *ret_len)
{
        const struct msg_schema *s = m->schema;
        struct writer w = { .max = FRAME_HEADER_SIZE + s->max_body };
        int r;

        if (m->type->kind != MSG_KIND_RESULT)
                for (size_t i = 0; i < s->n_fields; i++)
                        if (s->fields[i].type == m->type->number &&
                            s->fields[i].presence == MSG_PRESENCE_REQUIRED &&
                            !cbor_check_map_find(m->body, s->fields[i].key))
                                return -EINVAL;

        r = writer_reserve(&w, FRAME_HEADER_SIZE);
        if (r < 0)
                goto fail;
        w.len = FRAME_HEADER_SIZE;
        r = WRITE_HEAD(&w, cbor_encode_array_start, 4);
        if (r >= 0)
                r = WRITE_HEAD(&w, cbor_encode_uint, m->version);
        if (r >= 0)
                r = WRITE_HEAD(&w, cbor_encode_uint, m->type->number);
        if (r >= 0)
                r = WRITE_HEAD(&w, cbor_encode_uint, m->reqid);
        if (r >= 0)
                r = writer_put_item(&w, m->body);
        if (r < 0)
                goto fail;
        frame_encode_header((uint32_t)(w.len - FRAME_HEADER_SIZE), w.buf);
        *ret_buf = w.buf;
        *ret_len = w.len;
        return 0;
fail:
        free(w.buf);
        return r;
}

/* ---- getters ---- */

static int map_value(const struct msg_map *map, uint32_t key, cbor_item_t **ret)
{
        *ret = cbor_check_map_find(map->item, key);
        return *ret ? 0 : -ENOENT;
}

int msg_map_get_uint(const struct msg_map *map, uint32_t key, uint64_t *ret)
{
        return cbor_check_map_get_uint(map->item, key, ret);
}

int msg_map_get_int(const struct msg_map *map, uint32_t key, int64_t *ret)
{
        return cbor_check_map_get_int(map->item, key, ret);
}

int msg_map_get_bool(const struct msg_map *map, uint32_t key, bool *ret)
{
        return cbor_check_map_get_bool(map->item, key, ret);
}

static int item_text(const cbor_item_t *v, const char **ret, size_t *ret_len)
{
        if (!cbor_isa_string(v) || !cbor_string_is_definite(v))
                return -EBADMSG;
        *ret = (const char *)cbor_string_handle(v);
        *ret_len = cbor_string_length(v);
        return 0;
}

int msg_map_get_text(const struct msg_map *map, uint32_t key, const char **ret, size_t *ret_len)
{
        cbor_item_t *v;
        int r = map_value(map, key, &v);

        return r < 0 ? r : item_text(v, ret, ret_len);
}

int msg_map_get_text_dup(const struct msg_map *map, uint32_t key, char **ret)
{
        return cbor_check_map_get_string(map->item, key, SIZE_MAX - 1, ret);
}

int msg_map_get_bytes(const struct msg_map *map, uint32_t key, const uint8_t **ret,
                      size_t *ret_len)
{
        return cbor_check_map_get_bytes(map->item, key, SIZE_MAX, ret, ret_len);
}

int msg_map_get_count(const struct msg_map *map, uint32_t key, size_t *ret)
{
        cbor_item_t *v;
        int r = map_value(map, key, &v);

        if (r < 0)
                return r;
        if (!cbor_isa_array(v))
                return -EBADMSG;
        *ret = cbor_array_size(v);
        return 0;
}

/* Item index of the array under key, borrowed. */
static int map_item_at(const struct msg_map *map, uint32_t key, size_t index, cbor_item_t **ret)
{
        cbor_item_t *v;
        int r = map_value(map, key, &v);

        if (r < 0)
                return r;
        if (!cbor_isa_array(v))
                return -EBADMSG;
        if (index >= cbor_array_size(v))
                return -ENOENT;
        *ret = cbor_array_handle(v)[index];
        return 0;
}

int msg_map_get_map_at(const struct msg_map *map, uint32_t key, size_t index,
                       struct msg_map *ret)
{
        cbor_item_t *v;
        int r = map_item_at(map, key, index, &v);

        if (r < 0)
                return r;
        if (!cbor_isa_map(v))
                return -EBADMSG;
        *ret = (struct msg_map){ .schema = map->schema, .item = v };
        return 0;
}

int msg_map_get_text_at(const struct msg_map *map, uint32_t key, size_t index, const char **ret,
                        size_t *ret_len)
{
        cbor_item_t *v;
        int r = map_item_at(map, key, index, &v);

        return r < 0 ? r : item_text(v, ret, ret_len);
}

int msg_map_get_bytes_at(const struct msg_map *map, uint32_t key, size_t index,
                         const uint8_t **ret, size_t *ret_len)
{
        cbor_item_t *v;
        int r = map_item_at(map, key, index, &v);

        return r < 0 ? r : cbor_check_get_bytes(v, SIZE_MAX, ret, ret_len);
}

int msg_map_get_uint_at(const struct msg_map *map, uint32_t key, size_t index, uint64_t *ret)
{
        cbor_item_t *v;
        int r = map_item_at(map, key, index, &v);

        return r < 0 ? r : cbor_check_get_uint(v, ret);
}

cbor_item_t *msg_map_get_item(const struct msg_map *map, uint32_t key)
{
        return cbor_check_map_find(map->item, key);
}
