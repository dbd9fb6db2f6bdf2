/* SPDX-License-Identifier: MIT */
/* Tombstone codec. Encoding sizes the buffer first (every head at most 9
 * bytes) and writes with libcbor's head encoders; decoding checks the whole
 * input with cbor_check_validate and reads it with the cbor-check pull
 * reader, so no declared length reaches an allocation unchecked. */
#include "tombstone.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "cbor-check.h"
#include "cleanup.h"
#include "object.h"

/* Integer map keys of the top-level map; see docs/formats.md. Never renumber. */
enum {
        TOMB_VERSION = 0,
        TOMB_TIME = 1,
        TOMB_HOSTNAME = 2,
        TOMB_SNAPSHOTS = 3,
};

#define TOMB_REQUIRED \
        ((1u << TOMB_VERSION) | (1u << TOMB_TIME) | (1u << TOMB_HOSTNAME) | (1u << TOMB_SNAPSHOTS))
/* Bound on a head (1 byte + up to 8 of argument). */
#define HEAD_MAX 9
/* Bound on the encoding of everything but the entries. */
#define FIXED_MAX (HEAD_MAX + 4 * 1 + 2 * HEAD_MAX + HEAD_MAX + OBJECT_HOSTNAME_MAX + HEAD_MAX)
/* Smallest encoding of one entry: [h'32 bytes', 0, h'x'] */
#define ENTRY_MIN_BYTES (1 + 2 + OID_SIZE + 1 + 2)

static bool hostname_valid(const char *s)
{
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, OBJECT_HOSTNAME_MAX + 1);
        return n > 0 && n <= OBJECT_HOSTNAME_MAX && cbor_check_utf8_valid((const uint8_t *)s, n);
}

static bool entry_valid(const struct tombstone_entry *e)
{
        return !oid_is_null(&e->id) && e->root && e->root_len > 0 && e->root_len <= OBJECT_ROOT_MAX &&
               !memchr(e->root, 0, e->root_len);
}

/* Upper bound on one entry's encoding. */
static size_t entry_max(const struct tombstone_entry *e)
{
        return 1 + 2 + OID_SIZE + HEAD_MAX + HEAD_MAX + e->root_len;
}

size_t tombstone_fit(const char *hostname, const struct tombstone_entry *entries, size_t n)
{
        size_t size = FIXED_MAX, i;

        (void)hostname; /* FIXED_MAX already counts the longest */
        for (i = 0; i < n && i < TOMBSTONE_ENTRIES_MAX; i++) {
                if (!entry_valid(&entries[i]) || size + entry_max(&entries[i]) > TOMBSTONE_SIZE_MAX)
                        break;
                size += entry_max(&entries[i]);
        }
        return i;
}

/* ---- encoder ---- */

struct out {
        uint8_t *buf;
        size_t len, cap;
};

/* Append what a libcbor head encoder wrote; the buffer was sized for it. */
static void out_head(struct out *o, size_t written)
{
        o->len += written;
}

static void out_bytes(struct out *o, const void *p, size_t n)
{
        out_head(o, cbor_encode_bytestring_start(n, o->buf + o->len, o->cap - o->len));
        memcpy(o->buf + o->len, p, n);
        o->len += n;
}

static void out_int(struct out *o, int64_t v)
{
        if (v >= 0)
                out_head(o, cbor_encode_uint((uint64_t)v, o->buf + o->len, o->cap - o->len));
        else
                out_head(o, cbor_encode_negint((uint64_t)(-1 - v), o->buf + o->len, o->cap - o->len));
}

static void out_uint(struct out *o, uint64_t v)
{
        out_head(o, cbor_encode_uint(v, o->buf + o->len, o->cap - o->len));
}

int tombstone_encode(const struct tombstone *t, uint8_t **ret, size_t *ret_len)
{
        struct out o = { 0 };
        size_t host_len;

        if (!t || !ret || !ret_len || !hostname_valid(t->hostname) || t->n_entries == 0 ||
            t->n_entries > TOMBSTONE_ENTRIES_MAX || !t->entries)
                return -EINVAL;
        host_len = strlen(t->hostname);
        o.cap = FIXED_MAX;
        for (size_t i = 0; i < t->n_entries; i++) {
                if (!entry_valid(&t->entries[i]))
                        return -EINVAL;
                o.cap += entry_max(&t->entries[i]);
        }
        o.buf = malloc(o.cap);
        if (!o.buf)
                return -ENOMEM;
        out_head(&o, cbor_encode_map_start(4, o.buf + o.len, o.cap - o.len));
        out_uint(&o, TOMB_VERSION);
        out_uint(&o, TOMBSTONE_VERSION);
        out_uint(&o, TOMB_TIME);
        out_int(&o, t->time_ns);
        out_uint(&o, TOMB_HOSTNAME);
        out_head(&o, cbor_encode_string_start(host_len, o.buf + o.len, o.cap - o.len));
        memcpy(o.buf + o.len, t->hostname, host_len);
        o.len += host_len;
        out_uint(&o, TOMB_SNAPSHOTS);
        out_head(&o, cbor_encode_array_start(t->n_entries, o.buf + o.len, o.cap - o.len));
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct tombstone_entry *e = &t->entries[i];

                out_head(&o, cbor_encode_array_start(3, o.buf + o.len, o.cap - o.len));
                out_bytes(&o, e->id.bytes, OID_SIZE);
                out_int(&o, e->time_ns);
                out_bytes(&o, e->root, e->root_len);
        }
        if (o.len > TOMBSTONE_SIZE_MAX) {
                free(o.buf);
                return -EINVAL;
        }
        *ret = o.buf;
        *ret_len = o.len;
        return 0;
}

