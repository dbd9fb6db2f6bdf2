/* SPDX-License-Identifier: MIT */
/* Safe decoding of untrusted CBOR (RFC 8949). Our own walk over item heads
 * checks lengths, counts, depth and item totals before libcbor allocates
 * anything; the pull reader and the typed accessors reject wrong types.
 * libcbor error codes are translated here and nowhere else. */
#include "cbor-check.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

const struct cbor_check_limits cbor_check_default_limits = {
        .max_depth = 16,
        .max_items = 4096,
        .max_string = 1024 * 1024,
        .max_total = 65536,
        .allow_tags = false,
        .allow_floats = false,
};

enum {
        MAJOR_UINT = 0,
        MAJOR_NEGINT = 1,
        MAJOR_BYTES = 2,
        MAJOR_TEXT = 3,
        MAJOR_ARRAY = 4,
        MAJOR_MAP = 5,
        MAJOR_TAG = 6,
        MAJOR_SIMPLE = 7,
};

enum {
        SIMPLE_FALSE = 20,
        SIMPLE_TRUE = 21,
        SIMPLE_NULL = 22,
        INFO_HALF = 25,
        INFO_DOUBLE = 27,
};

struct head {
        uint8_t major;
        uint8_t info;
        uint64_t value; /* the argument: integer, length, count, tag or float bits */
};

/* Read one item head at *pos. Indefinite lengths, break and reserved
 * additional-information values are malformed for us. */
static int head_read(const uint8_t *buf, size_t len, size_t *pos, struct head *ret)
{
        size_t p = *pos;
        uint8_t ib;
        uint64_t v = 0;

        if (p >= len)
                return -EBADMSG;
        ib = buf[p++];
        ret->major = ib >> 5;
        ret->info = ib & 31;
        if (ret->info < 24) {
                v = ret->info;
        } else if (ret->info <= 27) {
                size_t n = (size_t)1 << (ret->info - 24);

                if (len - p < n)
                        return -EBADMSG;
                for (size_t i = 0; i < n; i++)
                        v = (v << 8) | buf[p++];
        } else {
                return -EBADMSG;
        }
        ret->value = v;
        *pos = p;
        return 0;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points
 * above U+10FFFF. RFC 8949 requires text strings to be valid UTF-8. */
/* The length (1 to 4) of the well-formed UTF-8 character at s (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF), 0 if none. */
static size_t utf8_char(const uint8_t *s, size_t len)
{
        uint8_t c = s[0];
        uint8_t lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf) {
                n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
                n = 2;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 3;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else {
                return 0;
        }
        if (len - 1 < n)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t k = 2; k <= n; k++)
                if (s[k] < 0x80 || s[k] > 0xbf)
                        return 0;
        return n + 1;
}

bool cbor_check_utf8_valid(const uint8_t *s, size_t len)
{
        for (size_t i = 0, n; i < len; i += n)
                if (!(n = utf8_char(s + i, len - i)))
                        return false;
        return true;
}

void cbor_check_utf8_repair(char *s)
{
        size_t len = strlen(s);

        for (size_t i = 0, n; i < len; i += n)
                if (!(n = utf8_char((const uint8_t *)s + i, len - i))) {
                        s[i] = '?';
                        n = 1;
                }
}

struct walk {
        const uint8_t *buf;
        size_t len;
        size_t pos;
        size_t total;
        size_t max_depth;
        const struct cbor_check_limits *lim;
};

