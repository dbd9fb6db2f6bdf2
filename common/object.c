/* SPDX-License-Identifier: MIT */
/* Tree, list and snapshot codecs. Encoding writes CBOR heads straight into a
 * growing buffer (no libcbor item tree, so 10^5 entries stay cheap); decoding
 * runs cbor_check_validate and then the cbor-check pull reader. One set of
 * validity rules (entry_valid, extents_valid) serves both directions. */
#include "object.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cbor-check.h"
#include "cleanup.h"

/* Integer map keys; see docs/formats.md "Objects". Never renumber. */
enum {
        ENTRY_NAME = 0,
        ENTRY_KIND = 1,
        ENTRY_MODE = 2,
        ENTRY_UID = 3,
        ENTRY_GID = 4,
        ENTRY_USER = 5,
        ENTRY_GROUP = 6,
        ENTRY_MTIME = 7,
        ENTRY_CTIME = 8,
        ENTRY_SIZE = 9,
        ENTRY_RDEV = 10,
        ENTRY_XATTRS = 11,
        ENTRY_TARGET = 12,
        ENTRY_HARDLINK = 13,
        ENTRY_NLINK = 14,
        ENTRY_CONTENT = 15,
        ENTRY_LIST = 16,
        ENTRY_SUBTREE = 17,
};

enum {
        SNAP_TIME = 0,
        SNAP_HOSTNAME = 1,
        SNAP_ROOT = 2,
        SNAP_TREE = 3,
        SNAP_PARENT = 4,
        SNAP_STATS = 5,
        SNAP_TAGS = 6,
        SNAP_ROOT_ENTRY = 7,
};

enum {
        STATS_FILES = 0,
        STATS_DIRS = 1,
        STATS_BYTES = 2,
        STATS_NEW_BYTES = 3,
        STATS_ERRORS = 4,
        STATS_FILES_READ = 5,
};

#define ENTRY_REQUIRED                                                                    \
        ((1u << ENTRY_NAME) | (1u << ENTRY_KIND) | (1u << ENTRY_MODE) | (1u << ENTRY_UID) | \
         (1u << ENTRY_GID) | (1u << ENTRY_MTIME) | (1u << ENTRY_CTIME))
#define SNAP_REQUIRED \
        ((1u << SNAP_TIME) | (1u << SNAP_HOSTNAME) | (1u << SNAP_ROOT) | (1u << SNAP_TREE))

/* Smallest encodings, used to bound counts before allocating arrays. */
#define ENTRY_MIN_BYTES 15 /* map head + 7 required keys with 1-byte values, 1-byte name */
#define EXTENT_MIN_BYTES 3 /* [h'', 1] */

/* ---- names and rules shared by encoder and decoder ---- */

int object_name_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
        int c = memcmp(a, b, MIN(a_len, b_len));

        if (c != 0)
                return c;
        return a_len < b_len ? -1 : a_len > b_len;
}

bool object_name_valid(const uint8_t *name, size_t len)
{
        if (!name || len == 0 || len > OBJECT_NAME_MAX)
                return false;
        if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
                return false;
        return !memchr(name, '/', len) && !memchr(name, 0, len);
}

const char *object_kind_name(int kind)
{
        static const char *const names[] = {
                [OBJECT_KIND_FILE] = "file",       [OBJECT_KIND_DIR] = "dir",
                [OBJECT_KIND_SYMLINK] = "symlink", [OBJECT_KIND_FIFO] = "fifo",
                [OBJECT_KIND_CHARDEV] = "chardev", [OBJECT_KIND_BLOCKDEV] = "blockdev",
                [OBJECT_KIND_SOCKET] = "socket",
        };

        if (kind < OBJECT_KIND_FILE || kind > OBJECT_KIND_SOCKET)
                return NULL;
        return names[kind];
}

static bool kind_is_device(enum object_kind kind)
{
        return kind == OBJECT_KIND_CHARDEV || kind == OBJECT_KIND_BLOCKDEV;
}

/* A C string of 1..max bytes (so no NUL inside), or NULL when optional. */
static bool cstring_valid(const char *s, size_t max, bool optional)
{
        if (!s)
                return optional;
        return s[0] != 0 && strnlen(s, max + 1) <= max;
}

static bool text_valid(const char *s, size_t max)
{
        return cstring_valid(s, max, false) && cbor_check_utf8_valid((const uint8_t *)s, strlen(s));
}

/* Extents: each data extent 1..OBJECT_DATA_MAX bytes with a non-null id, each
 * hole non-empty with a null id; the total must not overflow. */