/* ---- decoder ---- */

static const struct cbor_check_limits tombstone_limits = {
        .max_depth = 3, /* map → snapshots array → entry */
        .max_items = TOMBSTONE_ENTRIES_MAX,
        .max_string = OBJECT_ROOT_MAX,
        .max_total = SIZE_MAX,
        .allow_tags = false,
        .allow_floats = false,
};

static int read_entry(struct cbor_check_reader *r, struct tombstone_entry *e)
{
        const uint8_t *p;
        uint64_t n;
        size_t len;
        int k;

        k = cbor_check_read_array(r, &n);
        if (k < 0)
                return k;
        if (n != 3)
                return -EBADMSG;
        k = cbor_check_read_bytes(r, OID_SIZE, &p, &len);
        if (k < 0)
                return k;
        if (len != OID_SIZE)
                return -EBADMSG;
        memcpy(e->id.bytes, p, OID_SIZE);
        k = cbor_check_read_int(r, &e->time_ns);
        if (k < 0)
                return k;
        k = cbor_check_read_bytes(r, OBJECT_ROOT_MAX, &p, &len);
        if (k < 0)
                return k;
        if (len == 0 || memchr(p, 0, len))
                return -EBADMSG;
        e->root = malloc(len + 1);
        if (!e->root)
                return -ENOMEM;
        memcpy(e->root, p, len);
        e->root[len] = 0;
        e->root_len = len;
        return entry_valid(e) ? 0 : -EBADMSG;
}

static int read_entries(struct cbor_check_reader *r, struct tombstone *t)
{
        uint64_t n;
        int k = cbor_check_read_array(r, &n);

        if (k < 0)
                return k;
        if (n == 0)
                return -EBADMSG;
        if (n > TOMBSTONE_ENTRIES_MAX)
                return -E2BIG;
        /* read_array checked n against the bytes left; bound it by the
         * smallest entry too before allocating */
        if (n > (r->len - r->pos) / ENTRY_MIN_BYTES)
                return -EBADMSG;
        t->entries = calloc(n, sizeof(*t->entries));
        if (!t->entries)
                return -ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
                k = read_entry(r, &t->entries[i]);
                t->n_entries = i + 1; /* freed with the tombstone either way */
                if (k < 0)
                        return k;
        }
        return 0;
}

static int read_tombstone(struct cbor_check_reader *r, struct tombstone *t)
{
        uint64_t n, key = 0, last = 0, version;
        const char *p;
        size_t len;
        uint32_t seen = 0;
        int k;

        k = cbor_check_read_map(r, &n);
        if (k < 0)
                return k;
        for (uint64_t i = 0; i < n; i++) {
                k = cbor_check_read_uint(r, &key);
                if (k < 0)
                        return k;
                if (i > 0 && key <= last)
                        return -EBADMSG; /* keys strictly increasing */
                last = key;
                if (key <= TOMB_SNAPSHOTS)
                        seen |= 1u << key;
                switch (key) {
                case TOMB_VERSION:
                        k = cbor_check_read_uint(r, &version);
                        if (k >= 0 && version != TOMBSTONE_VERSION)
                                k = -EPROTONOSUPPORT;
                        break;
                case TOMB_TIME:
                        k = cbor_check_read_int(r, &t->time_ns);
                        break;
                case TOMB_HOSTNAME:
                        k = cbor_check_read_text(r, OBJECT_HOSTNAME_MAX, &p, &len);
                        if (k >= 0 && (len == 0 || memchr(p, 0, len)))
                                k = -EBADMSG;
                        if (k >= 0 && !(t->hostname = strndup(p, len)))
                                k = -ENOMEM;
                        break;
                case TOMB_SNAPSHOTS:
                        k = read_entries(r, t);
                        break;
                default: /* a later minor addition: skipped */
                        k = cbor_check_skip(r);
                        break;
                }
                if (k < 0)
                        return k;
        }
        return (seen & TOMB_REQUIRED) == TOMB_REQUIRED ? 0 : -EBADMSG;
}

int tombstone_decode(const uint8_t *buf, size_t len, struct tombstone **ret)
{
        struct cbor_check_reader r;
        struct tombstone *t;
        int k;

        if (!buf || !ret)
                return -EINVAL;
        if (len > TOMBSTONE_SIZE_MAX)
                return -E2BIG;
        k = cbor_check_validate(buf, len, &tombstone_limits);
        if (k < 0)
                return k;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        cbor_check_reader_init(&r, buf, len);
        k = read_tombstone(&r, t);
        if (k >= 0 && !cbor_check_reader_done(&r))
                k = -EBADMSG;
        if (k < 0) {
                tombstone_free(t);
                return k;
        }
        *ret = t;
        return 0;
}

void tombstone_free(struct tombstone *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_entries; i++)
                free(t->entries[i].root);
        free(t->entries);
        free(t->hostname);
        free(t);
}