static int walk_item(struct walk *w, size_t depth)
{
        struct head h;
        size_t remaining;
        uint64_t n;
        int r;

        if (++w->total > w->lim->max_total)
                return -E2BIG;
        r = head_read(w->buf, w->len, &w->pos, &h);
        if (r < 0)
                return r;
        remaining = w->len - w->pos;

        switch (h.major) {
        case MAJOR_UINT:
        case MAJOR_NEGINT:
                return 0;
        case MAJOR_BYTES:
        case MAJOR_TEXT:
                if (h.value > remaining)
                        return -EBADMSG;
                if (h.value > w->lim->max_string)
                        return -E2BIG;
                if (h.major == MAJOR_TEXT && !cbor_check_utf8_valid(w->buf + w->pos, h.value))
                        return -EBADMSG;
                w->pos += h.value;
                return 0;
        case MAJOR_ARRAY:
        case MAJOR_MAP:
                /* Every element needs at least one byte. */
                if (h.value > (h.major == MAJOR_MAP ? remaining / 2 : remaining))
                        return -EBADMSG;
                if (h.value > w->lim->max_items)
                        return -E2BIG;
                if (depth >= w->max_depth)
                        return -E2BIG;
                n = h.major == MAJOR_MAP ? 2 * h.value : h.value;
                for (uint64_t i = 0; i < n; i++) {
                        r = walk_item(w, depth + 1);
                        if (r < 0)
                                return r;
                }
                return 0;
        case MAJOR_TAG:
                if (!w->lim->allow_tags)
                        return -EBADMSG;
                /* libcbor 0.8 refuses the one-byte heads of tags 6..20. */
                if (h.info >= 6 && h.info <= 20)
                        return -EBADMSG;
                if (depth >= w->max_depth)
                        return -E2BIG;
                return walk_item(w, depth + 1);
        default: /* MAJOR_SIMPLE */
                if (h.info >= SIMPLE_FALSE && h.info <= SIMPLE_NULL)
                        return 0;
                if (h.info >= INFO_HALF && h.info <= INFO_DOUBLE && w->lim->allow_floats)
                        return 0;
                return -EBADMSG;
        }
}

int cbor_check_validate(const uint8_t *buf, size_t len, const struct cbor_check_limits *lim)
{
        struct walk w = {
                .buf = buf,
                .len = len,
                .lim = lim ? lim : &cbor_check_default_limits,
        };
        int r;

        if (!buf && len > 0)
                return -EINVAL;
        w.max_depth = MIN(w.lim->max_depth, (size_t)CBOR_CHECK_DEPTH_MAX);
        r = walk_item(&w, 0);
        if (r < 0)
                return r;
        if (w.pos != len)
                return -EBADMSG;
        return 0;
}

int cbor_check_load(const uint8_t *buf, size_t len, const struct cbor_check_limits *lim,
                    cbor_item_t **ret)
{
        struct cbor_load_result result;
        cbor_item_t *item;
        int r;

        r = cbor_check_validate(buf, len, lim);
        if (r < 0)
                return r;
        item = cbor_load(buf, len, &result);
        if (!item)
                return result.error.code == CBOR_ERR_MEMERROR ? -ENOMEM : -EBADMSG;
        if (result.error.code != CBOR_ERR_NONE || result.read != len) {
                cbor_decref(&item);
                return -EBADMSG;
        }
        *ret = item;
        return 0;
}

/* ---- accessors ---- */

int cbor_check_get_uint(const cbor_item_t *item, uint64_t *ret)
{
        if (!item || !cbor_isa_uint(item))
                return -EBADMSG;
        *ret = cbor_get_int(item);
        return 0;
}

int cbor_check_get_int(const cbor_item_t *item, int64_t *ret)
{
        uint64_t v;

        if (!item || !(cbor_isa_uint(item) || cbor_isa_negint(item)))
                return -EBADMSG;
        v = cbor_get_int(item);
        if (v > INT64_MAX)
                return -EBADMSG;
        *ret = cbor_isa_uint(item) ? (int64_t)v : -1 - (int64_t)v;
        return 0;
}

int cbor_check_get_bool(const cbor_item_t *item, bool *ret)
{
        if (!item || !cbor_isa_float_ctrl(item) || !cbor_float_ctrl_is_ctrl(item))
                return -EBADMSG;
        switch (cbor_ctrl_value(item)) {
        case CBOR_CTRL_FALSE:
                *ret = false;
                return 0;
        case CBOR_CTRL_TRUE:
                *ret = true;
                return 0;
        default:
                return -EBADMSG;
        }
}

int cbor_check_get_bytes(const cbor_item_t *item, size_t max, const uint8_t **ret,
                         size_t *ret_len)
{
        if (!item || !cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item))
                return -EBADMSG;
        if (cbor_bytestring_length(item) > max)
                return -EBADMSG;
        *ret = cbor_bytestring_handle(item);
        *ret_len = cbor_bytestring_length(item);
        return 0;
}

int cbor_check_get_bytes_exact(const cbor_item_t *item, void *ret, size_t len)
{
        const uint8_t *p;
        size_t n;
        int r;

        r = cbor_check_get_bytes(item, len, &p, &n);
        if (r < 0)
                return r;
        if (n != len)
                return -EBADMSG;
        if (len > 0)
                memcpy(ret, p, len);
        return 0;
}