static bool extents_valid(const struct object_extent *ext, size_t n, uint64_t *ret_total)
{
        uint64_t total = 0;

        if (n > 0 && !ext)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (ext[i].length == 0)
                        return false;
                if (ext[i].hole) {
                        if (!oid_is_null(&ext[i].id))
                                return false;
                } else if (ext[i].length > OBJECT_DATA_MAX || oid_is_null(&ext[i].id)) {
                        return false;
                }
                if (total + ext[i].length < total)
                        return false;
                total += ext[i].length;
        }
        *ret_total = total;
        return true;
}

static bool xattrs_valid(const struct object_xattr *x, size_t n)
{
        if (n > OBJECT_XATTRS_MAX || (n > 0 && !x))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (!cstring_valid(x[i].name, OBJECT_XATTR_NAME_MAX, false))
                        return false;
                if (x[i].value_len > OBJECT_XATTR_VALUE_MAX || (x[i].value_len > 0 && !x[i].value))
                        return false;
                if (i > 0 && strcmp(x[i - 1].name, x[i].name) >= 0)
                        return false;
        }
        return true;
}

static bool entry_valid(const struct object_entry *e)
{
        uint64_t total;

        if (!object_name_valid(e->name, e->name_len) || !object_kind_name(e->kind))
                return false;
        if (e->mode > 07777)
                return false;
        if (!cstring_valid(e->user, OBJECT_OWNER_MAX, true) ||
            !cstring_valid(e->group, OBJECT_OWNER_MAX, true))
                return false;
        if (!xattrs_valid(e->xattrs, e->n_xattrs))
                return false;
        if (!kind_is_device(e->kind) && e->rdev != 0)
                return false;

        if (e->kind == OBJECT_KIND_SYMLINK) {
                if (!e->target || e->target_len == 0 || e->target_len > OBJECT_TARGET_MAX ||
                    memchr(e->target, 0, e->target_len))
                        return false;
        } else if (e->target_len != 0) {
                return false;
        }

        if (e->kind == OBJECT_KIND_DIR) {
                if (oid_is_null(&e->subtree))
                        return false;
        } else if (!oid_is_null(&e->subtree)) {
                return false;
        }

        if (e->kind == OBJECT_KIND_FILE) {
                if (e->has_list) {
                        if (e->n_extents != 0 || oid_is_null(&e->list))
                                return false;
                } else {
                        if (!oid_is_null(&e->list))
                                return false;
                        if (e->n_extents > OBJECT_INLINE_EXTENTS_MAX)
                                return false;
                        if (!extents_valid(e->extents, e->n_extents, &total) || total != e->size)
                                return false;
                }
        } else if (e->has_list || e->n_extents != 0 || !oid_is_null(&e->list)) {
                return false;
        }
        return true;
}

/* ---- encoder: CBOR heads into a growing buffer ---- */

struct enc {
        uint8_t *buf;
        size_t len;
        size_t cap;
        int error;
};

static bool enc_reserve(struct enc *e, size_t n)
{
        size_t cap;
        uint8_t *p;

        if (e->error)
                return false;
        if (e->cap - e->len >= n)
                return true;
        cap = e->cap ? e->cap : 256;
        while (cap - e->len < n) {
                if (cap > SIZE_MAX / 2) {
                        e->error = -ENOMEM;
                        return false;
                }
                cap *= 2;
        }
        p = realloc(e->buf, cap);
        if (!p) {
                e->error = -ENOMEM;
                return false;
        }
        e->buf = p;
        e->cap = cap;
        return true;
}

