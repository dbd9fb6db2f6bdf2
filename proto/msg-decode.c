/* SPDX-License-Identifier: MIT */
/* Strict decoding of untrusted message bodies: the size limit, then
 * common/cbor-check (lengths, depth, trailing bytes checked before libcbor
 * allocates), then the envelope and every field against the schema tables.
 * Never logs: a refusal carries a status and a sentence for the reply. */
#include "msg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor-check.h"
#include "cleanup.h"
#include "msg-private.h"

__attribute__((format(printf, 4, 5))) static int decode_fail(struct msg_error *e, int r, uint32_t status,
                                        const char *fmt, ...)
{
        va_list ap;

        e->status = status;
        va_start(ap, fmt);
        vsnprintf(e->text, sizeof(e->text), fmt, ap);
        va_end(ap);
        return r;
}

/* Best effort on a body the strict decoder refuses: if it starts like an
 * envelope, the request id, so the error reply can name the request. */
static void salvage_reqid(const uint8_t *buf, size_t len, struct msg_error *e)
{
        struct cbor_check_reader r;
        uint64_t n, reqid;

        cbor_check_reader_init(&r, buf, len);
        if (cbor_check_read_array(&r, &n) < 0 || n != 4 || cbor_check_skip(&r) < 0 ||
            cbor_check_skip(&r) < 0 || cbor_check_read_uint(&r, &reqid) < 0)
                return;
        e->have_reqid = true;
        e->reqid = reqid;
}

static int check_map(const struct msg_schema *s, const cbor_item_t *map, struct msg_error *e);

/* Does item have CBOR type want (recursing into arrays and maps)? */
static int check_value(const struct msg_schema *s, const struct msg_key_def *kd,
                       enum msg_value want, enum msg_value element, const cbor_item_t *item,
                       struct msg_error *e)
{
        bool ok;
        bool b;
        int64_t i;
        int r;

        switch (want) {
        case MSG_VALUE_ANY:
                return 0;
        case MSG_VALUE_UINT:
                ok = cbor_isa_uint(item);
                break;
        case MSG_VALUE_INT:
                ok = cbor_check_get_int(item, &i) >= 0;
                break;
        case MSG_VALUE_BOOL:
                ok = cbor_check_get_bool(item, &b) >= 0;
                break;
        case MSG_VALUE_BYTES:
                ok = cbor_isa_bytestring(item) && cbor_bytestring_is_definite(item);
                break;
        case MSG_VALUE_TEXT:
                /* UTF-8 is checked for every text by cbor_check_load */
                ok = cbor_isa_string(item) && cbor_string_is_definite(item);
                break;
        case MSG_VALUE_ARRAY:
                ok = cbor_isa_array(item) && cbor_array_is_definite(item);
                if (!ok)
                        break;
                for (size_t j = 0; j < cbor_array_size(item); j++) {
                        r = check_value(s, kd, element, MSG_VALUE_ANY, cbor_array_handle(item)[j],
                                        e);
                        if (r < 0)
                                return r;
                }
                return 0;
        case MSG_VALUE_MAP:
                ok = cbor_isa_map(item);
                if (ok)
                        return check_map(s, item, e);
                break;
        default:
                ok = false;
        }
        if (!ok) {
                if (want == kd->type)
                        return decode_fail(e, -EBADMSG, s->status_bad_request,
                                           "key %" PRIu32 " (%s) must be %s", kd->number,
                                           kd->name, msg_value_name(want));
                return decode_fail(e, -EBADMSG, s->status_bad_request,
                                   "items of key %" PRIu32 " (%s) must be %s", kd->number,
                                   kd->name, msg_value_name(want));
        }
        return 0;
}

