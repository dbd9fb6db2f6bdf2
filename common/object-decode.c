/* SPDX-License-Identifier: MIT */
/* Tree, list and snapshot decoders: cbor_check_validate bounds the untrusted
 * bytes first, then the cbor-check pull reader fills the structs field by
 * field, and the rules of object.c accept or refuse the result. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cbor-check.h"
#include "cleanup.h"
#include "object-private.h"

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
static int read_extents(struct cbor_check_reader *r, size_t max, struct object_extent **ret, size_t *ret_n)
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
        if (!object_extents_valid(ext, n, &total))
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
        if (!!(seen & (1u << ENTRY_RDEV)) != object_kind_is_device(e->kind) ||
            !!(seen & (1u << ENTRY_TARGET)) != (e->kind == OBJECT_KIND_SYMLINK) ||
            !!(seen & (1u << ENTRY_SUBTREE)) != (e->kind == OBJECT_KIND_DIR))
                return -EBADMSG;
        return object_entry_valid(e) ? 0 : -EBADMSG;
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
                if (i > 0 && object_name_cmp(e[-1].name, e[-1].name_len, e->name, e->name_len) >= 0) {
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
        return object_snapshot_valid(s) ? 0 : -EBADMSG;
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