/* Shortest head for major type and argument (RFC 8949 preferred serialisation). */
static void enc_head(struct enc *e, uint8_t major, uint64_t v)
{
        uint8_t *p;
        int n;

        if (!enc_reserve(e, 9))
                return;
        p = e->buf + e->len;
        if (v < 24) {
                p[0] = (uint8_t)(major << 5 | v);
                e->len += 1;
                return;
        }
        if (v <= UINT8_MAX)
                n = 1;
        else if (v <= UINT16_MAX)
                n = 2;
        else if (v <= UINT32_MAX)
                n = 4;
        else
                n = 8;
        p[0] = (uint8_t)(major << 5 | (n == 1 ? 24 : n == 2 ? 25 : n == 4 ? 26 : 27));
        for (int i = 0; i < n; i++)
                p[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
        e->len += 1 + (size_t)n;
}

static void enc_uint(struct enc *e, uint64_t v)
{
        enc_head(e, 0, v);
}

static void enc_int(struct enc *e, int64_t v)
{
        if (v >= 0)
                enc_head(e, 0, (uint64_t)v);
        else
                enc_head(e, 1, (uint64_t)(-1 - v));
}

static void enc_string(struct enc *e, uint8_t major, const void *s, size_t n)
{
        enc_head(e, major, n);
        if (n == 0 || !enc_reserve(e, n))
                return;
        memcpy(e->buf + e->len, s, n);
        e->len += n;
}

static void enc_bytes(struct enc *e, const void *s, size_t n)
{
        enc_string(e, 2, s, n);
}

static void enc_text(struct enc *e, const char *s)
{
        enc_string(e, 3, s, strlen(s));
}

static void enc_oid(struct enc *e, const struct oid *id)
{
        enc_bytes(e, id->bytes, OID_SIZE);
}

static void enc_array(struct enc *e, uint64_t n)
{
        enc_head(e, 4, n);
}

static void enc_map(struct enc *e, uint64_t n)
{
        enc_head(e, 5, n);
}

static void enc_extents(struct enc *e, const struct object_extent *ext, size_t n)
{
        enc_array(e, n);
        for (size_t i = 0; i < n; i++) {
                enc_array(e, 2);
                if (ext[i].hole)
                        enc_bytes(e, NULL, 0);
                else
                        enc_oid(e, &ext[i].id);
                enc_uint(e, ext[i].length);
        }
}

static int enc_finish(struct enc *e, uint8_t **ret, size_t *ret_len)
{
        if (e->error) {
                free(e->buf);
                return e->error;
        }
        *ret = e->buf;
        *ret_len = e->len;
        return 0;
}

static void enc_entry(struct enc *enc, const struct object_entry *e)
{
        bool device = kind_is_device(e->kind);
        bool symlink = e->kind == OBJECT_KIND_SYMLINK;
        bool dir = e->kind == OBJECT_KIND_DIR;
        uint64_t n = 7;

        n += !!e->user + !!e->group + (e->size != 0) + device + (e->n_xattrs > 0) + symlink +
             (e->hardlink != 0) + (e->nlink != 0) + (e->n_extents > 0) + e->has_list + dir;
        enc_map(enc, n);
        enc_uint(enc, ENTRY_NAME);
        enc_bytes(enc, e->name, e->name_len);
        enc_uint(enc, ENTRY_KIND);
        enc_uint(enc, e->kind);
        enc_uint(enc, ENTRY_MODE);
        enc_uint(enc, e->mode);
        enc_uint(enc, ENTRY_UID);
        enc_uint(enc, e->uid);
        enc_uint(enc, ENTRY_GID);
        enc_uint(enc, e->gid);
        if (e->user) {
                enc_uint(enc, ENTRY_USER);
                enc_bytes(enc, e->user, strlen(e->user));
        }
        if (e->group) {
                enc_uint(enc, ENTRY_GROUP);
                enc_bytes(enc, e->group, strlen(e->group));
        }
        enc_uint(enc, ENTRY_MTIME);
        enc_int(enc, e->mtime_ns);
        enc_uint(enc, ENTRY_CTIME);
        enc_int(enc, e->ctime_ns);
        if (e->size != 0) {
                enc_uint(enc, ENTRY_SIZE);
                enc_uint(enc, e->size);
        }
        if (device) {
                enc_uint(enc, ENTRY_RDEV);
                enc_uint(enc, e->rdev);
        }
        if (e->n_xattrs > 0) {
                enc_uint(enc, ENTRY_XATTRS);
                enc_array(enc, e->n_xattrs);
                for (size_t i = 0; i < e->n_xattrs; i++) {
                        enc_array(enc, 2);
                        enc_bytes(enc, e->xattrs[i].name, strlen(e->xattrs[i].name));
                        enc_bytes(enc, e->xattrs[i].value, e->xattrs[i].value_len);
                }
        }
        if (symlink) {
                enc_uint(enc, ENTRY_TARGET);
                enc_bytes(enc, e->target, e->target_len);
        }
        if (e->hardlink != 0) {
                enc_uint(enc, ENTRY_HARDLINK);
                enc_uint(enc, e->hardlink);
        }
        if (e->nlink != 0) {
                enc_uint(enc, ENTRY_NLINK);
                enc_uint(enc, e->nlink);
        }
        if (e->n_extents > 0) {
                enc_uint(enc, ENTRY_CONTENT);
                enc_extents(enc, e->extents, e->n_extents);
        }
        if (e->has_list) {
                enc_uint(enc, ENTRY_LIST);
                enc_oid(enc, &e->list);
        }
        if (dir) {
                enc_uint(enc, ENTRY_SUBTREE);
                enc_oid(enc, &e->subtree);
        }
}

int object_tree_encode(const struct object_tree *tree, uint8_t **ret, size_t *ret_len)
{
        struct enc enc = {};

        if (!tree || tree->n_entries > OBJECT_TREE_ENTRIES_MAX || (tree->n_entries && !tree->entries))
                return -EINVAL;
        for (size_t i = 0; i < tree->n_entries; i++) {
                const struct object_entry *e = &tree->entries[i];

                if (!entry_valid(e))
                        return -EINVAL;
                if (i > 0 && object_name_cmp(tree->entries[i - 1].name, tree->entries[i - 1].name_len,
                                             e->name, e->name_len) >= 0)
                        return -EINVAL;
        }
        enc_array(&enc, tree->n_entries);
        for (size_t i = 0; i < tree->n_entries; i++)
                enc_entry(&enc, &tree->entries[i]);
        return enc_finish(&enc, ret, ret_len);
}

int object_list_encode(const struct object_list *list, uint8_t **ret, size_t *ret_len)
{
        struct enc enc = {};
        uint64_t total;

        if (!list || list->n_extents > OBJECT_LIST_EXTENTS_MAX ||
            !extents_valid(list->extents, list->n_extents, &total))
                return -EINVAL;
        enc_extents(&enc, list->extents, list->n_extents);
        return enc_finish(&enc, ret, ret_len);
}

static bool snapshot_valid(const struct object_snapshot *s)
{
        if (!text_valid(s->hostname, OBJECT_HOSTNAME_MAX))
                return false;
        if (!s->root || s->root_len == 0 || s->root_len > OBJECT_ROOT_MAX ||
            memchr(s->root, 0, s->root_len))
                return false;
        if (oid_is_null(&s->tree))
                return false;
        if (s->has_parent ? oid_is_null(&s->parent) : !oid_is_null(&s->parent))
                return false;
        if (s->n_tags > OBJECT_TAGS_MAX || (s->n_tags > 0 && !s->tags))
                return false;
        if (s->has_root_entry && (!entry_valid(&s->root_entry) || s->root_entry.kind != OBJECT_KIND_DIR ||
                                  oid_cmp(&s->root_entry.subtree, &s->tree)))
                return false;
        for (size_t i = 0; i < s->n_tags; i++)
                if (!text_valid(s->tags[i], OBJECT_TAG_MAX))
                        return false;
        return true;
}

int object_snapshot_encode(const struct object_snapshot *s, uint8_t **ret, size_t *ret_len)
{
        const struct object_snapshot_stats *st;
        struct enc enc = {};

        if (!s || !snapshot_valid(s))
                return -EINVAL;
        st = &s->stats;
        enc_map(&enc, 5 + s->has_parent + (s->n_tags > 0) + s->has_root_entry);
        enc_uint(&enc, SNAP_TIME);
        enc_int(&enc, s->time_ns);
        enc_uint(&enc, SNAP_HOSTNAME);
        enc_text(&enc, s->hostname);
        enc_uint(&enc, SNAP_ROOT);
        enc_bytes(&enc, s->root, s->root_len);
        enc_uint(&enc, SNAP_TREE);
        enc_oid(&enc, &s->tree);
        if (s->has_parent) {
                enc_uint(&enc, SNAP_PARENT);
                enc_oid(&enc, &s->parent);
        }
        enc_uint(&enc, SNAP_STATS);
        enc_map(&enc, 6);
        enc_uint(&enc, STATS_FILES);
        enc_uint(&enc, st->files);
        enc_uint(&enc, STATS_DIRS);
        enc_uint(&enc, st->dirs);
        enc_uint(&enc, STATS_BYTES);
        enc_uint(&enc, st->bytes);
        enc_uint(&enc, STATS_NEW_BYTES);
        enc_uint(&enc, st->new_bytes);
        enc_uint(&enc, STATS_ERRORS);
        enc_uint(&enc, st->errors);
        enc_uint(&enc, STATS_FILES_READ);
        enc_uint(&enc, st->files_read);
        if (s->n_tags > 0) {
                enc_uint(&enc, SNAP_TAGS);
                enc_array(&enc, s->n_tags);
                for (size_t i = 0; i < s->n_tags; i++)
                        enc_text(&enc, s->tags[i]);
        }
        if (s->has_root_entry) {
                enc_uint(&enc, SNAP_ROOT_ENTRY);
                enc_entry(&enc, &s->root_entry);
        }
        return enc_finish(&enc, ret, ret_len);
}

/* ---- decoder ---- */

/* Limits for the validation walk; the per-field rules below are tighter. */
static const struct cbor_check_limits object_limits = {
        .max_depth = 4, /* tree → entry → content → extent */
        .max_items = OBJECT_LIST_EXTENTS_MAX > OBJECT_TREE_ENTRIES_MAX ? OBJECT_LIST_EXTENTS_MAX
                                                                       : OBJECT_TREE_ENTRIES_MAX,
        .max_string = OBJECT_XATTR_VALUE_MAX,
        .max_total = SIZE_MAX,
        .allow_tags = false,
        .allow_floats = false,
};

/* Copy n bytes into a new NUL-terminated buffer. */
static int dup_bytes(const uint8_t *p, size_t n, uint8_t **ret)
{
        uint8_t *s = malloc(n + 1);

        if (!s)
                return -ENOMEM;
        if (n > 0)
                memcpy(s, p, n);
        s[n] = 0;
        *ret = s;
        return 0;
}

static int read_oid(struct cbor_check_reader *r, struct oid *ret)
{
        const uint8_t *p;
        size_t n;
        int k;

        k = cbor_check_read_bytes(r, OID_SIZE, &p, &n);
        if (k < 0)
                return k;
        if (n != OID_SIZE)
                return -EBADMSG;
        memcpy(ret->bytes, p, OID_SIZE);
        return 0;
}

/* Byte string of 1..max bytes without NUL, as a new C string. */
static int read_cstring_bytes(struct cbor_check_reader *r, size_t max, char **ret)
{
        const uint8_t *p;
        size_t n;
        int k;

        k = cbor_check_read_bytes(r, max, &p, &n);
        if (k < 0)
                return k;
        if (n == 0 || memchr(p, 0, n))
                return -EBADMSG;
        return dup_bytes(p, n, (uint8_t **)ret);
}

/* Text string of 1..max bytes without NUL, as a new C string. */
static int read_cstring_text(struct cbor_check_reader *r, size_t max, char **ret)
{
        const char *p;
        size_t n;
        int k;

        k = cbor_check_read_text(r, max, &p, &n);
        if (k < 0)
                return k;
        if (n == 0 || memchr(p, 0, n))
                return -EBADMSG;
        return dup_bytes((const uint8_t *)p, n, (uint8_t **)ret);
}

static int read_uint_max(struct cbor_check_reader *r, uint64_t max, uint64_t *ret)
{
        int k = cbor_check_read_uint(r, ret);

        if (k < 0)
                return k;
        return *ret > max ? -EBADMSG : 0;
}

/* Read the next map key: an unsigned integer above *last (strictly increasing). */
static int read_key(struct cbor_check_reader *r, uint64_t i, uint64_t *last, uint64_t *ret)
{
        int k = cbor_check_read_uint(r, ret);

        if (k < 0)
                return k;
        if (i > 0 && *ret <= *last)
                return -EBADMSG;
        *last = *ret;
        return 0;
}

/* Array of extents with at most max elements into a new array. */
static int read_extents(struct cbor_check_reader *r, size_t max, struct object_extent **ret,
                        size_t *ret_n)
{
        _cleanup_free_ struct object_extent *ext = NULL;
        uint64_t n, total;
        int k;

        k = cbor_check_read_array(r, &n);
        if (k < 0)
                return k;
        if (n > max || n > (r->len - r->pos) / EXTENT_MIN_BYTES)
                return -EBADMSG;
        if (n > 0) {
                ext = calloc(n, sizeof(*ext));
                if (!ext)
                        return -ENOMEM;
        }
        for (uint64_t i = 0; i < n; i++) {
                const uint8_t *p;
                uint64_t pair;
                size_t len;

                k = cbor_check_read_array(r, &pair);
                if (k < 0)
                        return k;
                if (pair != 2)
                        return -EBADMSG;
                k = cbor_check_read_bytes(r, OID_SIZE, &p, &len);
                if (k < 0)
                        return k;
                if (len == OID_SIZE)
                        memcpy(ext[i].id.bytes, p, OID_SIZE);
                else if (len == 0)
                        ext[i].hole = true;
                else
                        return -EBADMSG;
                k = cbor_check_read_uint(r, &ext[i].length);
                if (k < 0)
                        return k;
        }
        if (!extents_valid(ext, n, &total))
                return -EBADMSG;
        *ret = TAKE_PTR(ext);
        *ret_n = n;
        return 0;
}

static int read_xattrs(struct cbor_check_reader *r, struct object_entry *e)
{
        uint64_t n;
        int k;

        k = cbor_check_read_array(r, &n);
        if (k < 0)
                return k;
        if (n > OBJECT_XATTRS_MAX)
                return -EBADMSG;
        if (n == 0)
                return 0;
        e->xattrs = calloc(n, sizeof(*e->xattrs));
        if (!e->xattrs)
                return -ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
                struct object_xattr *x = &e->xattrs[i];
                const uint8_t *p;
                uint64_t pair;
                size_t len;

                k = cbor_check_read_array(r, &pair);
                if (k < 0)
                        return k;
                if (pair != 2)
                        return -EBADMSG;
                k = read_cstring_bytes(r, OBJECT_XATTR_NAME_MAX, &x->name);
                if (k < 0)
                        return k;
                e->n_xattrs++; /* from here on entry_done frees it */
                k = cbor_check_read_bytes(r, OBJECT_XATTR_VALUE_MAX, &p, &len);
                if (k < 0)
                        return k;
                k = dup_bytes(p, len, &x->value);
                if (k < 0)
                        return k;
                x->value_len = len;
        }
        return 0;
}