/* A map of the schema's key space: unique uint keys, known keys well typed. */
static int check_map(const struct msg_schema *s, const cbor_item_t *map, struct msg_error *e)
{
        struct cbor_pair *pairs;
        int r;

        r = cbor_check_map_uint_keys_unique(map);
        if (r == -ENOMEM)
                return decode_fail(e, r, s->status_internal, "out of memory");
        if (r < 0)
                return decode_fail(e, r, s->status_bad_request,
                                   "maps must have unsigned integer keys, none repeated");
        pairs = cbor_map_handle(map);
        for (size_t i = 0; i < cbor_map_size(map); i++) {
                const struct msg_key_def *kd = msg_schema_key(s, cbor_get_int(pairs[i].key));

                if (!kd)
                        continue; /* unknown keys are ignored */
                r = check_value(s, kd, kd->type, kd->element, pairs[i].value, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

int msg_decode(const struct msg_schema *s, const uint8_t *buf, size_t len, struct msg **ret,
               struct msg_error *ret_error)
{
        struct msg_error err = {};
        struct msg_error *e = ret_error ? ret_error : &err;
        const struct msg_type_def *t;
        cbor_item_t *root = NULL, **items;
        struct msg *m;
        uint64_t version, type;
        int r;

        memset(e, 0, sizeof(*e));
        if (len > s->max_body) {
                salvage_reqid(buf, len, e);
                return decode_fail(e, -EMSGSIZE, s->status_too_large,
                                   "%s message of %zu bytes is over the limit of %zu bytes",
                                   s->name, len, s->max_body);
        }
        r = cbor_check_load(buf, len, &s->limits, &root);
        if (r < 0)
                salvage_reqid(buf, len, e);
        if (r == -E2BIG)
                return decode_fail(e, -EBADMSG, s->status_bad_request,
                                   "%s message is over the nesting, item count or string "
                                   "length limits",
                                   s->name);
        if (r == -ENOMEM)
                return decode_fail(e, r, s->status_internal, "out of memory");
        if (r < 0)
                return decode_fail(e, -EBADMSG, s->status_bad_request,
                                   "%s message is not exactly one well-formed CBOR item "
                                   "(truncated, trailing bytes, indefinite length, "
                                   "invalid UTF-8 or a value of no allowed type)",
                                   s->name);

        if (!cbor_isa_array(root) || cbor_array_size(root) != 4) {
                r = decode_fail(e, -EBADMSG, s->status_bad_request,
                                "%s message must be an array of 4 items: version, type, "
                                "request id, body",
                                s->name);
                goto fail;
        }
        items = cbor_array_handle(root);
        if (cbor_isa_uint(items[2])) {
                e->have_reqid = true;
                e->reqid = cbor_get_int(items[2]);
        }
        if (!cbor_isa_uint(items[0])) {
                r = decode_fail(e, -EBADMSG, s->status_bad_request,
                                "protocol version must be an unsigned integer");
                goto fail;
        }
        version = cbor_get_int(items[0]);
        if (version < s->min_version || version > s->version) {
                r = decode_fail(e, -EPROTONOSUPPORT, s->status_unsupported_version,
                                "%s protocol version %" PRIu64 " is not supported (this side "
                                "speaks %" PRIu64 " to %" PRIu64 ")",
                                s->name, version, s->min_version, s->version);
                goto fail;
        }
        if (!e->have_reqid) {
                r = decode_fail(e, -EBADMSG, s->status_bad_request,
                                "request id must be an unsigned integer");
                goto fail;
        }
        if (!cbor_isa_uint(items[1])) {
                r = decode_fail(e, -EBADMSG, s->status_bad_request,
                                "message type must be an unsigned integer");
                goto fail;
        }
        type = cbor_get_int(items[1]);
        t = msg_schema_type(s, type);
        if (!t) {
                r = decode_fail(e, -EOPNOTSUPP, s->status_unsupported,
                                "unknown %s message type %" PRIu64, s->name, type);
                goto fail;
        }
        if (!cbor_isa_map(items[3])) {
                r = decode_fail(e, -EBADMSG, s->status_bad_request, "body must be a map");
                goto fail;
        }
        r = check_map(s, items[3], e);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < s->n_fields; i++) {
                const struct msg_field_def *f = &s->fields[i];
                const struct msg_key_def *kd;

                if (f->type != t->number || f->presence != MSG_PRESENCE_REQUIRED ||
                    cbor_check_map_find(items[3], f->key))
                        continue;
                kd = msg_schema_key(s, f->key);
                r = decode_fail(e, -EBADMSG, s->status_bad_request,
                                "'%s' requires key %" PRIu32 " (%s)", t->name, f->key,
                                kd ? kd->name : "?");
                goto fail;
        }

        m = calloc(1, sizeof(*m));
        if (!m) {
                r = decode_fail(e, -ENOMEM, s->status_internal, "out of memory");
                goto fail;
        }
        m->schema = s;
        m->type = t;
        m->version = version;
        m->reqid = e->reqid;
        m->body = cbor_incref(items[3]);
        cbor_decref(&root);
        memset(e, 0, sizeof(*e));
        *ret = m;
        return 0;
fail:
        /* a refused frame may be a key import: its strings are wiped, as a
         * decoded one's are once marked secret */
        if (root)
                msg_wipe_item(root);
        cbor_decref(&root);
        return r;
}