int cbor_check_get_string(const cbor_item_t *item, size_t max, char **ret)
{
        size_t n;
        char *s;

        if (!item || !cbor_isa_string(item) || !cbor_string_is_definite(item))
                return -EBADMSG;
        n = cbor_string_length(item);
        if (n > max)
                return -EBADMSG;
        if (n > 0 && memchr(cbor_string_handle(item), 0, n))
                return -EBADMSG;
        s = malloc(n + 1);
        if (!s)
                return -ENOMEM;
        if (n > 0)
                memcpy(s, cbor_string_handle(item), n);
        s[n] = 0;
        *ret = s;
        return 0;
}

cbor_item_t *cbor_check_map_find(const cbor_item_t *map, uint64_t key)
{
        struct cbor_pair *pairs;
        size_t n;

        if (!map || !cbor_isa_map(map))
                return NULL;
        pairs = cbor_map_handle(map);
        n = cbor_map_size(map);
        for (size_t i = 0; i < n; i++)
                if (cbor_isa_uint(pairs[i].key) && cbor_get_int(pairs[i].key) == key)
                        return pairs[i].value;
        return NULL;
}

static int uint64_cmp(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

int cbor_check_map_uint_keys_unique(const cbor_item_t *map)
{
        _cleanup_free_ uint64_t *keys = NULL;
        struct cbor_pair *pairs;
        size_t n;

        if (!map || !cbor_isa_map(map) || !cbor_map_is_definite(map))
                return -EBADMSG;
        n = cbor_map_size(map);
        if (n == 0)
                return 0;
        pairs = cbor_map_handle(map);
        keys = malloc(n * sizeof(*keys));
        if (!keys)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (!cbor_isa_uint(pairs[i].key))
                        return -EBADMSG;
                keys[i] = cbor_get_int(pairs[i].key);
        }
        qsort(keys, n, sizeof(*keys), uint64_cmp);
        for (size_t i = 1; i < n; i++)
                if (keys[i] == keys[i - 1])
                        return -EBADMSG;
        return 0;
}

static int map_value(const cbor_item_t *map, uint64_t key, cbor_item_t **ret)
{
        if (!map || !cbor_isa_map(map))
                return -EBADMSG;
        *ret = cbor_check_map_find(map, key);
        return *ret ? 0 : -ENOENT;
}

int cbor_check_map_get_uint(const cbor_item_t *map, uint64_t key, uint64_t *ret)
{
        cbor_item_t *v;
        int r = map_value(map, key, &v);

        return r < 0 ? r : cbor_check_get_uint(v, ret);
}

int cbor_check_map_get_int(const cbor_item_t *map, uint64_t key, int64_t *ret)
{
        cbor_item_t *v;
        int r = map_value(map, key, &v);

        return r < 0 ? r : cbor_check_get_int(v, ret);
}

int cbor_check_map_get_bool(const cbor_item_t *map, uint64_t key, bool *ret)
{
        cbor_item_t *v;
        int r = map_value(map, key, &v);

        return r < 0 ? r : cbor_check_get_bool(v, ret);
}

int cbor_check_map_get_bytes(const cbor_item_t *map, uint64_t key, size_t max,
                             const uint8_t **ret, size_t *ret_len)
{
        cbor_item_t *v;
        int r = map_value(map, key, &v);

        return r < 0 ? r : cbor_check_get_bytes(v, max, ret, ret_len);
}

int cbor_check_map_get_string(const cbor_item_t *map, uint64_t key, size_t max, char **ret)
{
        cbor_item_t *v;
        int r = map_value(map, key, &v);

        return r < 0 ? r : cbor_check_get_string(v, max, ret);
}

/* ---- pull reader ---- */

void cbor_check_reader_init(struct cbor_check_reader *r, const uint8_t *buf, size_t len)
{
        r->buf = buf;
        r->len = len;
        r->pos = 0;
}

bool cbor_check_reader_done(const struct cbor_check_reader *r)
{
        return r->pos >= r->len;
}

int cbor_check_peek_major(const struct cbor_check_reader *r)
{
        if (r->pos >= r->len)
                return -EBADMSG;
        return r->buf[r->pos] >> 5;
}

static int reader_head(struct cbor_check_reader *r, uint8_t major, struct head *ret)
{
        size_t pos = r->pos;
        struct head h;
        int k;

        k = head_read(r->buf, r->len, &pos, &h);
        if (k < 0)
                return k;
        if (h.major != major)
                return -EBADMSG;
        r->pos = pos;
        *ret = h;
        return 0;
}