/* Decode one entry map into *e (zeroed by the caller); on failure the
 * caller frees whatever was filled in with object_entry_done. */
static int read_entry(struct cbor_check_reader *r, struct object_entry *e)
{
        uint64_t n, key = 0, last = 0, v = 0;
        uint32_t seen = 0;
        const uint8_t *p;
        size_t len;
        int k;

        k = cbor_check_read_map(r, &n);
        if (k < 0)
                return k;
        for (uint64_t i = 0; i < n; i++) {
                k = read_key(r, i, &last, &key);
                if (k < 0)
                        return k;
                if (key <= ENTRY_SUBTREE)
                        seen |= 1u << key;
                switch (key) {
                case ENTRY_NAME:
                        k = cbor_check_read_bytes(r, OBJECT_NAME_MAX, &p, &len);
                        if (k >= 0)
                                k = dup_bytes(p, len, &e->name);
                        if (k >= 0)
                                e->name_len = len;
                        break;
                case ENTRY_KIND:
                        k = read_uint_max(r, OBJECT_KIND_SOCKET, &v);
                        e->kind = (enum object_kind)v;
                        break;
                case ENTRY_MODE:
                        k = read_uint_max(r, 07777, &v);
                        e->mode = (uint32_t)v;
                        break;
                case ENTRY_UID:
                        k = read_uint_max(r, UINT32_MAX, &v);
                        e->uid = (uint32_t)v;
                        break;
                case ENTRY_GID:
                        k = read_uint_max(r, UINT32_MAX, &v);
                        e->gid = (uint32_t)v;
                        break;
                case ENTRY_USER:
                        k = read_cstring_bytes(r, OBJECT_OWNER_MAX, &e->user);
                        break;
                case ENTRY_GROUP:
                        k = read_cstring_bytes(r, OBJECT_OWNER_MAX, &e->group);
                        break;
                case ENTRY_MTIME:
                        k = cbor_check_read_int(r, &e->mtime_ns);
                        break;
                case ENTRY_CTIME:
                        k = cbor_check_read_int(r, &e->ctime_ns);
                        break;
                case ENTRY_SIZE:
                        k = cbor_check_read_uint(r, &e->size);
                        break;
                case ENTRY_RDEV:
                        k = cbor_check_read_uint(r, &e->rdev);
                        break;
                case ENTRY_XATTRS:
                        k = read_xattrs(r, e);
                        break;
                case ENTRY_TARGET:
                        k = cbor_check_read_bytes(r, OBJECT_TARGET_MAX, &p, &len);
                        if (k >= 0 && len == 0)
                                k = -EBADMSG;
                        if (k >= 0)
                                k = dup_bytes(p, len, &e->target);
                        if (k >= 0)
                                e->target_len = len;
                        break;
                case ENTRY_HARDLINK:
                        k = cbor_check_read_uint(r, &e->hardlink);
                        break;
                case ENTRY_NLINK:
                        k = cbor_check_read_uint(r, &e->nlink);
                        break;
                case ENTRY_CONTENT:
                        k = read_extents(r, OBJECT_INLINE_EXTENTS_MAX, &e->extents, &e->n_extents);
                        if (k >= 0 && e->n_extents == 0)
                                k = -EBADMSG;
                        break;
                case ENTRY_LIST:
                        k = read_oid(r, &e->list);
                        e->has_list = k >= 0;
                        break;
                case ENTRY_SUBTREE:
                        k = read_oid(r, &e->subtree);
                        break;
                default:
                        k = cbor_check_skip(r); /* a newer writer's field */
                        break;
                }
                if (k < 0)
                        return k;
        }
        if ((seen & ENTRY_REQUIRED) != ENTRY_REQUIRED)
                return -EBADMSG;
        /* Fields tied to a kind must come with it, and only with it. */
        if (!!(seen & (1u << ENTRY_RDEV)) != kind_is_device(e->kind) ||
            !!(seen & (1u << ENTRY_TARGET)) != (e->kind == OBJECT_KIND_SYMLINK) ||
            !!(seen & (1u << ENTRY_SUBTREE)) != (e->kind == OBJECT_KIND_DIR))
                return -EBADMSG;
        return entry_valid(e) ? 0 : -EBADMSG;
}

int object_tree_decode(const uint8_t *buf, size_t len, struct object_tree **ret)
{
        struct object_tree *tree = NULL;
        struct cbor_check_reader r;
        uint64_t n;
        int k;

        k = cbor_check_validate(buf, len, &object_limits);
        if (k < 0)
                return k;
        cbor_check_reader_init(&r, buf, len);
        k = cbor_check_read_array(&r, &n);
        if (k < 0)
                return k;
        if (n > OBJECT_TREE_ENTRIES_MAX)
                return -E2BIG;
        if (n > (len - r.pos) / ENTRY_MIN_BYTES)
                return -EBADMSG;
        tree = calloc(1, sizeof(*tree));
        if (!tree)
                return -ENOMEM;
        if (n > 0) {
                tree->entries = calloc(n, sizeof(*tree->entries));
                if (!tree->entries) {
                        k = -ENOMEM;
                        goto fail;
                }
                tree->allocated = n;
        }
        for (uint64_t i = 0; i < n; i++) {
                struct object_entry *e = &tree->entries[i];

                tree->n_entries++; /* freed by object_tree_free even if half-built */
                k = read_entry(&r, e);
                if (k < 0)
                        goto fail;
                if (i > 0 &&
                    object_name_cmp(e[-1].name, e[-1].name_len, e->name, e->name_len) >= 0) {
                        k = -EBADMSG;
                        goto fail;
                }
        }
        if (!cbor_check_reader_done(&r)) {
                k = -EBADMSG;
                goto fail;
        }
        *ret = tree;
        return 0;
fail:
        object_tree_free(tree);
        return k;
}