int cbor_check_read_uint(struct cbor_check_reader *r, uint64_t *ret)
{
        struct head h;
        int k = reader_head(r, MAJOR_UINT, &h);

        if (k < 0)
                return k;
        *ret = h.value;
        return 0;
}

int cbor_check_read_int(struct cbor_check_reader *r, int64_t *ret)
{
        size_t pos = r->pos;
        struct head h;
        int k;

        k = head_read(r->buf, r->len, &pos, &h);
        if (k < 0)
                return k;
        if ((h.major != MAJOR_UINT && h.major != MAJOR_NEGINT) || h.value > INT64_MAX)
                return -EBADMSG;
        r->pos = pos;
        *ret = h.major == MAJOR_UINT ? (int64_t)h.value : -1 - (int64_t)h.value;
        return 0;
}

int cbor_check_read_bool(struct cbor_check_reader *r, bool *ret)
{
        struct head h;
        int k = reader_head(r, MAJOR_SIMPLE, &h);

        if (k < 0)
                return k;
        if (h.info != SIMPLE_FALSE && h.info != SIMPLE_TRUE)
                return -EBADMSG;
        *ret = h.info == SIMPLE_TRUE;
        return 0;
}

static int reader_string(struct cbor_check_reader *r, uint8_t major, size_t max,
                         const uint8_t **ret, size_t *ret_len)
{
        size_t pos = r->pos;
        struct head h;
        int k;

        k = head_read(r->buf, r->len, &pos, &h);
        if (k < 0)
                return k;
        if (h.major != major || h.value > r->len - pos || h.value > max)
                return -EBADMSG;
        if (major == MAJOR_TEXT && !cbor_check_utf8_valid(r->buf + pos, h.value))
                return -EBADMSG;
        *ret = r->buf + pos;
        *ret_len = h.value;
        r->pos = pos + h.value;
        return 0;
}

int cbor_check_read_bytes(struct cbor_check_reader *r, size_t max, const uint8_t **ret,
                          size_t *ret_len)
{
        return reader_string(r, MAJOR_BYTES, max, ret, ret_len);
}

int cbor_check_read_text(struct cbor_check_reader *r, size_t max, const char **ret,
                         size_t *ret_len)
{
        return reader_string(r, MAJOR_TEXT, max, (const uint8_t **)ret, ret_len);
}

static int reader_container(struct cbor_check_reader *r, uint8_t major, uint64_t *ret)
{
        size_t pos = r->pos;
        struct head h;
        int k;

        k = head_read(r->buf, r->len, &pos, &h);
        if (k < 0)
                return k;
        if (h.major != major)
                return -EBADMSG;
        if (h.value > (major == MAJOR_MAP ? (r->len - pos) / 2 : r->len - pos))
                return -EBADMSG;
        r->pos = pos;
        *ret = h.value;
        return 0;
}

int cbor_check_read_array(struct cbor_check_reader *r, uint64_t *ret)
{
        return reader_container(r, MAJOR_ARRAY, ret);
}

int cbor_check_read_map(struct cbor_check_reader *r, uint64_t *ret)
{
        return reader_container(r, MAJOR_MAP, ret);
}

int cbor_check_skip(struct cbor_check_reader *r)
{
        uint64_t pending = 1;
        size_t pos = r->pos;

        /* Every iteration consumes at least one byte, and pending never
         * exceeds the bytes left, so this terminates and cannot overflow. */
        while (pending > 0) {
                struct head h;
                size_t remaining;
                int k;

                k = head_read(r->buf, r->len, &pos, &h);
                if (k < 0)
                        return k;
                pending--;
                remaining = r->len - pos;
                switch (h.major) {
                case MAJOR_BYTES:
                case MAJOR_TEXT:
                        if (h.value > remaining)
                                return -EBADMSG;
                        pos += h.value;
                        break;
                case MAJOR_ARRAY:
                        if (h.value > remaining)
                                return -EBADMSG;
                        pending += h.value;
                        break;
                case MAJOR_MAP:
                        if (h.value > remaining / 2)
                                return -EBADMSG;
                        pending += 2 * h.value;
                        break;
                case MAJOR_TAG:
                        pending++;
                        break;
                default:
                        break;
                }
                if (pending > r->len - pos)
                        return -EBADMSG;
        }
        r->pos = pos;
        return 0;
}