int object_list_decode(const uint8_t *buf, size_t len, struct object_list **ret)
{
        _cleanup_free_ struct object_extent *ext = NULL;
        struct cbor_check_reader r;
        struct object_list *list;
        size_t n = 0;
        int k;

        k = cbor_check_validate(buf, len, &object_limits);
        if (k < 0)
                return k;
        cbor_check_reader_init(&r, buf, len);
        k = read_extents(&r, OBJECT_LIST_EXTENTS_MAX, &ext, &n);
        if (k < 0)
                return k;
        if (!cbor_check_reader_done(&r))
                return -EBADMSG;
        list = calloc(1, sizeof(*list));
        if (!list)
                return -ENOMEM;
        list->extents = TAKE_PTR(ext);
        list->n_extents = n;
        *ret = list;
        return 0;
}

static int read_stats(struct cbor_check_reader *r, struct object_snapshot_stats *st)
{
        uint64_t n, key = 0, last = 0;
        int k;

        k = cbor_check_read_map(r, &n);
        if (k < 0)
                return k;
        for (uint64_t i = 0; i < n; i++) {
                uint64_t *field = NULL;

                k = read_key(r, i, &last, &key);
                if (k < 0)
                        return k;
                switch (key) {
                case STATS_FILES:
                        field = &st->files;
                        break;
                case STATS_DIRS:
                        field = &st->dirs;
                        break;
                case STATS_BYTES:
                        field = &st->bytes;
                        break;
                case STATS_NEW_BYTES:
                        field = &st->new_bytes;
                        break;
                case STATS_ERRORS:
                        field = &st->errors;
                        break;
                case STATS_FILES_READ:
                        field = &st->files_read;
                        break;
                }
                k = field ? cbor_check_read_uint(r, field) : cbor_check_skip(r);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int read_snapshot(struct cbor_check_reader *r, struct object_snapshot *s)
{
        uint64_t n, key = 0, last = 0, count;
        uint32_t seen = 0;
        const uint8_t *p;
        size_t len;
        int k;

        k = cbor_check_read_map(r, &n);
        if (k < 0)
                return k;
        for (uint64_t i = 0; i < n; i++) {
                k = read_key(r, i, &last, &key);
                if (k < 0)
                        return k;
                if (key <= SNAP_TAGS)
                        seen |= 1u << key;
                switch (key) {
                case SNAP_TIME:
                        k = cbor_check_read_int(r, &s->time_ns);
                        break;
                case SNAP_HOSTNAME:
                        k = read_cstring_text(r, OBJECT_HOSTNAME_MAX, &s->hostname);
                        break;
                case SNAP_ROOT:
                        k = cbor_check_read_bytes(r, OBJECT_ROOT_MAX, &p, &len);
                        if (k >= 0 && (len == 0 || memchr(p, 0, len)))
                                k = -EBADMSG;
                        if (k >= 0)
                                k = dup_bytes(p, len, &s->root);
                        if (k >= 0)
                                s->root_len = len;
                        break;
                case SNAP_TREE:
                        k = read_oid(r, &s->tree);
                        break;
                case SNAP_PARENT:
                        k = read_oid(r, &s->parent);
                        s->has_parent = k >= 0;
                        break;
                case SNAP_STATS:
                        k = read_stats(r, &s->stats);
                        break;
                case SNAP_TAGS:
                        k = cbor_check_read_array(r, &count);
                        if (k >= 0 && count > OBJECT_TAGS_MAX)
                                k = -EBADMSG;
                        if (k >= 0 && count > 0) {
                                s->tags = calloc(count, sizeof(*s->tags));
                                if (!s->tags)
                                        k = -ENOMEM;
                        }
                        for (uint64_t t = 0; k >= 0 && t < count; t++) {
                                k = read_cstring_text(r, OBJECT_TAG_MAX, &s->tags[t]);
                                if (k >= 0)
                                        s->n_tags++;
                        }
                        break;
                case SNAP_ROOT_ENTRY:
                        k = read_entry(r, &s->root_entry);
                        s->has_root_entry = true; /* freed with the snapshot either way */
                        break;
                default:
                        k = cbor_check_skip(r);
                        break;
                }
                if (k < 0)
                        return k;
        }
        if ((seen & SNAP_REQUIRED) != SNAP_REQUIRED)
                return -EBADMSG;
        return snapshot_valid(s) ? 0 : -EBADMSG;
}

int object_snapshot_decode(const uint8_t *buf, size_t len, struct object_snapshot **ret)
{
        struct object_snapshot *s;
        struct cbor_check_reader r;
        int k;

        k = cbor_check_validate(buf, len, &object_limits);
        if (k < 0)
                return k;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        cbor_check_reader_init(&r, buf, len);
        k = read_snapshot(&r, s);
        if (k >= 0 && !cbor_check_reader_done(&r))
                k = -EBADMSG;
        if (k < 0) {
                object_snapshot_free(s);
                return k;
        }
        *ret = s;
        return 0;
}

/* ---- building and freeing ---- */

void object_entry_done(struct object_entry *e)
{
        if (!e)
                return;
        free(e->name);
        free(e->user);
        free(e->group);
        for (size_t i = 0; i < e->n_xattrs; i++) {
                free(e->xattrs[i].name);
                free(e->xattrs[i].value);
        }
        free(e->xattrs);
        free(e->target);
        free(e->extents);
        memset(e, 0, sizeof(*e));
}

struct object_tree *object_tree_new(void)
{
        return calloc(1, sizeof(struct object_tree));
}

int object_tree_append(struct object_tree *tree, struct object_entry *e)
{
        if (tree->n_entries >= OBJECT_TREE_ENTRIES_MAX)
                return -E2BIG;
        if (tree->n_entries == tree->allocated) {
                size_t n = tree->allocated ? tree->allocated * 2 : 16;
                struct object_entry *p;

                p = reallocarray(tree->entries, n, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                tree->entries = p;
                tree->allocated = n;
        }
        tree->entries[tree->n_entries++] = *e;
        memset(e, 0, sizeof(*e));
        return 0;
}

static int entry_cmp(const void *a, const void *b)
{
        const struct object_entry *x = a, *y = b;

        return object_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

static int xattr_cmp(const void *a, const void *b)
{
        return strcmp(((const struct object_xattr *)a)->name, ((const struct object_xattr *)b)->name);
}

void object_tree_sort(struct object_tree *tree)
{
        if (tree->n_entries > 1)
                qsort(tree->entries, tree->n_entries, sizeof(*tree->entries), entry_cmp);
        for (size_t i = 0; i < tree->n_entries; i++) {
                struct object_entry *e = &tree->entries[i];

                if (e->n_xattrs > 1)
                        qsort(e->xattrs, e->n_xattrs, sizeof(*e->xattrs), xattr_cmp);
        }
}

void object_tree_free(struct object_tree *tree)
{
        if (!tree)
                return;
        for (size_t i = 0; i < tree->n_entries; i++)
                object_entry_done(&tree->entries[i]);
        free(tree->entries);
        free(tree);
}

void object_list_free(struct object_list *list)
{
        if (!list)
                return;
        free(list->extents);
        free(list);
}

void object_snapshot_free(struct object_snapshot *s)
{
        if (!s)
                return;
        free(s->hostname);
        free(s->root);
        for (size_t i = 0; i < s->n_tags; i++)
                free(s->tags[i]);
        free(s->tags);
        if (s->has_root_entry)
                object_entry_done(&s->root_entry);
        free(s);
}
